/*
 * The mailbox layer with the real maildir and lmdb modules: the index is a cache, so
 * deleting it must lose no message, no flag and no keyword, and the rebuilt index must
 * announce a new UIDVALIDITY (a plain Maildir cannot say which UIDs it had).
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mailbox/mailbox.h"
#include "mailbox/user.h"
#include "module-fixture.h"
#include "server.h"

static char mb_dir[256];
static struct fixture_module mb_storage, mb_index;
static struct module_instance mb_storage_inst, mb_index_inst;

static void mb_write(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", mb_dir, rel);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static int mb_start(struct fixture_module *m, struct module_instance *inst, const char *so,
		    enum sluice_module_kind kind, const char *settings)
{
	void *conf = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	if (fixture_module_load(m, so, kind) != 0 || fixture_conf_new(m, settings, &conf) != 0 ||
	    fixture_module_init(m, conf, &err) != 0)
		return -1;
	memset(inst, 0, sizeof(*inst));
	inst->desc = m->desc;
	inst->modctx = m->modctx;
	inst->name = m->desc->name;
	return 0;
}

static int mb_setup(void)
{
	char settings[512];
	if (fixture_tempdir(mb_dir, sizeof(mb_dir), "sluice-mailbox") != 0)
		return -1;
	snprintf(settings, sizeof(settings), "root=%s/mail/%%u", mb_dir);
	if (mb_start(&mb_storage, &mb_storage_inst, "maildir.so", SLUICE_KIND_STORAGE, settings) != 0)
		return -1;
	snprintf(settings, sizeof(settings), "path=%s/index/%%u;sync=no", mb_dir);
	if (mb_start(&mb_index, &mb_index_inst, "lmdb.so", SLUICE_KIND_INDEX, settings) != 0)
		return -1;
	server.storage = &mb_storage_inst;
	server.index = &mb_index_inst;
	return 0;
}

static int mb_teardown(void)
{
	server.storage = NULL;
	server.index = NULL;
	fixture_module_unload(&mb_index);
	fixture_module_unload(&mb_storage);
	fixture_remove_tree(mb_dir);
	return 0;
}

struct mb_seen {
	char key[128];
	uint32_t flags;
	char keywords[64];
};

/* Opens INBOX and records each message's key, stored flags and keywords. */
static uint32_t mb_snapshot(struct mail_user *mu, struct mb_seen *out, size_t max, uint32_t *uidvalidity)
{
	struct mailbox *box = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	CU_ASSERT_EQUAL_FATAL(mailbox_open(mu, "INBOX", false, true, &box, &err), 0);
	uint32_t n = box->count;
	for (uint32_t i = 0; i < n && i < max; i++) {
		const struct mailbox_msg *m = &box->msgs[i];
		snprintf(out[i].key, sizeof(out[i].key), "%s", mailbox_msg_key(box, m));
		out[i].flags = m->flags & SLUICE_FLAGS_ALL;
		snprintf(out[i].keywords, sizeof(out[i].keywords), "%s", m->keywords ? m->keywords : "");
	}
	*uidvalidity = box->uidvalidity;
	mailbox_close(&box);
	return n;
}

static int mb_by_key(const void *a, const void *b)
{
	return strcmp(((const struct mb_seen *)a)->key, ((const struct mb_seen *)b)->key);
}

static void test_deleting_the_index_keeps_messages_flags_and_keywords(void)
{
	struct sluice_user user = {.name = "alice", .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct mail_user *mu = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mb_seen before[4], after[4];
	uint32_t v1, v2;
	char path[512];

	CU_ASSERT_EQUAL_FATAL(mail_user_open(&user, &mu, &err), 0);
	mb_write("mail/alice/dovecot-keywords", "0 $Label1\n1 Work\n");
	mb_write("mail/alice/cur/1700000001.M1P1Q1.host:2,S", "Subject: one\n\nbody\n");
	mb_write("mail/alice/cur/1700000002.M1P1Q1.host:2,FSa", "Subject: two\n\nbody\n");
	mb_write("mail/alice/cur/1700000003.M1P1Q1.host:2,Tb", "Subject: three\n\nbody\n");
	CU_ASSERT_EQUAL_FATAL(mb_snapshot(mu, before, 4, &v1), 3);
	mail_user_close(&mu);

	snprintf(path, sizeof(path), "%s/index/alice", mb_dir);
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	fixture_remove_tree(path);

	CU_ASSERT_EQUAL_FATAL(mail_user_open(&user, &mu, &err), 0);
	CU_ASSERT_EQUAL_FATAL(mb_snapshot(mu, after, 4, &v2), 3);
	mail_user_close(&mu);
	CU_ASSERT_EQUAL(stat(path, &st), 0); /* rebuilt */
	CU_ASSERT_NOT_EQUAL(v1, v2);

	qsort(before, 3, sizeof(before[0]), mb_by_key);
	qsort(after, 3, sizeof(after[0]), mb_by_key);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_STRING_EQUAL(before[i].key, after[i].key);
		CU_ASSERT_EQUAL(before[i].flags, after[i].flags);
		CU_ASSERT_STRING_EQUAL(before[i].keywords, after[i].keywords);
	}
	CU_ASSERT_EQUAL(after[0].flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_EQUAL(after[1].flags, SLUICE_FLAG_SEEN | SLUICE_FLAG_FLAGGED);
	CU_ASSERT_STRING_EQUAL(after[1].keywords, "$Label1");
	CU_ASSERT_EQUAL(after[2].flags, SLUICE_FLAG_DELETED);
	CU_ASSERT_STRING_EQUAL(after[2].keywords, "Work");
}

static void test_uids_stay_stable_while_the_index_lives(void)
{
	struct sluice_user user = {.name = "bob", .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct mail_user *mu = NULL;
	struct sluice_error err = SLUICE_ERROR_INIT;
	struct mailbox *box = NULL;

	CU_ASSERT_EQUAL_FATAL(mail_user_open(&user, &mu, &err), 0);
	mb_write("mail/bob/cur/1700000001.M1P1Q1.host:2,", "Subject: a\n\nx\n");
	CU_ASSERT_EQUAL_FATAL(mailbox_open(mu, "INBOX", false, true, &box, &err), 0);
	uint32_t v = box->uidvalidity, uid = box->msgs[0].uid;
	mailbox_close(&box);
	mb_write("mail/bob/new/1700000002.M1P1Q1.host", "Subject: b\n\nx\n");
	CU_ASSERT_EQUAL_FATAL(mailbox_open(mu, "INBOX", false, true, &box, &err), 0);
	CU_ASSERT_EQUAL(box->uidvalidity, v);
	CU_ASSERT_EQUAL(box->count, 2);
	CU_ASSERT_EQUAL(box->msgs[0].uid, uid);
	CU_ASSERT_EQUAL(box->msgs[1].uid, uid + 1);
	CU_ASSERT_EQUAL(box->recent, 1); /* the delivery, claimed by this open */
	mailbox_close(&box);
	mail_user_close(&mu);
}

static CU_TestInfo mailbox_tests[] = {
	{"deleting the index keeps messages, flags and keywords",
	 test_deleting_the_index_keeps_messages_flags_and_keywords},
	{"UIDs stay stable while the index lives", test_uids_stay_stable_while_the_index_lives},
	CU_TEST_INFO_NULL,
};

CU_SuiteInfo mailbox_suites[] = {
	{"mailbox", mb_setup, mb_teardown, NULL, NULL, mailbox_tests},
	CU_SUITE_INFO_NULL,
};
