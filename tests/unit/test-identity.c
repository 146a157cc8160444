/*
 * Unit tests for core/auth/identity.c: a thread that takes on a user's identity creates
 * files owned by that user and loses root's overrides, while the other threads keep the
 * server's identity. As root the switch itself is tested; as an ordinary user, that a
 * switch to anyone else is refused and one to oneself is not needed.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/identity.h"
#include "module-fixture.h"

#define TEST_UID 61234
#define TEST_GID 61235

struct switched_thread {
	const char *dir;
	struct identity id;
	uid_t fsuid_inside, fsuid_after;
	int create_rc, closed_rc, closed_errno;
};

static void *switched_main(void *arg)
{
	struct switched_thread *t = arg;
	char path[512];

	if (identity_enter(&t->id) != 0) {
		t->create_rc = -1;
		return NULL;
	}
	t->fsuid_inside = identity_current_fsuid();
	snprintf(path, sizeof(path), "%s/open/by-user", t->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	t->create_rc = fd >= 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	/* Root's 0700 folder: the user has no way in, whatever root could do. */
	snprintf(path, sizeof(path), "%s/closed/x", t->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	t->closed_rc = fd;
	t->closed_errno = errno;
	if (fd >= 0)
		close(fd);
	identity_leave();
	t->fsuid_after = identity_current_fsuid();
	return NULL;
}

static void test_a_thread_acts_as_the_user_and_the_others_do_not(void)
{
	char dir[256], path[512];
	struct stat st;
	struct sluice_user user = {.name = "sluice-test-nobody", .uid = TEST_UID, .gid = TEST_GID};
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct switched_thread t = {.dir = dir};
	pthread_t th;

	CU_ASSERT_EQUAL_FATAL(identity_setup(), 0);
	if (!identity_can_switch()) {
		/* An ordinary user: someone else is refused, oneself needs no switch. */
		user.uid = getuid() + 1;
		CU_ASSERT_EQUAL(identity_for_user(&user, &t.id, &err), SLUICE_E_PERM);
		user.uid = getuid();
		CU_ASSERT_EQUAL(identity_for_user(&user, &t.id, &err), 0);
		CU_ASSERT_TRUE(t.id.own);
		identity_clear(&t.id);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(fixture_tempdir(dir, sizeof(dir), "sluice-identity"), 0);
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/open", dir);
	CU_ASSERT_EQUAL(mkdir(path, 0777), 0);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/closed", dir);
	CU_ASSERT_EQUAL(mkdir(path, 0700), 0);

	CU_ASSERT_EQUAL_FATAL(identity_for_user(&user, &t.id, &err), 0);
	CU_ASSERT_FALSE(t.id.own);
	CU_ASSERT_TRUE(t.id.ngroups >= 1 && t.id.groups[0] == TEST_GID);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, switched_main, &t), 0);
	pthread_join(th, NULL);

	CU_ASSERT_EQUAL(t.fsuid_inside, TEST_UID);
	CU_ASSERT_EQUAL(t.create_rc, 0);
	CU_ASSERT(t.closed_rc < 0 && t.closed_errno == EACCES);
	CU_ASSERT_EQUAL(t.fsuid_after, geteuid());
	snprintf(path, sizeof(path), "%s/open/by-user", dir);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_uid, TEST_UID);
	CU_ASSERT_EQUAL(st.st_gid, TEST_GID);
	/* This thread never switched: what it creates is the server's. */
	CU_ASSERT_EQUAL(identity_current_fsuid(), geteuid());
	snprintf(path, sizeof(path), "%s/closed/by-server", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT(fd >= 0);
	if (fd >= 0) {
		CU_ASSERT_EQUAL(fstat(fd, &st), 0);
		CU_ASSERT_EQUAL(st.st_uid, geteuid());
		close(fd);
	}
	identity_clear(&t.id);
	CU_ASSERT_TRUE(t.id.own);
	fixture_remove_tree(dir);
}

static void test_a_user_without_uid_gets_the_servers_identity(void)
{
	struct sluice_user user = {.name = "virtual", .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct identity id;

	CU_ASSERT_EQUAL_FATAL(identity_setup(), 0);
	CU_ASSERT_EQUAL(identity_for_user(&user, &id, &err), 0);
	CU_ASSERT_TRUE(id.own);
	CU_ASSERT_EQUAL(identity_enter(&id), 0);
	CU_ASSERT_EQUAL(identity_current_fsuid(), geteuid());
	identity_clear(&id);
}

static CU_TestInfo identity_tests[] = {
	{"a thread acts as the user and the others do not",
	 test_a_thread_acts_as_the_user_and_the_others_do_not},
	{"a user without uid gets the server's identity", test_a_user_without_uid_gets_the_servers_identity},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo identity_suites[] = {
	{"identity", NULL, NULL, NULL, NULL, identity_tests},
	CU_SUITE_INFO_NULL,
};
