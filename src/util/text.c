/*
 * UTF-8 and the characters that hide or reorder text on a terminal: shared
 * by the printers that escape untrusted text and the checks that keep such
 * text out of labels and reasons.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/util.h"
#include "util/banned.h"

/* Length of the valid UTF-8 character at p (1-4), or 0 when p does not
 * start one (overlong forms, surrogates and values past U+10FFFF are not
 * valid). */
size_t
envx_utf8_char_len(const unsigned char *p)
{
	size_t n;
	size_t i;
	uint32_t cp;

	if (p[0] < 0x80) {
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0; /* also stops at the terminating NUL */
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
		return 0;
	}
	return n;
}

/* The code point of the valid n-byte UTF-8 character at p. */
uint32_t
envx_utf8_cp(const unsigned char *p, size_t n)
{
	uint32_t cp = n == 1 ? p[0] : (uint32_t)(p[0] & (0x7f >> n));
	size_t i;

	for (i = 1; i < n; i++) {
		cp = cp << 6 | (p[i] & 0x3f);
	}
	return cp;
}

/* C1 controls and the bidirectional controls that reorder what a terminal
 * or an editor shows (Trojan Source): never shown raw. */
bool
envx_hidden_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

bool
envx_text_plain(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n = envx_utf8_char_len(p);

		if (n == 0 || p[0] < 0x20 || p[0] == 0x7f ||
		    envx_hidden_control(envx_utf8_cp(p, n))) {
			return false;
		}
		p += n;
	}
	return true;
}

int
envx_hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

char *
envx_text_safe(const char *s, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}
