/*
 * The vault: one SQLite file holding environments, their recipients, secret
 * versions as ciphertext, non-secret metadata and an audit log. Every rule
 * implemented here is numbered in vault-format/SPEC.md.
 *
 * Writes happen inside envx_vault_begin()/envx_vault_commit(): the commit
 * recomputes each changed environment's MAC, bumps its generation and
 * appends the audit events, all in one SQLite transaction, so a failure
 * anywhere leaves the file exactly as it was.
 */
#ifndef ENVX_VAULT_H
#define ENVX_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"
#include "envx/identity.h"
#include "envx/util.h"

#define ENVX_VAULT_FILENAME "envx.vault"
/* VF-4.1: the schema version this build writes. */
#define ENVX_VAULT_SCHEMA_VERSION 5
/* The largest secret value accepted (ENVX_E_INPUT past it). */
#define ENVX_VALUE_MAX_BYTES       ((size_t)1024 * 1024)
#define ENVX_DESCRIPTION_MAX_BYTES 1024
#define ENVX_LABEL_MAX_BYTES       64

struct envx_vault;
struct envx_env;

/*
 * Finds the vault: explicit (--vault) if not NULL, else $ENVX_VAULT, else
 * the first envx.vault in the current directory or its parents. Writes the
 * path into out. ENVX_E_NOTFOUND with a hint to run `envx init` otherwise.
 */
int envx_vault_locate(const char *explicit_path, char *out, size_t outsz,
                      struct envx_error *err);

/* How much of a file envx_vault_image_is_envx looks at. */
#define ENVX_VAULT_HEADER_BYTES 100
/*
 * Whether a file of size bytes whose first bytes are head[0..n) is an envx
 * vault by its SQLite header (VF-4.1, VF-4.2): the SQLite magic, a valid
 * page size that divides size, a format version above 0 and envx's
 * application id. A file that fails this is no vault whatever its name;
 * one that passes may still fail envx_vault_open's deeper checks.
 */
bool envx_vault_image_is_envx(const unsigned char *head, size_t n,
                              uint64_t size);

/* Creates a new vault file at path (refusing an existing one) with the
 * current schema. *out is closed with envx_vault_close. */
int envx_vault_create(const char *path, struct envx_vault **out,
                      struct envx_error *err);

/*
 * Opens an existing vault. Read-only opens never write the file (not even
 * a journal) and accept older schema versions; writable opens migrate an
 * older schema forward in one transaction. A newer schema, a file that is
 * not an envx vault, or an unexpected schema fails with ENVX_E_INTEGRITY; a
 * symlink or a file writable by others with ENVX_E_UNSAFE. A hot journal
 * left by an interrupted write is rolled back first when the vault and its
 * directory are writable (see envx_vault_recovered), else ENVX_E_IO naming
 * the journal. Lock waits last the busy timeout (10 s, or
 * $ENVX_BUSY_TIMEOUT_MS; an invalid value is ENVX_E_USAGE); past it,
 * ENVX_E_IO ("vault busy").
 */
int envx_vault_open(const char *path, bool writable, struct envx_vault **out,
                    struct envx_error *err);
/* Rolls back any open transaction, wipes keys, closes. Accepts NULL. */
void envx_vault_close(struct envx_vault *v);

/* The actor recorded in audit events and version authors of vaults older
 * than format 4 (format 4 records the signer, VF-5.1). Copied. */
void envx_vault_set_actor(struct envx_vault *v, const char *actor);

/*
 * VF-3.8: what a reader trusts, from outside the vault file. The anchors
 * are the identity's trust lines and $ENVX_TRUST's; the reader's own
 * signing key (envx_vault_set_signer) counts as an anchor too. seen_path
 * is the file recording the highest state verified per vault and
 * environment (NULL: none); min_generation is $ENVX_MIN_GENERATION's text
 * ("N" or "env=N,env=N"; NULL: none); accept_older records a state older
 * than the one seen instead of refusing it (`envx trust reset`). The
 * caller keeps the structure alive while v is open.
 */
struct envx_trust {
	const struct envx_anchors *anchors[2];
	const char *seen_path;
	const char *min_generation;
	bool accept_older;
	/* read vaults older than format 4, which nothing signs
	 * ($ENVX_ACCEPT_UNSIGNED=1); never one whose signed states the
	 * reader trusts */
	bool accept_unsigned;
};
/* Checks $ENVX_MIN_GENERATION's text: "N" (N >= 1) or "env=N,env=N" with
 * valid, distinct environment names. ENVX_E_USAGE otherwise. */
int envx_min_generation_check(const char *text, struct envx_error *err);
void envx_vault_set_trust(struct envx_vault *v, const struct envx_trust *t);
/* The identity that signs writes (VF-3.8) and whose own key is trusted.
 * Borrowed; may be NULL (then writes fail and only anchors are trusted). */
void envx_vault_set_signer(struct envx_vault *v,
                           const struct envx_identity *id);
/* The vault id as 32 hex digits. */
void envx_vault_id_hex(const struct envx_vault *v,
                       char out[ENVX_VAULT_ID_TEXT_BYTES]);
/* Whether the file is older than format 4. Writes to it fail (integrity)
 * until envx_vault_upgrade. */
bool envx_vault_needs_upgrade(const struct envx_vault *v);
/* VF-4.5: upgrades an older vault in one transaction, signed by the signer,
 * who must open every environment (ENVX_E_LOCKED naming one it cannot). */
int envx_vault_upgrade(struct envx_vault *v, struct envx_error *err);
const char *envx_vault_path(const struct envx_vault *v);
/* Whether envx_vault_open rolled back an interrupted write's hot journal
 * (restoring the last committed state) before opening. */
bool envx_vault_recovered(const struct envx_vault *v);
int envx_vault_schema_version(const struct envx_vault *v);

/* BEGIN IMMEDIATE (busy past the timeout: ENVX_E_IO). */
int envx_vault_begin(struct envx_vault *v, struct envx_error *err);
/* Seals changed environments (MAC, generation), writes audit events,
 * COMMIT. On failure everything is rolled back. */
int envx_vault_commit(struct envx_vault *v, struct envx_error *err);
/* Rolls back the open transaction, if any. */
void envx_vault_rollback(struct envx_vault *v);

/* Appends an audit event to the open transaction (never a value). */
int envx_vault_audit(struct envx_vault *v, const char *action, const char *env,
                     const char *name, const char *detail,
                     struct envx_error *err);

/* ---- the audit log (VF-5.1); metadata: no key needed ---- */

/* One event as stored. The strings are owned by the array (see
 * envx_audit_events_free); they are untrusted text, escape them before
 * printing. A column a writer would not have stored (a tampered row) reads
 * as "" or 0: envx_vault_audit_verify names it. */
struct envx_audit_event {
	int64_t seq;
	int64_t at; /* Unix seconds */
	char *actor;
	char *action;
	char *env;  /* "" when the event concerns no environment */
	char *name; /* "" when it concerns no secret */
	char *detail;
	unsigned char hash[32]; /* as stored */
};

/* Which events envx_vault_audit_events returns; NULL fields match all. */
struct envx_audit_filter {
	const char *env;  /* exactly this environment */
	const char *name; /* exactly this secret name */
	bool has_since;
	int64_t since; /* at >= since */
};

/*
 * The events that match filter (NULL: all), in seq order, without
 * verifying anything (see envx_vault_audit_verify). Free *out with
 * envx_audit_events_free. A vault of format 1 has no log: 0 events.
 */
int envx_vault_audit_events(struct envx_vault *v,
                            const struct envx_audit_filter *filter,
                            struct envx_audit_event **out, size_t *n,
                            struct envx_error *err);
/* Frees n events and the array. Accepts NULL. */
void envx_audit_events_free(struct envx_audit_event *ev, size_t n);

/* What envx_vault_audit_verify found. */
struct envx_audit_chain {
	int64_t count;  /* events in the log */
	int64_t intact; /* events that verify, from seq 1: all of them, or
	                   those before the first bad one, intact + 1 */
	unsigned char last_hash[32]; /* the hash of event `intact` (zeros
	                                for none) */
};

/*
 * VF-5.1: walks the whole log in seq order and checks that seq runs from 1
 * without a gap, that every column has the storage class a writer gives
 * it, that each prev is the previous event's hash (zeros for the first)
 * and that each hash recomputes. 0 when the chain is intact; otherwise
 * ENVX_E_INTEGRITY with a message naming the first bad event by seq and
 * why (missing, malformed column, prev or hash mismatch). *out (may be
 * NULL) is filled either way. The chain is unkeyed (VF-5.2): a rewritten
 * or truncated tail verifies; compare last_hash with an external copy.
 */
int envx_vault_audit_verify(struct envx_vault *v, struct envx_audit_chain *out,
                            struct envx_error *err);

/* ---- environments ---- */

struct envx_env_info {
	char name[ENVX_ENV_NAME_MAX_BYTES + 1];
	int64_t created_at;
	size_t nsecrets;
	size_t nrecipients;
};

/* All environments sorted by name; free *out with free(). */
int envx_vault_env_list(struct envx_vault *v, struct envx_env_info **out,
                        size_t *n, struct envx_error *err);

/* Creates an environment with a fresh random key, wrapped for the given
 * X25519 recipient (label names it). Inside a transaction. */
int envx_vault_env_add(struct envx_vault *v, const char *name,
                       const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                       const char *label, struct envx_error *err);
/* Deletes an environment and everything in it. Inside a transaction. */
int envx_vault_env_rm(struct envx_vault *v, const char *name,
                      struct envx_error *err);

/* Opens an environment's metadata (no key). ENVX_E_NOTFOUND if absent.
 * The handle borrows v; free it with envx_env_free before closing v. */
int envx_env_open(struct envx_vault *v, const char *name, struct envx_env **out,
                  struct envx_error *err);
void envx_env_free(struct envx_env *e);
const char *envx_env_name(const struct envx_env *e);

struct envx_unlock {
	const struct envx_identity *identity; /* may be NULL */
	envx_passphrase_fn ask;               /* for passphrase recipients;
	                                         may be NULL */
	void *ask_ctx;
	/* Names the identity in messages ("identity file 'x'"; NULL: its
	 * public key), or without one says why there is none. */
	const char *identity_label;
	/* When not NULL (an initialized, empty set), unlock also decrypts
	 * every current value into it, sorted by name, in the same pass as
	 * the MAC check; on failure it is released. */
	struct envx_kvset *values;
	/* When not NULL, a candidate environment key (32 bytes) from
	 * elsewhere, an agent: tried instead of the recipients, then
	 * verified like an unwrapped one (commitment, state, MAC). One that
	 * does not match the commitment is ENVX_E_LOCKED, never an
	 * integrity failure: the agent's key may be stale. */
	const unsigned char *key;
	/* Format 5 without values: verify only the root over the bucket rows
	 * (VF-3.4); each secret's bucket is verified when it is read or
	 * written, so get and set do not grow with the environment. */
	bool lazy;
};

/*
 * Unwraps the environment key with the identity (or a passphrase), checks
 * the key commitment (VF-3.2) and then the environment MAC over every row
 * (VF-3.4). ENVX_E_LOCKED when nothing opens it (message names the env),
 * ENVX_E_INTEGRITY when the MAC or any structure is wrong.
 */
int envx_env_unlock(struct envx_env *e, const struct envx_unlock *how,
                    struct envx_error *err);
bool envx_env_is_unlocked(const struct envx_env *e);

/* What an agent files an environment key under (envx-agent(1)): the vault
 * id, the environment's name and its key commitment (VF-3.2) as read when
 * e was opened, so a rekeyed environment or another vault never matches. */
#define ENVX_ENV_KEY_BYTES 32
struct envx_env_keyref {
	unsigned char vault_id[16];
	char env[ENVX_ENV_NAME_MAX_BYTES + 1];
	unsigned char commit[32];
};
void envx_env_keyref(const struct envx_env *e, struct envx_env_keyref *out);
/* Copies e's key (ENVX_ENV_KEY_BYTES) into key, secure memory the caller
 * owns. ENVX_E_LOCKED when e is locked. */
int envx_env_key(const struct envx_env *e, unsigned char *key,
                 struct envx_error *err);
/* VF-3.2: whether key (ENVX_ENV_KEY_BYTES) has commitment commit (32). */
bool envx_key_matches(const unsigned char *key, const unsigned char *commit);
/* Whether v was opened for writing. */
bool envx_vault_writable(const struct envx_vault *v);

/* ---- secrets ---- */

enum envx_secret_state {
	ENVX_STATE_OK = 0,
	ENVX_STATE_COMPROMISED = 1,
};

struct envx_secret_info {
	char name[ENVX_NAME_MAX_BYTES + 1];
	uint64_t version; /* current version */
	char description[ENVX_DESCRIPTION_MAX_BYTES + 1];
	int64_t rotate_every; /* seconds, 0 = unscheduled */
	int64_t rotated_at;   /* when the current value was written */
	int64_t updated_at;
	int state; /* enum envx_secret_state */
	char updated_by[128];
};

/* Every secret's metadata, sorted by name; works without the key (the
 * names are then unverified). Free *out with free(). */
int envx_env_secrets(struct envx_env *e, struct envx_secret_info **out,
                     size_t *n, struct envx_error *err);

/* Decrypts one secret's current value into out (initialized here; release
 * with envx_secbuf_release). ENVX_E_NOTFOUND when absent. Needs unlock. */
int envx_env_get(struct envx_env *e, const char *name, struct envx_secbuf *out,
                 struct envx_error *err);
/* Decrypts a given version (0 = current). */
int envx_env_get_version(struct envx_env *e, const char *name, uint64_t version,
                         struct envx_secbuf *out, struct envx_error *err);
/* Decrypts every current value into out (an initialized, empty kvset),
 * sorted by name, after verifying the environment MAC again in the same
 * pass; on failure out is released. Needs unlock. */
int envx_env_get_all(struct envx_env *e, struct envx_kvset *out,
                     struct envx_error *err);

enum envx_set_flags {
	ENVX_SET_DESCRIPTION = 1 << 0, /* apply opts->description */
	ENVX_SET_ROTATE = 1 << 1,      /* apply opts->rotate_every */
};

/* A value's nonce (VF-3.3: XChaCha20-Poly1305-IETF). */
#define ENVX_SET_NONCE_BYTES 24

struct envx_set_opts {
	unsigned flags;
	const char *description;
	int64_t rotate_every;
	const char *kind; /* "set", "import", "rotate", "rollback", ... */
	/* When not 0, the write happens only if name's current version is
	 * still this one when the write transaction reads it; otherwise
	 * ENVX_E_IO ("changed meanwhile"), nothing written. For writes that
	 * act on a value read before the transaction (envx rotate --run). */
	uint64_t expect_version;
	/* With expect_version: the value that version held when it was read;
	 * a current value that differs (the secret removed and made again at
	 * the same version number) is "changed meanwhile" too. */
	const struct envx_secbuf *expect_value;
	/* When not NULL: the ENVX_SET_NONCE_BYTES-byte nonce to encrypt with,
	 * fresh random bytes the caller drew for this one write (an import
	 * draws every line's in one randombytes_buf call); else one is drawn */
	const unsigned char *nonce;
};

/*
 * Writes value as the next version of name (creating the secret), inside a
 * transaction; clears a compromised state. Refuses invalid or dangerous
 * names, NUL bytes and oversized values with ENVX_E_INPUT. Needs unlock.
 * *version_out (may be NULL) receives the new version number.
 */
int envx_env_set(struct envx_env *e, const char *name,
                 const unsigned char *value, size_t len,
                 const struct envx_set_opts *opts, uint64_t *version_out,
                 struct envx_error *err);
/*
 * Marks name compromised (ENVX_STATE_COMPROMISED), or every secret of e
 * when name is NULL, inside a write transaction; the MAC covering the
 * state is resealed at commit. Only a new value clears it (envx_env_set;
 * a rollback to a value from before e's last `incident` audit event keeps
 * it, VF-3.10).
 * ENVX_E_NOTFOUND when name is absent (name NULL and no secrets: 0).
 * The caller audits. Needs unlock.
 */
int envx_env_mark_compromised(struct envx_env *e, const char *name,
                              struct envx_error *err);
/* The names of e's compromised secrets, sorted (VF-3.10), as of the state
 * unlock verified; free with envx_strv_free. */
int envx_env_compromised(struct envx_env *e, char ***names, size_t *n,
                         struct envx_error *err);
/* Marks e changed in the open transaction, as any write does: the commit
 * seals and signs its state, covering the audit events appended meanwhile.
 * e must be unlocked and the signer a writer of it (ENVX_E_LOCKED). Call
 * it before appending the events, so they name the signer. */
int envx_env_touch(struct envx_env *e, struct envx_error *err);
/* The last audit event (seq) e's verified signed state covers (VF-3.8):
 * events up to it are authenticated once the chain verifies; 0 for none
 * or an unsigned vault. */
int64_t envx_env_signed_audit_seq(const struct envx_env *e);
/* VF-3.11: the keyed fingerprint `envx sync` records for the value it
 * pushed as NAME (16 bytes, under a subkey of the environment key: without
 * the key it says nothing about the value). e must be unlocked. */
int envx_env_sync_fingerprint(const struct envx_env *e, const char *name,
                              const unsigned char *value, size_t len,
                              unsigned char out[16], struct envx_error *err);
/* The environment key's tag: the first 8 bytes of its commitment (VF-3.2)
 * in hex, which changes with every rekey. */
void envx_env_key_tag(const struct envx_env *e, char out[17]);
/* Deletes a secret and all its versions. Inside a transaction. */
int envx_env_rm(struct envx_env *e, const char *name, struct envx_error *err);

struct envx_version_info {
	uint64_t version;
	int64_t created_at;
	char author[128];
	char kind[16];
};

/* Versions of a secret, oldest first; free *out with free(). Works without
 * the key (unverified). */
int envx_env_history(struct envx_env *e, const char *name,
                     struct envx_version_info **out, size_t *n,
                     struct envx_error *err);

/* Writes the value of version (which must exist) as a new version, kind
 * "rollback"; its rotation clock is that of the restored version. */
int envx_env_rollback(struct envx_env *e, const char *name, uint64_t version,
                      uint64_t *version_out, struct envx_error *err);

/* ---- allowed names (VF-3.7) ---- */

/*
 * Whether name may be stored in and read from e: a valid name that is not
 * refused (envx_name_refused), or one e allows. ENVX_E_INPUT otherwise,
 * with a message naming the name, what it can hijack, and the
 * `envx env allow` line. Needs unlock (the allowances are those the MAC
 * verified).
 */
int envx_env_name_permitted(const struct envx_env *e, const char *name,
                            struct envx_error *err);
bool envx_env_name_allowed(const struct envx_env *e, const char *name);
/* e's allowed names, sorted, borrowed from e (valid until the next verify,
 * write or envx_env_free). */
const char *const *envx_env_allowed(const struct envx_env *e, size_t *n);
/*
 * Allows (allow) or withdraws (!allow) a refused name in e, inside a write
 * transaction; *changed says whether anything changed. Allowing a name
 * that is not refused is ENVX_E_INPUT. The caller audits. Needs unlock.
 */
int envx_env_allow(struct envx_env *e, const char *name, bool allow,
                   bool *changed, struct envx_error *err);

/* ---- recipients and access (VF-3.8) ---- */

enum envx_role {
	ENVX_ROLE_NONE = 0, /* revoked */
	ENVX_ROLE_READ = 1,
	ENVX_ROLE_WRITE = 2,
	ENVX_ROLE_ADMIN = 3,
};
const char *envx_role_name(int role);
/* "read", "write" or "admin" into *role; -1 otherwise. */
int envx_role_parse(const char *s, int *role);

struct envx_access_info {
	char label[ENVX_LABEL_MAX_BYTES + 1];
	char kind[16];     /* "x25519" or "passphrase" */
	int role;          /* enum envx_role */
	bool has_sign_key; /* granted with a signing key (envxpub2) */
	unsigned char sign_key[32];
	char fingerprint[24]; /* of sign_key, "" without one */
	int64_t created_at;
	/* the access-log entry that gave the current role: when and by whom
	 * (format 4; granted_at 0 without one) */
	int64_t granted_at;
	char granted_by[ENVX_LABEL_MAX_BYTES + 1];
	char granted_by_fingerprint[24];
};

/* Every recipient of e with its role, in recipient order. With e unlocked
 * the roles are those the access log verified at unlock; without, the
 * access log is replayed and its signatures checked here, but nothing ties
 * it to a key the reader trusts or to the recipient rows: the caller says
 * the list is unverified. Free *out with free(). */
int envx_env_access(struct envx_env *e, struct envx_access_info **out,
                    size_t *n, struct envx_error *err);
/* Admins of e with a signing key (for "only one admin" warnings). */
size_t envx_env_admin_count(const struct envx_env *e);
/* The generation of e's verified state. */
int64_t envx_env_generation(const struct envx_env *e);
/*
 * Grants e to an X25519 public key with a role, or changes the role of the
 * recipient with that label and key, inside a write transaction, signed by
 * the signer, who must be an admin of e (ENVX_E_LOCKED otherwise). write
 * and admin need spk (envxpub2 text); NULL spk allows read only. *changed
 * says whether anything changed.
 */
int envx_env_grant(struct envx_env *e, const char *label,
                   const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                   const unsigned char *spk, int role, bool *changed,
                   struct envx_error *err);

/* Wraps the (unlocked) environment key for an X25519 public key. */
int envx_env_grant_key(struct envx_env *e, const char *label,
                       const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                       struct envx_error *err);
/* Wraps the (unlocked) environment key under a passphrase (Argon2id with
 * envx_kdf_defaults parameters). */
int envx_env_grant_passphrase(struct envx_env *e, const char *label,
                              const unsigned char *pass, size_t passlen,
                              struct envx_error *err);

/* ---- rekey and revoke (VF-3.9) ---- */

struct envx_rekey_stats {
	size_t versions;   /* re-encrypted */
	size_t recipients; /* the key was re-wrapped for */
};

/*
 * Draws a new key for e, re-encrypts every version under it and re-wraps it
 * for every recipient left after removing those labelled in revoke
 * (nrevoke 0: a plain rekey), inside a write transaction, signed by the
 * signer, who must be an admin of e (ENVX_E_LOCKED otherwise). A passphrase
 * recipient that stays is re-wrapped only with its passphrase (asked with a
 * prompt naming it): ENVX_E_LOCKED when none is given or it does not open
 * the recipient. A label that is not a recipient is ENVX_E_NOTFOUND;
 * revoking every recipient, or the signer's own key, ENVX_E_INPUT. Needs
 * unlock; the caller audits. stats may be NULL.
 */
int envx_env_rekey(struct envx_env *e, const char *const *revoke,
                   size_t nrevoke, envx_passphrase_fn ask, void *ask_ctx,
                   struct envx_rekey_stats *stats, struct envx_error *err);

/* ---- merging two copies (SPEC §9) ---- */

/* Called once per conflict (conflict true) and per note (secrets whose
 * versions both sides wrote); env and name may be NULL; text names
 * environments, secrets and labels, never a value. */
typedef void (*envx_merge_report_fn)(void *ctx, bool conflict, const char *env,
                                     const char *name, const char *text);

struct envx_merge {
	/* the ancestor, ours and theirs, opened read-only with the merger's
	 * signer and trust but no rollback record (VF-9.2) */
	struct envx_vault *base;
	struct envx_vault *ours;
	struct envx_vault *theirs;
	const struct envx_unlock *how; /* unlocks the copies' environments */
	envx_merge_report_fn report;
	void *report_ctx;
	/* out: how many conflicts were reported, and the first error class
	 * among them that is not a plain conflict (ENVX_E_LOCKED: the merger
	 * cannot open or sign; ENVX_E_INTEGRITY: an input does not verify) */
	size_t conflicts;
	int worst;
};

/*
 * VF-9.1: merges theirs into result, a writable open of a copy of ours,
 * in one write transaction signed by result's signer. Without conflicts,
 * 0 with the result committed. With conflicts, each is reported, nothing
 * is written, and the return is m->worst, else ENVX_E_CHECK. Other
 * failures return their class, nothing written.
 */
int envx_vault_merge(struct envx_vault *result, struct envx_merge *m,
                     struct envx_error *err);

#endif
