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

int
envx_identity_generate(struct envx_identity **out, struct envx_error *err)
{
	struct envx_identity *id;

	id = calloc(1, sizeof(*id));
	if (id == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	id->sk = sodium_malloc(ENVX_KEY_BYTES);
	if (id->sk == NULL) {
		free(id);
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	crypto_box_keypair(id->pk, id->sk);
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

int
envx_pubkey_parse(const char *text, unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                  struct envx_error *err)
{
	size_t plen = strlen(ENVX_PUBKEY_PREFIX);
	size_t len = strlen(text);

	if (len <= plen || strncmp(text, ENVX_PUBKEY_PREFIX, plen) != 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid public key: expected text "
		                      "starting with '%s'",
		                      ENVX_PUBKEY_PREFIX);
	}
	if (key_untext(ENVX_PUBKEY_PREFIX, text + plen, len - plen, pk,
	               ENVX_PUBLIC_KEY_BYTES) < 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid public key: bad length, "
		                      "character or checksum (was it copied "
		                      "whole?)");
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

	r = envx_secbuf_init(out, 1024, err);
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
	envx_pubkey_format(id->pk, pub);
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

int
envx_identity_parse(const char *text, size_t len, const char *source,
                    envx_passphrase_fn ask, void *ask_ctx,
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

	/* first line that is neither blank nor a comment */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end;
		const char *s = p;

		while (s < e && (*s == ' ' || *s == '\t')) {
			s++;
		}
		while (e > s &&
		       (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
			e--;
		}
		if (s < e && *s != '#') {
			line = s;
			linelen = (size_t)(e - s);
			break;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (line == NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "no identity found in %s", source);
	}
	r = envx_identity_generate(&id, err);
	if (r < 0) {
		return r;
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
	crypto_scalarmult_base(id->pk, id->sk);
	*out = id;
	id = NULL;
	r = 0;
out:
	envx_identity_free(id);
	return r;
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

/* mkdir -p with mode 0700 for every directory it creates. */
static int
make_parents(const char *path, struct envx_error *err)
{
	char dir[4096];
	size_t i;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		return envx_error_set(err, ENVX_E_INPUT, "path too long");
	}
	for (i = 1; dir[i] != '\0'; i++) {
		if (dir[i] != '/') {
			continue;
		}
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			return envx_error_set(
			        err, ENVX_E_IO,
			        "cannot create directory '%s': %s", dir,
			        strerror(errno));
		}
		dir[i] = '/';
	}
	return 0;
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
	r = make_parents(path, err);
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
