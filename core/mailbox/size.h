/*
 * The size of a mailbox for STATUS=SIZE (RFC 8438): the sum of its messages' RFC822.SIZE,
 * which counts line ends as CRLF (the form IMAP sends), so it always equals what a client
 * adding up FETCH RFC822.SIZE gets, as the RFC asks (at least that sum).
 *
 * Sizes come from the index, where FETCH caches them. A message whose size is not cached yet
 * (new mail, an APPEND) is read once through the storage, in chunks, counting the bare LFs
 * that would become CRLF; nothing is parsed and no message is held in memory. The sizes
 * found that way are written back to the index, so the next STATUS SIZE reads no file.
 */
#ifndef SLUICE_MAILBOX_SIZE_H
#define SLUICE_MAILBOX_SIZE_H

#include <stdint.h>

#include "mailbox/mailbox.h"

/**
 * Adds up the RFC822.SIZE of every message in @p box's view.
 * @param[out] size_r the total
 * @return 0; a negative code with err filled (an index or storage failure). A message whose
 *         file vanished since the view was made counts 0.
 * Worker thread; uses a read transaction, and a short write transaction when sizes were
 * computed.
 */
int mailbox_total_size(struct mailbox *box, uint64_t *size_r, struct sluice_error *err);

#endif
