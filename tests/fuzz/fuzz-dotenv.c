/*
 * libFuzzer harness for the dotenv parser and writers: any input must parse
 * without crashing under every flag combination, every pair the parser
 * returns that the dotenv writer accepts must read back byte for byte, and
 * the parsed set, sorted as `envx import` and `envx export` sort it, must
 * go through the shell and JSON writers (which refuse what they cannot
 * carry, never crash).
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz;
 * run: build-fuzz/tests/fuzz-dotenv tests/fuzz/corpus/dotenv.
 */
#include <stdbool.h>
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

	if (n == 0) {
		return 0; /* p may be NULL */
	}
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

/* Writes set as dotenv and reads it back: false when the writer refuses
 * the set; aborts unless every pair reads back, in order, byte for byte. */
static bool
reads_back(const struct envx_kvset *set, struct sink *out)
{
	struct envx_dotenv_result back;
	size_t i;

	out->len = 0;
	if (envx_dotenv_write(set, emit, out, NULL) < 0) {
		return false;
	}
	envx_dotenv_result_init(&back);
	if (envx_dotenv_parse((const char *)out->p, out->len, 0, &back, NULL) !=
	            0 ||
	    back.pairs.count != set->count) {
		abort();
	}
	for (i = 0; i < set->count; i++) {
		size_t len;
		size_t blen;
		const unsigned char *v = envx_kvset_value(set, i, &len);
		const unsigned char *bv =
		        envx_kvset_value(&back.pairs, i, &blen);

		if (blen != len || memcmp(bv, v, len) != 0 ||
		    strcmp(envx_kvset_name(&back.pairs, i),
		           envx_kvset_name(set, i)) != 0) {
			abort();
		}
	}
	envx_dotenv_result_release(&back);
	return true;
}

/*
 * The whole set at once (one file with every pair, as `envx export`
 * writes it), and when the writer refuses one of its values, each pair on
 * its own: every pair it accepts reads back.
 */
static void
round_trip(const struct envx_kvset *pairs)
{
	struct envx_kvset one;
	struct sink out = {0};
	size_t i;

	if (pairs->count == 0 || reads_back(pairs, &out)) {
		goto out;
	}
	for (i = 0; i < pairs->count; i++) {
		const char *name = envx_kvset_name(pairs, i);
		size_t len;
		const unsigned char *v = envx_kvset_value(pairs, i, &len);

		envx_kvset_init(&one);
		if (envx_kvset_add(&one, name, strlen(name), v, len, 0, NULL) ==
		    0) {
			(void)reads_back(&one, &out);
		}
		envx_kvset_release(&one);
	}
out:
	free(out.p);
}

/* What `envx export` does with a set: sort (last duplicate wins), then
 * write. The writers fail only as documented. */
static void
export_all(struct envx_kvset *pairs)
{
	struct sink out = {0};
	int r;

	envx_kvset_sort(pairs);
	r = envx_shell_write(pairs, emit, &out, NULL);
	if (r != 0 && r != ENVX_E_INPUT) {
		abort();
	}
	out.len = 0;
	r = envx_json_write(pairs, emit, &out, NULL);
	if (r != 0 && r != ENVX_E_INPUT) {
		abort();
	}
	out.len = 0;
	r = envx_dotenv_write(pairs, emit, &out, NULL);
	if (r != 0 && r != ENVX_E_INPUT) {
		abort();
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
			export_all(&r.pairs);
		}
		envx_dotenv_result_release(&r);
	}
	return 0;
}
