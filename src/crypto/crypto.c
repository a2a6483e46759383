/*
 * The vault's cryptographic primitives, all from libsodium except Argon2id,
 * which comes from libargon2 because libsodium's implementation is
 * single-lane. Every function here is deterministic given its inputs except
 * for the nonces and salts drawn from randombytes_buf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "crypto/crypto.h"
#include "util/banned.h"

static void
le64(unsigned char out[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++) {
		out[i] = (unsigned char)(v >> (8 * i));
	}
}

void
envx_lp_init_ad(struct envx_lp *w)
{
	w->len = 0;
	w->cap = ENVX_AD_MAX_BYTES;
	w->overflow = false;
	w->hashing = false;
}

void
envx_lp_init_hash(struct envx_lp *w, const unsigned char *key, size_t keylen)
{
	w->len = 0;
	w->cap = sizeof(w->data);
	w->overflow = false;
	w->hashing = true;
	crypto_generichash_init(&w->st, key, keylen, ENVX_HASH_BYTES);
}

/* A hash writer only: raw bytes through the buffer, or straight into
 * BLAKE2b when they would not fit in it. */
static void
lp_raw(struct envx_lp *w, const void *p, size_t n)
{
	if (n > w->cap - w->len) {
		crypto_generichash_update(&w->st, w->data, w->len);
		w->len = 0;
		if (n >= w->cap) {
			crypto_generichash_update(&w->st, p, n);
			return;
		}
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

/* VF-1.2 */
void
envx_lp_bytes(struct envx_lp *w, const void *p, size_t n)
{
	unsigned char prefix[8];

	if (w->overflow) {
		return;
	}
	if (w->len <= w->cap - 8 && n <= w->cap - 8 - w->len) {
		/* the common case: prefix and field both fit */
		le64(w->data + w->len, (uint64_t)n);
		if (n > 0) {
			memcpy(w->data + w->len + 8, p, n);
		}
		w->len += 8 + n;
		return;
	}
	if (!w->hashing) {
		w->overflow = true;
		return;
	}
	le64(prefix, (uint64_t)n);
	lp_raw(w, prefix, sizeof(prefix));
	if (n > 0) {
		lp_raw(w, p, n);
	}
}

void
envx_lp_str(struct envx_lp *w, const char *s)
{
	envx_lp_bytes(w, s, strlen(s));
}

void
envx_lp_u64(struct envx_lp *w, uint64_t v)
{
	unsigned char b[8];

	le64(b, v);
	envx_lp_bytes(w, b, sizeof(b));
}

void
envx_lp_final(struct envx_lp *w, unsigned char out[ENVX_HASH_BYTES])
{
	if (w->len > 0) {
		crypto_generichash_update(&w->st, w->data, w->len);
	}
	crypto_generichash_final(&w->st, out, ENVX_HASH_BYTES);
	w->len = 0;
}

/* VF-3.4 */
void
envx_crypto_ciphertext_hash(const void *nonce, size_t nlen, const void *ct,
                            size_t ctlen, unsigned char out[ENVX_HASH_BYTES])
{
	struct envx_lp w;

	envx_lp_init_hash(&w, NULL, 0);
	envx_lp_bytes(&w, nonce, nlen);
	envx_lp_bytes(&w, ct, ctlen);
	envx_lp_final(&w, out);
}

/* VF-3.1: subkey i = crypto_kdf_derive_from_key(32, i, "envx-env", key). */
void
envx_crypto_subkeys(const unsigned char env_key[ENVX_KEY_BYTES],
                    struct envx_env_subkeys *out)
{
	unsigned char ck[ENVX_KEY_BYTES];

	crypto_kdf_derive_from_key(out->value, sizeof(out->value), 1,
	                           "envx-env", env_key);
	crypto_kdf_derive_from_key(out->mac, sizeof(out->mac), 2, "envx-env",
	                           env_key);
	crypto_kdf_derive_from_key(ck, sizeof(ck), 3, "envx-env", env_key);
	crypto_generichash(out->commit, sizeof(out->commit),
	                   (const unsigned char *)"envx-key-commitment-v1", 22,
	                   ck, sizeof(ck));
	sodium_memzero(ck, sizeof(ck));
}

int
envx_crypto_seal_value(const unsigned char key[ENVX_KEY_BYTES],
                       const struct envx_lp *ad, const unsigned char *pt,
                       size_t ptlen, unsigned char nonce[ENVX_NONCE_BYTES],
                       unsigned char *ct, struct envx_error *err)
{
	if (!ad->overflow) {
		randombytes_buf(nonce, ENVX_NONCE_BYTES);
	}
	return envx_crypto_seal_value_with(key, ad, pt, ptlen, nonce, ct, err);
}

int
envx_crypto_seal_value_with(const unsigned char key[ENVX_KEY_BYTES],
                            const struct envx_lp *ad, const unsigned char *pt,
                            size_t ptlen,
                            const unsigned char nonce[ENVX_NONCE_BYTES],
                            unsigned char *ct, struct envx_error *err)
{
	/* VF-1.2: an AD that cannot be built binds nothing; opening refuses
	 * it too, so sealing under it would only write an unreadable value */
	if (ad->overflow) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot encrypt: associated data longer "
		                      "than %zu bytes",
		                      sizeof(ad->data));
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	        ct, NULL, pt, ptlen, ad->data, ad->len, NULL, nonce, key);
	return 0;
}

int
envx_crypto_open_value(const unsigned char key[ENVX_KEY_BYTES],
                       const struct envx_lp *ad,
                       const unsigned char nonce[ENVX_NONCE_BYTES],
                       const unsigned char *ct, size_t ctlen, unsigned char *pt)
{
	if (ad->overflow || ctlen < ENVX_TAG_BYTES ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct,
	                                               ctlen, ad->data, ad->len,
	                                               nonce, key) != 0) {
		return ENVX_E_INTEGRITY;
	}
	return 0;
}

int
envx_kdf_check(const struct envx_kdf_params *kp, struct envx_error *err)
{
	if (kp->t < ENVX_KDF_T_MIN || kp->m_kib < ENVX_KDF_M_MIN ||
	    kp->p < ENVX_KDF_P_MIN) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "refusing weak key-derivation parameters "
		                      "(t=%u, m=%u KiB, p=%u): the floor is "
		                      "t=%d, m=%d KiB, p=%d",
		                      kp->t, kp->m_kib, kp->p, ENVX_KDF_T_MIN,
		                      ENVX_KDF_M_MIN, ENVX_KDF_P_MIN);
	}
	if (kp->t > ENVX_KDF_T_MAX || kp->m_kib > ENVX_KDF_M_MAX ||
	    kp->p > ENVX_KDF_P_MAX || kp->m_kib < 8 * kp->p) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "refusing excessive key-derivation "
		                      "parameters (t=%u, m=%u KiB, p=%u): the "
		                      "ceiling is t=%d, m=%d KiB, p=%d",
		                      kp->t, kp->m_kib, kp->p, ENVX_KDF_T_MAX,
		                      ENVX_KDF_M_MAX, ENVX_KDF_P_MAX);
	}
	return 0;
}

int
envx_kdf_defaults(struct envx_kdf_params *kp, struct envx_error *err)
{
	const char *over = getenv("ENVX_KDF");
	unsigned t, m, p;
	char extra;
	int r;

	kp->t = ENVX_KDF_T_DEFAULT;
	kp->m_kib = ENVX_KDF_M_DEFAULT;
	kp->p = ENVX_KDF_P_DEFAULT;
	if (over != NULL && *over != '\0') {
		/* exactly three decimal numbers: sscanf alone would take
		 * " 2", "+2" or "2, 19456" */
		if (strspn(over, "0123456789,") != strlen(over) ||
		    over[0] == ',' || strstr(over, ",,") != NULL ||
		    sscanf(over, "%u,%u,%u%c", &t, &m, &p, &extra) != 3) {
			return envx_error_set(err, ENVX_E_USAGE,
			                      "invalid ENVX_KDF '%.40s': "
			                      "expected t,m_kib,p",
			                      over);
		}
		kp->t = t;
		kp->m_kib = m;
		kp->p = p;
		r = envx_kdf_check(kp, err);
		if (r < 0) {
			if (err != NULL) {
				err->code = ENVX_E_USAGE;
			}
			return ENVX_E_USAGE;
		}
	}
	randombytes_buf(kp->salt, sizeof(kp->salt));
	return 0;
}

int
envx_kdf_derive(const struct envx_kdf_params *kp, const unsigned char *pass,
                size_t passlen, unsigned char key[ENVX_KEY_BYTES],
                struct envx_error *err)
{
	int r;

	r = envx_kdf_check(kp, err);
	if (r < 0) {
		return r;
	}
	r = argon2id_hash_raw(kp->t, kp->m_kib, kp->p, pass, passlen, kp->salt,
	                      sizeof(kp->salt), key, ENVX_KEY_BYTES);
	if (r != ARGON2_OK) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "argon2id failed: %s",
		                      argon2_error_message(r));
	}
	return 0;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void
envx_kdf_encode(const struct envx_kdf_params *kp,
                unsigned char out[ENVX_KDF_PARAMS_BYTES])
{
	put32(out, kp->t);
	put32(out + 4, kp->m_kib);
	put32(out + 8, kp->p);
	memcpy(out + 12, kp->salt, ENVX_SALT_BYTES);
}

void
envx_kdf_decode(const unsigned char in[ENVX_KDF_PARAMS_BYTES],
                struct envx_kdf_params *kp)
{
	kp->t = get32(in);
	kp->m_kib = get32(in + 4);
	kp->p = get32(in + 8);
	memcpy(kp->salt, in + 12, ENVX_SALT_BYTES);
}

static const char b32_upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t
envx_base32_encoded_len(size_t n)
{
	return (n * 8 + 4) / 5;
}

void
envx_base32_encode(const unsigned char *in, size_t n, bool upper, char *out)
{
	const char *alpha = upper ? b32_upper : b32_lower;
	uint32_t acc = 0;
	int bits = 0;
	size_t i;
	size_t o = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0) {
		out[o++] = alpha[(acc << (5 - bits)) & 31];
	}
	out[o] = '\0';
}

ssize_t
envx_base32_decode(const char *in, size_t n, unsigned char *out, size_t outsz)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i;
	size_t o = 0;

	for (i = 0; i < n; i++) {
		char c = in[i];
		uint32_t v;

		if (c >= 'A' && c <= 'Z') {
			v = (uint32_t)(c - 'A');
		} else if (c >= 'a' && c <= 'z') {
			v = (uint32_t)(c - 'a');
		} else if (c >= '2' && c <= '7') {
			v = (uint32_t)(c - '2' + 26);
		} else {
			return -1;
		}
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			if (o == outsz) {
				return -1;
			}
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* leftover bits must be zero padding, fewer than 5 */
	if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
		return -1;
	}
	return (ssize_t)o;
}

/* VF-2.1: first 4 bytes of BLAKE2b-256(prefix || payload). */
void
envx_key_checksum(const char *prefix, const unsigned char *payload, size_t n,
                  unsigned char out[4])
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)prefix,
	                          strlen(prefix));
	crypto_generichash_update(&st, payload, n);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, 4);
}
