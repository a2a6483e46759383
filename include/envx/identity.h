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
/* "envxpub1" + 58 base32 characters + NUL */
#define ENVX_PUBKEY_TEXT_BYTES 80
#define ENVX_PUBKEY_PREFIX     "envxpub1"
#define ENVX_SECKEY_PREFIX     "ENVX-SECRET-KEY-1-"
#define ENVX_ENCKEY_PREFIX     "ENVX-ENCRYPTED-KEY-1-"
/* Largest identity file or $ENVX_IDENTITY text accepted. */
#define ENVX_IDENTITY_TEXT_MAX_BYTES 4096

/*
 * Asks for a passphrase: fills out (an initialized, empty secbuf of
 * at least 1024 bytes) and returns 0, or returns a negative code (e.g.
 * ENVX_E_LOCKED when none can be had, with a message saying how to give
 * one). prompt names what is being unlocked.
 */
typedef int (*envx_passphrase_fn)(void *ctx, const char *prompt,
                                  struct envx_secbuf *out,
                                  struct envx_error *err);

struct envx_identity {
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	unsigned char *sk; /* sodium_malloc, 32 bytes */
	bool protected_;   /* loaded from passphrase-protected text */
};

/* Generates a fresh key pair; *out is freed with envx_identity_free. */
int envx_identity_generate(struct envx_identity **out, struct envx_error *err);
void envx_identity_free(struct envx_identity *id);

/* Public key text, "envxpub1…", into out (ENVX_PUBKEY_TEXT_BYTES). */
void envx_pubkey_format(const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                        char out[ENVX_PUBKEY_TEXT_BYTES]);
/* Parses public key text; ENVX_E_INPUT on a bad prefix, length, character
 * or checksum. */
int envx_pubkey_parse(const char *text, unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                      struct envx_error *err);

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
 * lines and blank lines are skipped; the first other line is the key.
 * Encrypted keys call ask (may be NULL: then ENVX_E_LOCKED). source names
 * the origin in messages ("identity file 'x'", "$ENVX_IDENTITY").
 */
int envx_identity_parse(const char *text, size_t len, const char *source,
                        envx_passphrase_fn ask, void *ask_ctx,
                        struct envx_identity **out, struct envx_error *err);

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
