/*
 * Streaming redaction of secret values: one automaton built over every value
 * of a set, and any number of independent streams (one per output fd) that
 * replace each occurrence with "[redacted:NAME]", also when an occurrence is
 * split across feeds.
 *
 * What is redacted, for every value of ENVX_REDACT_MIN_BYTES (4) bytes or
 * more, each form labelled with the value's name:
 * - the value itself, as raw bytes (binary-safe, case-sensitive);
 * - its standard base64 encoding (RFC 4648 alphabet), padded and unpadded,
 *   also of the value followed by a newline (`echo "$X" | base64`), also
 *   wrapped at 76 columns as base64(1) prints it when longer than that;
 * - the value inside a longer base64 blob, at each of the three offsets
 *   (mod 3) it can start at: the characters made of the value's bits alone
 *   (the character at each end that mixes in a neighbouring byte is left);
 * - its percent-encoding (RFC 3986: every byte but A-Z a-z 0-9 - . _ ~ as
 *   upper-case %XX) and its form encoding (the same, with '+' for space);
 * - its JSON-escaped form without the quotes, as JSON.stringify and jq write
 *   it (\" \\ \b \f \n \r \t, \u00xx for other control bytes, other
 *   bytes unchanged), and the same with '/' written as \/;
 * - for a URL value, scheme://user:PASSWORD@host..., the password alone,
 *   as written and percent-decoded, when it is at least
 *   ENVX_REDACT_MIN_BYTES long.
 * Not covered: other encodings (hex, base64url's -_ alphabet, lower-case
 * %xx, \uXXXX for non-ASCII, shell quoting), forms of the URL password
 * beyond those two, and values under ENVX_REDACT_MIN_BYTES in any form:
 * redacting "1" or "on" would mangle all output and protect nothing, so
 * callers should say which names are left (envx exec does, on stderr).
 * Identical patterns (two names with the same value, or a form equal to a
 * value) form one pattern labelled with the name of the first pair in the
 * set.
 *
 * Which label is printed where (leftmost-longest, with overlap coverage):
 * the stream is scanned left to right from the first undecided byte `cur`.
 * Among all occurrences that end at or after `cur`, the one with the smallest
 * effective start max(start, cur) is chosen; among those, the one ending
 * last; among those, the one starting first (the longest value).
 * Bytes from cur to the effective start are copied, the bytes of the chosen
 * occurrence from its effective start to its end are replaced by its label,
 * and cur moves past its end. For non-overlapping occurrences this is plain
 * leftmost-longest matching ("secret" inside "secretpassword" shows one label
 * for the longer value). It differs from textbook non-overlapping matching in
 * one deliberate way: when a later occurrence overlaps the end of a chosen
 * one, its remaining bytes get their own label instead of being printed, so
 * no byte of any occurrence of any value ever reaches the output. Example:
 * values A="abcd", B="bcdefgh", text "abcdefgh" gives
 * "[redacted:A][redacted:B]".
 *
 * A stream holds back at most the longest pattern's length in bytes: only
 * the bytes that could still be the beginning of an occurrence. Held bytes
 * are kept in sodium_malloc memory. At finish, a dangling prefix of a value is
 * written unchanged (it is not a value).
 */
#ifndef ENVX_REDACT_H
#define ENVX_REDACT_H

#include <stddef.h>

#include "envx/error.h"
#include "envx/util.h"

/* Values shorter than this are never redacted, in no form. */
#define ENVX_REDACT_MIN_BYTES 4

/* Output callback: returns 0 or a negative ENVX_E_* code, which stops the
 * stream and is returned to the caller. The same definition is guarded in
 * envx/dotenv.h. */
#ifndef ENVX_EMIT_FN_DEFINED
#define ENVX_EMIT_FN_DEFINED
typedef int (*envx_emit_fn)(void *ctx, const void *p, size_t n);
#endif

/* The automaton, read-only after construction; may be shared by streams. */
struct envx_redact;
/* The state of one output stream. */
struct envx_redact_stream;

/*
 * Builds the automaton over every value in secrets of at least
 * ENVX_REDACT_MIN_BYTES bytes and its forms (secrets may be NULL or empty:
 * the filter then passes everything through). secrets is only read during
 * the call. The forms and the automaton's tables reveal the values, so they
 * live in sodium_malloc memory: the forms are wiped before returning, the
 * tables by envx_redact_free. On success *out is a new object owned by
 * the caller; returns 0, or ENVX_E_INTERNAL (out of memory) with err filled
 * (err may be NULL).
 */
int envx_redact_new(struct envx_redact **out, const struct envx_kvset *secrets,
                    struct envx_error *err);

/* Wipes and frees the automaton; accepts NULL. Free every stream first. */
void envx_redact_free(struct envx_redact *r);

/* Number of distinct values the automaton redacts, not counting their forms
 * (r non-NULL). */
size_t envx_redact_count(const struct envx_redact *r);

/*
 * Creates the state of one stream over r. r must outlive the stream. Returns 0
 * and a caller-owned *out, or ENVX_E_INTERNAL with err filled (may be NULL).
 */
int envx_redact_stream_new(struct envx_redact_stream **out,
                           const struct envx_redact *r, struct envx_error *err);

/* Wipes (held bytes are possibly secret) and frees; accepts NULL. */
void envx_redact_stream_free(struct envx_redact_stream *s);

/*
 * Filters len bytes of data (data may be NULL when len is 0) for stream s
 * built over r, calling emit(ctx, ...) zero or more times with filtered
 * output, in order. Output pointers are valid only during the call. Returns
 * 0, or the first negative code emit returned; the stream must then not be
 * fed again. Never allocates.
 */
int envx_redact_feed(const struct envx_redact *r, struct envx_redact_stream *s,
                     const void *data, size_t len, envx_emit_fn emit,
                     void *ctx);

/*
 * Ends stream s: decides every pending occurrence, writes the held-back bytes
 * (a dangling prefix of a value is written unchanged) and resets s so it can
 * start a new stream. Returns 0 or emit's negative code.
 */
int envx_redact_finish(const struct envx_redact *r,
                       struct envx_redact_stream *s, envx_emit_fn emit,
                       void *ctx);

#endif
