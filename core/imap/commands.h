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

/** Runs @p cmd (state checks, policy hooks, the handler). */
void commands_dispatch(struct session *s, const struct imap_command *cmd);

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
 * returns false for bad syntax, `$`, or sequence numbers beyond the mailbox.
 */
bool cmd_msgset_parse(struct session *s, const struct imap_command *cmd, const struct imap_arg *a,
                      struct sluice_pool *pool, struct cmd_msgset *ms);
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
 * Writes "* n FETCH ([UID u ]FLAGS (...))" for the message at view index @p index (STORE's
 * answer, and the unsolicited update of flags others changed); false as cmd_write_flags.
 */
bool cmd_send_flags(struct session *s, uint32_t index, const struct mailbox_msg *m, bool uid,
                    struct sluice_pool *pool);

/* cmd-append.c, cmd-copy.c, cmd-expunge.c */
imap_command_fn cmd_append, cmd_copy, cmd_move, cmd_expunge;
/** Writes "* n EXPUNGE" for sequence numbers @p seqs (ascending), highest first. */
void cmd_send_expunged(struct session *s, const uint32_t *seqs, uint32_t n);
/**
 * Re-syncs the selected mailbox; announces EXPUNGE, EXISTS and RECENT as they changed, then
 * "* n FETCH (UID u FLAGS (...))" for each message whose flags others changed.
 */
void cmd_refresh_selected(struct session *s);
/* cmd-search.c */
imap_command_fn cmd_search;
/* cmd-auth.c */
imap_command_fn cmd_starttls, cmd_login, cmd_authenticate;
void cmd_authenticate_continue(struct session *s, const char *line, size_t len);
void cmd_authenticate_abort(struct session *s, const char *why);
void cmd_authenticate_free(struct session *s);

/** Appends the capabilities of the mailbox extensions (cmd-list.c), each after a space. */
void cmd_write_mailbox_capabilities(struct session *s);

/** Appends " AUTH=<mech>" for each SASL mechanism usable now. */
void cmd_write_auth_mechanisms(struct session *s, bool plaintext_allowed);

/** Writes "TAG BAD text" for a command whose arguments do not fit its grammar. */
void cmd_bad_arguments(struct session *s, const struct imap_command *cmd, const char *usage);

#endif
