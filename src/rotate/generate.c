/*
 * New random values for `set --generate` and `rotate --generate`: each
 * character drawn uniformly from a named alphabet with libsodium's
 * randombytes_uniform (rejection sampling, so no modulo bias).
 */
#include <string.h>

#include <sodium.h>

#include "envx/rotate.h"
#include "util/banned.h"

static const struct {
	const char *name;
	const char *chars;
} charsets[] = {
        [ENVX_CHARSET_ALNUM] = {"alnum", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "abcdefghijklmnopqrstuvwxyz"
                                         "0123456789"},
        [ENVX_CHARSET_HEX] = {"hex", "0123456789abcdef"},
        [ENVX_CHARSET_BASE64URL] = {"base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "abcdefghijklmnopqrstuvwxyz"
                                                 "0123456789-_"},
        [ENVX_CHARSET_PRINTABLE] = {"printable",
                                    "!\"#$%&'()*+,-./0123456789:;<=>?@"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                    "abcdefghijklmnopqrstuvwxyz{|}~"},
};

#define NCHARSETS (sizeof(charsets) / sizeof(charsets[0]))

int
envx_charset_parse(const char *name, int *charset, struct envx_error *err)
{
	size_t i;

	for (i = 0; i < NCHARSETS; i++) {
		if (strcmp(name, charsets[i].name) == 0) {
			*charset = (int)i;
			return 0;
		}
	}
	return envx_error_set(err, ENVX_E_USAGE,
	                      "unknown charset '%.32s': expected alnum, hex, "
	                      "base64url or printable",
	                      name);
}

const char *
envx_charset_name(int charset)
{
	if (charset < 0 || (size_t)charset >= NCHARSETS) {
		return NULL;
	}
	return charsets[charset].name;
}

const char *
envx_charset_chars(int charset)
{
	if (charset < 0 || (size_t)charset >= NCHARSETS) {
		return NULL;
	}
	return charsets[charset].chars;
}

int
envx_generate(size_t len, int charset, struct envx_secbuf *out,
              struct envx_error *err)
{
	const char *chars = envx_charset_chars(charset);
	uint32_t n;
	size_t i;
	int r;

	out->data = NULL;
	if (chars == NULL || len == 0) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "cannot generate %zu characters of "
		                      "charset %d",
		                      len, charset);
	}
	n = (uint32_t)strlen(chars);
	r = envx_secbuf_init(out, len + 1, err);
	if (r < 0) {
		return r;
	}
	for (i = 0; i < len; i++) {
		out->data[i] = (unsigned char)chars[randombytes_uniform(n)];
	}
	out->len = len;
	out->data[len] = '\0';
	return 0;
}
