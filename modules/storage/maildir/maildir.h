/*
 * Shared declarations of the maildir storage module (maildir.so). The module keeps mail
 * in Maildir with Maildir++ folders, the layout Courier, Dovecot, mutt, mbsync and every
 * delivery agent understand, so that Sluice can be put in front of an existing Maildir and
 * taken away again without converting anything.
 *
 * The files of the module, one concern each:
 *   maildir.c        descriptor, settings, init/reload, errors, unique names, dotlocked files
 *   root.c           the mail root of a user: template expansion, creation, user handles,
 *                    one shared root descriptor per directory
 *   mutf7.c          modified UTF-7 for folder names on disk (`.Entw&APw-rfe`)
 *   folders.c        canonical names to folder directories, list, create, delete, rename
 *   subscriptions.c  the `subscriptions` file
 *   specialuse.c     the `sluice-special-use` file (RFC 6154 \Sent, \Trash, ...)
 *   box.c            opening a folder (with repair and tmp/ cleanup), stamp, watch paths, scan
 *   filename.c       message file names: key, `,S=` size, `:2,` info letters
 *   cache.c          the per-box table from message key to current file name
 *   keywords.c       the per-folder `dovecot-keywords` file
 *   message.c        reading, flagging, expunging and copying messages
 *   append.c         writing new messages through tmp/
 *
 * Every file operation below the mail root goes through a directory descriptor and a
 * single path component (openat, renameat, linkat, unlinkat), opened with O_NOFOLLOW, so
 * no name and no symbolic link placed in the Maildir can lead outside it.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <sluice/module.h>
#include <sluice/storage.h>

#define MAILDIR_KEYWORDS_MAX 26
#define MAILDIR_KEYWORDS_FILE "dovecot-keywords"
#define MAILDIR_SUBSCRIPTIONS_FILE "subscriptions"
#define MAILDIR_SPECIAL_USE_FILE "sluice-special-use"
#define MAILDIR_FOLDER_MARKER "maildirfolder"
/* The Maildir spec: tmp/ files untouched for 36 hours are leftovers of a crash. */
#define MAILDIR_TMP_MAX_AGE (36 * 3600)
/* Longest unique base name we generate, with room for ",S=<size>" and ":2,<info>". */
#define MAILDIR_UNIQUE_MAX 160
/* Info letters a name can carry: every printable ASCII character at most once. */
#define MAILDIR_INFO_MAX 96

#define MAILDIR_MSG_INTERNAL "The mail storage failed; the server log has the details."

struct maildir_settings {
	const char *root;
	bool fsync;
};

/*
 * A mail root directory open in this process, shared by every session of its user (see
 * root.c): 10,000 sessions of one user hold one descriptor, not 10,000.
 */
struct maildir_root_ref {
	struct maildir_root_ref *next;
	dev_t dev;
	ino_t ino;
	int fd;
	unsigned refs;
};

#define MAILDIR_ROOT_BUCKETS 256

/* The module instance, shared by every thread. */
struct maildir_ctx {
	const struct sluice_host *host;
	pthread_mutex_t conf_lock; /* guards set against a reload */
	const struct maildir_settings *set;
	/* Serialises read-modify-write of keyword and subscription files in this process;
	 * the dotlock of maildir_file_replace() guards against other processes. */
	pthread_mutex_t file_lock;
	atomic_uint counter;        /* the Q<n> part of unique names */
	char host_escaped[64];      /* hostname with '/' and ':' escaped as the spec says */
	pthread_mutex_t roots_lock; /* guards roots */
	struct maildir_root_ref *roots[MAILDIR_ROOT_BUCKETS];
};

/* Maps a message key to its current file name; see cache.c. */
struct maildir_cache {
	char *arena; /* entries: one byte 'c' or 'n' for cur/ or new/, then the name, NUL */
	size_t len, cap;
	uint32_t *slots; /* 0 empty, UINT32_MAX removed, else arena offset + 1 */
	uint32_t nslots, used;
};

/* The keyword names of one folder as its dovecot-keywords file says; see keywords.c. */
struct maildir_keywords {
	char *names[MAILDIR_KEYWORDS_MAX]; /* letter 'a' + index, NULL when unused */
	bool loaded, exists;
	struct timespec mtime;
	ino_t ino;
	off_t size;
};

struct sluice_storage_user {
	struct maildir_ctx *ctx;
	char *name; /* the login name, for log lines */
	char *root; /* absolute path of the mail root, for log lines and watch paths */
	int rootfd; /* shared through rootref when that is set; used without a file position */
	struct maildir_root_ref *rootref;
	bool fsync;
	/* Boxes whose cur/ got links that are not yet fsynced (see maildir_user_flush). */
	struct sluice_storage_box *dirty;
};

struct sluice_storage_box {
	struct sluice_storage_user *user;
	char *name; /* canonical name, for log lines */
	char *dir;  /* directory below the root: "." for INBOX, ".a.b" otherwise */
	int dirfd, curfd, newfd, tmpfd;
	struct maildir_keywords kw;
	struct maildir_cache cache;
	char *scratch; /* keyword text of the message a scan reports */
	size_t scratch_cap;
	bool cur_dirty;
	struct sluice_storage_box *dirty_next;
};

/* maildir.c: errors, names, small file helpers. */

/** Logs "what: strerror(e)" at error level and fills @p err with @p client_msg. */
int maildir_syserr(const struct sluice_storage_user *user, struct sluice_error *err, int code,
                   int e, const char *client_msg, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/** Writes a new unique base name `<secs>.M<usecs>P<pid>Q<n>.<host>` into @p buf. */
void maildir_unique_name(struct maildir_ctx *ctx, char buf[MAILDIR_UNIQUE_MAX]);
/**
 * Replaces @p name in @p dirfd with @p data, atomically and holding Dovecot's dotlock
 * (`name.lock`, written and renamed over the file). Caller holds ctx->file_lock.
 * @return 0; SLUICE_E_TEMPFAIL when another process holds the lock; SLUICE_E_IO.
 */
int maildir_file_replace(const struct sluice_storage_user *user, int dirfd, const char *dirlog,
                         const char *name, const char *data, size_t len, struct sluice_error *err);
/**
 * Reads a small file of @p dirfd (not following a symlink) into malloc'd memory with a NUL
 * after it. @return 0; SLUICE_NOTFOUND when missing (*data_r NULL); SLUICE_E_IO.
 */
int maildir_file_read(const struct sluice_storage_user *user, int dirfd, const char *dirlog,
                      const char *name, char **data_r, size_t *len_r, struct sluice_error *err);
/**
 * Reads the small control file @p name of the mail root (subscriptions, special uses) and
 * calls @p line for each of its lines, without the line end (a CR before the LF is cut
 * too), empty ones included; the callback may change the text in place.
 * @return 0, also when the file does not exist; the callback's non-zero value (it stops the
 *         walk); SLUICE_E_IO or SLUICE_E_NOMEM with err filled.
 */
int maildir_file_lines(struct sluice_storage_user *user, const char *name,
                       int (*line)(void *ctx, char *text, size_t len), void *ctx,
                       struct sluice_error *err);
/** renameat2(RENAME_NOREPLACE), or a checked renameat where the file system lacks it. */
int maildir_rename_noreplace(int fromfd, const char *from, int tofd, const char *to);
/** fsyncs the cur/ of every box of @p user that got links since its last fsync. */
void maildir_user_flush(struct sluice_storage_user *user);
/** Marks @p box as needing an fsync of cur/ (only when the user's fsync setting is on). */
void maildir_box_mark_dirty(struct sluice_storage_box *box);

/* mutf7.c */

/** UTF-8 to modified UTF-7. @return length written, or -1 for bad UTF-8 or no room. */
int maildir_mutf7_encode(const char *in, size_t inlen, char *out, size_t outsize);
/** Strict modified UTF-7 to UTF-8. @return length written, or -1 for anything not canonical. */
int maildir_mutf7_decode(const char *in, size_t inlen, char *out, size_t outsize);

/* folders.c */

/**
 * Turns a canonical mailbox name into its directory below the root ("." for INBOX).
 * @return 0 with *dir_r malloc'd; SLUICE_E_PARSE with a sentence; SLUICE_E_NOMEM.
 */
int maildir_folder_dir(const char *name, char **dir_r, struct sluice_error *err);
/** Whether @p dir below @p rootfd looks like a Maildir (cur/, new/ or maildirfolder). */
bool maildir_is_maildir(int rootfd, const char *dir);
int maildir_mailbox_list(struct sluice_storage_user *user, sluice_storage_mailbox_cb *cb, void *ctx,
                         struct sluice_error *err);
int maildir_mailbox_create(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err);
int maildir_mailbox_delete(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err);
int maildir_mailbox_rename(struct sluice_storage_user *user, const char *from, const char *to,
                           struct sluice_error *err);

/* subscriptions.c */

/** The subscribed names, one malloc'd string each, ending with NULL. */
int maildir_subs_read(struct sluice_storage_user *user, char ***names_r, size_t *count_r,
                      struct sluice_error *err);
void maildir_subs_free(char **names, size_t count);
int maildir_mailbox_subscribe(struct sluice_storage_user *user, const char *name, bool subscribe,
                              struct sluice_error *err);
/** Renames @p from and its children in the subscriptions, after a mailbox rename. */
int maildir_subs_rename(struct sluice_storage_user *user, const char *from, const char *to,
                        struct sluice_error *err);

/* specialuse.c */

/* One line of the special-use file: a canonical name and its SLUICE_MAILBOX_SPECIAL_* bits. */
struct maildir_special {
	char *name;
	uint32_t bits;
};

/** The special uses the file records (malloc'd; free with maildir_special_free). */
int maildir_special_read(struct sluice_storage_user *user, struct maildir_special **list_r,
                         size_t *count_r, struct sluice_error *err);
void maildir_special_free(struct maildir_special *list, size_t count);
int maildir_mailbox_set_special_use(struct sluice_storage_user *user, const char *name,
                                    uint32_t special_use, struct sluice_error *err);
/** Carries the uses of @p from and its children to @p to, after a mailbox rename. */
int maildir_special_rename(struct sluice_storage_user *user, const char *from, const char *to,
                           struct sluice_error *err);
/** Forgets the uses of @p name (not of its children), after a mailbox delete. */
int maildir_special_forget(struct sluice_storage_user *user, const char *name,
                           struct sluice_error *err);

/* box.c */

int maildir_mailbox_open(struct sluice_storage_user *user, const char *name,
                         struct sluice_storage_box **box_r, struct sluice_error *err);
void maildir_mailbox_close(struct sluice_storage_box *box);
int maildir_mailbox_stamp(struct sluice_storage_box *box, uint8_t stamp_r[32],
                          struct sluice_error *err);
int maildir_mailbox_watch_paths(struct sluice_storage_box *box, sluice_storage_path_cb *cb,
                                void *ctx, struct sluice_error *err);
int maildir_mailbox_scan(struct sluice_storage_box *box, bool take_new,
                         sluice_storage_message_cb *cb, void *ctx, struct sluice_error *err);
/** Reads cur/ and new/ again (names only) to find files renamed behind our back. */
int maildir_box_refresh(struct sluice_storage_box *box, struct sluice_error *err);

/* filename.c */

/** Length of the key part of a file name: everything before the first ':'. */
size_t maildir_key_len(const char *name);
/** The letters after ":2,", or "" when the name has no such info part. */
const char *maildir_info_letters(const char *name);
/** Whether @p key is something this module could have handed out (no '/', no leading '.'). */
bool maildir_key_valid(const char *key);
/** System flags of info letters; *passed_r tells whether 'P' is among them. */
uint32_t maildir_flags_from_info(const char *letters, bool *passed_r);
/**
 * Composes ASCII-ordered info letters from @p flags, @p passed, the keyword letters set in
 * @p kwmask (bit i = 'a' + i) and those letters of @p keep_from that are neither system flags
 * nor in @p known_mask (letters other programs wrote, which must survive a rename).
 */
void maildir_info_compose(uint32_t flags, bool passed, uint32_t kwmask, const char *keep_from,
                          uint32_t known_mask, char out[MAILDIR_INFO_MAX + 1]);

/* cache.c */

void maildir_cache_init(struct maildir_cache *c);
void maildir_cache_free(struct maildir_cache *c);
void maildir_cache_clear(struct maildir_cache *c);
void maildir_cache_swap(struct maildir_cache *a, struct maildir_cache *b);
/** Remembers @p name (in 'c'ur/ or 'n'ew/) under its key. @return 0 or -1 out of memory. */
int maildir_cache_put(struct maildir_cache *c, char where, const char *name);
/** The current name for @p key and where it is, or NULL. Valid until the next change. */
const char *maildir_cache_get(const struct maildir_cache *c, const char *key, size_t keylen,
                              char *where_r);
void maildir_cache_del(struct maildir_cache *c, const char *key, size_t keylen);

/* keywords.c */

/** Reads dovecot-keywords again when it changed since last time. */
int maildir_keywords_refresh(struct sluice_storage_box *box, struct sluice_error *err);
void maildir_keywords_free(struct maildir_keywords *kw);
/** Bit mask of the letters that have a keyword name. */
uint32_t maildir_keywords_known(const struct maildir_keywords *kw);
/**
 * Turns a space-separated keyword list into letters, adding new names to the file.
 * @param[out] passed_r $Forwarded was among them (stored as 'P')
 * @return 0; SLUICE_E_LIMIT for a 27th keyword; SLUICE_E_TEMPFAIL; SLUICE_E_IO.
 */
int maildir_keywords_mask(struct sluice_storage_box *box, const char *keywords, uint32_t *mask_r,
                          bool *passed_r, struct sluice_error *err);
/**
 * Writes the keyword names of info @p letters into box->scratch, space-separated.
 * @return the text, or NULL when out of memory.
 */
const char *maildir_keywords_text(struct sluice_storage_box *box, const char *letters, bool passed);

/* message.c */

int maildir_message_open(struct sluice_storage_box *box, const char *key, int *fd_r,
                         struct sluice_error *err);
int maildir_message_set_flags(struct sluice_storage_box *box, const char *key, uint32_t flags,
                              const char *keywords, struct sluice_error *err);
int maildir_message_expunge(struct sluice_storage_box *box, const char *key,
                            struct sluice_error *err);
int maildir_message_copy(struct sluice_storage_box *from, const char *key,
                         struct sluice_storage_box *to, uint32_t flags, const char *keywords,
                         time_t mtime, struct sluice_pool *pool, const char **key_r,
                         struct sluice_error *err);
/** Copies the bytes of @p srcfd into a new file of to's tmp/ and renames it to cur/@p final. */
int maildir_copy_bytes(struct sluice_storage_box *to, int srcfd, time_t mtime, const char *final,
                       struct sluice_error *err);

/* append.c */

int maildir_append_begin(struct sluice_storage_box *box, struct sluice_storage_append **append_r,
                         int *fd_r, struct sluice_error *err);
int maildir_append_commit(struct sluice_storage_append *append, uint32_t flags,
                          const char *keywords, time_t mtime, struct sluice_pool *pool,
                          const char **key_r, struct sluice_error *err);
void maildir_append_abort(struct sluice_storage_append *append);

/* root.c */

int maildir_user_open(void *modctx, const struct sluice_user *user,
                      struct sluice_storage_user **user_r, struct sluice_error *err);
void maildir_user_close(struct sluice_storage_user *user);

#endif
