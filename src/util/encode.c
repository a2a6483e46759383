/*
 * The encoders both kinds of derived forms are written with (util/encode.h):
 * one cursor that counts while sizing and writes while filling, so a recipe
 * runs the same code twice and the two passes cannot disagree.
 */
#include <stdint.h>
#include <string.h>

#include "envx/util.h"
#include "util/banned.h"
#include "util/encode.h"

void
envx_encode_bytes(struct envx_encode *c, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		envx_encode_put(c, p[i]);
	}
}

void
envx_encode_keep(struct envx_encode *c, int encoding, size_t off, size_t len)
{
	size_t i;

	if (c->dst == NULL || len < c->min_len || c->nforms == c->max_forms) {
		return;
	}
	for (i = 0; c->unique && i < c->nforms; i++) {
		if (c->forms[i].len == len &&
		    memcmp(c->dst + c->forms[i].off, c->dst + off, len) == 0) {
			return;
		}
	}
	c->forms[c->nforms].encoding = encoding;
	c->forms[c->nforms].off = off;
	c->forms[c->nforms].len = len;
	c->nforms++;
}

/* The bytes being base64-encoded: pre unknown bytes (taken as zero), the
 * value, then a newline when nl is set (what `echo "$X" | base64` reads). */
struct b64src {
	const unsigned char *v;
	size_t len;
	size_t pre;
	bool nl;
	const char *alphabet;
};

static unsigned
src_byte(const struct b64src *s, size_t i)
{
	/* before the value, k wraps past len (one test for both ends: this
	 * runs for every character of every form) */
	size_t k = i - s->pre;

	if (k < s->len) {
		return s->v[k];
	}
	/* the newline, or the zero bits of a partial group at either end */
	return k == s->len && s->nl ? '\n' : 0;
}

/* Character j of the unpadded base64 encoding of s. */
static unsigned char
b64_char(const struct b64src *s, size_t j)
{
	size_t bit = 6 * j;
	size_t i = bit / 8;
	unsigned w = src_byte(s, i) << 8 | src_byte(s, i + 1);

	return (unsigned char)s->alphabet[(w >> (10 - bit % 8)) & 63];
}

static const char *
b64_alphabet(unsigned flags)
{
	return (flags & ENVX_ENCODE_URLSAFE) != 0
	               ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "abcdefghijklmnopqrstuvwxyz0123456789-_"
	               : "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "abcdefghijklmnopqrstuvwxyz0123456789+/";
}

size_t
envx_encode_base64(struct envx_encode *c, const unsigned char *v, size_t len,
                   unsigned flags)
{
	struct b64src s = {v, len, 0, (flags & ENVX_ENCODE_NEWLINE) != 0,
	                   b64_alphabet(flags)};
	size_t n = len + (s.nl ? 1 : 0);
	size_t chars = (8 * n + 5) / 6;
	size_t padded = 4 * ((n + 2) / 3);
	size_t start = c->n;
	size_t j;

	for (j = 0; j < padded; j++) {
		if ((flags & ENVX_ENCODE_WRAP) != 0 && j > 0 &&
		    j % ENVX_ENCODE_WRAP_COLUMNS == 0) {
			envx_encode_put(c, '\n');
		}
		envx_encode_put(c, j < chars ? b64_char(&s, j) : '=');
	}
	return c->n - start;
}

void
envx_encode_base64_aligned(struct envx_encode *c, const unsigned char *v,
                           size_t len, size_t pre, unsigned flags)
{
	struct b64src s = {v, len, pre, false, b64_alphabet(flags)};
	/* the first character with none of the bits before v, and the end
	 * of those with none of the bits after it */
	size_t first = (8 * pre + 5) / 6;
	size_t end = 8 * (pre + len) / 6;
	size_t j;

	for (j = first; j < end; j++) {
		envx_encode_put(c, b64_char(&s, j));
	}
}

void
envx_encode_percent(struct envx_encode *c, const unsigned char *v, size_t len,
                    const char *marks, unsigned flags)
{
	const char *hex = (flags & ENVX_ENCODE_LOWER) != 0 ? "0123456789abcdef"
	                                                   : "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char b = v[i];

		/* b != 0: strchr finds the terminator */
		if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
		    (b >= '0' && b <= '9') ||
		    (b != '\0' && strchr(marks, b) != NULL)) {
			envx_encode_put(c, b);
		} else if ((flags & ENVX_ENCODE_PLUS) != 0 && b == ' ') {
			envx_encode_put(c, '+');
		} else {
			envx_encode_put(c, '%');
			envx_encode_put(c, (unsigned char)hex[b >> 4]);
			envx_encode_put(c, (unsigned char)hex[b & 15]);
		}
	}
}

static void
json_u(struct envx_encode *c, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";

	envx_encode_put(c, '\\');
	envx_encode_put(c, 'u');
	envx_encode_put(c, (unsigned char)hex[(u >> 12) & 15]);
	envx_encode_put(c, (unsigned char)hex[(u >> 8) & 15]);
	envx_encode_put(c, (unsigned char)hex[(u >> 4) & 15]);
	envx_encode_put(c, (unsigned char)hex[u & 15]);
}

int
envx_encode_json(struct envx_encode *c, const unsigned char *v, size_t len,
                 unsigned flags)
{
	bool ascii = (flags & ENVX_ENCODE_ASCII) != 0;
	size_t i = 0;

	/* checked first, so that invalid input writes nothing */
	while (ascii && i < len) {
		size_t n = v[i] < 0x80 ? 1 : envx_utf8_char_len(v + i);

		if (n == 0 || n > len - i) {
			return -1;
		}
		i += n;
	}
	for (i = 0; i < len;) {
		unsigned char b = v[i];
		unsigned char e = 0;

		switch (b) {
		case '"':
		case '\\':
			e = b;
			break;
		case '/':
			e = (flags & ENVX_ENCODE_SLASH) != 0 ? '/' : 0;
			break;
		case '\b':
			e = 'b';
			break;
		case '\f':
			e = 'f';
			break;
		case '\n':
			e = 'n';
			break;
		case '\r':
			e = 'r';
			break;
		case '\t':
			e = 't';
			break;
		default:
			break;
		}
		if (e != 0) {
			envx_encode_put(c, '\\');
			envx_encode_put(c, e);
			i++;
		} else if (b < 0x20 || (ascii && b == 0x7f)) {
			json_u(c, b);
			i++;
		} else if (ascii && b >= 0x80) {
			size_t n = envx_utf8_char_len(v + i);
			uint32_t cp = envx_utf8_cp(v + i, n);

			/* past U+FFFF: a UTF-16 surrogate pair */
			if (cp > 0xFFFF) {
				cp -= 0x10000;
				json_u(c, 0xD800 | (cp >> 10));
				json_u(c, 0xDC00 | (cp & 0x3FF));
			} else {
				json_u(c, cp);
			}
			i += n;
		} else {
			envx_encode_put(c, b);
			i++;
		}
	}
	return 0;
}
