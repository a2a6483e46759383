/*
 * Unit tests for src/crypto: value AEAD and its associated data, subkeys and
 * the key commitment, Argon2id bounds, base32 and key checksums. The
 * known-answer values here are the ones printed in vault-format/SPEC.md §8.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"

static void
assert_hex(const unsigned char *p, size_t n, const char *expected)
{
	char hex[2 * 1024 + 1];

	assert_true(n <= 1024);
	sodium_bin2hex(hex, sizeof(hex), p, n);
	assert_string_equal(hex, expected);
}

static double
elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1000.0 +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void
value_ad(struct envx_lp *ad, const unsigned char *vault_id, const char *env,
         const char *name, uint64_t version)
{
	envx_lp_init_ad(ad);
	envx_lp_str(ad, "envx-value-v1");
	envx_lp_bytes(ad, vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(ad, env);
	envx_lp_str(ad, name);
	envx_lp_u64(ad, version);
}

static void
test_crypto_aead_round_trip(void **state)
{
	unsigned char key[ENVX_KEY_BYTES];
	unsigned char vid[ENVX_VAULT_ID_BYTES];
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char nonce2[ENVX_NONCE_BYTES];
	unsigned char ct[64 + ENVX_TAG_BYTES];
	unsigned char ct2[64 + ENVX_TAG_BYTES];
	unsigned char pt[64];
	const char *msg = "postgres://u:p@h/db";
	size_t len = strlen(msg);
	struct envx_lp ad;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(vid, sizeof(vid));
	value_ad(&ad, vid, "staging", "DATABASE_URL", 1);
	assert_int_equal(envx_crypto_seal_value(key, &ad,
	                                        (const unsigned char *)msg, len,
	                                        nonce, ct, NULL),
	                 0);
	assert_int_equal(envx_crypto_open_value(key, &ad, nonce, ct,
	                                        len + ENVX_TAG_BYTES, pt),
	                 0);
	assert_memory_equal(pt, msg, len);

	/* a fresh nonce each time: the same value never repeats */
	assert_int_equal(envx_crypto_seal_value(key, &ad,
	                                        (const unsigned char *)msg, len,
	                                        nonce2, ct2, NULL),
	                 0);
	assert_memory_not_equal(nonce, nonce2, sizeof(nonce));
	assert_memory_not_equal(ct, ct2, len + ENVX_TAG_BYTES);

	/* the empty value is a bare tag */
	assert_int_equal(
	        envx_crypto_seal_value(key, &ad, NULL, 0, nonce, ct, NULL), 0);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, ENVX_TAG_BYTES, pt),
	        0);
	/* shorter than a tag */
	assert_int_equal(envx_crypto_open_value(key, &ad, nonce, ct,
	                                        ENVX_TAG_BYTES - 1, pt),
	                 ENVX_E_INTEGRITY);
}

static void
test_crypto_aead_every_flipped_bit_fails(void **state)
{
	unsigned char key[ENVX_KEY_BYTES];
	unsigned char vid[ENVX_VAULT_ID_BYTES];
	/* nonce || ciphertext || tag, flipped as one buffer */
	unsigned char blob[ENVX_NONCE_BYTES + 5 + ENVX_TAG_BYTES];
	unsigned char pt[5];
	struct envx_lp ad;
	size_t bit;
	size_t failures = 0;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(vid, sizeof(vid));
	value_ad(&ad, vid, "production", "TOKEN", 7);
	assert_int_equal(
	        envx_crypto_seal_value(key, &ad, (const unsigned char *)"hello",
	                               5, blob, blob + ENVX_NONCE_BYTES, NULL),
	        0);
	assert_int_equal(envx_crypto_open_value(key, &ad, blob,
	                                        blob + ENVX_NONCE_BYTES,
	                                        5 + ENVX_TAG_BYTES, pt),
	                 0);
	for (bit = 0; bit < sizeof(blob) * 8; bit++) {
		blob[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (envx_crypto_open_value(
		            key, &ad, blob, blob + ENVX_NONCE_BYTES,
		            5 + ENVX_TAG_BYTES, pt) == ENVX_E_INTEGRITY) {
			failures++;
		}
		blob[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	assert_int_equal(failures, sizeof(blob) * 8);
	/* and every bit of the associated data */
	failures = 0;
	for (bit = 0; bit < ad.len * 8; bit++) {
		ad.data[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (envx_crypto_open_value(
		            key, &ad, blob, blob + ENVX_NONCE_BYTES,
		            5 + ENVX_TAG_BYTES, pt) == ENVX_E_INTEGRITY) {
			failures++;
		}
		ad.data[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	assert_int_equal(failures, ad.len * 8);
}

static void
test_crypto_aead_other_name_env_version_or_vault_fails(void **state)
{
	unsigned char key[ENVX_KEY_BYTES];
	unsigned char vid[ENVX_VAULT_ID_BYTES];
	unsigned char vid2[ENVX_VAULT_ID_BYTES];
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char ct[3 + ENVX_TAG_BYTES];
	unsigned char pt[3];
	struct envx_lp ad;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(vid, sizeof(vid));
	memcpy(vid2, vid, sizeof(vid));
	vid2[0] ^= 1;
	value_ad(&ad, vid, "staging", "A", 2);
	assert_int_equal(envx_crypto_seal_value(key, &ad,
	                                        (const unsigned char *)"abc", 3,
	                                        nonce, ct, NULL),
	                 0);
	value_ad(&ad, vid, "staging", "B", 2);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt),
	        ENVX_E_INTEGRITY);
	value_ad(&ad, vid, "production", "A", 2);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt),
	        ENVX_E_INTEGRITY);
	value_ad(&ad, vid, "staging", "A", 1);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt),
	        ENVX_E_INTEGRITY);
	value_ad(&ad, vid2, "staging", "A", 2);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt),
	        ENVX_E_INTEGRITY);
	/* length prefixes: ("stag", "ingA") is not ("staging", "A") */
	value_ad(&ad, vid, "stag", "ingA", 2);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt),
	        ENVX_E_INTEGRITY);
	value_ad(&ad, vid, "staging", "A", 2);
	assert_int_equal(
	        envx_crypto_open_value(key, &ad, nonce, ct, sizeof(ct), pt), 0);
}

static void
test_crypto_ad_layout_is_length_prefixed(void **state)
{
	struct envx_lp ad;
	unsigned char vid[ENVX_VAULT_ID_BYTES];
	unsigned char big[1100];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vid); i++) {
		vid[i] = (unsigned char)(0xa0 + i);
	}
	value_ad(&ad, vid, "staging", "API_KEY", 2);
	assert_false(ad.overflow);
	assert_hex(ad.data, ad.len,
	           "0d00000000000000656e76782d76616c75652d7631"
	           "1000000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
	           "070000000000000073746167696e67"
	           "07000000000000004150495f4b4559"
	           "08000000000000000200000000000000");

	/* an AD that does not fit is marked and never opens anything */
	memset(big, 'x', sizeof(big));
	envx_lp_init_ad(&ad);
	envx_lp_bytes(&ad, big, sizeof(big));
	assert_true(ad.overflow);
	{
		unsigned char key[ENVX_KEY_BYTES] = {0};
		unsigned char nonce[ENVX_NONCE_BYTES] = {0};
		unsigned char ct[ENVX_TAG_BYTES] = {0};

		assert_int_equal(envx_crypto_open_value(key, &ad, nonce, ct,
		                                        sizeof(ct), NULL),
		                 ENVX_E_INTEGRITY);
	}
}

/* Sealing refuses an AD that overflowed, as opening does: a truncated AD
 * would bind less than VF-1.2 says, and nothing is written. */
static void
test_crypto_seal_refuses_overflowed_ad(void **state)
{
	static unsigned char big[2048];
	unsigned char key[ENVX_KEY_BYTES] = {0};
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char ct[5 + ENVX_TAG_BYTES];
	unsigned char untouched[sizeof(ct)];
	struct envx_error err = {0};
	struct envx_lp ad;

	(void)state;
	memset(big, 'x', sizeof(big));
	envx_lp_init_ad(&ad);
	envx_lp_str(&ad, "envx-value-v1");
	envx_lp_bytes(&ad, big, 1024 - 8 - 21 + 1); /* one byte too many */
	assert_true(ad.overflow);
	memset(ct, 0x5a, sizeof(ct));
	memcpy(untouched, ct, sizeof(ct));
	assert_int_equal(envx_crypto_seal_value(key, &ad,
	                                        (const unsigned char *)"hello",
	                                        5, nonce, ct, &err),
	                 ENVX_E_INTERNAL);
	assert_int_equal(err.code, ENVX_E_INTERNAL);
	assert_non_null(strstr(err.msg, "associated data"));
	assert_memory_equal(ct, untouched, sizeof(ct));

	/* exactly 1024 bytes still fits */
	envx_lp_init_ad(&ad);
	envx_lp_str(&ad, "envx-value-v1");
	envx_lp_bytes(&ad, big, 1024 - 8 - 21);
	assert_false(ad.overflow);
	assert_int_equal(ad.len, 1024);
	assert_int_equal(envx_crypto_seal_value(key, &ad,
	                                        (const unsigned char *)"hello",
	                                        5, nonce, ct, &err),
	                 0);
}

static void
test_crypto_subkeys_known_answer(void **state)
{
	unsigned char key[ENVX_KEY_BYTES];
	unsigned char salt[16] = {0};
	unsigned char personal[16] = {0};
	unsigned char sub[ENVX_KEY_BYTES];
	unsigned char commit[ENVX_HASH_BYTES];
	struct envx_env_subkeys *sk;
	size_t i;

	(void)state;
	sk = sodium_malloc(sizeof(*sk));
	assert_non_null(sk);
	for (i = 0; i < sizeof(key); i++) {
		key[i] = (unsigned char)i;
	}
	envx_crypto_subkeys(key, sk);
	assert_hex(sk->value, 32,
	           "39205eaba66e8fd42bf8f72e156d9ebc1b2c1e622fe387cfd2bda354c6"
	           "7dbd3f");
	assert_hex(sk->mac, 32,
	           "dacaeaf82ad74cd9874ca4bde13c7fe9c1dc832967577678a78707add8"
	           "8378d2");
	assert_hex(sk->commit, 32,
	           "235456c99adb65ed29a3e4658f51da19556a45604840cb7e75febeaed7"
	           "41d96f");

	/* VF-3.1 as a reader in another language would compute it:
	 * BLAKE2b-256(key = env key, salt = LE64(id) || 0^8, personal =
	 * "envx-env" || 0^8, message = empty). */
	memcpy(personal, "envx-env", 8);
	for (i = 1; i <= 3; i++) {
		salt[0] = (unsigned char)i;
		assert_int_equal(crypto_generichash_blake2b_salt_personal(
		                         sub, sizeof(sub), NULL, 0, key,
		                         sizeof(key), salt, personal),
		                 0);
		if (i == 1) {
			assert_memory_equal(sub, sk->value, 32);
		} else if (i == 2) {
			assert_memory_equal(sub, sk->mac, 32);
		}
	}
	/* VF-3.2: commitment = BLAKE2b-256 keyed with subkey 3 */
	crypto_generichash(commit, sizeof(commit),
	                   (const unsigned char *)"envx-key-commitment-v1", 22,
	                   sub, sizeof(sub));
	assert_memory_equal(commit, sk->commit, 32);

	/* a different key, a different commitment */
	key[31] ^= 1;
	envx_crypto_subkeys(key, sk);
	assert_memory_not_equal(commit, sk->commit, 32);
	sodium_free(sk);
}

static void
test_crypto_kdf_bounds(void **state)
{
	struct envx_kdf_params kp = {.t = 3, .m_kib = 65536, .p = 4};
	struct envx_kdf_params bad;
	struct envx_error err;

	(void)state;
	assert_int_equal(envx_kdf_check(&kp, &err), 0);
	kp = (struct envx_kdf_params){.t = 2, .m_kib = 19456, .p = 1};
	assert_int_equal(envx_kdf_check(&kp, &err), 0);
	kp = (struct envx_kdf_params){.t = 16, .m_kib = 1048576, .p = 16};
	assert_int_equal(envx_kdf_check(&kp, &err), 0);

	bad = (struct envx_kdf_params){.t = 1, .m_kib = 65536, .p = 4};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "weak"));
	bad = (struct envx_kdf_params){.t = 3, .m_kib = 19455, .p = 1};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	bad = (struct envx_kdf_params){.t = 3, .m_kib = 65536, .p = 0};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	bad = (struct envx_kdf_params){.t = 17, .m_kib = 65536, .p = 4};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "excessive"));
	bad = (struct envx_kdf_params){.t = 3, .m_kib = 1048577, .p = 4};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	bad = (struct envx_kdf_params){.t = 3, .m_kib = 65536, .p = 17};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
	bad = (struct envx_kdf_params){
	        .t = UINT32_MAX, .m_kib = UINT32_MAX, .p = UINT32_MAX};
	assert_int_equal(envx_kdf_check(&bad, &err), ENVX_E_INTEGRITY);
}

static void
test_crypto_kdf_refuses_before_deriving(void **state)
{
	struct envx_kdf_params kp;
	unsigned char key[ENVX_KEY_BYTES];
	struct envx_error err;
	struct timespec t0;

	(void)state;
	memset(&kp, 0, sizeof(kp));
	/* 4 TiB at t=1 would take hours, or fail to allocate: refused at
	 * once instead */
	kp.t = 1;
	kp.m_kib = UINT32_MAX;
	kp.p = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
	        envx_kdf_derive(&kp, (const unsigned char *)"pw", 2, key, &err),
	        ENVX_E_INTEGRITY);
	kp.t = 3;
	kp.m_kib = (1u << 30) + 1024;
	kp.p = 4;
	assert_int_equal(
	        envx_kdf_derive(&kp, (const unsigned char *)"pw", 2, key, &err),
	        ENVX_E_INTEGRITY);
	kp.t = 1;
	kp.m_kib = 8;
	kp.p = 1;
	assert_int_equal(
	        envx_kdf_derive(&kp, (const unsigned char *)"pw", 2, key, &err),
	        ENVX_E_INTEGRITY);
	assert_true(elapsed_ms(&t0) < 50.0);
}

static void
test_crypto_kdf_known_answer_and_encoding(void **state)
{
	struct envx_kdf_params kp = {.t = 2, .m_kib = 19456, .p = 1};
	struct envx_kdf_params back;
	unsigned char enc[ENVX_KDF_PARAMS_BYTES];
	unsigned char key[ENVX_KEY_BYTES];
	struct envx_error err;
	size_t i;

	(void)state;
	for (i = 0; i < ENVX_SALT_BYTES; i++) {
		kp.salt[i] = (unsigned char)i;
	}
	envx_kdf_encode(&kp, enc);
	assert_hex(enc, sizeof(enc),
	           "02000000004c000001000000000102030405060708090a0b0c0d0e0f");
	envx_kdf_decode(enc, &back);
	assert_int_equal(back.t, 2);
	assert_int_equal(back.m_kib, 19456);
	assert_int_equal(back.p, 1);
	assert_memory_equal(back.salt, kp.salt, ENVX_SALT_BYTES);
	assert_int_equal(envx_kdf_derive(&kp, (const unsigned char *)"envx", 4,
	                                 key, &err),
	                 0);
	assert_hex(key, sizeof(key),
	           "b8a65929fb7e0894f22d38b3c7294822a731c851d01f3c26b4bc4a5cbe"
	           "45b695");
}

static void
test_crypto_kdf_defaults_and_env_override(void **state)
{
	struct envx_kdf_params kp;
	struct envx_kdf_params kp2;
	struct envx_error err;

	(void)state;
	unsetenv("ENVX_KDF");
	assert_int_equal(envx_kdf_defaults(&kp, &err), 0);
	assert_int_equal(kp.t, 3);
	assert_int_equal(kp.m_kib, 65536);
	assert_int_equal(kp.p, 4);
	assert_int_equal(envx_kdf_defaults(&kp2, &err), 0);
	assert_memory_not_equal(kp.salt, kp2.salt, ENVX_SALT_BYTES);

	setenv("ENVX_KDF", "4,131072,2", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), 0);
	assert_int_equal(kp.t, 4);
	assert_int_equal(kp.m_kib, 131072);
	assert_int_equal(kp.p, 2);

	setenv("ENVX_KDF", "1,19456,1", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "3,2000000,4", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "3,65536", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "3,65536,4x", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	/* exactly three decimal numbers: no sign, no blank */
	setenv("ENVX_KDF", " 2,19456,1", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "+2,19456,1", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "2, 19456,1", 1);
	assert_int_equal(envx_kdf_defaults(&kp, &err), ENVX_E_USAGE);
	setenv("ENVX_KDF", "2,19456,1", 1);
}

static void
test_crypto_base32_round_trip(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} rfc4648[] = {
	        {"", ""},
	        {"f", "MY"},
	        {"fo", "MZXQ"},
	        {"foo", "MZXW6"},
	        {"foob", "MZXW6YQ"},
	        {"fooba", "MZXW6YTB"},
	        {"foobar", "MZXW6YTBOI"},
	};
	unsigned char in[64];
	unsigned char back[64];
	char text[128];
	size_t n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		n = strlen(rfc4648[i].in);
		envx_base32_encode((const unsigned char *)rfc4648[i].in, n,
		                   true, text);
		assert_string_equal(text, rfc4648[i].out);
		assert_int_equal(strlen(text), envx_base32_encoded_len(n));
	}
	for (n = 0; n <= sizeof(in); n++) {
		randombytes_buf(in, n);
		envx_base32_encode(in, n, n % 2 == 0, text);
		assert_int_equal(strlen(text), envx_base32_encoded_len(n));
		assert_int_equal(envx_base32_decode(text, strlen(text), back,
		                                    sizeof(back)),
		                 (ssize_t)n);
		assert_memory_equal(in, back, n);
		/* decoding ignores case */
		for (i = 0; text[i] != '\0'; i++) {
			if (text[i] >= 'a' && text[i] <= 'z') {
				text[i] = (char)(text[i] - 'a' + 'A');
			} else if (text[i] >= 'A' && text[i] <= 'Z') {
				text[i] = (char)(text[i] - 'A' + 'a');
			}
		}
		assert_int_equal(envx_base32_decode(text, strlen(text), back,
		                                    sizeof(back)),
		                 (ssize_t)n);
		assert_memory_equal(in, back, n);
	}
}

static void
test_crypto_base32_rejects_bad_input(void **state)
{
	unsigned char out[16];

	(void)state;
	/* not in the alphabet */
	assert_int_equal(envx_base32_decode("MZXW6YT0", 8, out, sizeof(out)),
	                 -1);
	assert_int_equal(envx_base32_decode("MZXW6YT1", 8, out, sizeof(out)),
	                 -1);
	assert_int_equal(envx_base32_decode("MZXW6YT8", 8, out, sizeof(out)),
	                 -1);
	/* padding is not part of the encoding */
	assert_int_equal(envx_base32_decode("MY======", 8, out, sizeof(out)),
	                 -1);
	/* lengths no byte string encodes to: 1, 3 and 6 characters */
	assert_int_equal(envx_base32_decode("M", 1, out, sizeof(out)), -1);
	assert_int_equal(envx_base32_decode("MZX", 3, out, sizeof(out)), -1);
	assert_int_equal(envx_base32_decode("MZXW6Y", 6, out, sizeof(out)), -1);
	/* non-zero trailing bits: "MZ" is not canonical for "f" */
	assert_int_equal(envx_base32_decode("MZ", 2, out, sizeof(out)), -1);
	/* output too small */
	assert_int_equal(envx_base32_decode("MZXW6YTBOI", 10, out, 5), -1);
	assert_int_equal(envx_base32_decode("MZXW6YTBOI", 10, out, 6), 6);
}

static void
test_crypto_key_checksum_known_answer(void **state)
{
	unsigned char payload[32];
	unsigned char sum[4];
	unsigned char h[32];
	crypto_generichash_state st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(payload); i++) {
		payload[i] = (unsigned char)i;
	}
	envx_key_checksum("envxpub1", payload, sizeof(payload), sum);
	assert_hex(sum, 4, "b6648003");
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)"envxpub1", 8);
	crypto_generichash_update(&st, payload, sizeof(payload));
	crypto_generichash_final(&st, h, sizeof(h));
	assert_memory_equal(sum, h, 4);
	/* the prefix is part of the checksum */
	envx_key_checksum("ENVX-SECRET-KEY-1-", payload, sizeof(payload), sum);
	assert_memory_not_equal(sum, h, 4);
}

/*
 * VF-1.2: the one length-prefixed encoder. Each case is a list of fields
 * and the exact bytes the spec fixes for them (SPEC §8); an AD writer must
 * produce those bytes and a hash writer their BLAKE2b-256, keyed or not.
 */
enum lp_kind { LP_END, LP_STR, LP_U64 };

struct lp_field {
	enum lp_kind kind;
	const char *s;
	uint64_t v;
};

static const struct {
	const char *what;
	struct lp_field f[4];
	const char *hex;
} lp_vectors[] = {
        {"empty string", {{LP_STR, "", 0}}, "0000000000000000"},
        {"string", {{LP_STR, "abc", 0}}, "0300000000000000616263"},
        {"integer", {{LP_U64, NULL, 5}}, "08000000000000000500000000000000"},
        {"integer -1 as u64 (VF-1.1)",
         {{LP_U64, NULL, UINT64_MAX}},
         "0800000000000000ffffffffffffffff"},
        {"(stag, ingA)",
         {{LP_STR, "stag", 0}, {LP_STR, "ingA", 0}},
         "0400000000000000737461670400000000000000696e6741"},
        {"(staging, A)",
         {{LP_STR, "staging", 0}, {LP_STR, "A", 0}},
         "070000000000000073746167696e67010000000000000041"},
        {"string, integer",
         {{LP_STR, "abc", 0}, {LP_U64, NULL, 5}},
         "030000000000000061626308000000000000000500000000000000"},
        {"no fields", {{LP_END, NULL, 0}}, ""},
};

static void
lp_put(struct envx_lp *w, const struct lp_field *f)
{
	for (; f->kind != LP_END; f++) {
		if (f->kind == LP_STR) {
			envx_lp_str(w, f->s);
		} else {
			envx_lp_u64(w, f->v);
		}
	}
}

static void
test_crypto_lp_vectors(void **state)
{
	unsigned char want[64];
	unsigned char h1[ENVX_HASH_BYTES];
	unsigned char h2[ENVX_HASH_BYTES];
	unsigned char key[ENVX_KEY_BYTES];
	struct envx_lp w;
	size_t wantlen;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++) {
		key[i] = (unsigned char)i;
	}
	for (i = 0; i < sizeof(lp_vectors) / sizeof(lp_vectors[0]); i++) {
		print_message("# %s\n", lp_vectors[i].what);
		assert_int_equal(sodium_hex2bin(want, sizeof(want),
		                                lp_vectors[i].hex,
		                                strlen(lp_vectors[i].hex), NULL,
		                                &wantlen, NULL),
		                 0);
		envx_lp_init_ad(&w);
		lp_put(&w, lp_vectors[i].f);
		assert_false(w.overflow);
		assert_hex(w.data, w.len, lp_vectors[i].hex);

		envx_lp_init_hash(&w, NULL, 0);
		lp_put(&w, lp_vectors[i].f);
		envx_lp_final(&w, h1);
		crypto_generichash(h2, sizeof(h2), want, wantlen, NULL, 0);
		assert_memory_equal(h1, h2, sizeof(h1));

		envx_lp_init_hash(&w, key, sizeof(key));
		lp_put(&w, lp_vectors[i].f);
		envx_lp_final(&w, h1);
		crypto_generichash(h2, sizeof(h2), want, wantlen, key,
		                   sizeof(key));
		assert_memory_equal(h1, h2, sizeof(h1));
	}
}

/* A hash writer's digest is BLAKE2b of the concatenated fields however
 * they fall against its buffer: many small ones, ones that straddle it, and
 * ones larger than it. The reference is VF-1.2 written out by hand. */
static void
test_crypto_lp_hash_any_split(void **state)
{
	static unsigned char data[9000];
	static unsigned char ref[60 * (8 + sizeof(data))];
	unsigned char a[ENVX_HASH_BYTES];
	unsigned char b[ENVX_HASH_BYTES];
	unsigned char key[ENVX_KEY_BYTES];
	struct envx_lp w;
	int round;
	int i;
	int k;

	(void)state;
	randombytes_buf(data, sizeof(data));
	randombytes_buf(key, sizeof(key));
	for (round = 0; round < 200; round++) {
		int nfields = 1 + (int)randombytes_uniform(60);
		size_t reflen = 0;

		envx_lp_init_hash(&w, key, sizeof(key));
		for (i = 0; i < nfields; i++) {
			/* mostly small fields, some near and past the buffer */
			uint32_t kind = randombytes_uniform(10);
			size_t n = kind < 7   ? randombytes_uniform(40)
			           : kind < 9 ? ENVX_LP_BUF_BYTES - 20 +
			                                randombytes_uniform(40)
			                      : randombytes_uniform(9000);

			for (k = 0; k < 8; k++) {
				ref[reflen++] = (unsigned char)(n >> (8 * k));
			}
			memcpy(ref + reflen, data, n);
			reflen += n;
			envx_lp_bytes(&w, data, n);
		}
		envx_lp_final(&w, a);
		crypto_generichash(b, sizeof(b), ref, reflen, key, sizeof(key));
		assert_memory_equal(a, b, sizeof(a));
	}
}

/* VF-3.4: h = BLAKE2b-256(lp(nonce) || lp(ciphertext)), SPEC §8. */
static void
test_crypto_ciphertext_hash_known_answer(void **state)
{
	static unsigned char big[3000];
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char ct[19];
	unsigned char h[ENVX_HASH_BYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] = (unsigned char)i;
	}
	for (i = 0; i < sizeof(ct); i++) {
		ct[i] = (unsigned char)(0x20 + i);
	}
	envx_crypto_ciphertext_hash(nonce, sizeof(nonce), ct, sizeof(ct), h);
	assert_hex(h, sizeof(h),
	           "1cbb47d3b6b3abae876f97d9253c4c16"
	           "d053e29c5b2248256707bfc9da8b2535");
	/* a ciphertext larger than the writer's buffer */
	memset(big, 'a', sizeof(big));
	envx_crypto_ciphertext_hash(nonce, sizeof(nonce), big, sizeof(big), h);
	assert_hex(h, sizeof(h),
	           "ed49465864a98f026e9439f0e3822809"
	           "c1a7d2259cb6d0640dfbee4bb8e7fac2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crypto_aead_round_trip),
	        cmocka_unit_test(test_crypto_aead_every_flipped_bit_fails),
	        cmocka_unit_test(
	                test_crypto_aead_other_name_env_version_or_vault_fails),
	        cmocka_unit_test(test_crypto_ad_layout_is_length_prefixed),
	        cmocka_unit_test(test_crypto_seal_refuses_overflowed_ad),
	        cmocka_unit_test(test_crypto_subkeys_known_answer),
	        cmocka_unit_test(test_crypto_kdf_bounds),
	        cmocka_unit_test(test_crypto_kdf_refuses_before_deriving),
	        cmocka_unit_test(test_crypto_kdf_known_answer_and_encoding),
	        cmocka_unit_test(test_crypto_kdf_defaults_and_env_override),
	        cmocka_unit_test(test_crypto_base32_round_trip),
	        cmocka_unit_test(test_crypto_base32_rejects_bad_input),
	        cmocka_unit_test(test_crypto_key_checksum_known_answer),
	        cmocka_unit_test(test_crypto_lp_vectors),
	        cmocka_unit_test(test_crypto_lp_hash_any_split),
	        cmocka_unit_test(test_crypto_ciphertext_hash_known_answer),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	setenv("ENVX_KDF", "2,19456,1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
