/*
 * The bytes the lmdb index stores: big-endian keys, the fixed-size mailbox record and
 * the variable-size message record. Stored bytes are untrusted (a disk error, a bug of
 * an older version, someone's editor), so every decoder checks each length against the
 * value it was given and reports an impossible record instead of reading past it; the
 * caller turns that into SLUICE_E_CORRUPT and the core rebuilds the index.
 *
 * Message record, format 1:
 *
 *   u8      format (1)
 *   varint  flags, modseq, size, zigzag(internal_date), zigzag(internal_zone)
 *   u8      which optional strings follow: 1 envelope, 2 bodystructure, 4 body
 *   string  key, keywords, then the optional ones in that order
 *
 * where a varint is LEB128 (7 bits a byte, low bits first) and a string is a varint
 * length, the bytes and a NUL. The NUL costs one byte and lets a reader hand out the
 * string where it lies in the map, without a copy. Small numbers take one or two bytes,
 * so a record without cached fields is about 15 bytes plus its key; the UID is not
 * stored, it is in the record's key.
 */
#include <string.h>

#include "lmdb-index.h"

#define LMDB_MSG_FORMAT 1u
#define LMDB_MBOX_FORMAT 1u

enum {
	LMDB_HAS_ENVELOPE = 1u << 0,
	LMDB_HAS_BODYSTRUCTURE = 1u << 1,
	LMDB_HAS_BODY = 1u << 2,
};

void lmdb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void lmdb_put64(uint8_t *p, uint64_t v)
{
	lmdb_put32(p, (uint32_t)(v >> 32));
	lmdb_put32(p + 4, (uint32_t)v);
}

uint32_t lmdb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t lmdb_get64(const uint8_t *p)
{
	return (uint64_t)lmdb_get32(p) << 32 | lmdb_get32(p + 4);
}

void lmdb_msg_key(uint8_t key[LMDB_MSG_KEY_SIZE], uint32_t id, uint32_t uid)
{
	lmdb_put32(key, id);
	lmdb_put32(key + 4, uid);
}

void lmdb_seq_key(uint8_t key[LMDB_SEQ_KEY_SIZE], uint32_t id, uint64_t modseq, uint32_t uid)
{
	lmdb_put32(key, id);
	lmdb_put64(key + 4, modseq);
	lmdb_put32(key + 12, uid);
}

/*
 * Turns a big-endian key into the smallest key greater than it of the same length, which
 * is where a scan resumes after it; false when there is none (all bytes 0xff).
 */
bool lmdb_key_next(uint8_t *key, size_t len)
{
	while (len > 0) {
		if (++key[len - 1] != 0)
			return true;
		len--;
	}
	return false;
}

void lmdb_mbox_encode(const struct lmdb_mbox *mb, uint8_t out[LMDB_MBOX_REC_SIZE])
{
	out[0] = LMDB_MBOX_FORMAT;
	lmdb_put32(out + 1, mb->id);
	lmdb_put32(out + 5, mb->state.uidvalidity);
	lmdb_put32(out + 9, mb->state.uidnext);
	lmdb_put64(out + 13, mb->state.highestmodseq);
	lmdb_put32(out + 21, mb->state.messages);
	memcpy(out + 25, mb->state.storage_stamp, sizeof(mb->state.storage_stamp));
}

int lmdb_mbox_decode(const MDB_val *val, struct lmdb_mbox *mb_r)
{
	const uint8_t *p = val->mv_data;

	if (val->mv_size != LMDB_MBOX_REC_SIZE || p[0] != LMDB_MBOX_FORMAT)
		return -1;
	mb_r->id = lmdb_get32(p + 1);
	mb_r->state.uidvalidity = lmdb_get32(p + 5);
	mb_r->state.uidnext = lmdb_get32(p + 9);
	mb_r->state.highestmodseq = lmdb_get64(p + 13);
	mb_r->state.messages = lmdb_get32(p + 21);
	memcpy(mb_r->state.storage_stamp, p + 25, sizeof(mb_r->state.storage_stamp));
	return mb_r->id != 0 ? 0 : -1;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Reads one varint; false when it runs past @end or does not fit 64 bits. */
static bool varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v_r)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	for (unsigned shift = 0; p < end && shift <= 63; shift += 7) {
		uint8_t b = *p++;

		if (shift == 63 && b > 1)
			return false;
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*pp = p;
			*v_r = v;
			return true;
		}
	}
	return false;
}

/* Signed numbers are zigzag-coded so that small negative ones stay small. */
static uint64_t zigzag(int64_t v)
{
	uint64_t u = (uint64_t)v;
	return (u << 1) ^ (0 - (u >> 63));
}

static int64_t unzigzag(uint64_t z)
{
	return (int64_t)((z >> 1) ^ (0 - (z & 1)));
}

static size_t string_size(const char *s)
{
	size_t len = strlen(s);
	return varint_size(len) + len + 1;
}

static uint8_t *string_put(uint8_t *p, const char *s)
{
	size_t len = strlen(s);

	p = varint_put(p, len);
	memcpy(p, s, len + 1);
	return p + len + 1;
}

/* Reads one string; false unless its length and its NUL lie inside the value. */
static bool string_get(const uint8_t **pp, const uint8_t *end, const char **s_r)
{
	const uint8_t *p = *pp;
	uint64_t len;

	if (!varint_get(&p, end, &len) || len >= (uint64_t)(end - p) || p[len] != '\0')
		return false;
	*s_r = (const char *)p;
	*pp = p + len + 1;
	return true;
}

static const char *keywords_of(const struct sluice_index_message *msg)
{
	return msg->keywords != NULL ? msg->keywords : "";
}

size_t lmdb_msg_size(const struct sluice_index_message *msg)
{
	size_t n = 2;

	n += varint_size(msg->flags) + varint_size(msg->modseq) + varint_size(msg->size);
	n += varint_size(zigzag(msg->internal_date)) + varint_size(zigzag(msg->internal_zone));
	n += string_size(msg->key) + string_size(keywords_of(msg));
	if (msg->envelope != NULL)
		n += string_size(msg->envelope);
	if (msg->bodystructure != NULL)
		n += string_size(msg->bodystructure);
	if (msg->body != NULL)
		n += string_size(msg->body);
	return n;
}

/* Writes exactly lmdb_msg_size(msg) bytes to @out. */
void lmdb_msg_encode(const struct sluice_index_message *msg, uint8_t *out)
{
	uint8_t *p = out;
	unsigned present = 0;

	if (msg->envelope != NULL)
		present |= LMDB_HAS_ENVELOPE;
	if (msg->bodystructure != NULL)
		present |= LMDB_HAS_BODYSTRUCTURE;
	if (msg->body != NULL)
		present |= LMDB_HAS_BODY;
	*p++ = LMDB_MSG_FORMAT;
	p = varint_put(p, msg->flags);
	p = varint_put(p, msg->modseq);
	p = varint_put(p, msg->size);
	p = varint_put(p, zigzag(msg->internal_date));
	p = varint_put(p, zigzag(msg->internal_zone));
	*p++ = (uint8_t)present;
	p = string_put(p, msg->key);
	p = string_put(p, keywords_of(msg));
	if (msg->envelope != NULL)
		p = string_put(p, msg->envelope);
	if (msg->bodystructure != NULL)
		p = string_put(p, msg->bodystructure);
	if (msg->body != NULL)
		string_put(p, msg->body);
}

/*
 * Fills everything but msg_r->uid (which the caller takes from the key); the strings
 * point into @data. Returns -1 for anything a correct writer cannot have produced.
 */
int lmdb_msg_decode(const void *data, size_t size, struct sluice_index_message *msg_r)
{
	const uint8_t *p = data, *end;
	uint64_t flags, modseq, msize, date, zone;
	int64_t szone;
	unsigned present;

	if (size < 2 || p[0] != LMDB_MSG_FORMAT)
		return -1;
	end = p + size;
	p++;
	if (!varint_get(&p, end, &flags) || !varint_get(&p, end, &modseq) ||
	    !varint_get(&p, end, &msize) || !varint_get(&p, end, &date) ||
	    !varint_get(&p, end, &zone) || p >= end)
		return -1;
	szone = unzigzag(zone);
	if (flags > UINT32_MAX || szone < INT32_MIN || szone > INT32_MAX)
		return -1;
	present = *p++;
	if ((present & ~7u) != 0)
		return -1;
	msg_r->flags = (uint32_t)flags;
	msg_r->modseq = modseq;
	msg_r->size = msize;
	msg_r->internal_date = unzigzag(date);
	msg_r->internal_zone = (int32_t)szone;
	msg_r->envelope = msg_r->bodystructure = msg_r->body = NULL;
	if (!string_get(&p, end, &msg_r->key) || !string_get(&p, end, &msg_r->keywords))
		return -1;
	if ((present & LMDB_HAS_ENVELOPE) != 0 && !string_get(&p, end, &msg_r->envelope))
		return -1;
	if ((present & LMDB_HAS_BODYSTRUCTURE) != 0 && !string_get(&p, end, &msg_r->bodystructure))
		return -1;
	if ((present & LMDB_HAS_BODY) != 0 && !string_get(&p, end, &msg_r->body))
		return -1;
	return p == end ? 0 : -1;
}
