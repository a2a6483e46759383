/*
 * libFuzzer harness for the identity key-text parser (VF-2.4, VF-2.1,
 * VF-2.2): any input must parse or fail cleanly, never crash or leak; an
 * identity it accepts must re-encode to text that parses to the same key.
 * Encrypted keys are first parsed with no way to ask for a passphrase (so
 * the fuzzer does not spend its time in Argon2id), and only when that
 * stops at "passphrase needed" with the passphrase the seed corpus uses.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz;
 * run: build-fuzz/tests/fuzz-identity tests/fuzz/corpus/identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/identity.h"

/* The passphrase of the protected identities in corpus/identity. */
#define SEED_PASSPHRASE "correct horse"

static int
ask(void *ctx, const char *prompt, struct envx_secbuf *out,
    struct envx_error *err)
{
	(void)ctx;
	(void)prompt;
	return envx_secbuf_append(out, SEED_PASSPHRASE, strlen(SEED_PASSPHRASE),
	                          err);
}

/* An accepted identity re-encodes (unprotected) to text that parses back
 * to the same key pair. */
static void
round_trip(const struct envx_identity *id)
{
	struct envx_identity *back = NULL;
	struct envx_secbuf text = {0};

	if (envx_identity_encode(id, NULL, 0, &text, NULL) < 0) {
		abort();
	}
	if (envx_identity_parse((const char *)text.data, text.len, "fuzz", NULL,
	                        NULL, &back, NULL) < 0 ||
	    memcmp(back->pk, id->pk, sizeof(id->pk)) != 0 ||
	    sodium_memcmp(back->sk, id->sk, crypto_box_SECRETKEYBYTES) != 0) {
		abort();
	}
	envx_identity_free(back);
	envx_secbuf_release(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envx_identity *id = NULL;
	struct envx_error err = {0};
	int r;

	if (sodium_init() < 0) {
		abort();
	}
	if (size > ENVX_IDENTITY_TEXT_MAX_BYTES) {
		return 0; /* envx never reads more than this */
	}
	r = envx_identity_parse((const char *)data, size, "fuzz", NULL, NULL,
	                        &id, &err);
	if (r == ENVX_E_LOCKED) {
		r = envx_identity_parse((const char *)data, size, "fuzz", ask,
		                        NULL, &id, &err);
	}
	if (r == 0) {
		if (id == NULL) {
			abort();
		}
		round_trip(id);
		envx_identity_free(id);
	} else if (r != ENVX_E_INPUT && r != ENVX_E_LOCKED &&
	           r != ENVX_E_INTEGRITY) {
		abort(); /* only these three are documented failures */
	}
	return 0;
}
