/*
 * Reading and parsing the passwd-file. The file uses Dovecot's layout, one user a line:
 *
 *   user:password:uid:gid:gecos:home:shell:extra
 *
 * Trailing fields may be left out (`alice:{PLAIN}secret` is a whole line); `#` starts a
 * comment line; blank lines and a CR before the newline are ignored. uid and gid are
 * decimal, empty meaning "the server's own". gecos and shell are ignored. Everything after
 * the seventh colon is the extra field, so it may itself contain colons: space-separated
 * key=value words, of which `mail=LOCATION` (or Dovecot's `userdb_mail=LOCATION`) sets
 * the user's mail location; other words are accepted and ignored so that Dovecot files
 * load unchanged. User names are compared exactly, case included: `Alice` and `alice`
 * are two users, because the file is the authority and folding case would let two lines
 * claim one login.
 *
 * The whole file is read into one buffer, cut in place into fields, and indexed by a
 * small open-addressing hash table; a parsed table is never modified, so readers share it
 * under the module's read lock.
 */
#include "passwd-file.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files modified less than this long ago may still change without changing their stat. */
#define PWF_RACY_WINDOW_NS (2LL * 1000000000LL)
#define PWF_FIELDS 8

static uint64_t pwf_fnv1a64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint32_t pwf_hash_name(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void pwf_id_from_stat(struct pwf_file_id *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

int pwf_file_stat(const char *path, struct pwf_file_id *id)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	pwf_id_from_stat(id, &st);
	return 0;
}

bool pwf_file_id_equal(const struct pwf_file_id *a, const struct pwf_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * File timestamps advance in coarse steps (a kernel tick, or seconds on some file
 * systems), so two writes close together can leave size, mtime and inode unchanged. A
 * file modified within the window is therefore marked racy and read again at the next
 * check, as git does for its index.
 */
static bool pwf_is_racy(const struct timespec *mtime)
{
	struct timespec now;
	long long age;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return true;
	age =
	    (long long)(now.tv_sec - mtime->tv_sec) * 1000000000LL + (now.tv_nsec - mtime->tv_nsec);
	return age < PWF_RACY_WINDOW_NS;
}

static int pwf_io_error(struct sluice_error *err, const char *path, const char *what)
{
	int e = errno;
	sluice_error_set(err, SLUICE_E_IO, NULL, "%s: %s: %s", path, what, strerror(e));
	if (err != NULL)
		err->sys_errno = e;
	return SLUICE_E_IO;
}

int pwf_file_read(const char *path, struct pwf_file *file, struct sluice_error *err)
{
	struct stat st;
	size_t cap, len = 0;
	char *data;
	int fd;

	memset(file, 0, sizeof(*file));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pwf_io_error(err, path, "cannot open the file");
	/* The id comes from before the read, so a write during the read shows up next time. */
	if (fstat(fd, &st) < 0) {
		pwf_io_error(err, path, "cannot stat the file");
		close(fd);
		return SLUICE_E_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return pwf_io_error(err, path, "not a regular file");
	}
	cap = (size_t)st.st_size + 1;
	data = malloc(cap);
	if (data == NULL) {
		close(fd);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t n;
		if (len + 1 == cap) {
			/* The file grew since fstat: keep reading, the next check re-reads it. */
			char *bigger = realloc(data, cap * 2);
			if (bigger == NULL) {
				free(data);
				close(fd);
				return sluice_error_set(err, SLUICE_E_NOMEM, NULL,
				                        "%s: out of memory", path);
			}
			data = bigger;
			cap *= 2;
		}
		n = read(fd, data + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pwf_io_error(err, path, "cannot read the file");
			free(data);
			close(fd);
			return SLUICE_E_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	file->data = data;
	file->len = len;
	pwf_id_from_stat(&file->id, &st);
	file->digest = pwf_fnv1a64(data, len);
	file->racy = pwf_is_racy(&st.st_mtim);
	file->world_readable = (st.st_mode & S_IROTH) != 0;
	return 0;
}

void pwf_file_free(struct pwf_file *file)
{
	if (file->data != NULL) {
		/* The buffer holds password hashes and perhaps plain-text passwords. */
		explicit_bzero(file->data, file->len);
		free(file->data);
		file->data = NULL;
	}
}

const struct pwf_entry *pwf_table_find(const struct pwf_table *table, const char *name)
{
	size_t mask, i;

	if (table == NULL || table->nslots == 0 || name == NULL)
		return NULL;
	mask = table->nslots - 1;
	for (i = pwf_hash_name(name) & mask; table->slots[i] != 0; i = (i + 1) & mask) {
		const struct pwf_entry *e = &table->entries[table->slots[i] - 1];
		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static void pwf_slot_insert(uint32_t *slots, size_t nslots, const char *name, uint32_t value)
{
	size_t mask = nslots - 1, i;
	for (i = pwf_hash_name(name) & mask; slots[i] != 0; i = (i + 1) & mask)
		;
	slots[i] = value;
}

/* Keeps the hash table at most half full, so probe chains stay short. */
static int pwf_table_grow_slots(struct pwf_table *t)
{
	size_t nslots = t->nslots == 0 ? 64 : t->nslots * 2;
	uint32_t *slots;

	if (t->count + 1 <= t->nslots / 2)
		return 0;
	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < t->count; i++)
		pwf_slot_insert(slots, nslots, t->entries[i].name, (uint32_t)(i + 1));
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

static int pwf_table_add(struct pwf_table *t, const struct pwf_entry *e)
{
	if (t->count == t->cap) {
		size_t cap = t->cap == 0 ? 32 : t->cap * 2;
		struct pwf_entry *entries;
		if (cap > UINT32_MAX - 1)
			return -1;
		entries = realloc(t->entries, cap * sizeof(*entries));
		if (entries == NULL)
			return -1;
		t->entries = entries;
		t->cap = cap;
	}
	if (pwf_table_grow_slots(t) < 0)
		return -1;
	t->entries[t->count] = *e;
	pwf_slot_insert(t->slots, t->nslots, e->name, (uint32_t)(t->count + 1));
	t->count++;
	return 0;
}

/* Parses a decimal uid or gid; empty means (id)-1, which is also refused when written. */
static int pwf_parse_id(const char *s, uint32_t *id_r)
{
	uint64_t v = 0;

	if (*s == '\0') {
		*id_r = UINT32_MAX;
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= UINT32_MAX)
			return -1;
	}
	*id_r = (uint32_t)v;
	return 0;
}

static void pwf_parse_extra(char *extra, struct pwf_entry *e)
{
	char *save = NULL;

	for (char *word = strtok_r(extra, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		const char *value = NULL;
		if (strncmp(word, "mail=", 5) == 0)
			value = word + 5;
		else if (strncmp(word, "userdb_mail=", 12) == 0)
			value = word + 12;
		if (value != NULL)
			e->mail = *value != '\0' ? value : NULL;
	}
}

static bool pwf_name_ok(const char *name, const char **reason)
{
	size_t len = strlen(name);

	if (len == 0) {
		*reason = "the user name is empty";
		return false;
	}
	if (name[0] == ' ' || name[len - 1] == ' ') {
		*reason = "the user name starts or ends with a space";
		return false;
	}
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*reason = "the user name contains a control character";
			return false;
		}
	}
	return true;
}

/*
 * Cuts one line into fields and fills @e. Returns 0, or -1 with a sentence in @reason.
 * The reason never contains the password field.
 */
static int pwf_parse_line(char *line, unsigned lineno, struct pwf_entry *e, char *reason,
                          size_t reason_size)
{
	char *fields[PWF_FIELDS] = {NULL};
	const char *why = NULL;
	uint32_t id;
	size_t n = 0;
	char *p = line;

	fields[n++] = p;
	while (n < PWF_FIELDS && (p = strchr(p, ':')) != NULL) {
		*p++ = '\0';
		fields[n++] = p;
	}
	if (n < 2) {
		snprintf(reason, reason_size,
		         "too few fields: expected user:password[:uid:gid:"
		         "gecos:home:shell:extra]");
		return -1;
	}
	memset(e, 0, sizeof(*e));
	e->line = lineno;
	e->name = fields[0];
	if (!pwf_name_ok(e->name, &why)) {
		snprintf(reason, reason_size, "%s", why);
		return -1;
	}
	if (pwf_scheme_parse(fields[1], &e->scheme, &e->secret, reason, reason_size) < 0)
		return -1;
	e->secret_len = strlen(e->secret);
	if (pwf_parse_id(n > 2 ? fields[2] : "", &id) < 0) {
		snprintf(reason, reason_size, "the uid is not a number below 4294967295");
		return -1;
	}
	e->uid = (uid_t)id;
	if (pwf_parse_id(n > 3 ? fields[3] : "", &id) < 0) {
		snprintf(reason, reason_size, "the gid is not a number below 4294967295");
		return -1;
	}
	e->gid = (gid_t)id;
	if (n > 5 && fields[5][0] != '\0') {
		if (fields[5][0] != '/') {
			snprintf(reason, reason_size, "the home directory is not an absolute path");
			return -1;
		}
		e->home = fields[5];
	}
	if (n > 7)
		pwf_parse_extra(fields[7], e);
	return 0;
}

/* Warns about hashes this libcrypt cannot check: such users could never log in. */
static void pwf_check_method(const struct pwf_entry *e, const char *path,
                             const struct sluice_host *host)
{
	int r;

	if (e->scheme != PWF_SCHEME_CRYPT || host == NULL)
		return;
	r = crypt_checksalt(e->secret);
	if (r == CRYPT_SALT_INVALID || r == CRYPT_SALT_METHOD_DISABLED)
		host->log(host, SLUICE_LOG_WARNING,
		          "%s:%u: the password hash of user %s uses a method this system's "
		          "libcrypt cannot check; the user cannot log in",
		          path, e->line, e->name);
}

static void pwf_complain(const struct sluice_host *host, const char *path, unsigned lineno,
                         const char *reason)
{
	if (host != NULL)
		host->log(host, SLUICE_LOG_WARNING, "%s:%u: %s; the line is ignored", path, lineno,
		          reason);
}

int pwf_table_parse(struct pwf_file *file, const char *path, bool strict,
                    const struct sluice_host *host, struct pwf_table **table_r,
                    struct sluice_error *err)
{
	struct pwf_table *t = calloc(1, sizeof(*t));
	char reason[200];
	unsigned lineno = 0;
	char *line, *next;

	if (t == NULL) {
		pwf_file_free(file);
		return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "%s: out of memory", path);
	}
	t->buf = file->data;
	t->buf_len = file->len;
	file->data = NULL;

	for (line = t->buf; line != NULL; line = next) {
		char *bufend = t->buf + t->buf_len;
		char *end = memchr(line, '\n', (size_t)(bufend - line)), *p;
		struct pwf_entry e;

		lineno++;
		next = end != NULL ? end + 1 : NULL;
		if (end == NULL)
			end = bufend;
		if (next == bufend)
			next = NULL;
		if (end == line && next == NULL)
			break;
		if (end > line && end[-1] == '\r')
			end--;
		/* A NUL would silently cut the line short; fields must be whole. */
		bool has_nul = memchr(line, '\0', (size_t)(end - line)) != NULL;
		*end = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (!has_nul && (*p == '\0' || *p == '#'))
			continue;

		reason[0] = '\0';
		if (has_nul) {
			snprintf(reason, sizeof(reason), "the line contains a NUL byte");
		} else if (pwf_parse_line(line, lineno, &e, reason, sizeof(reason)) == 0) {
			const struct pwf_entry *dup = pwf_table_find(t, e.name);
			if (dup != NULL)
				snprintf(reason, sizeof(reason),
				         "duplicate user %s (first on line %u)", e.name, dup->line);
		}
		if (reason[0] != '\0') {
			if (strict) {
				sluice_error_set(err, SLUICE_E_CONFIG, NULL, "%s:%u: %s", path,
				                 lineno, reason);
				pwf_table_free(&t);
				return SLUICE_E_CONFIG;
			}
			pwf_complain(host, path, lineno, reason);
			t->skipped++;
			continue;
		}
		if (pwf_table_add(t, &e) < 0) {
			pwf_table_free(&t);
			return sluice_error_set(err, SLUICE_E_NOMEM, NULL, "%s: out of memory",
			                        path);
		}
		pwf_check_method(&e, path, host);
	}
	*table_r = t;
	return 0;
}

void pwf_table_free(struct pwf_table **tablep)
{
	struct pwf_table *t = *tablep;

	if (t == NULL)
		return;
	if (t->buf != NULL) {
		/* The buffer holds password hashes and perhaps plain-text passwords. */
		explicit_bzero(t->buf, t->buf_len);
		free(t->buf);
	}
	free(t->entries);
	free(t->slots);
	free(t);
	*tablep = NULL;
}
