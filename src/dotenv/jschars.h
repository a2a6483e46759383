/*
 * JavaScript's idea of white space and line terminators, on UTF-8 bytes.
 * dotenv's regular expression uses \s, ^, $ and String.prototype.trim, which
 * all follow ECMAScript's sets, so envx must too (a BOM or a no-break space
 * is white space to dotenv). Private to src/dotenv.
 */
#ifndef ENVX_DOTENV_JSCHARS_H
#define ENVX_DOTENV_JSCHARS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length in bytes of a JS white-space or line-terminator character starting
 * at s[p] (0 if there is none before lim): TAB LF VT FF CR SP U+00A0 U+1680
 * U+2000..U+200A U+2028 U+2029 U+202F U+205F U+3000 U+FEFF.
 */
static inline size_t
js_space_len(const unsigned char *s, size_t p, size_t lim)
{
	unsigned char c;

	if (p >= lim) {
		return 0;
	}
	c = s[p];
	if (c == ' ' || (c >= '\t' && c <= '\r')) {
		return 1;
	}
	if (c == 0xc2) {
		return p + 1 < lim && s[p + 1] == 0xa0 ? 2 : 0;
	}
	if (p + 2 >= lim) {
		return 0;
	}
	if (c == 0xe1) {
		return s[p + 1] == 0x9a && s[p + 2] == 0x80 ? 3 : 0;
	}
	if (c == 0xe2) {
		if (s[p + 1] == 0x80) {
			unsigned char d = s[p + 2];

			return (d >= 0x80 && d <= 0x8a) || d == 0xa8 ||
			                       d == 0xa9 || d == 0xaf
			               ? 3
			               : 0;
		}
		return s[p + 1] == 0x81 && s[p + 2] == 0x9f ? 3 : 0;
	}
	if (c == 0xe3) {
		return s[p + 1] == 0x80 && s[p + 2] == 0x80 ? 3 : 0;
	}
	if (c == 0xef) {
		return s[p + 1] == 0xbb && s[p + 2] == 0xbf ? 3 : 0;
	}
	return 0;
}

/* Length of a JS white-space character ending just before s[b], not
 * reaching below a (0 if none). */
static inline size_t
js_space_len_back(const unsigned char *s, size_t a, size_t b)
{
	if (b > a && js_space_len(s, b - 1, b) == 1) {
		return 1;
	}
	if (b >= a + 2 && js_space_len(s, b - 2, b) == 2) {
		return 2;
	}
	if (b >= a + 3 && js_space_len(s, b - 3, b) == 3) {
		return 3;
	}
	return 0;
}

/* Length of a line terminator at s[p] once CRs are gone: LF, U+2028 or
 * U+2029 (0 if none before lim). */
static inline size_t
js_eol_len(const unsigned char *s, size_t p, size_t lim)
{
	if (p >= lim) {
		return 0;
	}
	if (s[p] == '\n') {
		return 1;
	}
	if (p + 2 < lim && s[p] == 0xe2 && s[p + 1] == 0x80 &&
	    (s[p + 2] == 0xa8 || s[p + 2] == 0xa9)) {
		return 3;
	}
	return 0;
}

/* True when a line terminator ends just before s[b], not below a. */
static inline bool
js_eol_before(const unsigned char *s, size_t a, size_t b)
{
	return (b > a && s[b - 1] == '\n') ||
	       (b >= a + 3 && js_eol_len(s, b - 3, b) == 3);
}

#endif
