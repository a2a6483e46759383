/*
 * Shared internals of the vault module: the open vault and environment
 * structures, and SQLite helpers. Not part of include/envx.
 */
#ifndef ENVX_VAULT_INTERNAL_H
#define ENVX_VAULT_INTERNAL_H

#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "crypto/crypto.h"
#include "envx/vault.h"

/* VF-4.2: PRAGMA application_id of every envx vault ("envx"). */
#define ENVX_APPLICATION_ID 0x656e7678
/* VF-4.4: how long a connection waits for another one's lock before the
 * command fails with "vault busy"; ENVX_BUSY_TIMEOUT_MS overrides it. */
#define ENVX_BUSY_TIMEOUT_MS     10000
#define ENVX_BUSY_TIMEOUT_MS_MAX 3600000
#define ENVX_MAX_DIRTY           64
/* VF-3.5: passphrase recipients tried per unlock, at most. */
#define ENVX_MAX_PASSPHRASE_TRIES 4

#define ENVX_STMT_CACHE 16

struct envx_vault {
	sqlite3 *db;
	char path[4096];
	bool writable;
	bool in_tx;
	bool read_tx;      /* read-only opens hold one snapshot (VF-4.4) */
	bool lost_changes; /* a dirty env handle was freed before commit */
	bool recovered;    /* a hot journal was rolled back at open (VF-4.7) */
	int schema;
	long busy_ms;                  /* busy timeout in milliseconds */
	struct timespec busy_deadline; /* of the lock wait in progress */
	unsigned char vault_id[ENVX_VAULT_ID_BYTES];
	char actor[256];
	char claimed[256]; /* user@host, as the caller set it */
	const struct envx_identity *signer;
	const struct envx_trust *trust;
	int upgraded_from;  /* format before an upgrade in the open write */
	bool allow_upgrade; /* envx_vault_upgrade is running */
	bool upgrading;     /* upgrade() is unlocking older environments */
	/* VF-3.8: the audit chain was verified in this write from this
	 * event to its head (0: the whole chain; INT64_MAX: not yet) */
	int64_t audit_checked;
	/* the seq the open write's first audit event gets (VF-3.8) */
	int64_t tx_audit_start;
	struct envx_env *dirty[ENVX_MAX_DIRTY];
	size_t ndirty;
	/* statements a write repeats per row (an import), prepared once */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} stmts[ENVX_STMT_CACHE];
};

/*
 * The prepared statement for sql (a string literal: it is cached by its
 * address), reset and without bindings; prepared on first use and kept until
 * envx_vault_close. The caller steps it and calls envx_vault_stmt_done, never
 * sqlite3_finalize. Returns 0 or a negative ENVX_E_* code (what names what
 * failed).
 */
int envx_vault_stmt(struct envx_vault *v, const char *sql, sqlite3_stmt **out,
                    const char *what, struct envx_error *err);
/* Resets a statement from envx_vault_stmt and drops its bindings; accepts
 * NULL. */
void envx_vault_stmt_done(sqlite3_stmt *st);

/* VF-3.8: one member of an environment's access log, as replayed. */
struct envx_member {
	char label[ENVX_LABEL_MAX_BYTES + 1];
	unsigned char spk[32];
	bool has_spk;
	int role;
	/* the entry that last changed this member: when, signed by whom */
	int64_t at;
	unsigned char by[32];
};

/* An environment's access log, replayed and verified. */
struct envx_access {
	struct envx_member *m;
	size_t n;
	int64_t seq; /* last entry, 0: none */
	unsigned char head[ENVX_HASH_BYTES];
	unsigned char recipients[ENVX_HASH_BYTES]; /* digest at the head */
	bool anchored; /* an entry is signed by a key the reader trusts */
	/* a rekey or revoke entry: the environment may have had an incident
	 * (VF-3.10: an incident always rekeys) */
	bool rekeyed;
};

/* A list of names owned by its holder (strdup'd). */
struct envx_names {
	char **names;
	size_t n;
};

/* VF-3.4, format 5: the MAC buckets of an environment. */
#define ENVX_BUCKETS 1024
struct envx_bucket {
	unsigned char digest[ENVX_HASH_BYTES];
	uint64_t nsecrets; /* 0: an empty bucket (no mac_buckets row) */
	uint64_t nversions;
};

struct envx_buckets {
	/* the rows as verified against the root (or sealed) */
	struct envx_bucket b[ENVX_BUCKETS];
	/* buckets whose secret rows were verified against b */
	unsigned char ok[ENVX_BUCKETS / 8];
	/* buckets the open write changes: hashed again at the seal */
	unsigned char touched[ENVX_BUCKETS / 8];
	bool all_ok;      /* every bucket's rows verified */
	bool all_touched; /* every bucket hashed again at the seal */
	/* a witness of each version row a one-bucket verification hashed
	 * (envx_env_witness_check): what a later point lookup reads must be one
	 */
	unsigned char (*wit)[16];
	size_t nwit;
	size_t capwit;
};

/* VF-3.4: the bucket of a secret name (format 5). */
uint32_t envx_bucket_of(const char *name, size_t len);

struct envx_env {
	struct envx_vault *v;
	int64_t id;
	char name[ENVX_ENV_NAME_MAX_BYTES + 1];
	unsigned char key_commit[ENVX_HASH_BYTES];
	int64_t generation;
	unsigned char mac[ENVX_HASH_BYTES];
	unsigned char *key;           /* sodium_malloc, NULL if locked */
	struct envx_env_subkeys *sub; /* sodium_malloc, NULL if locked */
	bool dirty;
	/* VF-3.7: names allowed in this environment, as of the last MAC
	 * that verified (or was sealed), sorted */
	struct envx_names allowed;
	/* VF-3.8: the access log as verified (format 4) */
	struct envx_access acc;
	/* VF-3.10: the time of the last incident, once read (0: none) */
	int64_t incident_at;
	bool incident_known;
	/* VF-3.8: the audit event the verified signed state covers and its
	 * hash, as the signature binds them (0 and zeros: none verified) */
	int64_t signed_audit_seq;
	unsigned char signed_audit_hash[ENVX_HASH_BYTES];
	/* the compromised secrets (ENVX_STATE_COMPROMISED) in the rows the
	 * MAC verified at unlock, sorted; known until the next write */
	struct envx_names compromised;
	bool compromised_known;
	/* VF-3.6: the rows as of generation and mac were verified at unlock
	 * when the connection's data_version and total_changes were these;
	 * while both hold, no connection has changed the file since */
	bool rows_verified;
	int64_t verified_data_version;
	int64_t verified_changes;
	/* format 5: the bucket rows, which buckets' rows are verified and
	 * which the open write changes (NULL before the first verification) */
	struct envx_buckets *bk;
};

/*
 * VF-3.4, format 5: before name's rows are read (or, with write, changed),
 * verifies the rows of its bucket against the authentic bucket row, unless
 * they were already; with write the bucket is hashed again at the seal.
 * A no-op in formats 1 to 4 and after a full verification.
 */
int envx_env_need_rows(struct envx_env *e, const char *name, bool write,
                       struct envx_error *err);
/*
 * VF-3.4, format 5: refuses (ENVX_E_INTEGRITY, naming what was read, and
 * with writing saying nothing was written) the version row (name, whose
 * current version is current; version, created, nonce, ciphertext; of the
 * secret row id) that a point lookup read, unless the verification of
 * name's bucket hashed it. The rows a lookup reads through an index are
 * not covered by the MAC as such: a file whose index disagrees with its
 * table could lead it to another row. 0 as well when name's bucket was
 * verified otherwise (with every bucket). Only for rows the open write has
 * not changed yet.
 */
int envx_env_witness_check(const struct envx_env *e, const char *name,
                           int64_t current, int64_t version, int64_t created,
                           int64_t id, const void *nonce, size_t nlen,
                           const void *ct, size_t ctlen, const char *what,
                           bool writing, struct envx_error *err);
/* The same for every row of e (list, history, a write of every secret). */
int envx_env_need_all(struct envx_env *e, struct envx_error *err);
/* envx_env_need_all, then every bucket is hashed again at the seal (a
 * rekey, a merge). */
int envx_env_touch_all(struct envx_env *e, struct envx_error *err);
/*
 * Format 5: e's rows were just written by this transaction (a merge copied
 * or rebuilds them): puts every row in its bucket, stores the bucket rows
 * that hash them, and hashes every bucket again at the seal. The root is
 * still checked against envs.mac when e is made dirty (VF-3.6).
 */
int envx_env_rebuild_buckets(struct envx_env *e, struct envx_error *err);
/* VF-4.5: upgrades e (unlocked with the MAC of its format) to format 5:
 * buckets filled, sealed with generation + 1 and signed. */
int envx_env_upgrade_buckets(struct envx_env *e, int from,
                             struct envx_error *err);

/* ---- VF-3.8, in sign.c ---- */
void envx_access_release(struct envx_access *a);
const struct envx_member *envx_access_find(const struct envx_access *a,
                                           const unsigned char spk[32]);
/* Replays and verifies e's access log into e->acc (format 4). */
int envx_access_load(struct envx_env *e, struct envx_error *err);
/* Appends a signed entry to e's access log (the signer must be an admin of
 * e, except for "create"), over the recipient rows as they are now. */
int envx_access_append(struct envx_env *e, const char *action,
                       const char *label, int role, const unsigned char *spk,
                       struct envx_error *err);
/* Signs e's sealed state (generation, MAC, key commitment, access head,
 * audit head) with the signer, who must be a writer of e. */
/* VF-3.8: refuses (ENVX_E_INTEGRITY) the first audit event after low and
 * before high that no signed state covers and that envx never appends so;
 * who names the environment being written, for the message, or NULL. */
int envx_vault_unsigned_events(struct envx_vault *v, const char *who,
                               int64_t low, int64_t high,
                               struct envx_error *err);
int envx_state_sign(struct envx_env *e, struct envx_error *err);
/* Checks e's state signature, the rules of VF-3.8 and the reader's rollback
 * record, after the MAC has verified; records the state as seen. */
int envx_state_verify(struct envx_env *e, struct envx_error *err);
/* The signer's role in e (ENVX_ROLE_NONE without a signer). */
int envx_signer_role(const struct envx_env *e);
/* Sets v->actor to the signer as e's access log names it (VF-5.1). */
void envx_actor_from_signer(struct envx_env *e);
/* VF-4.5: after an upgrade to format 4, the signer becomes e's first admin
 * and signs its state as it is. */
int envx_env_upgrade_sign(struct envx_env *e, int from, struct envx_error *err);
/* Format ≤ 3 read by a reader that trusts signed states of this vault. */
int envx_refuse_downgrade(struct envx_env *e, struct envx_error *err);

/* ---- VF-5.1, in audit.c ---- */
/* The last audit event's seq and hash (0 and zeros if none);
 * ENVX_E_INTEGRITY when its hash is not a 32-byte blob (VF-5.2). */
int envx_audit_head(struct envx_vault *v, int64_t *seq,
                    unsigned char out[ENVX_HASH_BYTES], struct envx_error *err);
/* The hash of the event with sequence number seq, recomputed from its
 * fields and its own prev and compared with the stored one: 0, 1 when
 * absent, ENVX_E_INTEGRITY when the event was edited. */
int envx_audit_at(struct envx_vault *v, int64_t seq,
                  unsigned char out[ENVX_HASH_BYTES], struct envx_error *err);

/*
 * VF-3.8: verifies the chain from event seq, whose hash a verified
 * signature binds to hash (0 and zeros: from the start), to the log's
 * head: event seq recomputes to hash, and each later one follows it (as
 * envx_vault_audit_verify checks them). Events before seq are not read.
 */
int envx_audit_verify_from(struct envx_vault *v, int64_t seq,
                           const unsigned char hash[ENVX_HASH_BYTES],
                           struct envx_error *err);

/* Appends an event with the given time and actor to the chain (VF-9.6:
 * the events a merge takes from theirs keep their time and actor). */
int envx_audit_append(struct envx_vault *v, int64_t at, const char *actor,
                      const char *action, const char *env, const char *name,
                      const char *detail, struct envx_error *err);

void envx_names_release(struct envx_names *l);

/* ---- VF-3.10, in incident.c ---- */
/* The time of e's last incident audit event (0: none). */
int envx_env_last_incident(struct envx_env *e, int64_t *at,
                           struct envx_error *err);
/* After name got value as its new version written (which cleared its
 * compromised state): marks it compromised again when an earlier version
 * from before e's last incident holds the same value. */
int envx_env_recheck_compromised(struct envx_env *e, const char *name,
                                 uint64_t written, const unsigned char *value,
                                 size_t len, struct envx_error *err);

/* VF-3.5: AD of a passphrase-wrapped environment key. */
void envx_passphrase_ad(struct envx_lp *ad, const struct envx_vault *v,
                        const char *env,
                        const unsigned char params[ENVX_KDF_PARAMS_BYTES]);

/* Maps the database's last error to an ENVX_E_* code with a message
 * "<what>: <sqlite's reason>". */
int envx_sqlite_error(sqlite3 *db, struct envx_error *err, const char *what);

/*
 * PRAGMA integrity_check(1) on v (quick_check would miss an index that
 * disagrees with its table): 0 when SQLite finds the file sound, else
 * ENVX_E_INTEGRITY with a message saying the vault is corrupt and what SQLite
 * found. Callers run it before blaming a key or a missing row, so a damaged
 * file is reported as damaged (exit 4), not as "not a recipient".
 */
int envx_vault_integrity_check(struct envx_vault *v, struct envx_error *err);

/*
 * Registers e as changed in the open write transaction, so that commit
 * reseals it. On the first change it re-reads the environment's generation
 * and MAC inside the transaction and verifies them against the rows as they
 * are now (VF-3.6), so rows edited since unlock are never resealed as valid.
 */
int envx_env_mark_dirty(struct envx_env *e, struct envx_error *err);
/* Recomputes e's MAC with the next generation and stores both (VF-3.4). */
int envx_env_seal(struct envx_env *e, struct envx_error *err);

/* VF-3.3: the associated data of a value. */
/* Whether a decrypted value is one a writer could have stored (VF-3.3): at
 * most ENVX_VALUE_MAX_BYTES and no NUL byte. Anything else read from a
 * vault is an integrity failure, never printed or exported. */
bool envx_value_storable(const unsigned char *value, size_t len);
void envx_value_ad(struct envx_lp *ad, const struct envx_env *e,
                   const char *name, uint64_t version);

const char *const *envx_schema_migration(int from_version);
int envx_schema_migrate(sqlite3 *db, int from, int to, struct envx_error *err);
int envx_schema_check(sqlite3 *db, int version, struct envx_error *err);

#endif
