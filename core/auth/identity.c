/*
 * Per-thread filesystem identities and the capabilities the process keeps (see
 * identity.h for the model). Everything here uses raw system calls on purpose: glibc
 * applies setgroups() and the capability calls of libcap to every thread of the
 * process, which would hand one session's identity to all the others.
 */
#include "auth/identity.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

#define IDENTITY_MAX_GROUPS 65536

static uid_t own_uid;
static gid_t own_gid;
static gid_t *own_groups;
static size_t own_ngroups;
static bool may_switch;

/* Whether this thread has moved away from the server's own identity. */
static _Thread_local bool thread_switched;

static int raw_setgroups(size_t n, const gid_t *list)
{
#ifdef SYS_setgroups32
	return (int)syscall(SYS_setgroups32, n, list);
#else
	return (int)syscall(SYS_setgroups, n, list);
#endif
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	return (int)syscall(SYS_capget, &hdr, data);
}

static bool cap_has(const struct __user_cap_data_struct data[2], unsigned cap)
{
	return (data[cap / 32].effective & (UINT32_C(1) << (cap % 32))) != 0;
}

int identity_setup(void)
{
	struct __user_cap_data_struct caps[2];
	int n;

	own_uid = geteuid();
	own_gid = getegid();
	free(own_groups);
	own_groups = NULL;
	own_ngroups = 0;
	n = getgroups(0, NULL);
	if (n < 0)
		return -1;
	if (n > 0) {
		own_groups = calloc((size_t)n, sizeof(*own_groups));
		if (own_groups == NULL)
			return -1;
		n = getgroups(n, own_groups);
		if (n < 0)
			return -1;
		own_ngroups = (size_t)n;
	}
	memset(caps, 0, sizeof(caps));
	if (caps_get(caps) < 0)
		return -1;
	may_switch = cap_has(caps, CAP_SETUID) && cap_has(caps, CAP_SETGID);
	return 0;
}

bool identity_can_switch(void)
{
	return may_switch;
}

int identity_drop_privileges(void)
{
	static const unsigned keep[] = {CAP_SETUID, CAP_SETGID, CAP_AUDIT_WRITE};
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct caps[2];
	uint32_t mask[2] = {0, 0};

	if (caps_get(caps) < 0)
		return -1;
	if ((caps[0].permitted | caps[1].permitted) == 0)
		return 0; /* an ordinary user's process: nothing to give up */
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		mask[keep[i] / 32] |= UINT32_C(1) << (keep[i] % 32);
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. A
	 * process started without CAP_SETPCAP (systemd's CapabilityBoundingSet) has a
	 * bounding set narrowed already; the capset below still empties the rest. */
	for (unsigned cap = 0; cap < 64 && cap_has(caps, CAP_SETPCAP); cap++) {
		if (mask[cap / 32] & (UINT32_C(1) << (cap % 32)))
			continue;
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) <= 0)
			continue; /* not in the set, or beyond what this kernel knows */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	}
	for (int i = 0; i < 2; i++) {
		caps[i].effective &= mask[i];
		caps[i].permitted &= mask[i];
		caps[i].inheritable = 0;
	}
	return (int)syscall(SYS_capset, &hdr, caps) < 0 ? -1 : 0;
}

int identity_for_user(const struct sluice_user *user, struct identity *id_r, struct sluice_error *err)
{
	memset(id_r, 0, sizeof(*id_r));
	id_r->own = true;
	if (user->uid == (uid_t)-1)
		return 0;
	gid_t gid = user->gid != (gid_t)-1 ? user->gid : own_gid;
	if (!may_switch) {
		if (user->uid == own_uid)
			return 0; /* it is us: nothing to switch, nothing we could */
		log_error("user %s has uid %ld, but sluiced runs as uid %ld without the right to act "
			  "as other users: start it as root, or give the user uid %ld",
			  user->name, (long)user->uid, (long)own_uid, (long)own_uid);
		return sluice_error_set(err, SLUICE_E_PERM, "UNAVAILABLE",
					"The server cannot open the mail of this account; "
					"the administrator has been told why.");
	}
	if (user->uid == own_uid && gid == own_gid)
		return 0;

	/* The user's supplementary groups, as a login would get them (initgroups). */
	gid_t *groups = NULL;
	int n = 1;
	for (int size = 32;; size *= 2) {
		gid_t *g = size <= IDENTITY_MAX_GROUPS ? realloc(groups, (size_t)size * sizeof(*g)) : NULL;
		if (g == NULL) {
			free(groups);
			return sluice_error_set(err, SLUICE_E_NOMEM, "UNAVAILABLE",
						"The server is out of memory.");
		}
		groups = g;
		groups[0] = gid;
		n = size;
		if (user->name == NULL) {
			n = 1;
			break;
		}
		if (getgrouplist(user->name, gid, groups, &n) >= 0)
			break;
	}
	id_r->own = false;
	id_r->uid = user->uid;
	id_r->gid = gid;
	id_r->groups = groups;
	id_r->ngroups = (size_t)n;
	return 0;
}

void identity_clear(struct identity *id)
{
	free(id->groups);
	memset(id, 0, sizeof(*id));
	id->own = true;
}

static int identity_apply(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
	if (may_switch && raw_setgroups(ngroups, groups) < 0)
		return -1;
	/* Each call returns the previous value; asking for -1 changes nothing and tells
	 * the current one, which is how a refused change shows. */
	setfsgid(gid);
	if ((gid_t)setfsgid((gid_t)-1) != gid) {
		errno = EPERM;
		return -1;
	}
	setfsuid(uid);
	if ((uid_t)setfsuid((uid_t)-1) != uid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int identity_enter(const struct identity *id)
{
	if (id->own) {
		identity_leave();
		return 0;
	}
	thread_switched = true;
	if (identity_apply(id->uid, id->gid, id->groups, id->ngroups) == 0)
		return 0;
	int e = errno;
	log_error("cannot act as uid %ld gid %ld: %s", (long)id->uid, (long)id->gid, strerror(e));
	identity_leave();
	errno = e;
	return -1;
}

void identity_leave(void)
{
	if (!thread_switched)
		return;
	if (identity_apply(own_uid, own_gid, own_groups, own_ngroups) < 0) {
		/* A thread stuck as a user has fewer rights than it should, never more;
		 * still, nothing sensible can run on it any more. */
		log_error("cannot return to the server's own identity: %s", strerror(errno));
		abort();
	}
	thread_switched = false;
}

uid_t identity_current_fsuid(void)
{
	return (uid_t)setfsuid((uid_t)-1);
}
