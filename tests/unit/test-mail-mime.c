/*
 * Unit tests for core/mail/mime.c, mime-fields.c and mime-header.c: header iteration,
 * the MIME tree (offsets, line counts, defaults, parameters) and the degraded cases that
 * hostile or broken mail produces. Also hosts mail_test_load(), which the other
 * test-mail-*.c files use to read messages from disk.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/bodystructure.h"
#include "mail/envelope.h"
#include "mail/mime.h"
#include "util/pool.h"

#define PYTHON_EMAIL_DATA "/usr/lib/python3.11/test/test_email/data"

/* Reads a whole file into pool memory; NULL when it cannot be read. */
unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r);

unsigned char *mail_test_load(struct sluice_pool *pool, const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *data = n >= 0 ? pool_alloc(pool, (size_t)n + 1) : NULL;
	if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n)
		data = NULL;
	fclose(f);
	*len_r = (size_t)n;
	return data;
}

static struct mime_part *parse(struct sluice_pool *pool, const char *msg)
{
	struct mime_part *root = NULL;
	CU_ASSERT_EQUAL_FATAL(mime_parse((const unsigned char *)msg, strlen(msg), pool, &root), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	return root;
}

static const char *param(const struct mime_part *p, const char *name)
{
	const struct mime_param *pp = mime_param_find(p->params, p->param_count, name);
	return pp != NULL ? pp->value : NULL;
}

/* ---- header fields ---- */

static void test_header_find_unfolds_and_ignores_name_case(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	const char *hdr =
	    "Subject: first\r\n\tsecond  \r\nX-A: 1\r\nsUbJeCt : again\r\n\r\nSubject: body\r\n";
	size_t pos = 0, len;
	char *v;
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)hdr, strlen(hdr), "subject", &pos,
	                                 pool, &v, &len),
	                0);
	CU_ASSERT_STRING_EQUAL(v, "first\tsecond");
	CU_ASSERT_EQUAL(len, 12);
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)hdr, strlen(hdr), "SUBJECT", &pos,
	                                 pool, &v, &len),
	                0);
	CU_ASSERT_STRING_EQUAL(v, "again");
	pos = 0;
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)"X-Fold:\r\n  starts folded \r\n",
	                                 27, "x-fold", &pos, pool, &v, &len),
	                0);
	CU_ASSERT_STRING_EQUAL(v, "starts folded");
	pos = 0;
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)hdr, strlen(hdr), "subject", &pos,
	                                 pool, &v, &len),
	                0);
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)hdr, strlen(hdr), "subject", &pos,
	                                 pool, &v, &len),
	                0);
	/* The blank line ends the header: the "Subject:" in the body is not a field. */
	CU_ASSERT_EQUAL(mime_header_find((const unsigned char *)hdr, strlen(hdr), "subject", &pos,
	                                 pool, &v, &len),
	                1);
	pool_destroy(&pool);
}

static void test_header_next_skips_lines_without_colon_and_orphan_continuations(void)
{
	const char *hdr =
	    "  orphan continuation\nFrom nobody Mon Jan  1\nGarbage line\nTo: x\n y\n";
	size_t pos = 0;
	struct mime_header_field f;
	CU_ASSERT_TRUE_FATAL(mime_header_next((const unsigned char *)hdr, strlen(hdr), &pos, &f));
	/* "From nobody Mon Jan  1" has no colon: skipped, as is "Garbage line". */
	CU_ASSERT_EQUAL(f.name_len, 2);
	CU_ASSERT_NSTRING_EQUAL(f.name, "To", 2);
	CU_ASSERT_EQUAL(f.value_len, 5); /* " x\n y" */
	CU_ASSERT_NSTRING_EQUAL(hdr + f.start, "To: x\n y\n", f.len);
	CU_ASSERT_FALSE(mime_header_next((const unsigned char *)hdr, strlen(hdr), &pos, &f));
}

static void test_header_with_nul_in_name_and_value_stays_safe(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	const unsigned char hdr[] = "Sub\0ject: a\0b\nSubject: ok\n\n";
	size_t pos = 0, len;
	char *v;
	CU_ASSERT_EQUAL(mime_header_find(hdr, sizeof(hdr) - 1, "subject", &pos, pool, &v, &len), 0);
	CU_ASSERT_STRING_EQUAL(v, "ok");
	pos = 0;
	CU_ASSERT_EQUAL(mime_header_find(hdr, sizeof(hdr) - 1, "sub", &pos, pool, &v, &len), 1);
	/* Unfolding turns NUL into 0x80, so values are always C strings. */
	char *u = mime_header_unfold((const unsigned char *)" a\0b ", 5, pool, &len);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL((unsigned char)u[1], 0x80);
	pool_destroy(&pool);
}

/* ---- structure ---- */

static void test_simple_message_offsets_and_lines(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	const char *msg = "Subject: hi\r\n\r\nline 1\r\nline 2\r\nno newline";
	struct mime_part *root = parse(pool, msg);
	CU_ASSERT_EQUAL(root->hdr_start, 0);
	CU_ASSERT_EQUAL(root->hdr_len, 15);
	CU_ASSERT_EQUAL(mime_part_hdr_lines(root), 2);
	CU_ASSERT_EQUAL(root->body_start, 15);
	CU_ASSERT_EQUAL(root->body_len, strlen(msg) - 15);
	/* The last line has no line break and still counts. */
	CU_ASSERT_EQUAL(mime_part_body_lines(root), 3);
	CU_ASSERT_STRING_EQUAL(root->type, "text");
	CU_ASSERT_STRING_EQUAL(root->subtype, "plain");
	CU_ASSERT_STRING_EQUAL(param(root, "charset"), "us-ascii");
	CU_ASSERT_STRING_EQUAL(root->encoding, "7BIT");
	CU_ASSERT_EQUAL(root->child_count, 0);
	pool_destroy(&pool);
}

static void test_multipart_parts_exclude_the_line_break_before_delimiters(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	const char *msg = "Content-Type: Multipart/MIXED; boundary=\"b\"\r\n"
	                  "\r\n"
	                  "preamble --b\r\n"
	                  "--b\r\n"
	                  "\r\n"
	                  "first\r\n"
	                  "--b   \r\n"
	                  "Content-Type: text/html\r\n"
	                  "\r\n"
	                  "<b>x</b>\r\n"
	                  "\r\n"
	                  "--bX\r\n"
	                  "--b--\r\n"
	                  "epilogue\r\n"
	                  "--b\r\n";
	struct mime_part *root = parse(pool, msg);
	CU_ASSERT_EQUAL(root->flags, MIME_PART_MULTIPART);
	CU_ASSERT_STRING_EQUAL(root->type, "multipart");
	CU_ASSERT_STRING_EQUAL(root->subtype, "mixed");
	CU_ASSERT_EQUAL_FATAL(root->child_count, 2);
	const struct mime_part *a = root->children, *b = a->next;
	CU_ASSERT_NSTRING_EQUAL(msg + a->body_start, "first", 5);
	CU_ASSERT_EQUAL(a->body_len, 5);
	CU_ASSERT_EQUAL(a->hdr_len, 2); /* just the blank line */
	CU_ASSERT_EQUAL(mime_part_body_lines(a), 1);
	CU_ASSERT_STRING_EQUAL(b->subtype, "html");
	/* "--bX" is not a delimiter: only whitespace may follow the boundary. */
	CU_ASSERT_EQUAL(b->body_len, strlen("<b>x</b>\r\n\r\n--bX"));
	CU_ASSERT_EQUAL(mime_part_body_lines(b), 3);
	CU_ASSERT_EQUAL(b->depth, 1);
	CU_ASSERT_PTR_EQUAL(b->parent, root);
	pool_destroy(&pool);
}

static void test_unterminated_multipart_ends_at_its_parent_end(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/bare-lf.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL_FATAL(root->child_count, 2);
	const struct mime_part *text = root->children, *alt = text->next;
	/* Bare LF line ends: both lines counted, the LF before "--b1" excluded. */
	CU_ASSERT_EQUAL(text->body_len, 7);
	CU_ASSERT_EQUAL(mime_part_body_lines(text), 2);
	CU_ASSERT_EQUAL_FATAL(alt->child_count, 1);
	const struct mime_part *inner = alt->children;
	/* The inner part never sees "--b2--": it ends where the outer part ends. */
	CU_ASSERT_EQUAL(inner->body_start + inner->body_len, alt->body_start + alt->body_len);
	CU_ASSERT_NSTRING_EQUAL(msg + inner->body_start, "never closed", inner->body_len);
	pool_destroy(&pool);
}

static void test_multipart_without_closing_delimiter_keeps_last_part_to_the_end(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	const char *msg =
	    "Content-Type: multipart/mixed; boundary=z\n\n--z\n\npart one\n--z\n\ntail";
	struct mime_part *root = parse(pool, msg);
	CU_ASSERT_EQUAL_FATAL(root->child_count, 2);
	const struct mime_part *last = root->children->next;
	CU_ASSERT_EQUAL(last->body_start + last->body_len, strlen(msg));
	CU_ASSERT_NSTRING_EQUAL(msg + last->body_start, "tail", 4);
	pool_destroy(&pool);
}

static void test_multipart_whose_boundary_never_appears_has_no_children(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root =
	    parse(pool, "Content-Type: multipart/mixed; boundary=q\n\nno parts\n");
	CU_ASSERT_EQUAL(root->flags, MIME_PART_MULTIPART);
	CU_ASSERT_EQUAL(root->child_count, 0);
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, false, pool),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0) \"mixed\")");
	pool_destroy(&pool);
}

static void test_multipart_without_boundary_is_text_plain(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root = parse(pool, "Content-Type: multipart/mixed\n\n--x\n\nbody\n");
	CU_ASSERT_EQUAL(root->flags, 0);
	CU_ASSERT_STRING_EQUAL(root->type, "text");
	CU_ASSERT_STRING_EQUAL(root->subtype, "plain");
	CU_ASSERT_EQUAL(root->param_count, 1);
	CU_ASSERT_STRING_EQUAL(param(root, "charset"), "us-ascii");
	pool_destroy(&pool);
}

static void test_invalid_content_type_defaults_and_digest_children_are_messages(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root = parse(pool, "Content-Type: text; charset=koi8-r\n\nx");
	CU_ASSERT_STRING_EQUAL(root->type, "text");
	CU_ASSERT_STRING_EQUAL(root->subtype, "plain");
	CU_ASSERT_STRING_EQUAL(param(root, "charset"), "us-ascii");

	root = parse(pool, "Content-Type: multipart/digest; boundary=d\n\n"
	                   "--d\n\nSubject: one\n\nbody one\n"
	                   "--d\nContent-Type: text/plain\n\ntext\n"
	                   "--d\nContent-Type: /\n\nSubject: three\n\nbody three\n--d--\n");
	CU_ASSERT_EQUAL_FATAL(root->child_count, 3);
	const struct mime_part *one = root->children;
	CU_ASSERT_TRUE(mime_part_is(one, "message", "rfc822"));
	CU_ASSERT_EQUAL(one->flags, MIME_PART_MESSAGE);
	CU_ASSERT_EQUAL(one->param_count, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one->children);
	CU_ASSERT_NSTRING_EQUAL(one->msg + one->children->body_start, "body one", 8);
	CU_ASSERT_TRUE(mime_part_is(one->next, "text", "plain"));
	/* An invalid Content-Type inside a digest falls back to the digest default too. */
	CU_ASSERT_TRUE(mime_part_is(one->next->next, "message", "rfc822"));
	pool_destroy(&pool);
}

static void test_content_fields_are_parsed_and_normalised(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root = parse(
	    pool,
	    "Content-Type: (comment) TEXT / HTML (x) ; CharSet = \"UTF-8\" (y); Format=flowed;\n"
	    "Content-Transfer-Encoding: (c) quoted-printable\n"
	    "Content-ID:  <id@x>  \n"
	    "Content-Description: the\n  description\n"
	    "Content-Disposition: inline; filename=my file.txt; size=12\n"
	    "Content-Language: en-US (english), fr\n"
	    "Content-Location: http://x/y\n"
	    "Content-MD5: abc=\n"
	    "Content-Type: image/png\n"
	    "\n");
	CU_ASSERT_STRING_EQUAL(root->type, "text");
	CU_ASSERT_STRING_EQUAL(root->subtype, "html");
	CU_ASSERT_EQUAL_FATAL(root->param_count, 2);
	CU_ASSERT_STRING_EQUAL(root->params[0].name, "charset");
	CU_ASSERT_STRING_EQUAL(root->params[0].value, "UTF-8");
	CU_ASSERT_STRING_EQUAL(root->params[1].name, "format");
	CU_ASSERT_STRING_EQUAL(root->encoding, "QUOTED-PRINTABLE");
	CU_ASSERT_STRING_EQUAL(root->id, "<id@x>");
	CU_ASSERT_STRING_EQUAL(root->description, "the  description");
	CU_ASSERT_STRING_EQUAL(root->disposition, "inline");
	CU_ASSERT_EQUAL_FATAL(root->disp_param_count, 2);
	/* An unquoted value that runs on with spaces is taken up to the next ';'. */
	CU_ASSERT_STRING_EQUAL(root->disp_params[0].value, "my file.txt");
	CU_ASSERT_STRING_EQUAL(root->disp_params[1].value, "12");
	CU_ASSERT_EQUAL_FATAL(root->language_count, 2);
	CU_ASSERT_STRING_EQUAL(root->languages[0], "en-US");
	CU_ASSERT_STRING_EQUAL(root->languages[1], "fr");
	CU_ASSERT_STRING_EQUAL(root->location, "http://x/y");
	CU_ASSERT_STRING_EQUAL(root->md5, "abc=");
	pool_destroy(&pool);
}

static void test_rfc2231_sections_are_joined_in_order_and_decoded(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root = parse(pool, "Content-Type: application/x-stuff;\n"
	                                     " title*2=\"isn't it!\";\n"
	                                     " title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
	                                     " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
	                                     " title*1=\"ignored duplicate\";\n"
	                                     " name*=iso-8859-1''caf%E9;\n"
	                                     " name=\"plain loses\";\n"
	                                     " bad*x=1; =novalue; noequals; broken%=\"%4\"\n\n");
	const struct mime_param *t = mime_param_find(root->params, root->param_count, "title");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(t->value, "This is even more ***fun*** isn't it!");
	CU_ASSERT_STRING_EQUAL(t->charset, "us-ascii");
	CU_ASSERT_STRING_EQUAL(t->language, "en");
	CU_ASSERT_TRUE(t->extended);
	const struct mime_param *n = mime_param_find(root->params, root->param_count, "name");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->value, "caf\xe9");
	CU_ASSERT_STRING_EQUAL(n->charset, "iso-8859-1");
	CU_ASSERT_PTR_NULL(n->language);
	CU_ASSERT_PTR_NULL(mime_param_find(root->params, root->param_count, "bad"));
	CU_ASSERT_STRING_EQUAL(
	    mail_bodystructure(root, false, pool),
	    "(\"application\" \"x-stuff\" (\"title\" \"This is even more ***fun*** isn't it!\" "
	    "\"name*\" \"iso-8859-1''caf%E9\" \"broken%\" \"%4\") NIL NIL \"7BIT\" 0)");
	pool_destroy(&pool);
}

static void test_thousands_of_parameters_are_capped(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	size_t n = 20000;
	char *msg = malloc(n * 24 + 64);
	size_t len = (size_t)sprintf(msg, "Content-Type: text/plain");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len, ";\n p%zu*%zu*=%%41", i % 7, i);
	len += (size_t)sprintf(msg + len, "\n\nbody");
	struct mime_part *root;
	clock_t t0 = clock();
	CU_ASSERT_EQUAL_FATAL(mime_parse((unsigned char *)msg, len, pool, &root), 0);
	CU_ASSERT_TRUE((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	CU_ASSERT_TRUE(root->param_count <= MIME_MAX_PARAMS);
	/* Only the first MIME_MAX_RAW_PARAMS raw parameters are read: 7 names, joined. */
	CU_ASSERT_EQUAL(root->param_count, 8); /* p0..p6 and the default charset */
	const struct mime_param *p0 = mime_param_find(root->params, root->param_count, "p0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
	CU_ASSERT_EQUAL(strlen(p0->value), (MIME_MAX_RAW_PARAMS + 6) / 7);
	free(msg);
	pool_destroy(&pool);
}

static void test_message_rfc822_child_is_the_encapsulated_message(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/nested.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL_FATAL(root->child_count, 3);
	const struct mime_part *fwd = root->children->next;
	CU_ASSERT_EQUAL(fwd->flags, MIME_PART_MESSAGE);
	CU_ASSERT_EQUAL(fwd->body_start, 612);
	CU_ASSERT_EQUAL(fwd->body_len, 271);
	CU_ASSERT_EQUAL(mime_part_body_lines(fwd), 14);
	const struct mime_part *inner = fwd->children;
	CU_ASSERT_EQUAL_FATAL(fwd->child_count, 1);
	CU_ASSERT_EQUAL(inner->hdr_start, fwd->body_start);
	CU_ASSERT_EQUAL(inner->hdr_len + inner->body_len, fwd->body_len);
	CU_ASSERT_EQUAL(inner->depth, 2);
	CU_ASSERT_EQUAL(inner->flags, MIME_PART_MULTIPART);
	CU_ASSERT_EQUAL(inner->child_count, 2);
	pool_destroy(&pool);
}

static void test_encoded_message_rfc822_is_opaque(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	struct mime_part *root =
	    parse(pool, "Content-Type: message/rfc822\n"
	                "Content-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp4\n");
	CU_ASSERT_EQUAL(root->flags, MIME_PART_OPAQUE);
	CU_ASSERT_PTR_NULL(root->children);
	CU_ASSERT_STRING_EQUAL(mail_bodystructure(root, false, pool),
	                       "(\"application\" \"octet-stream\" NIL NIL NIL \"BASE64\" 21)");
	pool_destroy(&pool);
}

/* Builds @p levels multiparts nested inside each other, each holding the next. */
static char *deep_message(int levels, size_t *len_r)
{
	char *m = malloc((size_t)levels * 120 + 64);
	size_t n = 0;
	for (int i = 0; i < levels; i++)
		n += (size_t)sprintf(
		    m + n, "Content-Type: multipart/mixed; boundary=\"l%d\"\n\n--l%d\n", i, i);
	n += (size_t)sprintf(m + n, "Content-Type: text/plain\n\ndeep\n");
	for (int i = levels - 1; i >= 0; i--)
		n += (size_t)sprintf(m + n, "--l%d--\n", i);
	*len_r = n;
	return m;
}

static void test_hundred_levels_of_nesting_stop_at_the_depth_cap(void)
{
	struct sluice_pool *pool = pool_create(4096, 0);
	size_t len;
	char *msg = deep_message(100, &len);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse((unsigned char *)msg, len, pool, &root), 0);
	const struct mime_part *p = root;
	unsigned depth = 0;
	while (p->children != NULL) {
		CU_ASSERT_EQUAL(p->flags, MIME_PART_MULTIPART);
		p = p->children;
		depth++;
	}
	CU_ASSERT_EQUAL(depth, MIME_MAX_DEPTH);
	CU_ASSERT_EQUAL(p->depth, MIME_MAX_DEPTH);
	/* The part at the cap keeps its declared type but is not descended into. */
	CU_ASSERT_TRUE(mime_part_is(p, "multipart", "mixed"));
	CU_ASSERT_EQUAL(p->flags, MIME_PART_OPAQUE);
	char *bs = mail_bodystructure(root, true, pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bs);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(bs, "(\"application\" \"octet-stream\" (\"boundary\" \"l64\")"));
	free(msg);
	pool_destroy(&pool);
}

static void test_part_count_is_capped(void)
{
	struct sluice_pool *pool = pool_create(1 << 16, 0);
	size_t n = MIME_MAX_PARTS + 5000;
	char *msg = malloc(n * 4 + 64);
	size_t len = (size_t)sprintf(msg, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len, "--b\n");
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse((unsigned char *)msg, len, pool, &root), 0);
	CU_ASSERT_TRUE(root->child_count <= MIME_MAX_PARTS);
	CU_ASSERT_TRUE(root->child_count >= MIME_MAX_PARTS - 1);
	/* The last part holds every boundary that came after the cap. */
	const struct mime_part *last = root->children;
	while (last->next != NULL)
		last = last->next;
	CU_ASSERT_EQUAL(last->body_start + last->body_len, len);
	free(msg);
	pool_destroy(&pool);
}

static void test_many_small_parts_use_bounded_memory(void)
{
	struct sluice_pool *pool = pool_create(1 << 16, 0);
	size_t n = 9000;
	char *msg = malloc(n * 64 + 64);
	size_t len = (size_t)sprintf(msg, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len,
		                       "--b\nContent-Type: text/plain; charset=utf-8\n\nx\n");
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse((unsigned char *)msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL(root->child_count, n);
	/* About half a kilobyte per part; a fixed-size parameter array per part would be 12. */
	CU_ASSERT_TRUE(pool_footprint(pool) < n * 1024);
	free(msg);
	pool_destroy(&pool);
}

static void test_hundred_thousand_headers_parse_in_linear_time(void)
{
	struct sluice_pool *pool = pool_create(1 << 16, 0);
	size_t n = 100000;
	char *msg = malloc(n * 16 + 64);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len, "X-H%zu: v\n", i);
	len += (size_t)sprintf(msg + len, "Subject: last\n\nbody\n");
	struct mime_part *root;
	clock_t t0 = clock();
	CU_ASSERT_EQUAL_FATAL(mime_parse((unsigned char *)msg, len, pool, &root), 0);
	char *env = mail_envelope((unsigned char *)msg, root->hdr_len, pool);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CU_ASSERT_TRUE(secs < 2.0);
	CU_ASSERT_EQUAL(mime_part_hdr_lines(root), n + 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(env);
	CU_ASSERT_PTR_NOT_NULL(strstr(env, "\"last\""));
	free(msg);
	pool_destroy(&pool);
}

static void test_message_without_header_or_without_body(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/no-header.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL(root->hdr_len, 2);
	CU_ASSERT_EQUAL(root->body_len, 14);
	CU_ASSERT_STRING_EQUAL(root->type, "text");

	root = parse(pool, "Subject: only a header\nX: y");
	CU_ASSERT_EQUAL(root->hdr_len, strlen("Subject: only a header\nX: y"));
	CU_ASSERT_EQUAL(root->body_len, 0);
	CU_ASSERT_EQUAL(mime_part_body_lines(root), 0);

	CU_ASSERT_EQUAL_FATAL(mime_parse((const unsigned char *)"", 0, pool, &root), 0);
	CU_ASSERT_EQUAL(root->hdr_len, 0);
	CU_ASSERT_EQUAL(root->body_len, 0);
	pool_destroy(&pool);
}

static void test_nul_bytes_in_body_and_8bit_headers(void)
{
	struct sluice_pool *pool = pool_create(1024, 0);
	size_t len;
	unsigned char *msg =
	    mail_test_load(pool, SLUICE_SOURCE_DIR "/tests/data/mail/nul-8bit.eml", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	struct mime_part *root;
	CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
	CU_ASSERT_EQUAL(root->body_len, 23);
	CU_ASSERT_EQUAL(mime_part_body_lines(root), 3);
	CU_ASSERT_EQUAL(msg[root->body_start + 6], 0);
	pool_destroy(&pool);
}

static void test_pool_cap_is_an_error_not_a_crash(void)
{
	struct sluice_pool *pool = pool_create(256, 2048);
	size_t len;
	char *msg = deep_message(40, &len);
	struct mime_part *root = NULL;
	CU_ASSERT_EQUAL(mime_parse((unsigned char *)msg, len, pool, &root), -1);
	free(msg);
	pool_destroy(&pool);
}

/* Every part must lie inside its parent, and every child inside the parent's body. */
static void check_tree(const struct mime_part *p, size_t start, size_t end)
{
	CU_ASSERT_TRUE(p->hdr_start >= start);
	CU_ASSERT_EQUAL(p->hdr_start + p->hdr_len, p->body_start);
	CU_ASSERT_TRUE(p->body_start + p->body_len <= end);
	unsigned n = 0;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next, n++) {
		CU_ASSERT_PTR_EQUAL(c->parent, p);
		check_tree(c, p->body_start, p->body_start + p->body_len);
	}
	CU_ASSERT_EQUAL(n, p->child_count);
}

static void test_every_python_sample_message_parses(void)
{
	DIR *dir = opendir(PYTHON_EMAIL_DATA);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	struct dirent *de;
	int count = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "msg_", 4) != 0)
			continue;
		struct sluice_pool *pool = pool_create(4096, 0);
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", PYTHON_EMAIL_DATA, de->d_name);
		size_t len;
		unsigned char *msg = mail_test_load(pool, path, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
		struct mime_part *root;
		CU_ASSERT_EQUAL_FATAL(mime_parse(msg, len, pool, &root), 0);
		check_tree(root, 0, len);
		CU_ASSERT_EQUAL(root->hdr_len + root->body_len, len);
		CU_ASSERT_PTR_NOT_NULL(mail_envelope(msg, root->hdr_len, pool));
		CU_ASSERT_PTR_NOT_NULL(mail_bodystructure(root, true, pool));
		CU_ASSERT_PTR_NOT_NULL(mail_bodystructure(root, false, pool));
		pool_destroy(&pool);
		count++;
	}
	closedir(dir);
	CU_ASSERT_TRUE(count >= 40);
}

static CU_TestInfo mail_mime_tests[] = {
    {"header find unfolds and ignores name case", test_header_find_unfolds_and_ignores_name_case},
    {"header next skips lines without colon and orphan continuations",
     test_header_next_skips_lines_without_colon_and_orphan_continuations},
    {"header with NUL in name and value stays safe",
     test_header_with_nul_in_name_and_value_stays_safe},
    {"simple message offsets and lines", test_simple_message_offsets_and_lines},
    {"multipart parts exclude the line break before delimiters",
     test_multipart_parts_exclude_the_line_break_before_delimiters},
    {"unterminated multipart ends at its parent end",
     test_unterminated_multipart_ends_at_its_parent_end},
    {"multipart without closing delimiter keeps last part to the end",
     test_multipart_without_closing_delimiter_keeps_last_part_to_the_end},
    {"multipart whose boundary never appears has no children",
     test_multipart_whose_boundary_never_appears_has_no_children},
    {"multipart without boundary is text/plain", test_multipart_without_boundary_is_text_plain},
    {"invalid content-type defaults and digest children are messages",
     test_invalid_content_type_defaults_and_digest_children_are_messages},
    {"content fields are parsed and normalised", test_content_fields_are_parsed_and_normalised},
    {"RFC 2231 sections are joined in order and decoded",
     test_rfc2231_sections_are_joined_in_order_and_decoded},
    {"thousands of parameters are capped", test_thousands_of_parameters_are_capped},
    {"message/rfc822 child is the encapsulated message",
     test_message_rfc822_child_is_the_encapsulated_message},
    {"encoded message/rfc822 is opaque", test_encoded_message_rfc822_is_opaque},
    {"hundred levels of nesting stop at the depth cap",
     test_hundred_levels_of_nesting_stop_at_the_depth_cap},
    {"part count is capped", test_part_count_is_capped},
    {"many small parts use bounded memory", test_many_small_parts_use_bounded_memory},
    {"hundred thousand headers parse in linear time",
     test_hundred_thousand_headers_parse_in_linear_time},
    {"message without header or without body", test_message_without_header_or_without_body},
    {"NUL bytes in body and 8-bit headers", test_nul_bytes_in_body_and_8bit_headers},
    {"pool cap is an error, not a crash", test_pool_cap_is_an_error_not_a_crash},
    {"every Python sample message parses", test_every_python_sample_message_parses},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo mail_mime_suites[] = {
    {"mail_mime", NULL, NULL, NULL, NULL, mail_mime_tests},
    CU_SUITE_INFO_NULL,
};
