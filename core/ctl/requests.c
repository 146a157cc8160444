/*
 * The `status` and `kick` answers of the control socket (see requests.h).
 *
 * Both start from a copy of the session registry (session_views), so the registry lock is
 * held only while copying, never while modules are asked or the answer is written. Status
 * counts connections per address and per user from that copy (what an administrator once
 * pieced together with netstat, awk and uniq) and asks every policy module for its
 * figures; the connection cap shown next to the open count is the `max_connections`
 * figure a module (connlimit) reports.
 */
#include "ctl/requests.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/session.h"
#include "net/event.h"
#include "policy/policy.h"
#include "server.h"
#include "util/json.h"
#include "util/log.h"

#define CTL_FIGURES_MAX 256
#define CTL_KEY_MAX 63

/* ---- figures reported by modules ---------------------------------------------------------- */

struct ctl_figure {
	char key[CTL_KEY_MAX + 1];
	int64_t value;
};

struct ctl_figures {
	struct ctl_figure items[CTL_FIGURES_MAX];
	size_t count;
};

static bool ctl_key_ok(const char *key)
{
	size_t n = 0;

	if (key == NULL)
		return false;
	for (; key[n] != '\0'; n++)
		if (n >= CTL_KEY_MAX ||
		    !((key[n] >= 'a' && key[n] <= 'z') || (key[n] >= '0' && key[n] <= '9') || key[n] == '_'))
			return false;
	return n > 0;
}

/* The emit callback handed to report ops: keeps well-formed keys, each once. */
static void ctl_emit(void *ctx, const char *key, int64_t value)
{
	struct ctl_figures *f = ctx;

	if (!ctl_key_ok(key) || f->count == CTL_FIGURES_MAX)
		return;
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->items[i].key, key) == 0)
			return;
	snprintf(f->items[f->count].key, sizeof(f->items[0].key), "%s", key);
	f->items[f->count++].value = value;
}

/* ---- counting by address and by user ------------------------------------------------------ */

struct ctl_count {
	const char *name; /* points into the views */
	size_t n;
};

static int ctl_cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ctl_cmp_counts(const void *a, const void *b)
{
	const struct ctl_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Counts equal names among @p names (sorted here), largest count first. */
static struct ctl_count *ctl_count_names(const char **names, size_t n, size_t *count_r)
{
	struct ctl_count *out = calloc(n > 0 ? n : 1, sizeof(*out));
	size_t k = 0;

	*count_r = 0;
	if (out == NULL)
		return NULL;
	qsort(names, n, sizeof(*names), ctl_cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(out[k - 1].name, names[i]) == 0) {
			out[k - 1].n++;
		} else {
			out[k].name = names[i];
			out[k++].n = 1;
		}
	}
	qsort(out, k, sizeof(*out), ctl_cmp_counts);
	*count_r = k;
	return out;
}

static int ctl_write_counts(struct buf *out, const char *field, const char *label,
			    const char **names, size_t n)
{
	size_t k;
	struct ctl_count *counts = ctl_count_names(names, n, &k);

	if (counts == NULL)
		return -1;
	buf_printf(out, ",\"%s\":[", field);
	for (size_t i = 0; i < k; i++) {
		buf_printf(out, "%s{\"%s\":", i > 0 ? "," : "", label);
		json_string(out, counts[i].name);
		buf_printf(out, ",\"connections\":%zu}", counts[i].n);
	}
	free(counts);
	return buf_append(out, "]", 1);
}

/* ---- the answers -------------------------------------------------------------------------- */

void ctl_error(struct buf *out, const char *message)
{
	buf_printf(out, "{\"ok\":false,\"error\":");
	json_string(out, message);
	buf_printf(out, "}\n");
}

static const char *ctl_state_name(enum imap_state state)
{
	switch (state) {
	case IMAP_STATE_NOT_AUTH:
		return "not_authenticated";
	case IMAP_STATE_AUTH:
		return "authenticated";
	case IMAP_STATE_SELECTED:
		return "selected";
	default:
		return "logout";
	}
}

static void ctl_write_session(struct buf *out, const struct session_view *v, uint64_t now)
{
	uint64_t since = now > v->command_ms ? now - v->command_ms : 0;

	buf_printf(out, "{\"id\":%llu,\"address\":", (unsigned long long)v->id);
	json_string(out, v->remote_ip);
	buf_printf(out, ",\"user\":");
	json_string(out, v->user);
	buf_printf(out, ",\"state\":\"%s\",\"listener\":", ctl_state_name(v->state));
	json_string(out, v->listener);
	buf_printf(out, ",\"connected_ms\":%llu,\"command\":",
		   (unsigned long long)(now > v->connected_ms ? now - v->connected_ms : 0));
	if (v->command[0] != '\0') {
		json_string(out, v->command);
		buf_printf(out, ",\"command_ms\":%llu,\"idle_ms\":null}", (unsigned long long)since);
	} else {
		buf_printf(out, "null,\"command_ms\":null,\"idle_ms\":%llu}", (unsigned long long)since);
	}
}

/* Every policy module's figures; the first positive max_connections is the cap. */
static int ctl_write_modules(struct buf *out, int64_t *cap_r)
{
	struct ctl_figures *f = malloc(sizeof(*f));

	*cap_r = 0;
	if (f == NULL)
		return -1;
	buf_printf(out, ",\"modules\":[");
	for (size_t i = 0; i < server.policy_count; i++) {
		f->count = 0;
		policy_report(i, ctl_emit, f);
		buf_printf(out, "%s{\"name\":", i > 0 ? "," : "");
		json_string(out, server.policies[i]->name);
		buf_printf(out, ",\"kind\":\"policy\",\"figures\":{");
		for (size_t k = 0; k < f->count; k++) {
			buf_printf(out, "%s\"%s\":%lld", k > 0 ? "," : "", f->items[k].key,
				   (long long)f->items[k].value);
			if (*cap_r == 0 && strcmp(f->items[k].key, "max_connections") == 0 &&
			    f->items[k].value > 0)
				*cap_r = f->items[k].value;
		}
		buf_printf(out, "}}");
	}
	free(f);
	return buf_append(out, "]", 1);
}

int ctl_status(struct buf *out, uint64_t started_ms)
{
	struct session_view *v;
	size_t n;
	struct buf modules = {0};
	int64_t cap;
	int rc = 0;

	if (session_views(&v, &n) < 0) {
		ctl_error(out, "the server is out of memory");
		return -1;
	}
	uint64_t now = ev_now_ms();
	const char **addresses = calloc(n > 0 ? n : 1, sizeof(*addresses));
	const char **users = calloc(n > 0 ? n : 1, sizeof(*users));
	size_t user_count = 0;
	if (addresses == NULL || users == NULL || ctl_write_modules(&modules, &cap) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		addresses[i] = v[i].remote_ip;
		if (v[i].user != NULL)
			users[user_count++] = v[i].user;
	}
	buf_printf(out, "{\"ok\":true,\"server\":{\"version\":\"%s\",\"pid\":%ld,\"uptime_ms\":%llu,"
			"\"workers\":%u}",
		   SLUICE_VERSION, (long)getpid(),
		   (unsigned long long)(now > started_ms ? now - started_ms : 0), ev_worker_count());
	buf_printf(out, ",\"connections\":{\"open\":%zu,\"max\":", n);
	if (cap > 0)
		buf_printf(out, "%lld}", (long long)cap);
	else
		buf_printf(out, "null}");
	if (ctl_write_counts(out, "addresses", "address", addresses, n) < 0 ||
	    ctl_write_counts(out, "users", "user", users, user_count) < 0) {
		rc = -1;
		goto out;
	}
	buf_printf(out, ",\"sessions\":[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(out, ",", 1);
		ctl_write_session(out, &v[i], now);
	}
	buf_append(out, "]", 1);
	rc = buf_append(out, buf_head(&modules), buf_len(&modules)) | buf_printf(out, "}\n");
out:
	if (rc < 0) {
		buf_free(out);
		ctl_error(out, "the server is out of memory");
	}
	buf_free(&modules);
	free(addresses);
	free(users);
	session_views_free(v, n);
	return rc < 0 ? -1 : 0;
}

int ctl_kick(struct buf *out, bool by_address, const char *who)
{
	struct session_view *v;
	size_t n, closed = 0;

	if (session_views(&v, &n) < 0) {
		ctl_error(out, "the server is out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *have = by_address ? v[i].remote_ip : v[i].user;
		/* A session that ended meanwhile, or that is closing already, is not counted. */
		if (have != NULL && strcmp(have, who) == 0 &&
		    session_request_close(v[i].id, "UNAVAILABLE", "Disconnected by the administrator",
					  "disconnected by the administrator (sluicectl kick)") == 0)
			closed++;
	}
	session_views_free(v, n);
	log_info("kick %s %s: %zu session%s closed", by_address ? "address" : "user", who,
		 closed, closed == 1 ? "" : "s");
	buf_printf(out, "{\"ok\":true,\"closed\":%zu,\"%s\":", closed, by_address ? "address" : "user");
	json_string(out, who);
	return buf_printf(out, "}\n");
}
