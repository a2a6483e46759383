/*
 * Derives the encoded forms of a secret value that the redaction filter
 * searches for besides the value itself, with the encoders of
 * util/encode.h. The forms carry no encoding id: every form of a value is
 * redacted with the value's name.
 */
#include <stdint.h>
#include <string.h>

#include "envx/util.h"
#include "exec/forms.h"
#include "util/banned.h"
#include "util/encode.h"

static void
add_form(struct envx_encode *c, size_t off, size_t len)
{
	envx_encode_keep(c, 0, off, len);
}

static void
base64_forms(struct envx_encode *c, const unsigned char *v, size_t len)
{
	size_t pre;
	int nl;

	for (nl = 0; nl <= 1; nl++) {
		unsigned flags = nl ? ENVX_ENCODE_NEWLINE : 0;
		size_t off = c->n;
		size_t n = len + (size_t)nl;
		size_t padded = envx_encode_base64(c, v, len, flags);

		add_form(c, off, padded);
		/* unpadded (base64url-style, JWT segments) and, for the
		 * value alone, the characters that do not depend on what
		 * follows it inside a longer blob */
		add_form(c, off, (8 * n + 5) / 6);
		if (!nl) {
			add_form(c, off, 8 * n / 6);
		}
		if (padded > ENVX_ENCODE_WRAP_COLUMNS) {
			off = c->n;
			add_form(c, off,
			         envx_encode_base64(c, v, len,
			                            flags | ENVX_ENCODE_WRAP));
		}
	}
	/* The value at offset 1 or 2 (mod 3) of a longer encoded blob: only
	 * the characters made of the value's bits alone. */
	for (pre = 1; pre <= 2; pre++) {
		size_t off = c->n;

		envx_encode_base64_aligned(c, v, len, pre, 0);
		add_form(c, off, c->n - off);
	}
}

/* RFC 3986 percent-encoding (unreserved: ALPHA DIGIT - . _ ~); form
 * encoding also turns spaces into '+'. */
static void
percent_form(struct envx_encode *c, const unsigned char *v, size_t len,
             unsigned flags)
{
	size_t off = c->n;

	envx_encode_percent(c, v, len, "-._~", flags);
	add_form(c, off, c->n - off);
}

/* A JSON string's contents as JSON.stringify and jq write them; PHP's
 * json_encode also escapes '/' (ENVX_ENCODE_SLASH). */
static void
json_form(struct envx_encode *c, const unsigned char *v, size_t len,
          unsigned flags)
{
	size_t off = c->n;

	(void)envx_encode_json(c, v, len, flags);
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
password_forms(struct envx_encode *c, const unsigned char *v, size_t len)
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
	envx_encode_bytes(c, v + ps, pl);
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
			envx_encode_put(c,
			                (unsigned char)(envx_hexval(p[1]) << 4 |
			                                envx_hexval(p[2])));
			i += 2;
		} else {
			envx_encode_put(c, *p);
		}
	}
	add_form(c, off, c->n - off);
}

size_t
envx_forms_derive(const unsigned char *v, size_t len, size_t min_len,
                  unsigned char *dst, struct envx_form *forms, size_t *nforms)
{
	struct envx_encode c = {
	        .dst = dst,
	        .forms = forms,
	        .max_forms = ENVX_FORMS_MAX,
	        .min_len = min_len,
	};

	base64_forms(&c, v, len);
	percent_form(&c, v, len, 0);
	if (memchr(v, ' ', len) != NULL) {
		percent_form(&c, v, len, ENVX_ENCODE_PLUS);
	}
	json_form(&c, v, len, 0);
	if (memchr(v, '/', len) != NULL) {
		json_form(&c, v, len, ENVX_ENCODE_SLASH);
	}
	password_forms(&c, v, len);
	if (nforms != NULL) {
		*nforms = c.nforms;
	}
	return c.n;
}
