/*
 * Identities: X25519 key pairs that unlock environments. The secret half is
 * text with a distinctive prefix and a checksum, optionally protected by a
 * passphrase (Argon2id); the public half is text that can be shared.
 */
#ifndef ENVX_IDENTITY_H
#define ENVX_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "envx/error.h"
#include "envx/util.h"

#define ENVX_PUBLIC_KEY_BYTES 32
/* VF-2.5: the Ed25519 signing key derived from the X25519 secret key. */
#define ENVX_SIGN_PUBLIC_BYTES   32
#define ENVX_SIGN_SECRET_BYTES   64
#define ENVX_SIGNATURE_BYTES     64
#define ENVX_VAULT_ID_TEXT_BYTES 33 /* 32 hex digits + NUL */
/* "envxpub2" + 109 base32 characters + NUL (fits "envxpub1" + 58 too) */
#define ENVX_PUBKEY_TEXT_BYTES 128
#define ENVX_PUBKEY_PREFIX     "envxpub1"
#define ENVX_PUBKEY2_PREFIX    "envxpub2"
#define ENVX_SIGNKEY_PREFIX    "envxsig1"
#define ENVX_SECKEY_PREFIX     "ENVX-SECRET-KEY-1-"
#define ENVX_ENCKEY_PREFIX     "ENVX-ENCRYPTED-KEY-1-"
/* Largest identity file or $ENVX_IDENTITY text accepted (VF-2.4). */
#define ENVX_IDENTITY_TEXT_MAX_BYTES 65536
/* Trust lines one identity text holds, at most (VF-2.6). */
#define ENVX_ANCHORS_MAX 256

/*
 * Asks for a passphrase: fills out (an initialized, empty secbuf of
 * at least 1024 bytes) and returns 0, or returns a negative code (e.g.
 * ENVX_E_LOCKED when none can be had, with a message saying how to give
 * one). prompt names what is being unlocked.
 */
typedef int (*envx_passphrase_fn)(void *ctx, const char *prompt,
                                  struct envx_secbuf *out,
                                  struct envx_error *err);

/*
 * VF-2.6: a trust anchor, "trust VAULTID ENV envxsig1…": the identity
 * accepts environment env of vault vault_id when an admin with this
 * signing key signed its access log.
 */
struct envx_anchor {
	unsigned char vault_id[16];
	char env[65];
	unsigned char admin[ENVX_SIGN_PUBLIC_BYTES];
};

struct envx_anchors {
	struct envx_anchor *a;
	size_t n;
};

struct envx_identity {
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	unsigned char *sk; /* sodium_malloc, 32 bytes; NULL in a public-only
	                      identity (envx_identity_parse_public) */
	bool protected_;   /* loaded from passphrase-protected text */
	/* VF-2.5: derived from sk */
	unsigned char spk[ENVX_SIGN_PUBLIC_BYTES];
	unsigned char *ssk; /* sodium_malloc, 64 bytes; NULL with sk */
	/* VF-2.6: the trust lines after the key line */
	struct envx_anchors anchors;
};

/* Generates a fresh key pair; *out is freed with envx_identity_free. */
int envx_identity_generate(struct envx_identity **out, struct envx_error *err);
void envx_identity_free(struct envx_identity *id);

/* Public key text, "envxpub1…", into out (ENVX_PUBKEY_TEXT_BYTES). */
void envx_pubkey_format(const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                        char out[ENVX_PUBKEY_TEXT_BYTES]);
/* VF-2.5: the public key text of an identity with its signing key,
 * "envxpub2…" (pk || spk), what `envx identity show` prints. */
void envx_identity_pubtext(const struct envx_identity *id,
                           char out[ENVX_PUBKEY_TEXT_BYTES]);
/* Parses public key text; ENVX_E_INPUT on a bad prefix, length, character
 * or checksum. Accepts envxpub1 and envxpub2 (whose signing half is
 * dropped). */
int envx_pubkey_parse(const char *text, unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                      struct envx_error *err);
/* Like envx_pubkey_parse; *has_spk says whether the text carried a signing
 * key (envxpub2), copied to spk. */
int envx_pubkey_parse2(const char *text,
                       unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                       unsigned char spk[ENVX_SIGN_PUBLIC_BYTES], bool *has_spk,
                       struct envx_error *err);
/* "envxsig1…", an admin's signing key as trust lines carry it. */
void envx_signkey_format(const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                         char out[ENVX_PUBKEY_TEXT_BYTES]);
int envx_signkey_parse(const char *text, size_t len,
                       unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                       struct envx_error *err);
/* A short fingerprint of a signing key for people and audit actors: the
 * first 8 bytes of BLAKE2b-256(lp("envx-fingerprint-v1") || lp(spk)) in
 * hex, grouped "xxxx-xxxx-xxxx-xxxx" (20 bytes with NUL). */
void envx_fingerprint(const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                      char out[24]);

/* VF-2.6: one trust line ("trust VAULTID ENV envxsig1…", already trimmed)
 * into *out; ENVX_E_INPUT naming source otherwise. */
int envx_anchor_parse(const char *line, size_t len, const char *source,
                      struct envx_anchor *out, struct envx_error *err);
/* The text of a trust line, without a line end, into out. */
void envx_anchor_format(const struct envx_anchor *a, char *out, size_t outsz);
/* Parses text made only of trust lines, blank lines and comments (as
 * $ENVX_TRUST holds) and appends them to l. */
int envx_anchors_parse(const char *text, size_t len, const char *source,
                       struct envx_anchors *l, struct envx_error *err);
int envx_anchors_add(struct envx_anchors *l, const struct envx_anchor *a,
                     struct envx_error *err);
void envx_anchors_release(struct envx_anchors *l);

/*
 * The full identity file text (comment lines with the public key, then the
 * secret key line) into out, a secure buffer this function initializes;
 * with a passphrase (pass != NULL) the secret key is wrapped with Argon2id
 * (envx_kdf_defaults, so $ENVX_KDF within bounds applies).
 */
int envx_identity_encode(const struct envx_identity *id,
                         const unsigned char *pass, size_t passlen,
                         struct envx_secbuf *out, struct envx_error *err);

/*
 * Parses identity text (a file's contents or $ENVX_IDENTITY): '#' comment
 * lines and blank lines are skipped; the first other line is the key, and
 * every later one a trust line (VF-2.6) kept in id->anchors.
 * Encrypted keys call ask (may be NULL: then ENVX_E_LOCKED). source names
 * the origin in messages ("identity file 'x'", "$ENVX_IDENTITY").
 */
int envx_identity_parse(const char *text, size_t len, const char *source,
                        envx_passphrase_fn ask, void *ask_ctx,
                        struct envx_identity **out, struct envx_error *err);

/*
 * The public half of protected identity text without its passphrase, for
 * readers whose environment key comes from an agent (envx-agent(1)): pk
 * and spk as the agent recorded them when the identity was last unlocked,
 * the trust lines parsed from text. The key line must be an encrypted one
 * (checked, not decrypted; ENVX_E_INPUT otherwise). sk and ssk are NULL:
 * the identity anchors trust (VF-3.8) but opens and signs nothing until
 * envx_identity_complete.
 */
int envx_identity_parse_public(const char *text, size_t len, const char *source,
                               const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                               const unsigned char spk[ENVX_SIGN_PUBLIC_BYTES],
                               struct envx_identity **out,
                               struct envx_error *err);
/* Gives a public-only identity (envx_identity_parse_public) its secret
 * half by parsing text in full (asking for its passphrase); pk and spk are
 * then those the key derives. 0 at once when id already has it. */
int envx_identity_complete(struct envx_identity *id, const char *text,
                           size_t len, const char *source,
                           envx_passphrase_fn ask, void *ask_ctx,
                           struct envx_error *err);
/* What an agent files a protected identity's public half under:
 * BLAKE2b-256(lp("envx-agent-identity-v1") || lp(key line)) of text's
 * encrypted key line; -1 when text's key line is not an encrypted one. */
int envx_identity_agent_digest(const char *text, size_t len,
                               unsigned char out[32]);

/*
 * Loads an identity file through envx_file_read_private (ENVX_E_UNSAFE for
 * a symlink, a FIFO or other non-regular file, another user's file or a
 * group/world-accessible one; ENVX_E_NOTFOUND when absent); the text is
 * held in secure memory only.
 */
int envx_identity_load(const char *path, envx_passphrase_fn ask, void *ask_ctx,
                       struct envx_identity **out, struct envx_error *err);

/* Writes identity text to path atomically with mode 0600, creating the
 * parent directory (0700) if needed; refuses to overwrite an existing file
 * unless force. */
int envx_identity_save(const char *path, const struct envx_secbuf *text,
                       bool force, struct envx_error *err);

/* The default identity path: ${XDG_CONFIG_HOME:-$HOME/.config}/envx/identity.
 * Returns -1 when neither variable is set or the path is too long. */
int envx_identity_default_path(char *out, size_t outsz);

#endif
