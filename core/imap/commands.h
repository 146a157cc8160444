/*
 * The command table and the handlers of each command family. Each family lives in
 * its own cmd-<family>.c file; this header lists their entry points so that the
 * dispatcher can check the session state once, for every command, in one place.
 */
#ifndef SLUICE_COMMANDS_H
#define SLUICE_COMMANDS_H

#include "imap/parser.h"
#include "imap/seqset.h"
#include "imap/session.h"

typedef void imap_command_fn(struct session *s, const struct imap_command *cmd);

struct imap_command_def {
	const char *name;
	unsigned states; /* enum imap_state bits in which the command is valid */
	imap_command_fn *run;
	bool uid_form; /* may follow UID (RFC 3501 6.4.8): the handler reads s->uid_command */
};

/**
 * Runs @p cmd (state checks, policy hooks, the handler). Returns true once the command is
 * answered, false when a policy module parked it (SLUICE_WAIT): the parser must then keep
 * the command until commands_resume answers it.
 */
bool commands_dispatch(struct session *s, const struct imap_command *cmd);
/** Tells the policies that a command answered later than its handler returned (IDLE, at
 *  DONE) has ended; does nothing when none is pending. */
void commands_end_deferred(struct session *s, const char *tag);
/** Asks the policy modules again about the parked command; returns as commands_dispatch. */
bool commands_resume(struct session *s);

/* cmd-any.c */
imap_command_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable;
/* cmd-list.c, cmd-mailbox.c */
imap_command_fn cmd_list, cmd_lsub, cmd_namespace, cmd_create, cmd_delete, cmd_rename,
    cmd_subscribe, cmd_unsubscribe;
/* cmd-select.c */
imap_command_fn cmd_select, cmd_examine, cmd_status, cmd_check, cmd_close, cmd_unselect;

/* STATUS items, shared by STATUS and LIST's RETURN (STATUS (...)) (RFC 5819). */
#define STATUS_ITEMS_MAX 16
struct status_items {
	unsigned char item[STATUS_ITEMS_MAX]; /* cmd-select.c's enum status_item */
	size_t count;
};
/** Parses a STATUS item list; answers BAD itself and returns false when it is wrong. */
bool cmd_status_items_parse(struct session *s, const char *tag, const struct imap_arg *list,
                            struct status_items *items);
/**
 * Writes "* STATUS name (...)" for the canonical mailbox @p canonical (the selected one from
 * the session's view).
 * @return 0; the failure of opening the mailbox or of an item, with err filled and nothing
 *         written.
 */
int cmd_status_write(struct session *s, const char *canonical, const struct status_items *items,
                     struct sluice_error *err);
/**
 * Converts a mailbox argument to its canonical name in @p out (NUL-terminated); answers
 * NO itself, with the reason, when the name cannot be used.
 */
bool cmd_mailbox_arg(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                     bool strip_trailing_delimiter, struct buf *out);
/** Answers NO and returns false when the session has no mail storage. */
bool cmd_require_storage(struct session *s, const struct imap_command *cmd);
/* cmd-fetch.c, cmd-store.c */
imap_command_fn cmd_fetch, cmd_store;

/* cmd-msgset.c: a sequence set or UID set of FETCH, STORE, COPY, MOVE or UID EXPUNGE,
 * resolved against the selected view. */
struct cmd_msgset {
	struct seqset set;
	struct seqset_iter iter;
	bool uid;     /* UID command: walk the view, skipping UIDs that do not exist */
	bool empty;   /* UID command on `*` in an empty mailbox */
	uint32_t pos; /* UID walk: the next view index */
};
/**
 * Parses and resolves the set argument @p a (ranges in @p pool); answers BAD itself and
 * returns false for bad syntax or sequence numbers beyond the mailbox. `$` stands for
 * the messages of the saved SEARCH result (RFC 5182) that are still in the view.
 */
bool cmd_msgset_parse(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                      struct sluice_pool *pool, struct cmd_msgset *ms);
/** Whether the message at view index @p index is in the set (a binary search). */
bool cmd_msgset_contains(const struct cmd_msgset *ms, const struct mailbox *box, uint32_t index);
/** Gives the next view index of the set, ascending; false when the set is done. */
bool cmd_msgset_next(struct cmd_msgset *ms, const struct mailbox *box, uint32_t *index_r);
/** Starts the walk of cmd_msgset_next over again. */
void cmd_msgset_rewind(struct cmd_msgset *ms);
/**
 * Walks the rest of the set and gives the UIDs of its messages as a resolved set (ranges
 * in @p pool). @return 0, or SLUICE_E_NOMEM.
 */
int cmd_msgset_uids(struct cmd_msgset *ms, const struct mailbox *box, struct sluice_pool *pool,
                    struct seqset *uids_r);
struct mailbox_msg;
/** Appends a message's flag list, \Recent included; false (session closing) without memory. */
bool cmd_write_flags(struct session *s, const struct mailbox_msg *m, struct sluice_pool *pool);
/**
 * Writes "* n FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])" for the message at view index
 * @p index (STORE's answer, and the unsolicited update of flags others changed); UID also
 * when QRESYNC is on, MODSEQ when CONDSTORE is; false as cmd_write_flags.
 */
bool cmd_send_flags(struct session *s, uint32_t index, const struct mailbox_msg *m, bool uid,
                    struct sluice_pool *pool);

/* cmd-append.c, cmd-copy.c, cmd-expunge.c */
imap_command_fn cmd_append, cmd_copy, cmd_move, cmd_expunge;
struct mailbox_changes;
/**
 * Announces the messages that left the view (@p ch's expunged lists): "* n EXPUNGE",
 * highest sequence number first, or one "* VANISHED uid-set" once QRESYNC is on.
 */
void cmd_send_expunged(struct session *s, const struct mailbox_changes *ch);
/**
 * Re-syncs the selected mailbox; announces EXPUNGE, EXISTS and RECENT as they changed, then
 * "* n FETCH (UID u FLAGS (...))" for each message whose flags others changed.
 */
void cmd_refresh_selected(struct session *s);
/** The same after the session's own APPEND or COPY into the selected mailbox: the view comes
 *  from the index (mailbox_refresh_from_index), so a large Maildir is not scanned again. */
void cmd_refresh_selected_after_own_change(struct session *s);
/* cmd-qresync.c: QRESYNC's SELECT parameter and answer (RFC 7162 3.2.5) */
struct cmd_qresync {
	uint32_t uidvalidity;
	uint64_t modseq;
	struct seqset known; /* known-uids, resolved; only when has_known */
	bool has_known;
};
/* What changed since the client's MODSEQ. */
struct cmd_resync {
	uint32_t *vanished; /* UIDs, ascending (malloc or NULL) */
	uint32_t n_vanished;
	uint32_t *changed; /* view indexes, ascending (malloc or NULL) */
	uint32_t n_changed;
};
/**
 * Reads the list after QRESYNC (@p a; sets in @p pool). Answers BAD itself and returns
 * false when QRESYNC is not enabled or the list does not fit the grammar.
 */
bool cmd_qresync_parse(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                       struct sluice_pool *pool, struct cmd_qresync *q);
/**
 * What @p q's client missed in @p box (nothing when the UIDVALIDITY differs), read from
 * the index in proportion to the changes. @return 0, or a negative code with err filled;
 * free @p out with cmd_resync_free.
 */
int cmd_qresync_prepare(struct mailbox *box, const struct cmd_qresync *q, struct cmd_resync *out,
                        struct sluice_error *err);
/** Writes "* VANISHED (EARLIER) ..." then one FETCH (UID FLAGS MODSEQ) per changed message. */
void cmd_resync_send(struct session *s, const struct cmd_resync *rs);
void cmd_resync_free(struct cmd_resync *rs);
/** Writes "* VANISHED (EARLIER) uid-set" for @p n ascending UIDs; nothing when n is 0. */
void cmd_send_vanished_earlier(struct session *s, const uint32_t *uids, uint32_t n);

/* cmd-search.c */
imap_command_fn cmd_search;
/* cmd-idle.c */
imap_command_fn cmd_idle;
/** A line the client sent during IDLE (NULL for one too long): DONE ends it, anything else is BAD. */
void cmd_idle_line(struct session *s, const char *line, size_t len);
/** The mailbox the session idles on changed (SESSION_EV_NOTIFY): sends what changed. */
void cmd_idle_wake(struct session *s);
/** Ends an IDLE without answering (the connection is closing); nothing when none runs. */
void cmd_idle_end(struct session *s);
/** Forgets the saved SEARCH result (`$`): a mailbox is selected or closed (RFC 5182). */
void cmd_searchres_reset(struct session *s);
/* cmd-auth.c */
imap_command_fn cmd_starttls, cmd_login, cmd_authenticate;
void cmd_authenticate_continue(struct session *s, const char *line, size_t len);
void cmd_authenticate_abort(struct session *s, const char *why);
void cmd_authenticate_free(struct session *s);
/**
 * Finishes the login whose passdb answer has come back (SESSION_EV_AUTH_DONE): answers
 * it, and on success opens the user's mail and switches the session to the
 * authenticated state. A closing session only releases the attempt.
 */
void cmd_auth_done(struct session *s);

/** Appends the capabilities of the mailbox extensions (cmd-list.c), each after a space. */
void cmd_write_mailbox_capabilities(struct session *s);

/** Appends " AUTH=<mech>" for each SASL mechanism usable now. */
void cmd_write_auth_mechanisms(struct session *s, bool plaintext_allowed);

/** Writes "TAG BAD text" for a command whose arguments do not fit its grammar. */
void cmd_bad_arguments(struct session *s, const struct imap_command *cmd, const char *usage);

#endif
