/*
 * The encoded forms of a value that `envx scan` looks for (envx/scan.h),
 * written with the encoders of util/encode.h; each form keeps its encoding
 * so that a finding can name it.
 */

#include "envx/scan.h"
#include "util/banned.h"
#include "util/encode.h"

/* encodeURIComponent leaves letters, digits and these alone. */
#define URI_MARKS "-_.!~*'()"

/* Keeps what was written from off on as a form of encoding. */
static void
keep(struct envx_encode *c, int encoding, size_t off)
{
	envx_encode_keep(c, encoding, off, c->n - off);
}

size_t
envx_scan_forms(const unsigned char *v, size_t len, unsigned char *dst,
                struct envx_scan_form *forms, size_t *nforms)
{
	struct envx_form f[ENVX_SCAN_FORMS_MAX];
	struct envx_encode c = {
	        .dst = dst,
	        .forms = f,
	        .max_forms = ENVX_SCAN_FORMS_MAX,
	        .min_len = ENVX_SCAN_MIN_BYTES,
	        .unique = true,
	};
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
	envx_encode_bytes(&c, v, len);
	keep(&c, ENVX_SCAN_RAW, off);
	for (pre = 0; pre < 3; pre++) {
		off = c.n;
		envx_encode_base64_aligned(&c, v, len, pre, 0);
		keep(&c, ENVX_SCAN_BASE64, off);
		off = c.n;
		envx_encode_base64_aligned(&c, v, len, pre,
		                           ENVX_ENCODE_URLSAFE);
		keep(&c, ENVX_SCAN_BASE64URL, off);
	}
	off = c.n;
	envx_encode_percent(&c, v, len, URI_MARKS, 0);
	keep(&c, ENVX_SCAN_URL, off);
	off = c.n;
	envx_encode_percent(&c, v, len, URI_MARKS, ENVX_ENCODE_LOWER);
	keep(&c, ENVX_SCAN_URL_LOWER, off);
	off = c.n;
	(void)envx_encode_json(&c, v, len, 0);
	keep(&c, ENVX_SCAN_JSON, off);
	off = c.n;
	if (envx_encode_json(&c, v, len, ENVX_ENCODE_ASCII) == 0) {
		keep(&c, ENVX_SCAN_JSON_ASCII, off);
	}
	for (i = 0; i < c.nforms; i++) {
		forms[i].encoding = f[i].encoding;
		forms[i].off = f[i].off;
		forms[i].len = f[i].len;
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
