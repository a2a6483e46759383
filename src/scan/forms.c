/*
 * The encoded forms of a value that `envx scan` looks for (envx/scan.h).
 * Each encoder runs twice, once to size the caller's secure buffer and once
 * to fill it, through a cursor that only counts while it has no buffer.
 */
#include <string.h>

#include "envx/scan.h"
#include "envx/util.h"
#include "util/banned.h"

struct cursor {
	unsigned char *dst; /* NULL while sizing */
	size_t n;
	struct envx_scan_form *forms;
	size_t nforms;
};

static void
put(struct cursor *c, unsigned char b)
{
	if (c->dst != NULL) {
		c->dst[c->n] = b;
	}
	c->n++;
}

static void
puts_n(struct cursor *c, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		put(c, (unsigned char)s[i]);
	}
}

/* Keeps the form written from off on, unless it is too short or equals an
 * earlier one. */
static void
keep(struct cursor *c, int encoding, size_t off)
{
	size_t len = c->n - off;
	size_t i;

	if (c->dst == NULL || len < ENVX_SCAN_MIN_BYTES ||
	    c->nforms == ENVX_SCAN_FORMS_MAX) {
		return;
	}
	for (i = 0; i < c->nforms; i++) {
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

/*
 * The base64 characters made of the value's bits alone when it starts pre
 * bytes (0, 1 or 2) after a multiple of three inside an encoded stream. At
 * pre 0 this is the whole unpadded encoding but for a last character that
 * mixes in what follows: the value encoded on its own, padded or not, and
 * the value at the start of a longer stream all contain it.
 */
static void
base64_aligned(struct cursor *c, const unsigned char *v, size_t len, size_t pre,
               const char *alphabet)
{
	size_t first = (8 * pre + 5) / 6;
	size_t end = 8 * (pre + len) / 6;
	size_t j;

	for (j = first; j < end; j++) {
		size_t bit = 6 * j;
		size_t i = bit / 8;
		/* bytes i and i + 1 of the stream, the value's from pre on */
		unsigned hi = i >= pre && i - pre < len ? v[i - pre] : 0;
		unsigned lo =
		        i + 1 >= pre && i + 1 - pre < len ? v[i + 1 - pre] : 0;
		unsigned w = hi << 8 | lo;

		put(c, (unsigned char)alphabet[(w >> (10 - bit % 8)) & 63]);
	}
}

/* encodeURIComponent leaves these alone. */
static int
uri_unreserved(unsigned char b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
	       (b >= '0' && b <= '9') || strchr("-_.!~*'()", b) != NULL;
}

static void
url_form(struct cursor *c, const unsigned char *v, size_t len, const char *hex)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] != '\0' && uri_unreserved(v[i])) {
			put(c, v[i]);
		} else {
			put(c, '%');
			put(c, (unsigned char)hex[v[i] >> 4]);
			put(c, (unsigned char)hex[v[i] & 15]);
		}
	}
}

static void
json_u(struct cursor *c, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";

	puts_n(c, "\\u", 2);
	put(c, (unsigned char)hex[(u >> 12) & 15]);
	put(c, (unsigned char)hex[(u >> 8) & 15]);
	put(c, (unsigned char)hex[(u >> 4) & 15]);
	put(c, (unsigned char)hex[u & 15]);
}

/* A JSON string's body; with ascii, every byte outside space..'~' and every
 * non-ASCII character escaped (Python's json.dumps). Returns -1 when ascii
 * is asked for and v is not valid UTF-8 (nothing to write then). */
static int
json_form(struct cursor *c, const unsigned char *v, size_t len, int ascii)
{
	size_t i = 0;

	if (ascii) {
		while (i < len) {
			size_t n = v[i] < 0x80 ? 1 : envx_utf8_char_len(v + i);

			if (n == 0 || n > len - i) {
				return -1;
			}
			i += n;
		}
	}
	for (i = 0; i < len;) {
		unsigned char b = v[i];
		const char *esc = NULL;

		switch (b) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			break;
		}
		if (esc != NULL) {
			puts_n(c, esc, 2);
			i++;
		} else if (b < 0x20 || (ascii && b == 0x7f)) {
			json_u(c, b);
			i++;
		} else if (ascii && b >= 0x80) {
			size_t n = envx_utf8_char_len(v + i);
			uint32_t cp = envx_utf8_cp(v + i, n);

			if (cp > 0xFFFF) {
				cp -= 0x10000;
				json_u(c, 0xD800 | (cp >> 10));
				json_u(c, 0xDC00 | (cp & 0x3FF));
			} else {
				json_u(c, cp);
			}
			i += n;
		} else {
			put(c, b);
			i++;
		}
	}
	return 0;
}

size_t
envx_scan_forms(const unsigned char *v, size_t len, unsigned char *dst,
                struct envx_scan_form *forms, size_t *nforms)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                             "abcdefghijklmnopqrstuvwxyz0123456789-_";
	struct cursor c = {dst, 0, forms, 0};
	size_t off;
	size_t pre;
	size_t i;

	if (len < ENVX_SCAN_MIN_BYTES) {
		if (nforms != NULL) {
			*nforms = 0;
		}
		return 0;
	}
	off = c.n;
	for (i = 0; i < len; i++) {
		put(&c, v[i]);
	}
	keep(&c, ENVX_SCAN_RAW, off);
	for (pre = 0; pre < 3; pre++) {
		off = c.n;
		base64_aligned(&c, v, len, pre, b64);
		keep(&c, ENVX_SCAN_BASE64, off);
		off = c.n;
		base64_aligned(&c, v, len, pre, b64url);
		keep(&c, ENVX_SCAN_BASE64URL, off);
	}
	off = c.n;
	url_form(&c, v, len, "0123456789ABCDEF");
	keep(&c, ENVX_SCAN_URL, off);
	off = c.n;
	url_form(&c, v, len, "0123456789abcdef");
	keep(&c, ENVX_SCAN_URL_LOWER, off);
	off = c.n;
	json_form(&c, v, len, 0);
	keep(&c, ENVX_SCAN_JSON, off);
	off = c.n;
	if (json_form(&c, v, len, 1) == 0) {
		keep(&c, ENVX_SCAN_JSON_ASCII, off);
	}
	if (nforms != NULL) {
		*nforms = c.nforms;
	}
	return c.n;
}

const char *
envx_scan_encoding_name(int encoding)
{
	static const char *const names[ENVX_SCAN_NENCODINGS] = {
	        "raw",       "base64", "base64url",  "url",
	        "url-lower", "json",   "json-ascii",
	};

	if (encoding < 0 || encoding >= ENVX_SCAN_NENCODINGS) {
		return "?";
	}
	return names[encoding];
}
