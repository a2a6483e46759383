/*
 * The encoders behind the encoded forms of a secret value that the redaction
 * filter (exec/forms.h) and `envx scan` (envx/scan.h) look for: base64 at any
 * alignment, percent-encoding and JSON escaping, written through a cursor
 * that keeps a list of forms. Private to the library.
 */
#ifndef ENVX_UTIL_ENCODE_H
#define ENVX_UTIL_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

/* One form: len bytes at off in the cursor's buffer, and the caller's id of
 * its encoding (enum envx_scan_encoding for scan; redaction ignores it). */
struct envx_form {
	int encoding;
	size_t off;
	size_t len;
};

/*
 * Every recipe runs twice, once with dst NULL to size the caller's secure
 * buffer and once to fill it: the cursor only counts while it has no buffer,
 * and keeps no form then. Caller-owned, set up with a designated initializer.
 */
struct envx_encode {
	unsigned char *dst;      /* NULL while sizing */
	size_t n;                /* bytes written (or counted) so far */
	struct envx_form *forms; /* max_forms entries; NULL while sizing */
	size_t nforms;
	size_t max_forms;
	size_t min_len; /* shorter forms are not kept */
	bool unique;    /* nor, when set, one equal to a form kept earlier */
};

/* GNU base64(1) and openssl wrap base64 at 76 columns (ENVX_ENCODE_WRAP). */
#define ENVX_ENCODE_WRAP_COLUMNS 76

enum envx_encode_flag {
	ENVX_ENCODE_URLSAFE = 1 << 0, /* base64: - and _ (RFC 4648 §5) */
	ENVX_ENCODE_NEWLINE = 1 << 1, /* base64: of the bytes and a '\n' */
	ENVX_ENCODE_WRAP = 1 << 2,    /* base64: wrapped, as base64(1) prints */
	ENVX_ENCODE_LOWER = 1 << 3,   /* percent: lower-case hex digits */
	ENVX_ENCODE_PLUS = 1 << 4,    /* percent: '+' for space (HTML forms) */
	ENVX_ENCODE_SLASH = 1 << 5,   /* JSON: '/' as \/ (PHP) */
	ENVX_ENCODE_ASCII = 1 << 6,   /* JSON: DEL, non-ASCII as \uXXXX */
};

/* Writes one byte (inline: every encoder calls it for each byte). */
static inline void
envx_encode_put(struct envx_encode *c, unsigned char b)
{
	if (c->dst != NULL) {
		c->dst[c->n] = b;
	}
	c->n++;
}

/* Writes the n bytes at p. */
void envx_encode_bytes(struct envx_encode *c, const unsigned char *p, size_t n);

/*
 * Keeps the len bytes at off (written earlier through c) as a form of the
 * given encoding, unless c is sizing, len is under c->min_len, c->max_forms
 * are kept already, or c->unique is set and an equal form is kept.
 */
void envx_encode_keep(struct envx_encode *c, int encoding, size_t off,
                      size_t len);

/*
 * Writes the padded standard base64 encoding of the len bytes at v
 * (flags: ENVX_ENCODE_NEWLINE, ENVX_ENCODE_WRAP). Returns the number of bytes
 * written.
 */
size_t envx_encode_base64(struct envx_encode *c, const unsigned char *v,
                          size_t len, unsigned flags);

/*
 * Writes the base64 characters made of the bits of the len bytes at v alone
 * when they start pre bytes (0, 1 or 2) after a multiple of three inside a
 * longer encoded stream (flags: ENVX_ENCODE_URLSAFE). At pre 0 this is the
 * unpadded encoding of v but for a last character that mixes in what
 * follows.
 */
void envx_encode_base64_aligned(struct envx_encode *c, const unsigned char *v,
                                size_t len, size_t pre, unsigned flags);

/*
 * Writes the percent-encoding of the len bytes at v: letters, digits and the
 * bytes of marks (a string) unchanged, every other byte (NUL included) as
 * %XX (flags: ENVX_ENCODE_LOWER, ENVX_ENCODE_PLUS).
 */
void envx_encode_percent(struct envx_encode *c, const unsigned char *v,
                         size_t len, const char *marks, unsigned flags);

/*
 * Writes the body of a JSON string holding the len bytes at v as
 * JSON.stringify and jq write it (\" \\ \b \f \n \r \t, \u00xx for other
 * control bytes, other bytes unchanged; flags: ENVX_ENCODE_SLASH,
 * ENVX_ENCODE_ASCII). Returns 0; with ENVX_ENCODE_ASCII, -1 when v is not
 * valid UTF-8 (nothing is written then), and v[len] must be readable and NUL:
 * decoding stops there.
 */
int envx_encode_json(struct envx_encode *c, const unsigned char *v, size_t len,
                     unsigned flags);

#endif
