/*
 * Private interface of the passwd-file module, shared by its three files: table.c turns
 * the file into an in-memory table of users, scheme.c knows the password schemes (what a
 * well-formed {SCHEME}hash field looks like, and how a password is checked against it),
 * and passwd-file.c is the module itself (settings, reloads, the passdb operations).
 * Nothing here is part of the public ABI; every symbol is hidden in the .so.
 */
#ifndef PWF_PASSWD_FILE_H
#define PWF_PASSWD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <sluice/passdb.h>

/* How a user's password field is checked. */
enum pwf_scheme {
	PWF_SCHEME_NONE = 0, /* empty field: the user exists but cannot log in with a password */
	PWF_SCHEME_CRYPT,    /* a crypt(3) string checked with libxcrypt */
	PWF_SCHEME_PLAIN,    /* {PLAIN}: the password itself */
};

/* Outcome of pwf_password_check(). */
enum pwf_check {
	PWF_CHECK_MISMATCH = 0,
	PWF_CHECK_MATCH = 1,
	PWF_CHECK_UNUSABLE = -1, /* libxcrypt cannot handle the stored hash */
	PWF_CHECK_NOMEM = -2,
};

/* One user. Every string points into the table's buffer. */
struct pwf_entry {
	const char *name;
	const char *secret; /* the hash or plain text without its {SCHEME} prefix */
	size_t secret_len;
	enum pwf_scheme scheme;
	uid_t uid; /* (uid_t)-1 when the field is empty */
	gid_t gid;
	const char *home; /* NULL when empty */
	const char *mail; /* NULL without a mail= extra field */
	unsigned line;
};

/* What identifies one version of the file on disk. */
struct pwf_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

/* The raw bytes of one read of the file. */
struct pwf_file {
	char *data; /* NUL-terminated, malloc'd */
	size_t len;
	struct pwf_file_id id;
	uint64_t digest; /* FNV-1a of the bytes, to skip parsing an unchanged file */
	bool racy;       /* modified so recently that a later change may keep the same id */
	bool world_readable;
};

/* An immutable, parsed version of the file. */
struct pwf_table {
	char *buf; /* the file's bytes, cut into fields */
	size_t buf_len;
	struct pwf_entry *entries;
	size_t count;
	size_t cap;
	uint32_t *slots;  /* open addressing by name: entry index + 1, 0 = empty */
	size_t nslots;    /* a power of two */
	unsigned skipped; /* malformed lines left out by a lenient parse */
};

/*
 * Reads the file at @path into @file. On failure returns SLUICE_E_IO (or E_NOMEM) with
 * "PATH: reason" in err->msg and errno in err->sys_errno; the text is for the admin.
 */
int pwf_file_read(const char *path, struct pwf_file *file, struct sluice_error *err);
void pwf_file_free(struct pwf_file *file);
/* True when two stats describe the same version of the file. */
bool pwf_file_id_equal(const struct pwf_file_id *a, const struct pwf_file_id *b);
/* Fills @id from stat(2); returns 0 or -1 with errno set. */
int pwf_file_stat(const char *path, struct pwf_file_id *id);

/*
 * Parses @file (taking over its data) into a table. Strict: the first malformed line
 * makes it return SLUICE_E_CONFIG with "PATH:LINE: reason" in err->msg. Lenient: each
 * malformed line is logged through @host as "PATH:LINE: reason" and left out.
 */
int pwf_table_parse(struct pwf_file *file, const char *path, bool strict,
                    const struct sluice_host *host, struct pwf_table **table_r,
                    struct sluice_error *err);
/* Finds a user by exact, case-sensitive name; NULL when absent. */
const struct pwf_entry *pwf_table_find(const struct pwf_table *table, const char *name);
void pwf_table_free(struct pwf_table **table);

/*
 * Splits a password field into its scheme and secret. Returns 0, or -1 with a reason
 * (which never quotes the hash) written into @reason.
 */
int pwf_scheme_parse(const char *field, enum pwf_scheme *scheme_r, const char **secret_r,
                     char *reason, size_t reason_size);
/* Checks @password against a stored secret; see enum pwf_check. Thread-safe. */
enum pwf_check pwf_password_check(enum pwf_scheme scheme, const char *secret, size_t secret_len,
                                  const char *password, size_t password_len);

#endif
