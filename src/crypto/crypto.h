/*
 * Private cryptography for the vault module (not part of include/envx): value
 * AEAD, environment subkeys, key commitment, Argon2id with enforced bounds,
 * and base32 text encoding with checksums. Rule numbers refer to
 * vault-format/SPEC.md.
 */
#ifndef ENVX_CRYPTO_H
#define ENVX_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "envx/error.h"
#include "envx/util.h"

#define ENVX_KEY_BYTES      32
#define ENVX_NONCE_BYTES    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define ENVX_TAG_BYTES      crypto_aead_xchacha20poly1305_ietf_ABYTES
#define ENVX_HASH_BYTES     32
#define ENVX_SALT_BYTES     16
#define ENVX_VAULT_ID_BYTES 16
#define ENVX_SEAL_BYTES     (crypto_box_SEALBYTES + ENVX_KEY_BYTES)

/* VF-2.3: Argon2id bounds, in passes, KiB and lanes. */
#define ENVX_KDF_T_DEFAULT 3
#define ENVX_KDF_M_DEFAULT 65536
#define ENVX_KDF_P_DEFAULT 4
#define ENVX_KDF_T_MIN     2
#define ENVX_KDF_M_MIN     19456
#define ENVX_KDF_P_MIN     1
#define ENVX_KDF_T_MAX     16
#define ENVX_KDF_M_MAX     1048576
#define ENVX_KDF_P_MAX     16

struct envx_kdf_params {
	uint32_t t;
	uint32_t m_kib;
	uint32_t p;
	unsigned char salt[ENVX_SALT_BYTES];
};

/* Subkeys of an environment key (VF-3.1). */
struct envx_env_subkeys {
	unsigned char value[ENVX_KEY_BYTES];
	unsigned char mac[ENVX_KEY_BYTES];
	unsigned char commit[ENVX_HASH_BYTES]; /* the commitment itself */
};

/*
 * VF-1.2: the one encoder of length-prefixed fields, lp(x) = u64le(len(x))
 * || x (an integer v is lp(u64le(v)), 16 bytes). Every associated data
 * string and every hashed sequence of the format is built with it, so the
 * bytes the spec fixes are written in one place.
 *
 * A writer is caller-owned storage (no release) of one of two kinds:
 * - an AD (envx_lp_init_ad): the fields are collected in data, at most
 *   ENVX_AD_MAX_BYTES; a field that does not fit sets overflow, after which
 *   the AD neither seals nor opens anything;
 * - a hash (envx_lp_init_hash): the fields stream into BLAKE2b, buffered so
 *   that many small fields cost one update per buffer; envx_lp_final gives
 *   the digest, which does not depend on how the input was split.
 */
#define ENVX_AD_MAX_BYTES 1024
#define ENVX_LP_BUF_BYTES 2048

struct envx_lp {
	unsigned char data[ENVX_LP_BUF_BYTES];
	size_t len;
	size_t cap; /* ENVX_AD_MAX_BYTES for an AD, ENVX_LP_BUF_BYTES for a hash
	             */
	bool overflow;
	bool hashing;
	crypto_generichash_state st;
};

void envx_lp_init_ad(struct envx_lp *w);
/* BLAKE2b with a 32-byte output; key may be NULL (keylen 0). */
void envx_lp_init_hash(struct envx_lp *w, const unsigned char *key,
                       size_t keylen);
void envx_lp_bytes(struct envx_lp *w, const void *p, size_t n);
/* lp of the bytes of s, without its terminator. */
void envx_lp_str(struct envx_lp *w, const char *s);
/* lp_u64(v) = lp(u64le(v)). */
void envx_lp_u64(struct envx_lp *w, uint64_t v);
/* The digest of a hash writer (ENVX_HASH_BYTES) into out. The buffer is not
 * wiped: what the format hashes is public (ciphertexts, names, metadata). */
void envx_lp_final(struct envx_lp *w, unsigned char out[ENVX_HASH_BYTES]);

/* VF-3.4: a version's ciphertext hash, BLAKE2b-256(lp(nonce) ||
 * lp(ciphertext)). */
void envx_crypto_ciphertext_hash(const void *nonce, size_t nlen, const void *ct,
                                 size_t ctlen,
                                 unsigned char out[ENVX_HASH_BYTES]);

/* VF-3.1: derives the value key, MAC key and key commitment. Caller-owned
 * out, which should be sodium_malloc memory and wiped after use. */
void envx_crypto_subkeys(const unsigned char env_key[ENVX_KEY_BYTES],
                         struct envx_env_subkeys *out);

/*
 * XChaCha20-Poly1305-IETF with a fresh random nonce written to nonce;
 * ct must hold ptlen + ENVX_TAG_BYTES. Returns 0, or ENVX_E_INTERNAL (err
 * filled, nonce and ct untouched) when the AD overflowed: a truncated AD
 * would bind less than the spec says (VF-1.2).
 */
int envx_crypto_seal_value(const unsigned char key[ENVX_KEY_BYTES],
                           const struct envx_lp *ad, const unsigned char *pt,
                           size_t ptlen, unsigned char nonce[ENVX_NONCE_BYTES],
                           unsigned char *ct, struct envx_error *err);
/* As envx_crypto_seal_value, under a nonce the caller drew (fresh random
 * bytes, used for this one encryption only: a batch draws them at once). */
int envx_crypto_seal_value_with(const unsigned char key[ENVX_KEY_BYTES],
                                const struct envx_lp *ad,
                                const unsigned char *pt, size_t ptlen,
                                const unsigned char nonce[ENVX_NONCE_BYTES],
                                unsigned char *ct, struct envx_error *err);
/* Decrypts into pt (ctlen - ENVX_TAG_BYTES bytes); ENVX_E_INTEGRITY on a
 * bad tag or short input. */
int envx_crypto_open_value(const unsigned char key[ENVX_KEY_BYTES],
                           const struct envx_lp *ad,
                           const unsigned char nonce[ENVX_NONCE_BYTES],
                           const unsigned char *ct, size_t ctlen,
                           unsigned char *pt);

/* Checks params against the floor and ceiling before any work (VF-2.3). */
int envx_kdf_check(const struct envx_kdf_params *kp, struct envx_error *err);
/* Default parameters (or $ENVX_KDF="t,m,p" within bounds) with a fresh
 * salt. */
int envx_kdf_defaults(struct envx_kdf_params *kp, struct envx_error *err);
/* Argon2id(passphrase, salt) -> key after envx_kdf_check. */
int envx_kdf_derive(const struct envx_kdf_params *kp, const unsigned char *pass,
                    size_t passlen, unsigned char key[ENVX_KEY_BYTES],
                    struct envx_error *err);
/* The 28-byte encoding of params used in AD and storage (VF-2.3). */
#define ENVX_KDF_PARAMS_BYTES (12 + ENVX_SALT_BYTES)
void envx_kdf_encode(const struct envx_kdf_params *kp,
                     unsigned char out[ENVX_KDF_PARAMS_BYTES]);
void envx_kdf_decode(const unsigned char in[ENVX_KDF_PARAMS_BYTES],
                     struct envx_kdf_params *kp);

/* RFC 4648 base32 without padding; upper or lower case alphabet. */
size_t envx_base32_encoded_len(size_t n);
void envx_base32_encode(const unsigned char *in, size_t n, bool upper,
                        char *out);
/* Case-insensitive; returns bytes decoded or -1 on a bad character or
 * length, writing at most outsz bytes. */
ssize_t envx_base32_decode(const char *in, size_t n, unsigned char *out,
                           size_t outsz);

/* VF-2.1: 4-byte checksum of a key text payload. */
void envx_key_checksum(const char *prefix, const unsigned char *payload,
                       size_t n, unsigned char out[4]);

#endif
