/*
 * Tests of what is particular to the maildir storage module (the generic contract is in
 * test-storage-conformance.c): the files it writes (unique names, `,S=` sizes, `:2,` info
 * letters in ASCII order), Dovecot's dovecot-keywords file and its 26-keyword limit,
 * letters written by other programs, modified UTF-7 folder directories, repair of missing
 * cur/new/tmp, the Maildir spec's tmp/ cleanup, symbolic links that must not be followed,
 * root templates and the refusal of user names that would escape them, and two
 * measurements that are printed, not asserted: 10,000 copies by hard link and a scan of a
 * 100,000-message folder (SLUICE_PERF_MESSAGES changes the count).
 *
 * Each test gets a temporary home under /tmp, removed by the teardown with every handle.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sluice/storage.h>

#include "module-fixture.h"
#include "util/pool.h"

#define MD_MAX_HANDLES 8

static struct fixture_module md_module;
static const struct sluice_storage_ops *md_ops;

static bool log_has(const char *needle)
{
	return fixture_log_count(&md_module, needle) > 0;
}

static void log_reset(void)
{
	fixture_log_clear(&md_module);
}

static struct {
	char dir[64];     /* the temporary home */
	char maildir[96]; /* dir + "/Maildir" */
	struct sluice_pool *pool;
	struct sluice_user user;
	struct sluice_storage_user *su;
	struct sluice_storage_box *boxes[MD_MAX_HANDLES];
	struct sluice_error err;
} fx;

/* Starts a module instance with the defaults and @p root (NULL keeps the default). */
static void md_init(const char *root)
{
	char settings[512] = "";
	void *conf;

	fixture_module_stop(&md_module);
	if (root != NULL)
		snprintf(settings, sizeof(settings), "root=%s", root);
	CU_ASSERT_EQUAL_FATAL(fixture_conf_new(&md_module, settings, &conf), 0);
	CU_ASSERT_EQUAL_FATAL(fixture_module_init(&md_module, conf, &fx.err), 0);
}

static void fx_setup(void)
{
	memset(&fx, 0, sizeof(fx));
	if (fixture_tempdir(fx.dir, sizeof(fx.dir), "sluice-md") < 0)
		return;
	snprintf(fx.maildir, sizeof(fx.maildir), "%s/Maildir", fx.dir);
	fx.pool = pool_create(1024, 0);
	fx.user =
	    (struct sluice_user){.name = "alice", .uid = getuid(), .gid = getgid(), .home = fx.dir};
	log_reset();
}

static void fx_teardown(void)
{
	for (size_t i = 0; i < MD_MAX_HANDLES; i++)
		if (fx.boxes[i] != NULL)
			md_ops->mailbox_close(fx.boxes[i]);
	if (fx.su != NULL)
		md_ops->user_close(fx.su);
	fixture_module_stop(&md_module);
	pool_destroy(&fx.pool);
	fixture_remove_tree(fx.dir);
	memset(&fx, 0, sizeof(fx));
}

/* The usual start: default settings, alice logged in with ~/Maildir. */
static void md_start(void)
{
	CU_ASSERT_FATAL(fx.dir[0] != '\0' && fx.pool != NULL);
	md_init(NULL);
	CU_ASSERT_EQUAL_FATAL(md_ops->user_open(md_module.modctx, &fx.user, &fx.su, &fx.err), 0);
}

static struct sluice_storage_box *box_open_ok(const char *name)
{
	struct sluice_storage_box *box = NULL;

	CU_ASSERT_EQUAL_FATAL(md_ops->mailbox_open(fx.su, name, &box, &fx.err), 0);
	for (size_t i = 0; i < MD_MAX_HANDLES; i++) {
		if (fx.boxes[i] == NULL) {
			fx.boxes[i] = box;
			return box;
		}
	}
	CU_FAIL_FATAL("too many boxes");
	return NULL;
}

static const char *append_ok(struct sluice_storage_box *box, const char *text, uint32_t flags,
                             const char *keywords)
{
	struct sluice_storage_append *a = NULL;
	const char *key = NULL;
	int fd = -1;

	CU_ASSERT_EQUAL_FATAL(md_ops->append_begin(box, &a, &fd, &fx.err), 0);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		md_ops->append_abort(a);
		CU_FAIL_FATAL("write failed");
	}
	CU_ASSERT_EQUAL_FATAL(
	    md_ops->append_commit(a, flags, keywords, 1700000000, fx.pool, &key, &fx.err), 0);
	return key;
}

static void path_of(char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/%s", fx.maildir, rel);
}

static bool exists(const char *rel)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof(p), rel);
	return lstat(p, &st) == 0;
}

static void write_rel(const char *rel, const char *text)
{
	char p[512];
	FILE *f;
	path_of(p, sizeof(p), rel);
	f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
}

static void read_rel(const char *rel, char *buf, size_t size)
{
	char p[512];
	size_t n;
	FILE *f;
	path_of(p, sizeof(p), rel);
	f = fopen(p, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void mkdir_rel(const char *rel)
{
	char p[512];
	path_of(p, sizeof(p), rel);
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0700), 0);
}

/* The one file in @p sub whose name starts with @p key, copied into @p out. */
static bool find_file(const char *sub, const char *key, char *out, size_t size)
{
	char p[512];
	struct dirent *e;
	bool found = false;
	DIR *d;

	path_of(p, sizeof(p), sub);
	d = opendir(p);
	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, key, strlen(key)) == 0) {
			snprintf(out, size, "%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static size_t count_files(const char *sub)
{
	char p[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	path_of(p, sizeof(p), sub);
	d = opendir(p);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct md_seen {
	char key[256];
	uint32_t flags;
	char keywords[512];
	size_t count;
	bool recent;
};

/* Remembers the message whose key starts like want->key (or the last one), counts all. */
static int md_scan_cb(void *ctx, const struct sluice_storage_message *msg)
{
	struct md_seen *s = ctx;
	s->count++;
	if (s->key[0] == '\0' || strcmp(s->key, msg->key) == 0) {
		snprintf(s->keywords, sizeof(s->keywords), "%s", msg->keywords);
		s->flags = msg->flags;
		s->recent = msg->recent;
	}
	return 0;
}

static struct md_seen scan_for(struct sluice_storage_box *box, const char *key, bool take_new)
{
	struct md_seen s;
	memset(&s, 0, sizeof(s));
	if (key != NULL)
		snprintf(s.key, sizeof(s.key), "%s", key);
	s.flags = UINT32_MAX;
	CU_ASSERT_EQUAL(md_ops->mailbox_scan(box, take_new, md_scan_cb, &s, &fx.err), 0);
	return s;
}

/* --- file names and flags --- */

static void test_file_names_carry_size_and_ascii_ordered_letters(void)
{
	char name[256], expect[300], p[512];
	struct sluice_storage_box *box;
	const char *key;
	struct stat st;
	long secs, usecs, pid;
	unsigned q;

	md_start();
	box = box_open_ok("INBOX");
	key = append_ok(box, "hello\r\n", SLUICE_FLAGS_ALL, "$Forwarded");
	CU_ASSERT_EQUAL(sscanf(key, "%ld.M%ldP%ldQ%u.", &secs, &usecs, &pid, &q), 4);
	CU_ASSERT_EQUAL(pid, (long)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(key, ",S=7"));
	CU_ASSERT_FATAL(find_file("cur", key, name, sizeof(name)));
	snprintf(expect, sizeof(expect), "%s:2,DFPRST", key);
	CU_ASSERT_STRING_EQUAL(name, expect);
	CU_ASSERT_EQUAL(count_files("tmp"), 0);
	snprintf(expect, sizeof(expect), "cur/%s", name);
	path_of(p, sizeof(p), expect);
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st.st_mtime, 1700000000);

	CU_ASSERT_EQUAL(md_ops->message_set_flags(box, key, SLUICE_FLAG_SEEN | SLUICE_FLAG_DRAFT,
	                                          "Zeta Alpha", &fx.err),
	                0);
	CU_ASSERT_FATAL(find_file("cur", key, name, sizeof(name)));
	snprintf(expect, sizeof(expect), "%s:2,DSab", key);
	CU_ASSERT_STRING_EQUAL(name, expect);
	CU_ASSERT_EQUAL(md_ops->message_set_flags(box, key, SLUICE_FLAG_FLAGGED, "Alpha", &fx.err),
	                0);
	CU_ASSERT_FATAL(find_file("cur", key, name, sizeof(name)));
	snprintf(expect, sizeof(expect), "%s:2,Fb", key);
	CU_ASSERT_STRING_EQUAL(name, expect);
}

static void test_dovecot_keywords_file_is_written_once_per_new_name(void)
{
	char text[256];
	struct sluice_storage_box *box;
	struct stat st1, st2;
	char p[512];

	md_start();
	box = box_open_ok("INBOX");
	append_ok(box, "x\r\n", 0, "Junk NonJunk");
	read_rel("dovecot-keywords", text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "0 Junk\n1 NonJunk\n");
	path_of(p, sizeof(p), "dovecot-keywords");
	CU_ASSERT_EQUAL_FATAL(stat(p, &st1), 0);
	append_ok(box, "x\r\n", 0, "nonjunk JUNK $Forwarded");
	CU_ASSERT_EQUAL_FATAL(stat(p, &st2), 0);
	CU_ASSERT_EQUAL(st1.st_ino, st2.st_ino); /* not rewritten */
	append_ok(box, "x\r\n", 0, "Third");
	read_rel("dovecot-keywords", text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "0 Junk\n1 NonJunk\n2 Third\n");
	CU_ASSERT_FALSE(exists("dovecot-keywords.lock"));
}

static void test_keywords_written_by_dovecot_are_read(void)
{
	struct sluice_storage_box *box;
	struct md_seen s;
	char name[512];

	md_start();
	write_rel("dovecot-keywords", "0 $Label1\n3 Important\n");
	write_rel("cur/1.M1P1.dovecot,S=3:2,Sd", "x\r\n");
	box = box_open_ok("INBOX");
	s = scan_for(box, "1.M1P1.dovecot,S=3", false);
	CU_ASSERT_EQUAL(s.flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(s.keywords, "Important");
	CU_ASSERT_EQUAL(
	    md_ops->message_set_flags(box, "1.M1P1.dovecot,S=3", 0, "Important $label1", &fx.err),
	    0);
	CU_ASSERT_FATAL(find_file("cur", "1.M1P1.dovecot,S=3", name, sizeof(name)));
	CU_ASSERT_STRING_EQUAL(name, "1.M1P1.dovecot,S=3:2,ad");
	/* Another program adds a name: the next scan reads the new file. */
	write_rel("dovecot-keywords.new", "0 $Label1\n3 Important\n4 Later\n");
	{
		char from[512], to[512];
		path_of(from, sizeof(from), "dovecot-keywords.new");
		path_of(to, sizeof(to), "dovecot-keywords");
		CU_ASSERT_EQUAL_FATAL(rename(from, to), 0);
	}
	write_rel("cur/2.M2P2.dovecot:2,e", "y\r\n");
	s = scan_for(box, "2.M2P2.dovecot", false);
	CU_ASSERT_STRING_EQUAL(s.keywords, "Later");
}

static void test_27th_keyword_is_a_limit(void)
{
	struct sluice_storage_box *box, *other;
	char kw[26 * 8], text[1024];
	const char *key, *first, *copy = NULL;
	struct sluice_storage_append *a = NULL;
	size_t n = 0, lines = 0;
	int fd = -1;

	md_start();
	box = box_open_ok("INBOX");
	key = first = append_ok(box, "x\r\n", 0, "");
	for (int i = 0; i < 26; i++)
		n += (size_t)snprintf(kw + n, sizeof(kw) - n, "%sk%d", i > 0 ? " " : "", i);
	CU_ASSERT_EQUAL(md_ops->message_set_flags(box, key, 0, kw, &fx.err), 0);
	CU_ASSERT_EQUAL(scan_for(box, key, false).count, 1);
	memset(&fx.err, 0, sizeof(fx.err));
	CU_ASSERT_EQUAL(md_ops->message_set_flags(box, key, 0, "k3 k26", &fx.err), SLUICE_E_LIMIT);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, "26"));
	CU_ASSERT_PTR_NULL(strchr(fx.err.msg, '/'));
	read_rel("dovecot-keywords", text, sizeof(text));
	for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 26);
	/* The message kept its 26 keywords. */
	CU_ASSERT_PTR_NOT_NULL(strstr(scan_for(box, key, false).keywords, "k25"));
	/* An append with a 27th keyword leaves nothing behind. */
	CU_ASSERT_EQUAL_FATAL(md_ops->append_begin(box, &a, &fd, &fx.err), 0);
	CU_ASSERT_EQUAL(write(fd, "y\r\n", 3), 3);
	CU_ASSERT_EQUAL(
	    md_ops->append_commit(a, 0, "brand-new", 1700000000, fx.pool, &key, &fx.err),
	    SLUICE_E_LIMIT);
	CU_ASSERT_EQUAL(count_files("tmp"), 0);
	CU_ASSERT_EQUAL(count_files("cur"), 1);
	/* Another folder has its own 26 letters. */
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Other", &fx.err), 0);
	other = box_open_ok("Other");
	CU_ASSERT_EQUAL(
	    md_ops->message_copy(box, first, other, 0, "k26", 1700000000, fx.pool, &copy, &fx.err),
	    0);
	CU_ASSERT_STRING_EQUAL(scan_for(other, copy, false).keywords, "k26");
}

static void test_unknown_letters_survive_a_flag_change(void)
{
	struct sluice_storage_box *box;
	struct md_seen s;
	char name[512];

	md_start();
	write_rel("cur/3.M3P3.other:2,RSXZq", "x\r\n");
	write_rel("cur/4.M4P4.other:2,PS", "x\r\n");
	box = box_open_ok("INBOX");
	s = scan_for(box, "3.M3P3.other", false);
	CU_ASSERT_EQUAL(s.flags, SLUICE_FLAG_ANSWERED | SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(s.keywords, "");
	CU_ASSERT_EQUAL(
	    md_ops->message_set_flags(box, "3.M3P3.other", SLUICE_FLAG_FLAGGED, "Mine", &fx.err),
	    0);
	CU_ASSERT_FATAL(find_file("cur", "3.M3P3.other", name, sizeof(name)));
	CU_ASSERT_STRING_EQUAL(name, "3.M3P3.other:2,FXZaq");
	s = scan_for(box, "4.M4P4.other", false);
	CU_ASSERT_EQUAL(s.flags, SLUICE_FLAG_SEEN);
	CU_ASSERT_STRING_EQUAL(s.keywords, "$Forwarded");
}

static void test_new_mail_with_an_info_part_keeps_it(void)
{
	struct sluice_storage_box *box;
	struct md_seen s;

	md_start();
	write_rel("new/5.M5P5.mda:2,S", "x\r\n");
	write_rel("new/6.M6P6.mda", "y\r\n");
	box = box_open_ok("INBOX");
	s = scan_for(box, "5.M5P5.mda", true);
	CU_ASSERT_EQUAL(s.count, 2);
	CU_ASSERT_EQUAL(s.flags, SLUICE_FLAG_SEEN);
	CU_ASSERT(s.recent);
	CU_ASSERT(exists("cur/5.M5P5.mda:2,S"));
	CU_ASSERT(exists("cur/6.M6P6.mda:2,"));
	CU_ASSERT_EQUAL(count_files("new"), 0);
}

static void test_flags_of_a_message_still_in_new_move_it_to_cur(void)
{
	struct sluice_storage_box *box;

	md_start();
	write_rel("new/7.M7P7.mda", "x\r\n");
	box = box_open_ok("INBOX");
	CU_ASSERT_EQUAL(scan_for(box, NULL, false).count, 1);
	CU_ASSERT_EQUAL(md_ops->message_set_flags(box, "7.M7P7.mda", SLUICE_FLAG_SEEN, "", &fx.err),
	                0);
	CU_ASSERT(exists("cur/7.M7P7.mda:2,S"));
	CU_ASSERT_EQUAL(count_files("new"), 0);
}

/* --- folders --- */

static void test_folder_directories_are_maildir_plus_plus_in_mutf7(void)
{
	char text[64];

	md_start();
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Entwürfe", &fx.err), 0);
	CU_ASSERT(exists(".Entw&APw-rfe/cur"));
	CU_ASSERT(exists(".Entw&APw-rfe/new"));
	CU_ASSERT(exists(".Entw&APw-rfe/tmp"));
	CU_ASSERT(exists(".Entw&APw-rfe/maildirfolder"));
	read_rel(".Entw&APw-rfe/maildirfolder", text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "");
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Lists/debian", &fx.err), 0);
	CU_ASSERT(exists(".Lists/maildirfolder"));
	CU_ASSERT(exists(".Lists.debian/cur"));
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Tom & Jerry", &fx.err), 0);
	CU_ASSERT(exists(".Tom &- Jerry/cur"));
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "台北", &fx.err), 0);
	CU_ASSERT(exists(".&U,BTFw-/cur"));
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "😀", &fx.err), 0);
	CU_ASSERT(exists(".&2D3eAA-/cur"));
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "INBOX/Sub", &fx.err), 0);
	CU_ASSERT(exists(".INBOX.Sub/cur"));
	CU_ASSERT_FALSE(exists(".INBOX"));
}

static void test_a_dot_in_a_name_is_refused_with_a_sentence(void)
{
	md_start();
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "v1.2", &fx.err), SLUICE_E_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.err.msg, "dot"));
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "a/../b", &fx.err), SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(md_ops->mailbox_rename(fx.su, "INBOX", "x.y", &fx.err), SLUICE_E_PARSE);
	CU_ASSERT_EQUAL(count_files("."), 3); /* cur new tmp */
}

struct md_names {
	char names[16][64];
	uint32_t attrs[16];
	size_t count;
};

static int md_list_cb(void *ctx, const char *name, uint32_t attrs)
{
	struct md_names *l = ctx;
	if (l->count < 16) {
		snprintf(l->names[l->count], sizeof(l->names[0]), "%s", name);
		l->attrs[l->count++] = attrs;
	}
	return 0;
}

static long attrs_of(const struct md_names *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->names[i], name) == 0)
			return (long)l->attrs[i];
	return -1;
}

static void test_listing_decodes_and_skips_what_is_no_folder(void)
{
	struct md_names l = {0};
	char p[512], target[256];

	md_start();
	mkdir_rel(".Caf&AOk-");
	mkdir_rel(".Caf&AOk-/cur");
	mkdir_rel(".bad&name");
	mkdir_rel(".bad&name/cur");
	mkdir_rel(".NotAMaildir");
	mkdir_rel(".x.y");
	mkdir_rel(".x.y/new");
	mkdir_rel(".INBOX.Child");
	mkdir_rel(".INBOX.Child/cur");
	/* A folder that is a symbolic link is neither listed nor opened. */
	snprintf(target, sizeof(target), "%s/elsewhere", fx.dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(target, 0700), 0);
	snprintf(p, sizeof(p), "%s/cur", target);
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0700), 0);
	path_of(p, sizeof(p), ".Evil");
	CU_ASSERT_EQUAL_FATAL(symlink(target, p), 0);

	CU_ASSERT_EQUAL(md_ops->mailbox_list(fx.su, md_list_cb, &l, &fx.err), 0);
	CU_ASSERT_EQUAL(l.count, 5);
	CU_ASSERT_EQUAL(attrs_of(&l, "INBOX"), SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(attrs_of(&l, "INBOX/Child"), SLUICE_MAILBOX_HASNOCHILDREN);
	CU_ASSERT_EQUAL(attrs_of(&l, "Café"), SLUICE_MAILBOX_HASNOCHILDREN);
	CU_ASSERT_EQUAL(attrs_of(&l, "x"), SLUICE_MAILBOX_NOSELECT | SLUICE_MAILBOX_HASCHILDREN);
	CU_ASSERT_EQUAL(attrs_of(&l, "x/y"), SLUICE_MAILBOX_HASNOCHILDREN);
	CU_ASSERT_EQUAL(attrs_of(&l, "Evil"), -1);
	{
		struct sluice_storage_box *box = NULL;
		CU_ASSERT_EQUAL(md_ops->mailbox_open(fx.su, "Evil", &box, &fx.err),
		                SLUICE_NOTFOUND);
		CU_ASSERT_EQUAL(md_ops->mailbox_open(fx.su, "NotAMaildir", &box, &fx.err),
		                SLUICE_NOTFOUND);
		CU_ASSERT_PTR_NULL(box);
	}
	/* Opening the folder that only had new/ repairs it. */
	box_open_ok("x/y");
	CU_ASSERT(exists(".x.y/cur") && exists(".x.y/tmp"));
}

static void test_delete_removes_the_directory_and_leaves_no_trash(void)
{
	struct sluice_storage_box *box;

	md_start();
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Gone", &fx.err), 0);
	box = box_open_ok("Gone");
	append_ok(box, "x\r\n", 0, "Kw");
	CU_ASSERT_EQUAL(md_ops->mailbox_delete(fx.su, "Gone", &fx.err), 0);
	CU_ASSERT_FALSE(exists(".Gone"));
	CU_ASSERT_EQUAL(count_files("."), 3);
}

static void test_subscriptions_file_format(void)
{
	struct md_names l = {0};
	char text[256];

	md_start();
	CU_ASSERT_EQUAL(md_ops->mailbox_subscribe(fx.su, "a/b", true, &fx.err), 0);
	CU_ASSERT_EQUAL(md_ops->mailbox_subscribe(fx.su, "Entwürfe", true, &fx.err), 0);
	read_rel("subscriptions", text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "a/b\nEntwürfe\n");
	/* Dovecot 2.3's format, with tabs between levels, is understood. */
	write_rel("subscriptions", "V\t2\n\nx\ty\nINBOX\n");
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "x/y", &fx.err), 0);
	CU_ASSERT_EQUAL(md_ops->mailbox_list(fx.su, md_list_cb, &l, &fx.err), 0);
	CU_ASSERT(attrs_of(&l, "x/y") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT(attrs_of(&l, "INBOX") & SLUICE_MAILBOX_SUBSCRIBED);
	CU_ASSERT_FALSE(attrs_of(&l, "x") & SLUICE_MAILBOX_SUBSCRIBED);
	/* A rename carries the subscription along. */
	CU_ASSERT_EQUAL(md_ops->mailbox_rename(fx.su, "x", "z", &fx.err), 0);
	read_rel("subscriptions", text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "z/y\nINBOX\n");
}

/* --- repair, cleanup, links --- */

static void test_missing_cur_new_tmp_are_repaired_and_logged(void)
{
	char p[512];

	md_start();
	CU_ASSERT_EQUAL(md_ops->mailbox_create(fx.su, "Broken", &fx.err), 0);
	path_of(p, sizeof(p), ".Broken/cur");
	CU_ASSERT_EQUAL_FATAL(rmdir(p), 0);
	path_of(p, sizeof(p), ".Broken/tmp");
	CU_ASSERT_EQUAL_FATAL(rmdir(p), 0);
	path_of(p, sizeof(p), "new");
	CU_ASSERT_EQUAL_FATAL(rmdir(p), 0);
	log_reset();
	box_open_ok("Broken");
	CU_ASSERT(exists(".Broken/cur") && exists(".Broken/tmp"));
	CU_ASSERT(log_has("\"Broken\" had no cur/"));
	CU_ASSERT(log_has("\"Broken\" had no tmp/"));
	box_open_ok("INBOX");
	CU_ASSERT(exists("new"));
	CU_ASSERT(log_has("\"INBOX\" had no new/"));
}

static void test_tmp_files_older_than_36_hours_are_removed(void)
{
	struct timespec old[2], oldish[2];
	time_t now = time(NULL);
	char p[512];

	md_start();
	write_rel("tmp/crashed", "partial");
	write_rel("tmp/writing", "partial");
	write_rel("tmp/yesterday", "partial");
	old[0].tv_sec = old[1].tv_sec = now - 37 * 3600;
	oldish[0].tv_sec = oldish[1].tv_sec = now - 35 * 3600;
	old[0].tv_nsec = old[1].tv_nsec = oldish[0].tv_nsec = oldish[1].tv_nsec = 0;
	path_of(p, sizeof(p), "tmp/crashed");
	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, p, old, 0), 0);
	path_of(p, sizeof(p), "tmp/yesterday");
	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, p, oldish, 0), 0);
	box_open_ok("INBOX");
	CU_ASSERT_FALSE(exists("tmp/crashed"));
	CU_ASSERT(exists("tmp/writing"));
	CU_ASSERT(exists("tmp/yesterday"));
}

static void test_symlinks_and_fifos_in_cur_are_not_followed(void)
{
	struct sluice_storage_box *box;
	char secret[512], p[512];
	struct md_seen s;
	int fd = -1;

	md_start();
	/* Stands in for /etc/shadow: readable by us, outside the Maildir. */
	snprintf(secret, sizeof(secret), "%s/shadow", fx.dir);
	{
		FILE *f = fopen(secret, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs("root:$6$secret\n", f);
		fclose(f);
	}
	path_of(p, sizeof(p), "cur/evil:2,S");
	CU_ASSERT_EQUAL_FATAL(symlink(secret, p), 0);
	path_of(p, sizeof(p), "new/evil2");
	CU_ASSERT_EQUAL_FATAL(symlink(secret, p), 0);
	path_of(p, sizeof(p), "cur/fifo:2,");
	CU_ASSERT_EQUAL_FATAL(mkfifo(p, 0600), 0);
	write_rel("cur/good:2,", "fine\r\n");
	box = box_open_ok("INBOX");
	s = scan_for(box, NULL, true);
	CU_ASSERT_EQUAL(s.count, 1);
	log_reset();
	CU_ASSERT(md_ops->message_open(box, "evil", &fd, &fx.err) != 0);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT(log_has("symbolic link"));
	CU_ASSERT_PTR_NULL(strstr(fx.err.msg, "shadow"));
	CU_ASSERT(md_ops->message_open(box, "evil2", &fd, &fx.err) != 0);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT(md_ops->message_open(box, "fifo", &fd, &fx.err) != 0);
	CU_ASSERT_EQUAL(fd, -1);
	{
		const char *copy = NULL;
		CU_ASSERT(
		    md_ops->message_copy(box, "evil", box, 0, "", 0, fx.pool, &copy, &fx.err) != 0);
	}
	CU_ASSERT_EQUAL(md_ops->message_open(box, "good", &fd, &fx.err), 0);
	if (fd >= 0)
		close(fd);
}

/* --- the mail root --- */

static int open_as(const char *name, const char *mail, struct sluice_storage_user **u)
{
	struct sluice_user user = fx.user;
	user.name = name;
	user.mail = mail;
	*u = NULL;
	memset(&fx.err, 0, sizeof(fx.err));
	return md_ops->user_open(md_module.modctx, &user, u, &fx.err);
}

/* Whether @p rel below the temporary home is a directory. */
static bool dir_exists(const char *rel)
{
	char full[600];
	struct stat st;
	snprintf(full, sizeof(full), "%s/%s", fx.dir, rel);
	return stat(full, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_root_templates_expand_user_and_home(void)
{
	struct sluice_storage_user *u;
	char root[256], p[512];
	struct stat st;

	snprintf(root, sizeof(root), "%s/mail/%%d/%%n/Maildir", fx.dir);
	md_init(root);
	CU_ASSERT_EQUAL(open_as("bob@example.org", NULL, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("mail/example.org/bob/Maildir/cur"));
	CU_ASSERT(dir_exists("mail/example.org/bob/Maildir/new"));
	CU_ASSERT(dir_exists("mail/example.org/bob/Maildir/tmp"));
	snprintf(p, sizeof(p), "%s/mail/example.org/bob/Maildir", fx.dir);
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	/* No domain: the empty level disappears. */
	CU_ASSERT_EQUAL(open_as("carol", NULL, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("mail/carol/Maildir/cur"));

	snprintf(root, sizeof(root), "%s/v/%%u", fx.dir);
	md_init(root);
	CU_ASSERT_EQUAL(open_as("dave@example.org", NULL, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("v/dave@example.org/cur"));

	md_init("%h/Mail%%");
	CU_ASSERT_EQUAL(open_as("erin", NULL, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("Mail%/cur"));

	md_init(NULL);
	CU_ASSERT_EQUAL(open_as("frank", NULL, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("Maildir/cur"));
}

static void test_user_names_that_would_leave_the_template_are_refused(void)
{
	static const char *const bad[] = {"../x", "..",     "a/b",      ".hidden",
	                                  "",     "../e@d", "bob@../x", "/abs"};
	struct sluice_storage_user *u;
	char root[256], p[512];
	struct dirent *e;
	size_t entries = 0;
	DIR *d;

	snprintf(root, sizeof(root), "%s/users/%%u/%%n", fx.dir);
	md_init(root);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(open_as(bad[i], NULL, &u), SLUICE_E_PERM);
		CU_ASSERT_PTR_NULL(u);
		CU_ASSERT_PTR_NULL(strchr(fx.err.msg, '/'));
	}
	snprintf(root, sizeof(root), "%s/dom/%%d", fx.dir);
	md_init(root);
	CU_ASSERT_EQUAL(open_as("nodomain", NULL, &u), SLUICE_E_PERM);
	/* Nothing was created anywhere. */
	d = opendir(fx.dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			entries++;
	closedir(d);
	CU_ASSERT_EQUAL(entries, 0);
	snprintf(p, sizeof(p), "%s/x", fx.dir);
	CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
	CU_ASSERT(log_has("refusing the mail root"));
}

static void test_bad_templates_and_locations_are_config_errors(void)
{
	struct sluice_storage_user *u;
	struct sluice_user user;
	char mail[256];

	md_init("/var/mail/%x");
	CU_ASSERT_EQUAL(open_as("gina", NULL, &u), SLUICE_E_CONFIG);
	md_init("relative/%u");
	CU_ASSERT_EQUAL(open_as("gina", NULL, &u), SLUICE_E_CONFIG);
	md_init(NULL);
	user = fx.user;
	user.home = NULL;
	CU_ASSERT_EQUAL(md_ops->user_open(md_module.modctx, &user, &u, &fx.err), SLUICE_E_CONFIG);
	CU_ASSERT_EQUAL(open_as("gina", "mbox:~/mail", &u), SLUICE_E_CONFIG);
	/* The passdb's mail field wins, in Dovecot's spelling with options. */
	snprintf(mail, sizeof(mail), "maildir:%s/override/%%n:LAYOUT=fs", fx.dir);
	CU_ASSERT_EQUAL(open_as("gina@example.org", mail, &u), 0);
	md_ops->user_close(u);
	CU_ASSERT(dir_exists("override/gina/cur"));
	CU_ASSERT_FALSE(dir_exists("Maildir"));
}

static void test_root_owned_by_someone_else_is_refused(void)
{
	struct sluice_storage_user *u = NULL;
	struct sluice_user user;

	md_init(NULL);
	user = fx.user;
	user.uid = getuid() + 1;
	CU_ASSERT_EQUAL(md_ops->user_open(md_module.modctx, &user, &u, &fx.err), SLUICE_E_PERM);
	CU_ASSERT_PTR_NULL(u);
	CU_ASSERT(log_has("belongs to uid"));
}

/* --- stamp, append, speed --- */

static void set_mtime(const char *rel, time_t when)
{
	struct timespec t[2] = {{when, 0}, {when, 0}};
	char p[512];
	path_of(p, sizeof(p), rel);
	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, p, t, 0), 0);
}

static void test_stamp_is_stable_until_something_changes(void)
{
	struct sluice_storage_box *box;
	uint8_t a[32], b[32], c[32];
	time_t hour_ago = time(NULL) - 3600;

	md_start();
	box = box_open_ok("INBOX");
	set_mtime("cur", hour_ago);
	set_mtime("new", hour_ago);
	CU_ASSERT_EQUAL(md_ops->mailbox_stamp(box, a, &fx.err), 0);
	CU_ASSERT_EQUAL(md_ops->mailbox_stamp(box, b, &fx.err), 0);
	CU_ASSERT_EQUAL(memcmp(a, b, 32), 0);
	write_rel("new/8.M8P8.mda", "x\r\n");
	set_mtime("new", hour_ago + 1);
	CU_ASSERT_EQUAL(md_ops->mailbox_stamp(box, c, &fx.err), 0);
	CU_ASSERT(memcmp(b, c, 32) != 0);
	/* A change within the last seconds always gives a new stamp (coarse timestamps). */
	write_rel("new/9.M9P9.mda", "x\r\n");
	CU_ASSERT_EQUAL(md_ops->mailbox_stamp(box, a, &fx.err), 0);
	CU_ASSERT_EQUAL(md_ops->mailbox_stamp(box, b, &fx.err), 0);
	CU_ASSERT(memcmp(a, b, 32) != 0);
}

static void test_aborted_append_of_a_big_message_leaves_no_file(void)
{
	struct sluice_storage_box *box;
	struct sluice_storage_append *a = NULL;
	static char chunk[65536];
	int fd = -1;

	md_start();
	box = box_open_ok("INBOX");
	memset(chunk, 'x', sizeof(chunk));
	CU_ASSERT_EQUAL_FATAL(md_ops->append_begin(box, &a, &fd, &fx.err), 0);
	CU_ASSERT_EQUAL(count_files("tmp"), 1);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	md_ops->append_abort(a);
	CU_ASSERT_EQUAL(count_files("tmp"), 0);
	CU_ASSERT_EQUAL(count_files("cur"), 0);
	CU_ASSERT_EQUAL(count_files("new"), 0);
}

/* One session of the concurrency test; CUnit is not thread-safe, so it only counts. */
struct md_worker {
	pthread_t thread;
	int id;
	size_t recent, seen, errors;
};

static int md_count_recent(void *ctx, const struct sluice_storage_message *msg)
{
	struct md_worker *w = ctx;
	w->seen++;
	w->recent += msg->recent;
	return 0;
}

static void *md_worker_run(void *arg)
{
	struct md_worker *w = arg;
	struct sluice_storage_user *u = NULL;
	struct sluice_storage_box *box = NULL;
	struct sluice_pool *pool = pool_create(1024, 0);
	struct sluice_error err = SLUICE_ERROR_INIT;

	if (pool == NULL || md_ops->user_open(md_module.modctx, &fx.user, &u, &err) != 0 ||
	    md_ops->mailbox_open(u, "INBOX", &box, &err) != 0) {
		w->errors++;
		goto out;
	}
	for (int round = 0; round < 6; round++) {
		struct sluice_storage_append *a = NULL;
		const char *key = NULL;
		char kw[32];
		int fd = -1;

		/* Each session claims what it can; the rest went to the others. */
		if (md_ops->mailbox_scan(box, true, md_count_recent, w, &err) != 0)
			w->errors++;
		snprintf(kw, sizeof(kw), "w%d-r%d", w->id, round);
		if (md_ops->append_begin(box, &a, &fd, &err) != 0) {
			w->errors++;
			continue;
		}
		if (write(fd, "x\r\n", 3) != 3)
			w->errors++;
		if (md_ops->append_commit(a, 0, "", 1700000000, pool, &key, &err) != 0 ||
		    md_ops->message_set_flags(box, key, SLUICE_FLAG_SEEN, kw, &err) != 0)
			w->errors++;
	}
out:
	if (box != NULL)
		md_ops->mailbox_close(box);
	if (u != NULL)
		md_ops->user_close(u);
	pool_destroy(&pool);
	return NULL;
}

struct md_check {
	size_t count, bad;
};

/* Every message was flagged with exactly one keyword named after its writer. */
static int md_check_keywords(void *ctx, const struct sluice_storage_message *msg)
{
	struct md_check *c = ctx;
	if (msg->keywords[0] != '\0') {
		c->count++;
		if (msg->keywords[0] != 'w' || strchr(msg->keywords, ' ') != NULL)
			c->bad++;
	}
	return 0;
}

static void test_concurrent_sessions_claim_new_mail_once_and_share_letters(void)
{
	struct md_worker w[4];
	struct md_check check = {0, 0};
	struct sluice_storage_box *box;
	size_t recent = 0, errors = 0, lines = 0;
	char text[2048];

	md_start();
	for (int i = 0; i < 200; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "new/%d.M0P0Q%d.mda", 1700000000 + i, i);
		write_rel(rel, "delivered\r\n");
	}
	for (int i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&w[i].thread, NULL, md_worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		recent += w[i].recent;
		errors += w[i].errors;
	}
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(recent, 200);
	box = box_open_ok("INBOX");
	CU_ASSERT_EQUAL(md_ops->mailbox_scan(box, true, md_check_keywords, &check, &fx.err), 0);
	CU_ASSERT_EQUAL(check.count, 24);
	CU_ASSERT_EQUAL(check.bad, 0);
	read_rel("dovecot-keywords", text, sizeof(text));
	for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 24);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_ten_thousand_copies_are_hard_links(void)
{
	struct sluice_storage_box *src, *dst;
	const char *copy = NULL;
	char key[256], name[256], rel[300], p[512];
	struct timespec t0;
	struct stat st;
	int failures = 0;
	double secs;

	md_start();
	src = box_open_ok("INBOX");
	/* The pool is cleared per copy, as the core clears its command pool: keep the key. */
	snprintf(key, sizeof(key), "%s",
	         append_ok(src, "Subject: copy me\r\n\r\nbody\r\n", SLUICE_FLAG_SEEN, "Big"));
	CU_ASSERT_EQUAL_FATAL(md_ops->mailbox_create(fx.su, "Copies", &fx.err), 0);
	dst = box_open_ok("Copies");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 10000; i++) {
		pool_clear(fx.pool);
		if (md_ops->message_copy(src, key, dst, SLUICE_FLAG_SEEN, "Big", 1700000000,
		                         fx.pool, &copy, &fx.err) != 0)
			failures++;
	}
	/* The deferred directory fsync is part of the cost. */
	CU_ASSERT_EQUAL(scan_for(dst, NULL, false).count, 10000);
	secs = seconds_since(&t0);
	printf("\n    10,000 copies by hard link (fsync on) and a scan: %.3f s ", secs);
	CU_ASSERT_EQUAL(failures, 0);
	CU_ASSERT_FATAL(find_file("cur", key, name, sizeof(name)));
	snprintf(rel, sizeof(rel), "cur/%s", name);
	path_of(p, sizeof(p), rel);
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_nlink, 10001);
}

static void test_scan_of_a_large_folder(void)
{
	const char *env = getenv("SLUICE_PERF_MESSAGES");
	long count = env != NULL ? atol(env) : 100000;
	struct sluice_storage_box *box;
	char p[600], key[64];
	struct timespec t0;
	struct md_seen s;
	double create_secs;
	int dfd, fd = -1;

	md_start();
	path_of(p, sizeof(p), "cur");
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	CU_ASSERT_FATAL(dfd >= 0);
	/* Hard links (ext4 allows 65,000 per inode): the scan's cost is the same, creating
	 * them is cheaper than as many inodes. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		char n[64];
		if (i % 50000 == 0) {
			int f;
			unlinkat(dfd, "seed", 0);
			f = openat(dfd, "seed", O_WRONLY | O_CREAT | O_EXCL, 0600);
			CU_ASSERT_FATAL(f >= 0);
			close(f);
		}
		snprintf(n, sizeof(n), "%ld.M%ldP1Q1.bench,S=0:2,%s", 1700000000 + i, i,
		         i % 3 == 0 ? "S" : "");
		CU_ASSERT_EQUAL_FATAL(linkat(dfd, "seed", dfd, n, 0), 0);
	}
	CU_ASSERT_EQUAL_FATAL(unlinkat(dfd, "seed", 0), 0);
	close(dfd);
	create_secs = seconds_since(&t0);
	box = box_open_ok("INBOX");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = scan_for(box, NULL, true);
	printf("\n    scan of %ld messages: %.3f s (creating them took %.3f s) ", count,
	       seconds_since(&t0), create_secs);
	CU_ASSERT_EQUAL(s.count, (size_t)count);
	/* Lookups after the scan need no directory read. */
	snprintf(key, sizeof(key), "%ld.M%ldP1Q1.bench,S=0", 1700000000 + count / 2, count / 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL(md_ops->message_open(box, key, &fd, &fx.err), 0);
		if (fd >= 0)
			close(fd);
	}
	printf("\n    1,000 message_open after the scan: %.3f s ", seconds_since(&t0));
}

static int md_suite_init(void)
{
	if (fixture_module_load(&md_module, "maildir.so", SLUICE_KIND_STORAGE) < 0)
		return -1;
	if (strcmp(md_module.desc->name, "maildir") != 0) {
		fixture_module_unload(&md_module);
		return -1;
	}
	md_ops = md_module.desc->ops;
	return 0;
}

static int md_suite_cleanup(void)
{
	fixture_module_unload(&md_module);
	return 0;
}

static CU_TestInfo md_tests[] = {
    {"file names carry size and ASCII-ordered letters",
     test_file_names_carry_size_and_ascii_ordered_letters},
    {"dovecot-keywords is written once per new name",
     test_dovecot_keywords_file_is_written_once_per_new_name},
    {"keywords written by Dovecot are read", test_keywords_written_by_dovecot_are_read},
    {"27th keyword is a limit", test_27th_keyword_is_a_limit},
    {"unknown letters survive a flag change", test_unknown_letters_survive_a_flag_change},
    {"new mail with an info part keeps it", test_new_mail_with_an_info_part_keeps_it},
    {"flags of a message still in new/ move it to cur/",
     test_flags_of_a_message_still_in_new_move_it_to_cur},
    {"folder directories are Maildir++ in modified UTF-7",
     test_folder_directories_are_maildir_plus_plus_in_mutf7},
    {"a dot in a name is refused with a sentence", test_a_dot_in_a_name_is_refused_with_a_sentence},
    {"listing decodes and skips what is no folder",
     test_listing_decodes_and_skips_what_is_no_folder},
    {"delete removes the directory and leaves no trash",
     test_delete_removes_the_directory_and_leaves_no_trash},
    {"subscriptions file format", test_subscriptions_file_format},
    {"missing cur/new/tmp are repaired and logged",
     test_missing_cur_new_tmp_are_repaired_and_logged},
    {"tmp files older than 36 hours are removed", test_tmp_files_older_than_36_hours_are_removed},
    {"symlinks and FIFOs in cur/ are not followed",
     test_symlinks_and_fifos_in_cur_are_not_followed},
    {"root templates expand user and home", test_root_templates_expand_user_and_home},
    {"user names that would leave the template are refused",
     test_user_names_that_would_leave_the_template_are_refused},
    {"bad templates and locations are config errors",
     test_bad_templates_and_locations_are_config_errors},
    {"root owned by someone else is refused", test_root_owned_by_someone_else_is_refused},
    {"stamp is stable until something changes", test_stamp_is_stable_until_something_changes},
    {"aborted append of a big message leaves no file",
     test_aborted_append_of_a_big_message_leaves_no_file},
    {"concurrent sessions claim new mail once and share letters",
     test_concurrent_sessions_claim_new_mail_once_and_share_letters},
    {"10,000 copies are hard links", test_ten_thousand_copies_are_hard_links},
    {"scan of a large folder", test_scan_of_a_large_folder},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo maildir_suites[] = {
    {"maildir", md_suite_init, md_suite_cleanup, fx_setup, fx_teardown, md_tests},
    CU_SUITE_INFO_NULL,
};
