/*
 * libFuzzer harness for the dotenv parser and writer: any input must parse
 * without crashing under every flag combination, and every pair the parser
 * returns that the dotenv writer accepts must read back byte for byte.
 *
 * Build (from the source root) by giving clang this file, the .c files of
 * src/dotenv and src/util, -Iinclude -Isrc, the libsodium flags and
 * -fsanitize=fuzzer,address,undefined; docs/envx-dotenv.5.scd has the line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/dotenv.h"

struct sink {
	unsigned char *p;
	size_t len;
	size_t cap;
};

static int
emit(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (s->len + n > s->cap) {
		size_t ncap = (s->len + n) * 2;
		unsigned char *np = realloc(s->p, ncap);

		if (np == NULL) {
			return ENVX_E_INTERNAL;
		}
		s->p = np;
		s->cap = ncap;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

static void
round_trip(const struct envx_kvset *pairs)
{
	struct envx_kvset one;
	struct envx_dotenv_result back;
	struct sink out = {0};
	size_t i;

	for (i = 0; i < pairs->count; i++) {
		const char *name = envx_kvset_name(pairs, i);
		size_t len;
		size_t blen;
		const unsigned char *v = envx_kvset_value(pairs, i, &len);
		const unsigned char *bv;

		envx_kvset_init(&one);
		out.len = 0;
		if (envx_kvset_add(&one, name, strlen(name), v, len, 0, NULL) <
		            0 ||
		    envx_dotenv_write(&one, emit, &out, NULL) < 0) {
			envx_kvset_release(&one);
			continue;
		}
		envx_dotenv_result_init(&back);
		if (envx_dotenv_parse((const char *)out.p, out.len, 0, &back,
		                      NULL) != 0 ||
		    back.pairs.count != 1) {
			abort();
		}
		bv = envx_kvset_value(&back.pairs, 0, &blen);
		if (blen != len || memcmp(bv, v, len) != 0 ||
		    strcmp(envx_kvset_name(&back.pairs, 0), name) != 0) {
			abort();
		}
		envx_dotenv_result_release(&back);
		envx_kvset_release(&one);
	}
	free(out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flags[] = {
	        0,
	        ENVX_DOTENV_LENIENT,
	        ENVX_DOTENV_COMMENTED,
	        ENVX_DOTENV_LENIENT | ENVX_DOTENV_COMMENTED,
	};
	struct envx_dotenv_result r;
	size_t i;

	if (sodium_init() < 0) {
		abort();
	}
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		envx_dotenv_result_init(&r);
		(void)envx_dotenv_parse((const char *)data, size, flags[i], &r,
		                        NULL);
		if (i == 1) {
			round_trip(&r.pairs);
		}
		envx_dotenv_result_release(&r);
	}
	return 0;
}
