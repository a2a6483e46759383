/*
 * The forms in which a secret value commonly reaches a program's output
 * besides its raw bytes: base64, percent-encoded, JSON-escaped, and the
 * password of a URL value. Private to the redaction filter.
 */
#ifndef ENVX_EXEC_FORMS_H
#define ENVX_EXEC_FORMS_H

#include <stddef.h>

#include "util/encode.h"

/* Upper bound on the number of forms of one value. */
#define ENVX_FORMS_MAX 16

/*
 * Derives the forms of the len-byte value v (see envx/redact.h for the list)
 * that are at least min_len bytes long. Call it twice: with dst NULL it only
 * returns the number of bytes the forms need; then with dst pointing at that
 * many bytes it writes them and fills forms[0 .. *nforms), at most
 * ENVX_FORMS_MAX entries, each an offset into dst and a length (their
 * encoding is 0: redaction does not tell forms apart; forms and nforms may be
 * NULL only when dst is).
 * Forms may share bytes (a shorter form can be a prefix of a longer one) and
 * may equal v or each other: the caller deduplicates. Returns the byte count,
 * which does not depend on dst.
 */
size_t envx_forms_derive(const unsigned char *v, size_t len, size_t min_len,
                         unsigned char *dst, struct envx_form *forms,
                         size_t *nforms);

#endif
