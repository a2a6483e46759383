/*
 * VF-3.9: rekeying an environment, with or without revoking recipients. In
 * one write transaction: remove the revoked recipient rows, draw a new key,
 * re-encrypt every version under it, re-wrap it for every recipient left,
 * store the new key commitment, and append the signed access-log entries
 * that cover the new recipient rows. The seal at commit recomputes the MAC
 * with the new key and signs the new state.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/internal.h"
#include "util/banned.h"

/* One recipient row as read for rewrapping. */
struct rrow {
	int64_t id;
	char label[ENVX_LABEL_MAX_BYTES + 1];
	bool passphrase;
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	unsigned char kdf[ENVX_KDF_PARAMS_BYTES];
	/* the larger of a sealed box (80) and a passphrase wrap (72) */
	unsigned char wrapped[ENVX_SEAL_BYTES];
	size_t wlen;
	bool revoked;
};

/* One version to re-encrypt, by its key. */
struct vrow {
	int64_t secret_id;
	int64_t version;
	char *name;
};

struct rekey {
	struct envx_env *e;
	struct rrow *r;
	size_t nr;
	struct vrow *vr;
	size_t nv;
	unsigned char *key; /* the new key, sodium_malloc */
	struct envx_env_subkeys *sub;
};

static void
rekey_release(struct rekey *k)
{
	size_t i;

	free(k->r);
	for (i = 0; i < k->nv; i++) {
		free(k->vr[i].name);
	}
	free(k->vr);
	sodium_free(k->key);
	sodium_free(k->sub);
}

static int
malformed(const struct envx_env *e, const char *what, struct envx_error *err)
{
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "environment '%s' has a malformed %s: the vault "
	                      "is corrupt or was tampered with",
	                      e->name, what);
}

static int
read_recipients(struct rekey *k, struct envx_error *err)
{
	struct envx_env *e = k->e;
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT id, label, kind, public_key, kdf, "
	                       "wrapped_key FROM recipients WHERE env_id = ? "
	                       "ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read recipients");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rrow *grown =
		        realloc(k->r, (k->nr + 1) * sizeof(*grown));
		struct rrow *x;
		const char *label = (const char *)sqlite3_column_text(st, 1);
		const char *kind = (const char *)sqlite3_column_text(st, 2);
		size_t wlen = (size_t)sqlite3_column_bytes(st, 5);

		if (grown == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		k->r = grown;
		x = &k->r[k->nr++];
		memset(x, 0, sizeof(*x));
		x->id = sqlite3_column_int64(st, 0);
		if (label == NULL || kind == NULL ||
		    strlen(label) > ENVX_LABEL_MAX_BYTES) {
			r = malformed(e, "recipient", err);
			goto out;
		}
		snprintf(x->label, sizeof(x->label), "%s", label);
		x->passphrase = strcmp(kind, "passphrase") == 0;
		if (x->passphrase) {
			if (sqlite3_column_bytes(st, 4) !=
			            ENVX_KDF_PARAMS_BYTES ||
			    wlen != ENVX_NONCE_BYTES + ENVX_KEY_BYTES +
			                    ENVX_TAG_BYTES) {
				r = malformed(e, "passphrase recipient", err);
				goto out;
			}
			memcpy(x->kdf, sqlite3_column_blob(st, 4),
			       ENVX_KDF_PARAMS_BYTES);
			memcpy(x->wrapped, sqlite3_column_blob(st, 5), wlen);
			x->wlen = wlen;
		} else if (strcmp(kind, "x25519") != 0 ||
		           sqlite3_column_bytes(st, 3) !=
		                   ENVX_PUBLIC_KEY_BYTES) {
			r = malformed(e, "recipient", err);
			goto out;
		} else {
			memcpy(x->pk, sqlite3_column_blob(st, 3),
			       ENVX_PUBLIC_KEY_BYTES);
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read recipients");
	}
out:
	sqlite3_finalize(st);
	return r;
}

/* Marks the rows to revoke, refusing what would lock everyone out. */
static int
mark_revoked(struct rekey *k, const char *const *revoke, size_t nrevoke,
             struct envx_error *err)
{
	struct envx_env *e = k->e;
	const struct envx_identity *me = e->v->signer;
	const char *self = NULL;
	size_t left = k->nr;
	size_t i;
	size_t j;

	for (i = 0; i < nrevoke; i++) {
		bool found = false;

		for (j = 0; j < k->nr; j++) {
			if (strcmp(k->r[j].label, revoke[i]) != 0) {
				continue;
			}
			found = true;
			if (!k->r[j].revoked) {
				k->r[j].revoked = true;
				left--;
			}
			if (me != NULL && !k->r[j].passphrase &&
			    sodium_memcmp(k->r[j].pk, me->pk,
			                  ENVX_PUBLIC_KEY_BYTES) == 0) {
				self = revoke[i];
			}
		}
		if (!found) {
			return envx_error_set(err, ENVX_E_NOTFOUND,
			                      "'%.64s' is not a recipient of "
			                      "'%s' (see 'envx access list "
			                      "%s')",
			                      revoke[i], e->name, e->name);
		}
	}
	if (left == 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "refusing to revoke the last recipient "
		                      "of '%s': nobody could open it again",
		                      e->name);
	}
	if (self != NULL) {
		return envx_error_set(
		        err, ENVX_E_INPUT,
		        "'%s' is your own identity: you cannot "
		        "revoke yourself from '%s' (another admin "
		        "can)",
		        self, e->name);
	}
	return 0;
}

static int
read_versions(struct rekey *k, struct envx_error *err)
{
	struct envx_env *e = k->e;
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT ver.secret_id, ver.version, s.name "
	                       "FROM secrets s JOIN versions ver ON "
	                       "ver.secret_id = s.id WHERE s.env_id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct vrow *grown;
		const char *name = (const char *)sqlite3_column_text(st, 2);

		if (name == NULL) {
			r = malformed(e, "secret", err);
			goto out;
		}
		grown = realloc(k->vr, (k->nv + 1) * sizeof(*grown));
		if (grown == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		k->vr = grown;
		k->vr[k->nv].secret_id = sqlite3_column_int64(st, 0);
		k->vr[k->nv].version = sqlite3_column_int64(st, 1);
		k->vr[k->nv].name = strdup(name);
		if (k->vr[k->nv++].name == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
out:
	sqlite3_finalize(st);
	return r;
}

/* VF-3.3: every version decrypted with the old value key and encrypted
 * with the new one, under a fresh nonce and the same AD. */
static int
reencrypt(struct rekey *k, struct envx_error *err)
{
	struct envx_env *e = k->e;
	sqlite3_stmt *get = NULL;
	sqlite3_stmt *put = NULL;
	unsigned char *pt = NULL;
	unsigned char *ct = NULL;
	unsigned char nonce[ENVX_NONCE_BYTES];
	const size_t max = ENVX_VALUE_MAX_BYTES + ENVX_TAG_BYTES;
	size_t i;
	int r = 0;

	pt = sodium_malloc(max);
	ct = malloc(max);
	if (pt == NULL || ct == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate memory");
		goto out;
	}
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT nonce, ciphertext FROM versions WHERE "
	                       "secret_id = ? AND version = ?",
	                       -1, &get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(e->v->db,
	                       "UPDATE versions SET nonce = ?, ciphertext = ? "
	                       "WHERE secret_id = ? AND version = ?",
	                       -1, &put, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, "cannot re-encrypt");
		goto out;
	}
	for (i = 0; i < k->nv; i++) {
		const struct vrow *x = &k->vr[i];
		struct envx_lp ad;
		size_t ctlen;

		sqlite3_bind_int64(get, 1, x->secret_id);
		sqlite3_bind_int64(get, 2, x->version);
		if (sqlite3_step(get) != SQLITE_ROW) {
			r = envx_sqlite_error(e->v->db, err,
			                      "cannot read versions");
			goto out;
		}
		ctlen = (size_t)sqlite3_column_bytes(get, 1);
		if (sqlite3_column_bytes(get, 0) != ENVX_NONCE_BYTES ||
		    ctlen < ENVX_TAG_BYTES || ctlen > max) {
			r = malformed(e, "version", err);
			goto out;
		}
		envx_value_ad(&ad, e, x->name, (uint64_t)x->version);
		if (envx_crypto_open_value(
		            e->sub->value, &ad, sqlite3_column_blob(get, 0),
		            sqlite3_column_blob(get, 1), ctlen, pt) < 0) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "version %lld of '%s' in '%s' does "
			                   "not decrypt: the vault is corrupt",
			                   (long long)x->version, x->name,
			                   e->name);
			goto out;
		}
		sqlite3_reset(get);
		r = envx_crypto_seal_value(k->sub->value, &ad, pt,
		                           ctlen - ENVX_TAG_BYTES, nonce, ct,
		                           err);
		sodium_memzero(pt, ctlen - ENVX_TAG_BYTES);
		if (r < 0) {
			goto out;
		}
		sqlite3_bind_blob(put, 1, nonce, sizeof(nonce), SQLITE_STATIC);
		sqlite3_bind_blob(put, 2, ct, (int)ctlen, SQLITE_STATIC);
		sqlite3_bind_int64(put, 3, x->secret_id);
		sqlite3_bind_int64(put, 4, x->version);
		if (sqlite3_step(put) != SQLITE_DONE) {
			r = envx_sqlite_error(e->v->db, err,
			                      "cannot re-encrypt");
			goto out;
		}
		sqlite3_reset(put);
	}
out:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	sodium_free(pt);
	free(ct);
	return r;
}

/* A passphrase recipient that stays: its passphrase must open its row (to
 * the old key) before the new key is wrapped under the same parameters. */
static int
rewrap_passphrase(struct rekey *k, struct rrow *x, envx_passphrase_fn ask,
                  void *ask_ctx, struct envx_error *err)
{
	struct envx_env *e = k->e;
	struct envx_kdf_params kp;
	struct envx_secbuf pass = {0};
	struct envx_lp ad;
	unsigned char *kek = NULL;
	unsigned char *old = NULL;
	char prompt[256];
	int r;

	envx_kdf_decode(x->kdf, &kp);
	r = envx_kdf_check(&kp, err);
	if (r < 0) {
		return r;
	}
	if (ask == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "rekeying '%s' needs the passphrase of "
		                      "its recipient '%s'",
		                      e->name, x->label);
	}
	kek = sodium_malloc(ENVX_KEY_BYTES);
	old = sodium_malloc(ENVX_KEY_BYTES);
	if (kek == NULL || old == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	snprintf(prompt, sizeof(prompt),
	         "passphrase of recipient '%s' of environment '%s'", x->label,
	         e->name);
	r = envx_secbuf_init(&pass, 1024, err);
	if (r == 0) {
		r = ask(ask_ctx, prompt, &pass, err);
	}
	if (r == 0) {
		r = envx_kdf_derive(&kp, pass.data, pass.len, kek, err);
	}
	if (r < 0) {
		goto out;
	}
	envx_passphrase_ad(&ad, e->v, e->name, x->kdf);
	if (envx_crypto_open_value(kek, &ad, x->wrapped,
	                           x->wrapped + ENVX_NONCE_BYTES,
	                           x->wlen - ENVX_NONCE_BYTES, old) < 0 ||
	    sodium_memcmp(old, e->key, ENVX_KEY_BYTES) != 0) {
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "cannot rekey '%s': the passphrase given "
		                   "does not open its passphrase recipient "
		                   "'%s', so the new key cannot be wrapped for "
		                   "it (give that passphrase, or revoke '%s' "
		                   "and grant it again)",
		                   e->name, x->label, x->label);
		goto out;
	}
	r = envx_crypto_seal_value(kek, &ad, k->key, ENVX_KEY_BYTES, x->wrapped,
	                           x->wrapped + ENVX_NONCE_BYTES, err);
out:
	envx_secbuf_release(&pass);
	sodium_free(kek);
	sodium_free(old);
	return r;
}

/* Deletes revoked rows, re-wraps the others and stores them. */
static int
store_recipients(struct rekey *k, envx_passphrase_fn ask, void *ask_ctx,
                 struct envx_error *err)
{
	struct envx_env *e = k->e;
	sqlite3_stmt *del = NULL;
	sqlite3_stmt *put = NULL;
	size_t i;
	int r = 0;

	if (sqlite3_prepare_v2(e->v->db, "DELETE FROM recipients WHERE id = ?",
	                       -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(e->v->db,
	                       "UPDATE recipients SET wrapped_key = ? WHERE "
	                       "id = ?",
	                       -1, &put, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, "cannot rekey recipients");
		goto out;
	}
	for (i = 0; i < k->nr; i++) {
		struct rrow *x = &k->r[i];
		sqlite3_stmt *st = x->revoked ? del : put;

		if (x->revoked) {
			sqlite3_bind_int64(del, 1, x->id);
		} else {
			if (x->passphrase) {
				r = rewrap_passphrase(k, x, ask, ask_ctx, err);
				if (r < 0) {
					goto out;
				}
			} else {
				crypto_box_seal(x->wrapped, k->key,
				                ENVX_KEY_BYTES, x->pk);
				x->wlen = ENVX_SEAL_BYTES;
			}
			sqlite3_bind_blob(put, 1, x->wrapped, (int)x->wlen,
			                  SQLITE_STATIC);
			sqlite3_bind_int64(put, 2, x->id);
		}
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = envx_sqlite_error(e->v->db, err,
			                      "cannot rekey recipients");
			goto out;
		}
		sqlite3_reset(st);
	}
out:
	sqlite3_finalize(del);
	sqlite3_finalize(put);
	return r;
}

static int
store_commit(struct rekey *k, struct envx_error *err)
{
	struct envx_env *e = k->e;
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(e->v->db,
	                       "UPDATE envs SET key_commit = ? WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot rekey");
	}
	sqlite3_bind_blob(st, 1, k->sub->commit, ENVX_HASH_BYTES,
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot rekey");
	}
	sqlite3_finalize(st);
	return r;
}

/* VF-3.8: one `revoke` entry per revoked label, else one `rekey` entry
 * naming the signer as it is (it changes no membership). */
static int
log_access(struct rekey *k, struct envx_error *err)
{
	struct envx_env *e = k->e;
	const struct envx_member *me;
	size_t i;
	size_t j;
	bool any = false;
	int r;

	for (i = 0; i < k->nr; i++) {
		const unsigned char *spk = NULL;

		if (!k->r[i].revoked) {
			continue;
		}
		for (j = 0; j < e->acc.n; j++) {
			if (strcmp(e->acc.m[j].label, k->r[i].label) == 0 &&
			    e->acc.m[j].has_spk) {
				spk = e->acc.m[j].spk;
			}
		}
		r = envx_access_append(e, "revoke", k->r[i].label,
		                       ENVX_ROLE_NONE, spk, err);
		if (r < 0) {
			return r;
		}
		any = true;
	}
	if (any) {
		return 0;
	}
	me = envx_access_find(&e->acc, e->v->signer->spk);
	if (me == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "the signer is not a member of '%s'",
		                      e->name);
	}
	return envx_access_append(e, "rekey", me->label, me->role, me->spk,
	                          err);
}

int
envx_env_rekey(struct envx_env *e, const char *const *revoke, size_t nrevoke,
               envx_passphrase_fn ask, void *ask_ctx,
               struct envx_rekey_stats *stats, struct envx_error *err)
{
	struct rekey k = {.e = e};
	int r;

	/* locked: ENVX_E_LOCKED; every bucket is hashed again with the new
	 * MAC key */
	r = envx_env_mark_dirty(e, err);
	if (r == 0) {
		r = envx_env_touch_all(e, err);
	}
	if (r < 0) {
		return r;
	}
	if (envx_signer_role(e) != ENVX_ROLE_ADMIN) {
		return envx_error_set(
		        err, ENVX_E_LOCKED,
		        "only an admin of '%s' can rekey it or "
		        "revoke access to it, and your identity "
		        "is %s %s",
		        e->name,
		        envx_signer_role(e) == ENVX_ROLE_NONE ? "not" : "a",
		        envx_signer_role(e) == ENVX_ROLE_NONE
		                ? "a member"
		                : envx_role_name(envx_signer_role(e)));
	}
	/* VF-3.9: the whole file, its indexes included, before the rows to
	 * re-encrypt are listed (an index that disagrees with its table
	 * would list others than the rows the MAC covers) */
	r = envx_vault_integrity_check(e->v, err);
	if (r < 0) {
		return r;
	}
	k.key = sodium_malloc(ENVX_KEY_BYTES);
	k.sub = sodium_malloc(sizeof(*k.sub));
	if (k.key == NULL || k.sub == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	crypto_kdf_keygen(k.key);
	envx_crypto_subkeys(k.key, k.sub);
	r = read_recipients(&k, err);
	if (r == 0) {
		r = mark_revoked(&k, revoke, nrevoke, err);
	}
	if (r == 0) {
		r = read_versions(&k, err);
	}
	if (r == 0) {
		r = reencrypt(&k, err);
	}
	if (r == 0) {
		r = store_recipients(&k, ask, ask_ctx, err);
	}
	if (r == 0) {
		r = store_commit(&k, err);
	}
	if (r < 0) {
		goto out;
	}
	/* from here on e holds the new key: the seal at commit computes the
	 * MAC with it; a failed commit rolls the file back, and e is not
	 * used again */
	sodium_free(e->key);
	sodium_free(e->sub);
	e->key = k.key;
	e->sub = k.sub;
	k.key = NULL;
	k.sub = NULL;
	memcpy(e->key_commit, e->sub->commit, ENVX_HASH_BYTES);
	r = log_access(&k, err);
	if (r == 0 && stats != NULL) {
		stats->versions = k.nv;
		size_t i;

		stats->recipients = 0;
		for (i = 0; i < k.nr; i++) {
			stats->recipients += k.r[i].revoked ? 0 : 1;
		}
	}
out:
	rekey_release(&k);
	return r;
}
