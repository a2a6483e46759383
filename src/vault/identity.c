/*
 * Identity key pairs and their text forms (VF-2): public "envxpub1…" text,
 * secret "ENVX-SECRET-KEY-1-…" text, and the passphrase-wrapped
 * "ENVX-ENCRYPTED-KEY-1-…" text. Each carries a 4-byte checksum so typos and
 * truncations are caught and secret scanners can find leaked keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "envx/identity.h"
#include "util/banned.h"

/* VF-2.2: encrypted payload = params(28) || nonce(24) || ct(32 + 16). */
#define ENC_PAYLOAD_BYTES                                                      \
	(ENVX_KDF_PARAMS_BYTES + ENVX_NONCE_BYTES + ENVX_KEY_BYTES +           \
	 ENVX_TAG_BYTES)

/*
 * VF-2.5: the public key and the Ed25519 signing key pair follow from sk:
 * seed = BLAKE2b-256(key = sk, "envx-signing-key-v1"), so identity files
 * written before signatures existed sign without any change.
 */
static int
identity_derive(struct envx_identity *id, struct envx_error *err)
{
	unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
	static const char label[] = "envx-signing-key-v1";

	if (seed == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	crypto_scalarmult_base(id->pk, id->sk);
	crypto_generichash(seed, crypto_sign_SEEDBYTES,
	                   (const unsigned char *)label, sizeof(label) - 1,
	                   id->sk, ENVX_KEY_BYTES);
	crypto_sign_seed_keypair(id->spk, id->ssk, seed);
	sodium_free(seed);
	return 0;
}

static struct envx_identity *
identity_alloc(void)
{
	struct envx_identity *id = calloc(1, sizeof(*id));

	if (id == NULL) {
		return NULL;
	}
	id->sk = sodium_malloc(ENVX_KEY_BYTES);
	id->ssk = sodium_malloc(ENVX_SIGN_SECRET_BYTES);
	if (id->sk == NULL || id->ssk == NULL) {
		envx_identity_free(id);
		return NULL;
	}
	return id;
}

int
envx_identity_generate(struct envx_identity **out, struct envx_error *err)
{
	struct envx_identity *id = identity_alloc();
	int r;

	if (id == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	crypto_box_keypair(id->pk, id->sk);
	r = identity_derive(id, err);
	if (r < 0) {
		envx_identity_free(id);
		return r;
	}
	*out = id;
	return 0;
}

void
envx_identity_free(struct envx_identity *id)
{
	if (id == NULL) {
		return;
	}
	sodium_free(id->sk);
	sodium_free(id->ssk);
	envx_anchors_release(&id->anchors);
	free(id);
}

/* prefix || base32(payload || checksum(prefix, payload)) */
static void
key_text(const char *prefix, const unsigned char *payload, size_t n, bool upper,
         char *out, size_t outsz)
{
	unsigned char buf[ENC_PAYLOAD_BYTES + 4];
	size_t plen = strlen(prefix);

	memcpy(buf, payload, n);
	envx_key_checksum(prefix, payload, n, buf + n);
	if (plen + envx_base32_encoded_len(n + 4) + 1 <= outsz) {
		memcpy(out, prefix, plen);
		envx_base32_encode(buf, n + 4, upper, out + plen);
	} else if (outsz > 0) {
		out[0] = '\0';
	}
	sodium_memzero(buf, sizeof(buf));
}

/* Decodes prefix-less text into payload of exactly n bytes and checks the
 * checksum. */
static int
key_untext(const char *prefix, const char *b32, size_t b32len,
           unsigned char *payload, size_t n)
{
	unsigned char buf[ENC_PAYLOAD_BYTES + 4];
	unsigned char sum[4];
	ssize_t got;
	int r = -1;

	got = envx_base32_decode(b32, b32len, buf, sizeof(buf));
	if (got != (ssize_t)(n + 4)) {
		goto out;
	}
	envx_key_checksum(prefix, buf, n, sum);
	if (sodium_memcmp(sum, buf + n, 4) != 0) {
		goto out;
	}
	memcpy(payload, buf, n);
	r = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	return r;
}

void
envx_pubkey_format(const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                   char out[ENVX_PUBKEY_TEXT_BYTES])
{
	key_text(ENVX_PUBKEY_PREFIX, pk, ENVX_PUBLIC_KEY_BYTES, false, out,
	         ENVX_PUBKEY_TEXT_BYTES);
}

void
envx_identity_pubtext(const struct envx_identity *id,
                      char out[ENVX_PUBKEY_TEXT_BYTES])
{
	unsigned char both[ENVX_PUBLIC_KEY_BYTES + ENVX_SIGN_PUBLIC_BYTES];

	memcpy(both, id->pk, ENVX_PUBLIC_KEY_BYTES);
	memcpy(both + ENVX_PUBLIC_KEY_BYTES, id->spk, ENVX_SIGN_PUBLIC_BYTES);
	key_text(ENVX_PUBKEY2_PREFIX, both, sizeof(both), false, out,
	         ENVX_PUBKEY_TEXT_BYTES);
}

int
envx_pubkey_parse2(const char *text, unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                   unsigned char spk[ENVX_SIGN_PUBLIC_BYTES], bool *has_spk,
                   struct envx_error *err)
{
	unsigned char both[ENVX_PUBLIC_KEY_BYTES + ENVX_SIGN_PUBLIC_BYTES];
	size_t plen = strlen(ENVX_PUBKEY_PREFIX);
	size_t len = strlen(text);
	int r = -1;

	*has_spk = false;
	if (len > plen && strncmp(text, ENVX_PUBKEY_PREFIX, plen) == 0) {
		r = key_untext(ENVX_PUBKEY_PREFIX, text + plen, len - plen, pk,
		               ENVX_PUBLIC_KEY_BYTES);
	} else if (len > plen &&
	           strncmp(text, ENVX_PUBKEY2_PREFIX, plen) == 0) {
		r = key_untext(ENVX_PUBKEY2_PREFIX, text + plen, len - plen,
		               both, sizeof(both));
		if (r == 0) {
			memcpy(pk, both, ENVX_PUBLIC_KEY_BYTES);
			memcpy(spk, both + ENVX_PUBLIC_KEY_BYTES,
			       ENVX_SIGN_PUBLIC_BYTES);
			*has_spk = true;
		}
	} else {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid public key: expected text "
		                      "starting with '%s' (or '%s')",
		                      ENVX_PUBKEY2_PREFIX, ENVX_PUBKEY_PREFIX);
	}
	if (r < 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid public key: bad length, "
		                      "character or checksum (was it copied "
		                      "whole?)");
	}
	return 0;
}

int
envx_pubkey_parse(const char *text, unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                  struct envx_error *err)
{
	unsigned char spk[ENVX_SIGN_PUBLIC_BYTES];
	bool has_spk;

	return envx_pubkey_parse2(text, pk, spk, &has_spk, err);
}

void
envx_signkey_format(const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                    char out[ENVX_PUBKEY_TEXT_BYTES])
{
	key_text(ENVX_SIGNKEY_PREFIX, spk, ENVX_SIGN_PUBLIC_BYTES, false, out,
	         ENVX_PUBKEY_TEXT_BYTES);
}

int
envx_signkey_parse(const char *text, size_t len,
                   unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                   struct envx_error *err)
{
	size_t plen = strlen(ENVX_SIGNKEY_PREFIX);

	if (len <= plen || strncmp(text, ENVX_SIGNKEY_PREFIX, plen) != 0 ||
	    key_untext(ENVX_SIGNKEY_PREFIX, text + plen, len - plen, spk,
	               ENVX_SIGN_PUBLIC_BYTES) < 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid admin key: expected '%s' "
		                      "followed by 58 base32 characters with "
		                      "a valid checksum",
		                      ENVX_SIGNKEY_PREFIX);
	}
	return 0;
}

void
envx_fingerprint(const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES], char out[24])
{
	struct envx_lp hs;
	unsigned char h[ENVX_HASH_BYTES];

	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-fingerprint-v1");
	envx_lp_bytes(&hs, spk, ENVX_SIGN_PUBLIC_BYTES);
	envx_lp_final(&hs, h);
	snprintf(out, 24, "%02x%02x-%02x%02x-%02x%02x-%02x%02x", h[0], h[1],
	         h[2], h[3], h[4], h[5], h[6], h[7]);
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* VF-2.6: "trust" SP 32 lower-case hex digits SP env name SP envxsig1… */
int
envx_anchor_parse(const char *line, size_t len, const char *source,
                  struct envx_anchor *out, struct envx_error *err)
{
	const char *p = line;
	const char *end = line + len;
	const char *env;
	size_t envlen;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (len < 6 || memcmp(p, "trust ", 6) != 0) {
		goto bad;
	}
	p += 6;
	if (end - p < 33 || p[32] != ' ') {
		goto bad;
	}
	for (i = 0; i < 16; i++) {
		int hi = hex_nibble(p[2 * i]);
		int lo = hex_nibble(p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			goto bad;
		}
		out->vault_id[i] = (unsigned char)(hi << 4 | lo);
	}
	p += 33;
	env = p;
	while (p < end && *p != ' ') {
		p++;
	}
	envlen = (size_t)(p - env);
	if (p == end || envlen == 0 || envlen >= sizeof(out->env)) {
		goto bad;
	}
	memcpy(out->env, env, envlen);
	if (!envx_env_name_valid(out->env)) {
		goto bad;
	}
	p++;
	if (envx_signkey_parse(p, (size_t)(end - p), out->admin, err) < 0) {
		goto bad;
	}
	return 0;
bad:
	return envx_error_set(err, ENVX_E_INPUT,
	                      "invalid trust line in %s: expected 'trust "
	                      "VAULTID ENV %s…' (as `envx access grant` "
	                      "prints it)",
	                      source, ENVX_SIGNKEY_PREFIX);
}

void
envx_anchor_format(const struct envx_anchor *a, char *out, size_t outsz)
{
	char key[ENVX_PUBKEY_TEXT_BYTES];
	char hex[33];
	size_t i;

	for (i = 0; i < 16; i++) {
		snprintf(hex + 2 * i, 3, "%02x", a->vault_id[i]);
	}
	envx_signkey_format(a->admin, key);
	snprintf(out, outsz, "trust %s %s %s", hex, a->env, key);
}

int
envx_anchors_add(struct envx_anchors *l, const struct envx_anchor *a,
                 struct envx_error *err)
{
	struct envx_anchor *grown;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (memcmp(&l->a[i], a, sizeof(*a)) == 0) {
			return 0;
		}
	}
	if (l->n == ENVX_ANCHORS_MAX) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "too many trust lines (at most %d)",
		                      ENVX_ANCHORS_MAX);
	}
	grown = realloc(l->a, (l->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	l->a = grown;
	l->a[l->n++] = *a;
	return 0;
}

void
envx_anchors_release(struct envx_anchors *l)
{
	free(l->a);
	l->a = NULL;
	l->n = 0;
}

/* The next line of [*p, end) trimmed (VF-2.4); false at the end. */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	while (*p < end) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		const char *e = nl != NULL ? nl : end;
		const char *s = *p;

		while (s < e && (*s == ' ' || *s == '\t')) {
			s++;
		}
		while (e > s &&
		       (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
			e--;
		}
		*p = nl != NULL ? nl + 1 : end;
		if (s < e && *s != '#') {
			*line = s;
			*len = (size_t)(e - s);
			return true;
		}
	}
	return false;
}

int
envx_anchors_parse(const char *text, size_t len, const char *source,
                   struct envx_anchors *l, struct envx_error *err)
{
	const char *p = text;
	const char *line;
	size_t linelen;
	struct envx_anchor a;
	int r;

	while (next_line(&p, text + len, &line, &linelen)) {
		r = envx_anchor_parse(line, linelen, source, &a, err);
		if (r == 0) {
			r = envx_anchors_add(l, &a, err);
		}
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

/* VF-2.2: AD = lp("envx-identity-v1") || lp(params). */
static void
identity_ad(struct envx_lp *ad, const unsigned char *params)
{
	envx_lp_init_ad(ad);
	envx_lp_str(ad, "envx-identity-v1");
	envx_lp_bytes(ad, params, ENVX_KDF_PARAMS_BYTES);
}

int
envx_identity_encode(const struct envx_identity *id, const unsigned char *pass,
                     size_t passlen, struct envx_secbuf *out,
                     struct envx_error *err)
{
	char pub[ENVX_PUBKEY_TEXT_BYTES];
	char *line = NULL;
	unsigned char *payload = NULL;
	unsigned char *key = NULL;
	struct envx_kdf_params kp;
	struct envx_lp ad;
	char head[256];
	size_t linesz = 512;
	int n;
	int r;

	if (id->sk == NULL) {
		return envx_error_set(
		        err, ENVX_E_LOCKED,
		        "the identity's secret key is not loaded");
	}
	r = envx_secbuf_init(out, ENVX_IDENTITY_TEXT_MAX_BYTES, err);
	if (r < 0) {
		goto out;
	}
	line = sodium_malloc(linesz);
	payload = sodium_malloc(ENC_PAYLOAD_BYTES);
	key = sodium_malloc(ENVX_KEY_BYTES);
	if (line == NULL || payload == NULL || key == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	if (pass == NULL) {
		key_text(ENVX_SECKEY_PREFIX, id->sk, ENVX_KEY_BYTES, true, line,
		         linesz);
	} else {
		r = envx_kdf_defaults(&kp, err);
		if (r < 0) {
			goto out;
		}
		r = envx_kdf_derive(&kp, pass, passlen, key, err);
		if (r < 0) {
			goto out;
		}
		envx_kdf_encode(&kp, payload);
		identity_ad(&ad, payload);
		r = envx_crypto_seal_value(key, &ad, id->sk, ENVX_KEY_BYTES,
		                           payload + ENVX_KDF_PARAMS_BYTES,
		                           payload + ENVX_KDF_PARAMS_BYTES +
		                                   ENVX_NONCE_BYTES,
		                           err);
		if (r < 0) {
			goto out;
		}
		key_text(ENVX_ENCKEY_PREFIX, payload, ENC_PAYLOAD_BYTES, true,
		         line, linesz);
	}
	envx_identity_pubtext(id, pub);
	n = snprintf(head, sizeof(head),
	             "# envx identity%s\n# public key: %s\n",
	             pass != NULL ? " (passphrase-protected)" : "", pub);
	r = envx_secbuf_append(out, head, (size_t)n, err);
	if (r == 0) {
		r = envx_secbuf_append(out, line, strlen(line), err);
	}
	if (r == 0) {
		r = envx_secbuf_append(out, "\n", 1, err);
	}
	for (size_t i = 0; r == 0 && i < id->anchors.n; i++) {
		envx_anchor_format(&id->anchors.a[i], head, sizeof(head));
		r = envx_secbuf_append(out, head, strlen(head), err);
		if (r == 0) {
			r = envx_secbuf_append(out, "\n", 1, err);
		}
	}
out:
	sodium_free(line);
	sodium_free(payload);
	sodium_free(key);
	if (r < 0) {
		envx_secbuf_release(out);
	}
	return r;
}

static int
parse_encrypted(const char *b32, size_t len, const char *source,
                envx_passphrase_fn ask, void *ask_ctx, struct envx_identity *id,
                struct envx_error *err)
{
	unsigned char *payload = NULL;
	unsigned char *key = NULL;
	struct envx_secbuf pass = {0};
	struct envx_kdf_params kp;
	struct envx_lp ad;
	char prompt[256];
	int r;

	payload = sodium_malloc(ENC_PAYLOAD_BYTES);
	key = sodium_malloc(ENVX_KEY_BYTES);
	if (payload == NULL || key == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	if (key_untext(ENVX_ENCKEY_PREFIX, b32, len, payload,
	               ENC_PAYLOAD_BYTES) < 0) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "invalid identity in %s: bad length, "
		                   "character or checksum",
		                   source);
		goto out;
	}
	envx_kdf_decode(payload, &kp);
	r = envx_kdf_check(&kp, err);
	if (r < 0) {
		goto out;
	}
	if (ask == NULL) {
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "identity in %s is passphrase-protected and "
		                   "no passphrase was given",
		                   source);
		goto out;
	}
	r = envx_secbuf_init(&pass, 1024, err);
	if (r < 0) {
		goto out;
	}
	snprintf(prompt, sizeof(prompt), "passphrase for %s", source);
	r = ask(ask_ctx, prompt, &pass, err);
	if (r < 0) {
		goto out;
	}
	r = envx_kdf_derive(&kp, pass.data, pass.len, key, err);
	if (r < 0) {
		goto out;
	}
	identity_ad(&ad, payload);
	if (envx_crypto_open_value(
	            key, &ad, payload + ENVX_KDF_PARAMS_BYTES,
	            payload + ENVX_KDF_PARAMS_BYTES + ENVX_NONCE_BYTES,
	            ENVX_KEY_BYTES + ENVX_TAG_BYTES, id->sk) < 0) {
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "cannot unlock identity in %s: wrong "
		                   "passphrase",
		                   source);
		goto out;
	}
	id->protected_ = true;
	r = 0;
out:
	envx_secbuf_release(&pass);
	sodium_free(payload);
	sodium_free(key);
	return r;
}

/* The key line: the first line of text that is neither blank nor a
 * comment (VF-2.4); *rest points past it. */
static bool
key_line(const char *text, size_t len, const char **line, size_t *linelen,
         const char **rest)
{
	const char *p = text;

	if (!next_line(&p, text + len, line, linelen)) {
		return false;
	}
	*rest = p;
	return true;
}

/* Only the public half (pub: pk || spk, from elsewhere) of an encrypted key
 * line, whose payload is checked but not decrypted: sk and ssk stay NULL. */
static int
parse_public_half(const char *b32, size_t len, const char *source,
                  const unsigned char *pub, struct envx_identity *id,
                  struct envx_error *err)
{
	unsigned char payload[ENC_PAYLOAD_BYTES];
	struct envx_kdf_params kp;

	if (key_untext(ENVX_ENCKEY_PREFIX, b32, len, payload,
	               ENC_PAYLOAD_BYTES) < 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid identity in %s: bad length, "
		                      "character or checksum",
		                      source);
	}
	envx_kdf_decode(payload, &kp);
	if (envx_kdf_check(&kp, err) < 0) {
		return err != NULL ? err->code : ENVX_E_INTEGRITY;
	}
	sodium_free(id->sk);
	sodium_free(id->ssk);
	id->sk = NULL;
	id->ssk = NULL;
	memcpy(id->pk, pub, ENVX_PUBLIC_KEY_BYTES);
	memcpy(id->spk, pub + ENVX_PUBLIC_KEY_BYTES, ENVX_SIGN_PUBLIC_BYTES);
	id->protected_ = true;
	return 0;
}

/* envx_identity_parse, or with pub (pk || spk) only the public half of a
 * protected identity. */
static int
identity_parse(const char *text, size_t len, const char *source,
               envx_passphrase_fn ask, void *ask_ctx, const unsigned char *pub,
               struct envx_identity **out, struct envx_error *err)
{
	struct envx_identity *id = NULL;
	const char *p = text;
	const char *end = text + len;
	const char *line = NULL;
	size_t linelen = 0;
	size_t sp = strlen(ENVX_SECKEY_PREFIX);
	size_t ep = strlen(ENVX_ENCKEY_PREFIX);
	int r;

	if (!key_line(text, len, &line, &linelen, &p)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "no identity found in %s", source);
	}
	id = identity_alloc();
	if (id == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	if (linelen > sp && strncmp(line, ENVX_SECKEY_PREFIX, sp) == 0) {
		if (key_untext(ENVX_SECKEY_PREFIX, line + sp, linelen - sp,
		               id->sk, ENVX_KEY_BYTES) < 0) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "invalid identity in %s: bad "
			                   "length, character or checksum",
			                   source);
			goto out;
		}
	} else if (linelen > ep && strncmp(line, ENVX_ENCKEY_PREFIX, ep) == 0 &&
	           pub != NULL) {
		r = parse_public_half(line + ep, linelen - ep, source, pub, id,
		                      err);
		if (r < 0) {
			goto out;
		}
	} else if (linelen > ep && strncmp(line, ENVX_ENCKEY_PREFIX, ep) == 0) {
		r = parse_encrypted(line + ep, linelen - ep, source, ask,
		                    ask_ctx, id, err);
		if (r < 0) {
			goto out;
		}
	} else {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "invalid identity in %s: expected a line "
		                   "starting with '%s'",
		                   source, ENVX_SECKEY_PREFIX);
		goto out;
	}
	if (pub != NULL && id->sk == NULL) {
		r = 0;
	} else if (pub != NULL) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "identity in %s is not passphrase-protected",
		                   source);
		goto out;
	} else {
		r = identity_derive(id, err);
	}
	if (r < 0) {
		goto out;
	}
	/* VF-2.6: every later line is a trust line */
	r = envx_anchors_parse(p, (size_t)(end - p), source, &id->anchors, err);
	if (r < 0) {
		goto out;
	}
	*out = id;
	id = NULL;
	r = 0;
out:
	envx_identity_free(id);
	return r;
}

int
envx_identity_parse(const char *text, size_t len, const char *source,
                    envx_passphrase_fn ask, void *ask_ctx,
                    struct envx_identity **out, struct envx_error *err)
{
	return identity_parse(text, len, source, ask, ask_ctx, NULL, out, err);
}

int
envx_identity_parse_public(const char *text, size_t len, const char *source,
                           const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                           const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                           struct envx_identity **out, struct envx_error *err)
{
	unsigned char pub[ENVX_PUBLIC_KEY_BYTES + ENVX_SIGN_PUBLIC_BYTES];

	memcpy(pub, pk, ENVX_PUBLIC_KEY_BYTES);
	memcpy(pub + ENVX_PUBLIC_KEY_BYTES, spk, ENVX_SIGN_PUBLIC_BYTES);
	return identity_parse(text, len, source, NULL, NULL, pub, out, err);
}

int
envx_identity_complete(struct envx_identity *id, const char *text, size_t len,
                       const char *source, envx_passphrase_fn ask,
                       void *ask_ctx, struct envx_error *err)
{
	struct envx_identity *full = NULL;
	int r;

	if (id->sk != NULL) {
		return 0;
	}
	r = envx_identity_parse(text, len, source, ask, ask_ctx, &full, err);
	if (r < 0) {
		return r;
	}
	/* the public half comes from the key itself now, whatever the agent
	 * said it was */
	id->sk = full->sk;
	id->ssk = full->ssk;
	full->sk = NULL;
	full->ssk = NULL;
	memcpy(id->pk, full->pk, ENVX_PUBLIC_KEY_BYTES);
	memcpy(id->spk, full->spk, ENVX_SIGN_PUBLIC_BYTES);
	envx_identity_free(full);
	return 0;
}

int
envx_identity_agent_digest(const char *text, size_t len, unsigned char out[32])
{
	const char *line;
	const char *rest;
	size_t linelen;
	size_t ep = strlen(ENVX_ENCKEY_PREFIX);
	struct envx_lp h;

	if (!key_line(text, len, &line, &linelen, &rest) || linelen <= ep ||
	    strncmp(line, ENVX_ENCKEY_PREFIX, ep) != 0) {
		return -1;
	}
	envx_lp_init_hash(&h, NULL, 0);
	envx_lp_str(&h, "envx-agent-identity-v1");
	envx_lp_bytes(&h, line, linelen);
	envx_lp_final(&h, out);
	return 0;
}

int
envx_identity_load(const char *path, envx_passphrase_fn ask, void *ask_ctx,
                   struct envx_identity **out, struct envx_error *err)
{
	struct envx_secbuf text = {0};
	char source[512];
	int r;

	/* VF-2.4: the key text only ever lives in secure memory */
	r = envx_file_read_private(path, ENVX_IDENTITY_TEXT_MAX_BYTES, &text,
	                           err);
	if (r == 0) {
		snprintf(source, sizeof(source), "identity file '%s'", path);
		r = envx_identity_parse((const char *)text.data, text.len,
		                        source, ask, ask_ctx, out, err);
	}
	envx_secbuf_release(&text);
	return r;
}

int
envx_identity_save(const char *path, const struct envx_secbuf *text, bool force,
                   struct envx_error *err)
{
	struct stat st;
	int r;

	if (!force && lstat(path, &st) == 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "refusing to overwrite identity '%s' "
		                      "(pass --force to replace it, and keep "
		                      "a copy: data only it can open is lost)",
		                      path);
	}
	r = envx_file_make_parents(path, err);
	if (r < 0) {
		return r;
	}
	return envx_file_write_atomic(path, text->data, text->len, 0600, err);
}

int
envx_identity_default_path(char *out, size_t outsz)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && *xdg == '/') {
		n = snprintf(out, outsz, "%s/envx/identity", xdg);
	} else if (home != NULL && *home != '\0') {
		n = snprintf(out, outsz, "%s/.config/envx/identity", home);
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}
