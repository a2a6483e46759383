/*
 * Derives the encoded forms of a secret value that the redaction filter
 * searches for besides the value itself. Every encoder runs twice, once to
 * size the secure buffer and once to fill it, so it writes through one
 * small cursor that only counts when it has no buffer.
 */
#include <stdint.h>
#include <string.h>

#include "envx/util.h"
#include "exec/forms.h"
#include "util/banned.h"

/* GNU base64(1) and openssl wrap their output at 76 columns. */
#define WRAP_COLUMNS 76

struct cursor {
	unsigned char *dst; /* NULL while sizing */
	size_t n;
	struct envx_form *forms;
	size_t nforms;
	size_t min_len;
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
add_form(struct cursor *c, size_t off, size_t len)
{
	if (c->dst == NULL || len < c->min_len || c->nforms == ENVX_FORMS_MAX) {
		return;
	}
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
	int nl;
};

static unsigned
src_byte(const struct b64src *s, size_t i)
{
	if (i < s->pre) {
		return 0;
	}
	i -= s->pre;
	if (i < s->len) {
		return s->v[i];
	}
	/* past the end: the zero bits of a partial last group */
	return i == s->len && s->nl ? '\n' : 0;
}

static size_t
src_len(const struct b64src *s)
{
	return s->pre + s->len + (s->nl ? 1 : 0);
}

/* Character j of the unpadded base64 encoding of s. */
static unsigned char
b64_char(const struct b64src *s, size_t j)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                               "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t bit = 6 * j;
	size_t i = bit / 8;
	unsigned w = src_byte(s, i) << 8 | src_byte(s, i + 1);

	return (unsigned char)alphabet[(w >> (10 - bit % 8)) & 63];
}

/*
 * Writes the padded encoding of s, with a newline after every
 * WRAP_COLUMNS characters when wrap is set. Returns its length.
 */
static size_t
b64_full(struct cursor *c, const struct b64src *s, int wrap)
{
	size_t n = src_len(s);
	size_t chars = (8 * n + 5) / 6;
	size_t padded = 4 * ((n + 2) / 3);
	size_t start = c->n;
	size_t j;

	for (j = 0; j < padded; j++) {
		if (wrap && j > 0 && j % WRAP_COLUMNS == 0) {
			put(c, '\n');
		}
		put(c, j < chars ? b64_char(s, j) : '=');
	}
	return c->n - start;
}

static void
base64_forms(struct cursor *c, const unsigned char *v, size_t len)
{
	struct b64src s = {v, len, 0, 0};
	size_t pre;
	int nl;

	for (nl = 0; nl <= 1; nl++) {
		size_t off = c->n;
		size_t n = len + (size_t)nl;
		size_t padded;

		s.pre = 0;
		s.nl = nl;
		padded = b64_full(c, &s, 0);
		add_form(c, off, padded);
		/* unpadded (base64url-style, JWT segments) and, for the
		 * value alone, the characters that do not depend on what
		 * follows it inside a longer blob */
		add_form(c, off, (8 * n + 5) / 6);
		if (!nl) {
			add_form(c, off, 8 * n / 6);
		}
		if (padded > WRAP_COLUMNS) {
			off = c->n;
			add_form(c, off, b64_full(c, &s, 1));
		}
	}
	/* The value at offset 1 or 2 (mod 3) of a longer encoded blob: only
	 * the characters made of the value's bits alone. */
	for (pre = 1; pre <= 2; pre++) {
		size_t first = pre == 1 ? 2 : 3;
		size_t end = 8 * (pre + len) / 6;
		size_t off = c->n;
		size_t j;

		s.pre = pre;
		s.nl = 0;
		for (j = first; j < end; j++) {
			put(c, b64_char(&s, j));
		}
		add_form(c, off, c->n - off);
	}
}

static int
unreserved(unsigned char b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
	       (b >= '0' && b <= '9') || b == '-' || b == '.' || b == '_' ||
	       b == '~';
}

/* RFC 3986 percent-encoding; form encoding also turns spaces into '+'. */
static void
percent_form(struct cursor *c, const unsigned char *v, size_t len, int form)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t off = c->n;
	size_t i;

	for (i = 0; i < len; i++) {
		if (unreserved(v[i])) {
			put(c, v[i]);
		} else if (form && v[i] == ' ') {
			put(c, '+');
		} else {
			put(c, '%');
			put(c, (unsigned char)hex[v[i] >> 4]);
			put(c, (unsigned char)hex[v[i] & 15]);
		}
	}
	add_form(c, off, c->n - off);
}

/* A JSON string's contents as JSON.stringify and jq write them; PHP's
 * json_encode also escapes '/' (slash set). */
static void
json_form(struct cursor *c, const unsigned char *v, size_t len, int slash)
{
	static const char hex[] = "0123456789abcdef";
	size_t off = c->n;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char b = v[i];
		unsigned char e = 0;

		switch (b) {
		case '"':
		case '\\':
			e = b;
			break;
		case '/':
			e = slash ? '/' : 0;
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
			put(c, '\\');
			put(c, e);
		} else if (b < 0x20) {
			put(c, '\\');
			put(c, 'u');
			put(c, '0');
			put(c, '0');
			put(c, (unsigned char)hex[b >> 4]);
			put(c, (unsigned char)hex[b & 15]);
		} else {
			put(c, b);
		}
	}
	add_form(c, off, c->n - off);
}

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int
scheme_char(unsigned char b)
{
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
	       (b >= '0' && b <= '9') || b == '+' || b == '-' || b == '.';
}

/*
 * Finds the password of scheme://user:PASSWORD@host...: the authority ends
 * at the first '/', '?' or '#' after "://", the user information at its
 * last '@', the user name at the first ':'. Returns 0 when there is none.
 */
static int
url_password(const unsigned char *v, size_t len, size_t *start, size_t *plen)
{
	size_t i = 0;
	size_t a;
	size_t at = SIZE_MAX;
	size_t colon = SIZE_MAX;

	if (len == 0 ||
	    !((v[0] >= 'A' && v[0] <= 'Z') || (v[0] >= 'a' && v[0] <= 'z'))) {
		return 0;
	}
	while (i < len && scheme_char(v[i])) {
		i++;
	}
	if (len - i < 3 || memcmp(v + i, "://", 3) != 0) {
		return 0;
	}
	a = i + 3;
	for (i = a; i < len && v[i] != '/' && v[i] != '?' && v[i] != '#'; i++) {
		if (v[i] == '@') {
			at = i;
		}
	}
	if (at == SIZE_MAX) {
		return 0;
	}
	for (i = a; i < at; i++) {
		if (v[i] == ':') {
			colon = i;
			break;
		}
	}
	if (colon == SIZE_MAX) {
		return 0;
	}
	*start = colon + 1;
	*plen = at - colon - 1;
	return 1;
}

static void
password_forms(struct cursor *c, const unsigned char *v, size_t len)
{
	size_t ps;
	size_t pl;
	size_t off;
	size_t i;
	int escaped = 0;

	if (!url_password(v, len, &ps, &pl) || pl < c->min_len) {
		return;
	}
	off = c->n;
	for (i = 0; i < pl; i++) {
		put(c, v[ps + i]);
	}
	add_form(c, off, pl);
	/* what the program sees after decoding the URL */
	for (i = 0; i + 2 < pl; i++) {
		if (v[ps + i] == '%' && envx_hexval(v[ps + i + 1]) >= 0 &&
		    envx_hexval(v[ps + i + 2]) >= 0) {
			escaped = 1;
		}
	}
	if (!escaped) {
		return;
	}
	off = c->n;
	for (i = 0; i < pl; i++) {
		const unsigned char *p = v + ps + i;

		if (*p == '%' && i + 2 < pl && envx_hexval(p[1]) >= 0 &&
		    envx_hexval(p[2]) >= 0) {
			put(c, (unsigned char)(envx_hexval(p[1]) << 4 |
			                       envx_hexval(p[2])));
			i += 2;
		} else {
			put(c, *p);
		}
	}
	add_form(c, off, c->n - off);
}

size_t
envx_forms_derive(const unsigned char *v, size_t len, size_t min_len,
                  unsigned char *dst, struct envx_form *forms, size_t *nforms)
{
	struct cursor c = {dst, 0, forms, 0, min_len};

	base64_forms(&c, v, len);
	percent_form(&c, v, len, 0);
	if (memchr(v, ' ', len) != NULL) {
		percent_form(&c, v, len, 1);
	}
	json_form(&c, v, len, 0);
	if (memchr(v, '/', len) != NULL) {
		json_form(&c, v, len, 1);
	}
	password_forms(&c, v, len);
	if (nforms != NULL) {
		*nforms = c.nforms;
	}
	return c.n;
}
