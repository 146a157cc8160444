/*
 * BODY / BODYSTRUCTURE writer (see bodystructure.h). It follows the RFC 3501 grammar
 * production by production; recursion follows the MIME tree, whose depth mime.c caps at
 * MIME_MAX_DEPTH.
 */
#include "mail/bodystructure.h"

#include <string.h>

#include "mail/envelope.h"
#include "mail/imap-string.h"
#include "mail/mime.h"
#include "mail/mail-buf.h"

/* What a multipart without parts shows, so that body-type-mpart keeps its 1*body. */
#define BS_EMPTY_PART "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)"

/* RFC 2231 attribute-char: what may stay unencoded in an extended value. */
static bool bs_attr_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool bs_printable_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

/* Writes "name*" "charset'lang'%XX..." for an RFC 2231 value that is not plain ASCII. */
static void bs_write_extended(struct mail_buf *out, const struct mime_param *p)
{
	struct mail_buf v;
	mail_buf_init(&v, out->pool, 0);
	mail_buf_puts(&v, p->name);
	mail_buf_putc(&v, '*');
	char *name = mail_buf_finish(&v, NULL);
	imap_write_cstring(out, name);
	if (name == NULL)
		out->failed = true;
	mail_buf_putc(out, ' ');
	mail_buf_init(&v, out->pool, 0);
	mail_buf_printf(&v, "%s'%s'", p->charset != NULL ? p->charset : "",
	                p->language != NULL ? p->language : "");
	for (const unsigned char *s = (const unsigned char *)p->value; *s != '\0'; s++) {
		if (bs_attr_char(*s))
			mail_buf_putc(&v, (char)*s);
		else
			mail_buf_printf(&v, "%%%02X", *s);
	}
	char *value = mail_buf_finish(&v, NULL);
	imap_write_cstring(out, value);
	if (value == NULL)
		out->failed = true;
}

/* body-fld-param: "(" string SP string *(SP string SP string) ")" / nil */
static void bs_write_params(struct mail_buf *out, const struct mime_param *params, unsigned count)
{
	if (count == 0) {
		mail_buf_append(out, "NIL", 3);
		return;
	}
	mail_buf_putc(out, '(');
	for (unsigned i = 0; i < count; i++) {
		const struct mime_param *p = &params[i];
		if (i > 0)
			mail_buf_putc(out, ' ');
		if (p->extended && !bs_printable_ascii(p->value)) {
			bs_write_extended(out, p);
			continue;
		}
		imap_write_cstring(out, p->name);
		mail_buf_putc(out, ' ');
		imap_write_cstring(out, p->value);
	}
	mail_buf_putc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc: the tail both kinds of extension share. */
static void bs_write_dsp_lang_loc(struct mail_buf *out, const struct mime_part *part)
{
	if (part->disposition == NULL) {
		mail_buf_append(out, "NIL", 3);
	} else {
		mail_buf_putc(out, '(');
		imap_write_cstring(out, part->disposition);
		mail_buf_putc(out, ' ');
		bs_write_params(out, part->disp_params, part->disp_param_count);
		mail_buf_putc(out, ')');
	}
	mail_buf_putc(out, ' ');
	if (part->language_count == 0) {
		mail_buf_append(out, "NIL", 3);
	} else {
		mail_buf_putc(out, '(');
		for (unsigned i = 0; i < part->language_count; i++) {
			if (i > 0)
				mail_buf_putc(out, ' ');
			imap_write_cstring(out, part->languages[i]);
		}
		mail_buf_putc(out, ')');
	}
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, part->location);
}

static void bs_write_part(struct mail_buf *out, const struct mime_part *part, bool extended);

static void bs_write_multipart(struct mail_buf *out, const struct mime_part *part, bool extended)
{
	mail_buf_putc(out, '(');
	if (part->children == NULL)
		mail_buf_puts(out, BS_EMPTY_PART);
	for (const struct mime_part *c = part->children; c != NULL; c = c->next)
		bs_write_part(out, c, extended);
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, part->subtype);
	if (extended) {
		mail_buf_putc(out, ' ');
		bs_write_params(out, part->params, part->param_count);
		mail_buf_putc(out, ' ');
		bs_write_dsp_lang_loc(out, part);
	}
	mail_buf_putc(out, ')');
}

static void bs_write_part(struct mail_buf *out, const struct mime_part *part, bool extended)
{
	if ((part->flags & MIME_PART_MULTIPART) != 0) {
		bs_write_multipart(out, part, extended);
		return;
	}
	bool opaque = (part->flags & MIME_PART_OPAQUE) != 0;
	mail_buf_putc(out, '(');
	/* body-fields: type, subtype, params, id, description, encoding, octets */
	imap_write_cstring(out, opaque ? "application" : part->type);
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, opaque ? "octet-stream" : part->subtype);
	mail_buf_putc(out, ' ');
	bs_write_params(out, part->params, part->param_count);
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, part->id);
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, part->description);
	mail_buf_putc(out, ' ');
	imap_write_cstring(out, part->encoding);
	mail_buf_printf(out, " %zu", part->body_len);
	if ((part->flags & MIME_PART_MESSAGE) != 0) {
		/* body-type-msg: envelope, body and lines of the encapsulated message */
		const struct mime_part *m = part->children;
		mail_buf_putc(out, ' ');
		mail_envelope_write(out, m->msg + m->hdr_start, m->hdr_len);
		mail_buf_putc(out, ' ');
		bs_write_part(out, m, extended);
		mail_buf_printf(out, " %zu", mime_part_body_lines(part));
	} else if (!opaque && strcmp(part->type, "text") == 0) {
		mail_buf_printf(out, " %zu", mime_part_body_lines(part));
	}
	if (extended) {
		mail_buf_putc(out, ' ');
		imap_write_cstring(out, part->md5);
		mail_buf_putc(out, ' ');
		bs_write_dsp_lang_loc(out, part);
	}
	mail_buf_putc(out, ')');
}

char *mail_bodystructure(const struct mime_part *root, bool extended, struct sluice_pool *pool)
{
	struct mail_buf out;
	mail_buf_init(&out, pool, 256);
	bs_write_part(&out, root, extended);
	return mail_buf_finish(&out, NULL);
}
