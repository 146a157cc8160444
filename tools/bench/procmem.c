/*
 * Resident memory of a server, summed over its whole process tree. Sluice is one
 * process; Dovecot is a master with config, log, anvil, auth, login and imap children,
 * so its cost only shows when every descendant is counted. RSS counts a shared page in
 * every process that maps it (an upper bound); PSS divides it among them (the fair
 * share), which is why both are reported.
 */
#include "bench.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct proc {
	pid_t pid, ppid;
};

static bool read_ppid(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return false;
	char state;
	int pp;
	if (sscanf(p + 1, " %c %d", &state, &pp) != 2)
		return false;
	*ppid = pp;
	return true;
}

/* Adds the Rss and Pss lines of /proc/PID/smaps_rollup (KiB); false if it is gone. */
static bool add_mem(pid_t pid, struct procmem *m)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	unsigned long long v;
	bool any = false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %llu kB", &v) == 1) {
			m->rss_kib += v;
			any = true;
		} else if (sscanf(line, "Pss: %llu kB", &v) == 1) {
			m->pss_kib += v;
		}
	}
	fclose(f);
	return any;
}

int procmem_tree(pid_t root, struct procmem *m)
{
	struct proc *all = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir("/proc");
	if (d == NULL)
		fail("cannot read /proc");
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name), ppid;
		if (!read_ppid(pid, &ppid))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 512;
			all = realloc(all, cap * sizeof(*all));
			if (all == NULL)
				fail("out of memory");
		}
		all[n++] = (struct proc){pid, ppid};
	}
	closedir(d);

	/* Breadth-first over the parent links: tree[] grows as children are found. */
	pid_t *tree = malloc((n + 1) * sizeof(*tree));
	if (tree == NULL)
		fail("out of memory");
	size_t t = 0;
	tree[t++] = root;
	for (size_t i = 0; i < t; i++)
		for (size_t k = 0; k < n; k++)
			if (all[k].ppid == tree[i] && t < n + 1)
				tree[t++] = all[k].pid;

	*m = (struct procmem){0};
	int rc = add_mem(root, m) ? 0 : -1;
	if (rc == 0) {
		m->procs = 1;
		for (size_t i = 1; i < t; i++)
			if (add_mem(tree[i], m))
				m->procs++;
	}
	free(tree);
	free(all);
	return rc;
}
