/*
 * Just enough JSON output for the control socket's answers: strings escaped the way RFC
 * 8259 wants them. Numbers, objects and arrays are plain buf_printf; only strings need
 * care, because user names and configuration errors may hold quotes, control characters
 * or bytes that are not UTF-8 (which JSON cannot carry: they become U+FFFD).
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include "util/buffer.h"

/** Appends @p s as a quoted JSON string; NULL is written as null. 0, or -1 out of memory. */
int json_string(struct buf *b, const char *s);

#endif
