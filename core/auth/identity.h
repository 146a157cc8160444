/*
 * Who a thread is for the file system, and the privileges the process keeps.
 *
 * sluiced is one process serving many users from a pool of threads, so it cannot
 * setuid() to a user the way a process-per-user server does. Linux keeps the identity
 * used for file permission checks per thread: the filesystem uid and gid (setfsuid,
 * setfsgid) and the supplementary groups (the setgroups system call; glibc's wrapper
 * would change every thread, so the raw call is used). A worker takes on the identity of
 * the user whose session it runs, and gives it back when the run ends; while it acts as
 * a user, every open, mkdir and rename is checked by the kernel exactly as for a program
 * that user started. Moving the filesystem uid away from 0 also clears the thread's
 * filesystem capabilities (CAP_DAC_OVERRIDE and friends), so root's overrides do not
 * follow it.
 *
 * identity_drop_privileges() is the other half: once the listeners are bound, the
 * process keeps only the capabilities it needs to switch identities (CAP_SETUID,
 * CAP_SETGID) and CAP_AUDIT_WRITE for PAM, so a thread acting as root can no longer
 * read or write other users' files either. docs/security.md describes the whole model.
 */
#ifndef SLUICE_IDENTITY_H
#define SLUICE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <sluice/passdb.h>

/** An identity a thread can take on. Zero-initialised, it is the server's own. */
struct identity {
	bool own;       /**< the server's own identity: nothing to switch */
	uid_t uid;      /**< filesystem uid */
	gid_t gid;      /**< filesystem gid */
	gid_t *groups;  /**< supplementary groups (malloc'd), NULL when ngroups is 0 */
	size_t ngroups;
};

/**
 * Records the process's own uid, gid and groups and whether it may switch to others
 * (CAP_SETUID and CAP_SETGID in its effective set, as root has). Main thread, before
 * any worker exists. @return 0, or -1 with errno set.
 */
int identity_setup(void);

/** True when identity_setup found the rights to act as other users. */
bool identity_can_switch(void);

/**
 * Drops every capability but CAP_SETUID, CAP_SETGID and CAP_AUDIT_WRITE from the
 * effective, permitted, inheritable and bounding sets of the calling thread, so the
 * threads it creates afterwards start without them. Call on the main thread after the
 * listeners are bound and before the workers start. Does nothing for a process without
 * capabilities. @return 0, or -1 with errno set (the server must not go on).
 */
int identity_drop_privileges(void);

/**
 * The identity to use for @p user's files: its uid, gid and the groups NSS lists for its
 * name (getgrouplist). A user without a uid ((uid_t)-1) gets the server's own.
 * @param[out] id_r filled; release with identity_clear
 * @param[out] err  why it cannot be used: SLUICE_E_PERM when the server runs without the
 *                  right to switch and the user is someone else (the log says who and
 *                  what to do), SLUICE_E_NOMEM. Any thread.
 */
int identity_for_user(const struct sluice_user *user, struct identity *id_r, struct sluice_error *err);

/** Frees what identity_for_user allocated and makes @p id the server's own again. */
void identity_clear(struct identity *id);

/**
 * Makes the calling thread act as @p id for the file system (groups, then gid, then
 * uid), and checks that the kernel took each change. @return 0, or -1 when it could
 * not: the thread is then back at the server's own identity and must not touch the
 * user's files.
 */
int identity_enter(const struct identity *id);

/** Gives the calling thread the server's own identity back. Cheap when it has it. */
void identity_leave(void);

/** The filesystem uid the calling thread uses now (for tests and log lines). */
uid_t identity_current_fsuid(void);

#endif
