/*
 * Unit tests for core/conf/conf.c, the configuration syntax: the tree it builds, values
 * and quoting, every syntax error with its file:line, and includes (relative paths,
 * globs, cycles, depth). Files are written into a fresh temporary folder per test.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "module-fixture.h"
#include "util/pool.h"

static char tmpdir[64];

static void setup_tmpdir(void)
{
	CU_ASSERT_EQUAL_FATAL(fixture_tempdir(tmpdir, sizeof(tmpdir), "sluice-conf"), 0);
}

static void teardown_tmpdir(void)
{
	fixture_remove_tree(tmpdir);
}

/* Writes @p len bytes (or the string, when len is 0) to tmpdir/name; returns the path. */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	mkdir(p, 0700);
	*slash = '/';
	FILE *f = fopen(p, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(text, 1, len != 0 ? len : strlen(text), f);
	fclose(f);
	return p;
}

static bool errs_have(const struct conf_errors *errs, const char *needle)
{
	for (size_t i = 0; i < errs->count; i++)
		if (errs->lines[i] != NULL && strstr(errs->lines[i], needle) != NULL)
			return true;
	return false;
}

/* Parses @p text as "t.conf" and expects failure; the errors stay in @p errs. */
static void parse_fails(const char *text, struct conf_errors *errs)
{
	struct conf_tree *tree = (struct conf_tree *)1;
	CU_ASSERT_EQUAL(conf_parse_string(text, "t.conf", &tree, errs), -1);
	CU_ASSERT_PTR_NULL(tree);
}

static void test_settings_and_blocks_form_tree_in_file_order(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	const char *text = "workers = 4\n"
	                   "# a comment\n"
	                   "listener imap {\n"
	                   "  port = 143\n"
	                   "}\n"
	                   "tls {\n"
	                   "}\n"
	                   "tls *.example.org {\n"
	                   "  cert = x.pem\n"
	                   "}\n";
	CU_ASSERT_EQUAL_FATAL(conf_parse_string(text, "main.conf", &tree, &errs), 0);
	CU_ASSERT_EQUAL(errs.count, 0);
	const struct conf_node *root = conf_tree_root(tree);
	CU_ASSERT_TRUE(root->is_block);
	CU_ASSERT_PTR_NULL(root->key);
	CU_ASSERT_STRING_EQUAL(root->file, "main.conf");
	CU_ASSERT_EQUAL_FATAL(root->count, 4);
	CU_ASSERT_FALSE(root->children[0].is_block);
	CU_ASSERT_STRING_EQUAL(root->children[0].key, "workers");
	CU_ASSERT_STRING_EQUAL(root->children[0].value, "4");
	CU_ASSERT_EQUAL(root->children[0].line, 1);
	const struct conf_node *l = &root->children[1];
	CU_ASSERT_TRUE(l->is_block);
	CU_ASSERT_STRING_EQUAL(l->key, "listener");
	CU_ASSERT_STRING_EQUAL(l->name, "imap");
	CU_ASSERT_PTR_NULL(l->value);
	CU_ASSERT_EQUAL(l->line, 3);
	CU_ASSERT_EQUAL_FATAL(l->count, 1);
	CU_ASSERT_STRING_EQUAL(l->children[0].key, "port");
	CU_ASSERT_EQUAL(l->children[0].line, 4);
	CU_ASSERT_PTR_NULL(root->children[2].name);
	CU_ASSERT_EQUAL(root->children[2].count, 0);
	CU_ASSERT_STRING_EQUAL(root->children[3].name, "*.example.org");
	CU_ASSERT_PTR_EQUAL(conf_node_find(root, "tls"), &root->children[2]);
	CU_ASSERT_PTR_NOT_NULL(conf_tree_pool(tree));
	conf_tree_free(&tree);
	CU_ASSERT_PTR_NULL(tree);
}

static void test_unquoted_value_is_trimmed_and_ends_at_comment(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	CU_ASSERT_EQUAL_FATAL(
	    conf_parse_string("users =   bob  mallory   # not eve\nempty =\n", "t", &tree, &errs),
	    0);
	const struct conf_node *root = conf_tree_root(tree);
	CU_ASSERT_STRING_EQUAL(root->children[0].value, "bob  mallory");
	CU_ASSERT_STRING_EQUAL(root->children[1].value, "");
	conf_tree_free(&tree);
}

static void test_quoted_value_keeps_hash_and_decodes_escapes(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	CU_ASSERT_EQUAL_FATAL(conf_parse_string("message = \"no # here \\\"q\\\" \\\\ end\"  # c\n",
	                                        "t", &tree, &errs),
	                      0);
	CU_ASSERT_STRING_EQUAL(conf_tree_root(tree)->children[0].value, "no # here \"q\" \\ end");
	conf_tree_free(&tree);
}

static void test_crlf_line_endings_are_accepted(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	CU_ASSERT_EQUAL_FATAL(conf_parse_string("a = 1\r\nb {\r\n}\r\n", "t", &tree, &errs), 0);
	CU_ASSERT_STRING_EQUAL(conf_tree_root(tree)->children[0].value, "1");
	CU_ASSERT_TRUE(conf_tree_root(tree)->children[1].is_block);
	conf_tree_free(&tree);
}

static void test_unterminated_quote_is_reported_with_line(void)
{
	struct conf_errors errs = {0};
	parse_fails("a = 1\nmessage = \"open\n", &errs);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: unterminated quoted value"));
	conf_errors_free(&errs);
}

static void test_text_after_closing_quote_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("message = \"a\" b\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: unexpected text after the closing quote"));
	conf_errors_free(&errs);
}

static void test_unknown_escape_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("message = \"a\\nb\"\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: unknown escape"));
	conf_errors_free(&errs);
}

static void test_missing_equals_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("workers\nworkers 4\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: missing '=' after 'workers'"));
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: missing '=' or '{' after 'workers 4'"));
	conf_errors_free(&errs);
}

static void test_invalid_key_name_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("Max-Line = 4\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: 'Max-Line' is not a valid setting name"));
	conf_errors_free(&errs);
}

static void test_close_brace_without_block_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("a = 1\n}\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: '}' without a block to close"));
	conf_errors_free(&errs);
}

static void test_unclosed_block_reports_the_line_that_opened_it(void)
{
	struct conf_errors errs = {0};
	parse_fails("a = 1\nlistener imap {\n  port = 1\n", &errs);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: block 'listener imap' is not closed"));
	conf_errors_free(&errs);
}

static void test_settings_after_open_brace_on_same_line_are_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("tls { cert = x }\n", &errs);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: unexpected text after '{'"));
	conf_errors_free(&errs);
}

static void test_every_error_is_collected_not_only_the_first(void)
{
	struct conf_errors errs = {0};
	parse_fails("a = \"x\nb\n}\nc = 1\nd {\n", &errs);
	CU_ASSERT_EQUAL(errs.count, 4);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: unterminated"));
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: missing '='"));
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:3: '}' without a block"));
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:5: block 'd' is not closed"));
	conf_errors_free(&errs);
	CU_ASSERT_EQUAL(errs.count, 0);
	CU_ASSERT_PTR_NULL(errs.lines);
}

static void test_nul_byte_is_error(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	setup_tmpdir();
	const char *p = write_file("nul.conf", "a = 1\nb = x\0y\nc = 2\n", 20);
	CU_ASSERT_EQUAL(conf_parse_file(p, &tree, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "nul.conf:2: line contains a NUL byte"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_invalid_utf8_is_error(void)
{
	struct conf_errors errs = {0};
	parse_fails("ok = caf\xc3\xa9\nbad = caf\xe9\noverlong = \xc0\xaf\n", &errs);
	CU_ASSERT_EQUAL(errs.count, 2);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:2: line is not valid UTF-8"));
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:3: line is not valid UTF-8"));
	conf_errors_free(&errs);
}

static void test_line_longer_than_4096_bytes_is_error(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	char *text = malloc(5000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memcpy(text, "a = ", 4);
	memset(text + 4, 'x', 4092); /* exactly 4096 bytes: accepted */
	strcpy(text + 4096, "\n");
	CU_ASSERT_EQUAL(conf_parse_string(text, "t.conf", &tree, &errs), 0);
	conf_tree_free(&tree);
	memset(text + 4, 'x', 4093);
	strcpy(text + 4097, "\n");
	CU_ASSERT_EQUAL(conf_parse_string(text, "t.conf", &tree, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "t.conf:1: line is longer than 4096 bytes"));
	conf_errors_free(&errs);
	free(text);
}

static void test_include_is_relative_to_including_file_and_spliced_in_place(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	char path[128];
	setup_tmpdir();
	const char *main_conf = write_file("main.conf", "a = 1\ninclude sub/one.conf\nz = 26\n", 0);
	write_file("sub/one.conf", "b = 2\ninclude two.conf\n", 0);
	write_file("sub/two.conf", "policy x {\n  c = 3\n}\n", 0);
	CU_ASSERT_EQUAL_FATAL(conf_parse_file(main_conf, &tree, &errs), 0);
	const struct conf_node *root = conf_tree_root(tree);
	CU_ASSERT_EQUAL_FATAL(root->count, 4);
	CU_ASSERT_STRING_EQUAL(root->children[0].key, "a");
	CU_ASSERT_STRING_EQUAL(root->children[1].key, "b");
	snprintf(path, sizeof(path), "%s/sub/one.conf", tmpdir);
	CU_ASSERT_STRING_EQUAL(root->children[1].file, path);
	CU_ASSERT_EQUAL(root->children[1].line, 1);
	CU_ASSERT_STRING_EQUAL(root->children[2].key, "policy");
	snprintf(path, sizeof(path), "%s/sub/two.conf", tmpdir);
	CU_ASSERT_STRING_EQUAL(root->children[2].children[0].file, path);
	CU_ASSERT_STRING_EQUAL(root->children[3].key, "z");
	conf_tree_free(&tree);
	teardown_tmpdir();
}

static void test_include_inside_block_adds_to_that_block(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	setup_tmpdir();
	const char *m = write_file("m.conf", "policy x {\n  include x.d/*.conf\n}\n", 0);
	write_file("x.d/b.conf", "b = 2\n", 0);
	write_file("x.d/a.conf", "a = 1\n", 0);
	CU_ASSERT_EQUAL_FATAL(conf_parse_file(m, &tree, &errs), 0);
	const struct conf_node *x = &conf_tree_root(tree)->children[0];
	CU_ASSERT_EQUAL_FATAL(x->count, 2);
	/* Glob matches are read in sorted order. */
	CU_ASSERT_STRING_EQUAL(x->children[0].key, "a");
	CU_ASSERT_STRING_EQUAL(x->children[1].key, "b");
	conf_tree_free(&tree);
	teardown_tmpdir();
}

static void test_include_glob_matching_nothing_is_fine(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	setup_tmpdir();
	const char *m = write_file("m.conf", "include modules.d/*.conf\na = 1\n", 0);
	CU_ASSERT_EQUAL(conf_parse_file(m, &tree, &errs), 0);
	CU_ASSERT_EQUAL(errs.count, 0);
	conf_tree_free(&tree);
	teardown_tmpdir();
}

static void test_include_of_missing_file_is_error_at_include_line(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	char want[256];
	setup_tmpdir();
	const char *m = write_file("m.conf", "a = 1\ninclude nothere.conf\n", 0);
	CU_ASSERT_EQUAL(conf_parse_file(m, &tree, &errs), -1);
	snprintf(want, sizeof(want),
	         "%s:2: cannot include %s/nothere.conf: the file does not exist", m, tmpdir);
	CU_ASSERT_TRUE(errs_have(&errs, want));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_include_cycle_is_error(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	setup_tmpdir();
	const char *a = write_file("a.conf", "include b.conf\n", 0);
	write_file("b.conf", "x = 1\ninclude a.conf\n", 0);
	CU_ASSERT_EQUAL(conf_parse_file(a, &tree, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs, "b.conf:2: cannot include"));
	CU_ASSERT_TRUE(errs_have(&errs, "cycle"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_include_deeper_than_16_is_error(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	char name[128], text[64];
	setup_tmpdir();
	/* f0 includes f1 ... f16 includes f17: seventeen levels of include. */
	for (int i = 0; i <= 17; i++) {
		snprintf(name, sizeof(name), "f%d.conf", i);
		snprintf(text, sizeof(text), "include f%d.conf\n", i + 1);
		write_file(name, i == 17 ? "a = 1\n" : text, 0);
	}
	snprintf(name, sizeof(name), "%s/f0.conf", tmpdir);
	CU_ASSERT_EQUAL(conf_parse_file(name, &tree, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "f16.conf:1: cannot include"));
	CU_ASSERT_TRUE(errs_have(&errs, "nested more than 16 deep"));
	conf_errors_free(&errs);
	/* Sixteen levels are fine. */
	write_file("f16.conf", "a = 1\n", 0);
	CU_ASSERT_EQUAL(conf_parse_file(name, &tree, &errs), 0);
	conf_tree_free(&tree);
	teardown_tmpdir();
}

static void test_block_must_be_closed_in_the_file_that_opened_it(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	setup_tmpdir();
	const char *m = write_file("m.conf", "include open.conf\n}\n", 0);
	write_file("open.conf", "policy x {\n", 0);
	CU_ASSERT_EQUAL(conf_parse_file(m, &tree, &errs), -1);
	CU_ASSERT_TRUE(errs_have(&errs, "open.conf:1: block 'policy x' is not closed"));
	CU_ASSERT_TRUE(errs_have(&errs, "m.conf:2: '}' without a block to close"));
	conf_errors_free(&errs);
	teardown_tmpdir();
}

static void test_unreadable_top_file_is_error(void)
{
	struct conf_errors errs = {0};
	struct conf_tree *tree;
	CU_ASSERT_EQUAL(conf_parse_file("/nonexistent/sluiced.conf", &tree, &errs), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	CU_ASSERT_TRUE(errs_have(&errs,
	                         "/nonexistent/sluiced.conf: cannot read this file: the file "
	                         "does not exist"));
	conf_errors_free(&errs);
}

static void test_path_resolve_joins_relative_paths_to_the_files_folder(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	CU_ASSERT_STRING_EQUAL(conf_path_resolve(pool, "/etc/sluice/modules.conf", "passwd"),
	                       "/etc/sluice/passwd");
	CU_ASSERT_STRING_EQUAL(conf_path_resolve(pool, "/etc/sluice/modules.conf", "/abs/x"),
	                       "/abs/x");
	CU_ASSERT_STRING_EQUAL(conf_path_resolve(pool, "local.conf", "x.pem"), "x.pem");
	pool_destroy(&pool);
}

static void test_error_without_line_names_only_the_file(void)
{
	struct conf_errors errs = {0};
	conf_error_add(&errs, "f.conf", 0, "reason %d", 1);
	conf_error_add(&errs, NULL, 7, "bare");
	conf_error_add(&errs, "f.conf", 3, "third");
	CU_ASSERT_STRING_EQUAL(errs.lines[0], "f.conf: reason 1");
	CU_ASSERT_STRING_EQUAL(errs.lines[1], "bare");
	CU_ASSERT_STRING_EQUAL(errs.lines[2], "f.conf:3: third");
	conf_errors_free(&errs);
}

static CU_TestInfo conf_tests[] = {
    {"settings and blocks form a tree in file order",
     test_settings_and_blocks_form_tree_in_file_order},
    {"unquoted value is trimmed and ends at a comment",
     test_unquoted_value_is_trimmed_and_ends_at_comment},
    {"quoted value keeps # and decodes escapes", test_quoted_value_keeps_hash_and_decodes_escapes},
    {"CRLF line endings are accepted", test_crlf_line_endings_are_accepted},
    {"unterminated quote is reported with its line", test_unterminated_quote_is_reported_with_line},
    {"text after the closing quote is an error", test_text_after_closing_quote_is_error},
    {"unknown escape is an error", test_unknown_escape_is_error},
    {"missing '=' is an error", test_missing_equals_is_error},
    {"invalid key name is an error", test_invalid_key_name_is_error},
    {"'}' without a block is an error", test_close_brace_without_block_is_error},
    {"unclosed block reports the line that opened it",
     test_unclosed_block_reports_the_line_that_opened_it},
    {"settings on the '{' line are an error",
     test_settings_after_open_brace_on_same_line_are_error},
    {"every error is collected, not only the first",
     test_every_error_is_collected_not_only_the_first},
    {"NUL byte is an error", test_nul_byte_is_error},
    {"invalid UTF-8 is an error", test_invalid_utf8_is_error},
    {"line longer than 4096 bytes is an error", test_line_longer_than_4096_bytes_is_error},
    {"include is relative to the including file and spliced in place",
     test_include_is_relative_to_including_file_and_spliced_in_place},
    {"include inside a block adds to that block, globs sorted",
     test_include_inside_block_adds_to_that_block},
    {"include glob matching nothing is fine", test_include_glob_matching_nothing_is_fine},
    {"include of a missing file is an error at the include line",
     test_include_of_missing_file_is_error_at_include_line},
    {"include cycle is an error", test_include_cycle_is_error},
    {"include deeper than 16 levels is an error", test_include_deeper_than_16_is_error},
    {"block must be closed in the file that opened it",
     test_block_must_be_closed_in_the_file_that_opened_it},
    {"unreadable top file is an error", test_unreadable_top_file_is_error},
    {"relative paths resolve against the file's folder",
     test_path_resolve_joins_relative_paths_to_the_files_folder},
    {"error without a line names only the file", test_error_without_line_names_only_the_file},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo conf_suites[] = {
    {"conf", NULL, NULL, NULL, NULL, conf_tests},
    CU_SUITE_INFO_NULL,
};
