/*
 * Messages for APPEND, read from a Maildir the corpus generator wrote. Files on disk
 * end their lines with LF, as delivery agents write them; IMAP literals need CRLF, so
 * each message is converted once, when loaded.
 */
#include "bench.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool load_one(const char *path, struct message *m)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	size_t cap = 8192, len = 0;
	char *raw = malloc(cap);
	if (raw == NULL)
		fail("out of memory");
	size_t got;
	while ((got = fread(raw + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			cap *= 2;
			raw = realloc(raw, cap);
			if (raw == NULL)
				fail("out of memory");
		}
	}
	fclose(f);
	char *out = malloc(len * 2 + 2);
	if (out == NULL)
		fail("out of memory");
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = raw[i];
	}
	free(raw);
	m->data = out;
	m->len = o;
	return o > 0;
}

void corpus_load(const char *dir, unsigned max, struct message **msgs_r, unsigned *n_r)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	static const char *const subs[] = {"cur", "new"};
	for (size_t s = 0; s < 2; s++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, subs[s]);
		DIR *d = opendir(path);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				names = realloc(names, cap * sizeof(*names));
				if (names == NULL)
					fail("out of memory");
			}
			size_t need = strlen(path) + strlen(e->d_name) + 2;
			names[n] = malloc(need);
			if (names[n] == NULL)
				fail("out of memory");
			snprintf(names[n], need, "%s/%s", path, e->d_name);
			n++;
		}
		closedir(d);
	}
	qsort(names, n, sizeof(*names), cmp_str);
	struct message *msgs = calloc(max ? max : 1, sizeof(*msgs));
	if (msgs == NULL)
		fail("out of memory");
	unsigned got = 0;
	for (size_t i = 0; i < n && got < max; i++)
		if (load_one(names[i], &msgs[got]))
			got++;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (got == 0)
		fail("no message to APPEND found in %s/cur or %s/new", dir, dir);
	*msgs_r = msgs;
	*n_r = got;
}
