/*
 * VF-3.8: writer authentication. Each environment (format 4) keeps an
 * access log of signed entries (who may read, write or administer it),
 * chained by hash from a first "create" entry its creator signed; every
 * sealed state is signed by a writer. A reader trusts an environment only
 * when its log carries the signature of a key the reader trusts from
 * outside the file (its own, or a trust line), and remembers the highest
 * state it verified so that an older one is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/internal.h"
#include "util/banned.h"

const char *
envx_role_name(int role)
{
	switch (role) {
	case ENVX_ROLE_READ:
		return "read";
	case ENVX_ROLE_WRITE:
		return "write";
	case ENVX_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

int
envx_role_parse(const char *s, int *role)
{
	int r;

	for (r = ENVX_ROLE_NONE; r <= ENVX_ROLE_ADMIN; r++) {
		if (strcmp(s, envx_role_name(r)) == 0) {
			*role = r;
			return 0;
		}
	}
	return -1;
}

void
envx_access_release(struct envx_access *a)
{
	free(a->m);
	memset(a, 0, sizeof(*a));
}

const struct envx_member *
envx_access_find(const struct envx_access *a, const unsigned char spk[32])
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (a->m[i].has_spk && memcmp(a->m[i].spk, spk, 32) == 0) {
			return &a->m[i];
		}
	}
	return NULL;
}

static struct envx_member *
member_by_label(struct envx_access *a, const char *label)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (strcmp(a->m[i].label, label) == 0) {
			return &a->m[i];
		}
	}
	return NULL;
}

/* Applies one entry to the replayed state. */
static int
member_set(struct envx_access *a, const char *label, const unsigned char *spk,
           int role, int64_t at, const unsigned char signer[32],
           struct envx_error *err)
{
	struct envx_member *m = member_by_label(a, label);
	bool changed =
	        m == NULL || m->role != role ||
	        (spk != NULL && (!m->has_spk || memcmp(m->spk, spk, 32) != 0));

	if (m == NULL) {
		struct envx_member *grown =
		        realloc(a->m, (a->n + 1) * sizeof(*grown));
		if (grown == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		a->m = grown;
		m = &a->m[a->n++];
		memset(m, 0, sizeof(*m));
		snprintf(m->label, sizeof(m->label), "%s", label);
	}
	if (spk != NULL) {
		memcpy(m->spk, spk, 32);
		m->has_spk = true;
	}
	if (changed) {
		m->at = at;
		memcpy(m->by, signer, 32);
	}
	m->role = role;
	return 0;
}

/* VF-3.8: R = BLAKE2b-256 over the recipient rows in id order. */
static int
recipients_digest(struct envx_vault *v, int64_t env_id,
                  unsigned char out[ENVX_HASH_BYTES], struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_lp hs;
	int rc;
	int r = 0;
	int col;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT label, kind, public_key, kdf, "
	                       "wrapped_key FROM recipients WHERE env_id = ? "
	                       "ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read recipients");
	}
	sqlite3_bind_int64(st, 1, env_id);
	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-recipients-v1");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
		    sqlite3_column_type(st, 1) != SQLITE_TEXT) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "a recipient row has a value of the "
			        "wrong type: the vault is corrupt or "
			        "tampered");
			goto out;
		}
		envx_lp_str(&hs, "recipient");
		for (col = 0; col < 5; col++) {
			int t = sqlite3_column_type(st, col);
			if (t != SQLITE_NULL && t != SQLITE_TEXT &&
			    t != SQLITE_BLOB) {
				r = envx_error_set(
				        err, ENVX_E_INTEGRITY,
				        "a recipient row has a value "
				        "of the wrong type: the vault "
				        "is corrupt or tampered");
				goto out;
			}
			/* NULL and empty differ: a one-byte tag first */
			envx_lp_u64(&hs, t == SQLITE_NULL ? 0 : 1);
			envx_lp_bytes(&hs, sqlite3_column_blob(st, col),
			              (size_t)sqlite3_column_bytes(st, col));
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read recipients");
		goto out;
	}
	envx_lp_final(&hs, out);
out:
	sqlite3_finalize(st);
	return r;
}

struct entry {
	int64_t seq;
	int64_t at;
	const char *action;
	const char *label;
	const char *role;
	const unsigned char *subject;
	size_t subject_len;
	const unsigned char *recipients;
	const unsigned char *signer;
	const unsigned char *prev;
};

/* d = BLAKE2b-256(A), the bytes an entry's signer signs. */
static void
entry_digest(const struct envx_env *e, const struct entry *x,
             unsigned char out[ENVX_HASH_BYTES])
{
	struct envx_lp hs;

	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-access-v1");
	envx_lp_bytes(&hs, e->v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(&hs, e->name);
	envx_lp_u64(&hs, (uint64_t)x->seq);
	envx_lp_bytes(&hs, x->prev, ENVX_HASH_BYTES);
	envx_lp_u64(&hs, (uint64_t)x->at);
	envx_lp_str(&hs, x->action);
	envx_lp_str(&hs, x->label);
	envx_lp_str(&hs, x->role);
	envx_lp_bytes(&hs, x->subject, x->subject_len);
	envx_lp_bytes(&hs, x->recipients, ENVX_HASH_BYTES);
	envx_lp_bytes(&hs, x->signer, 32);
	envx_lp_final(&hs, out);
}

/* head = BLAKE2b-256(lp("envx-access-head-v1") || lp(d) || lp(sig)) */
static void
entry_head(const unsigned char d[ENVX_HASH_BYTES],
           const unsigned char sig[ENVX_SIGNATURE_BYTES],
           unsigned char out[ENVX_HASH_BYTES])
{
	struct envx_lp hs;

	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-access-head-v1");
	envx_lp_bytes(&hs, d, ENVX_HASH_BYTES);
	envx_lp_bytes(&hs, sig, ENVX_SIGNATURE_BYTES);
	envx_lp_final(&hs, out);
}

static bool
trusted_key(const struct envx_env *e, const unsigned char spk[32])
{
	const struct envx_vault *v = e->v;
	size_t k;
	size_t i;

	if (v->signer != NULL && memcmp(v->signer->spk, spk, 32) == 0) {
		return true;
	}
	/* the signer's own trust lines, then the caller's lists */
	for (k = 0; k < 3; k++) {
		const struct envx_anchors *l =
		        k == 0 ? (v->signer != NULL ? &v->signer->anchors
		                                    : NULL)
		        : v->trust != NULL ? v->trust->anchors[k - 1]
		                           : NULL;
		for (i = 0; l != NULL && i < l->n; i++) {
			if (memcmp(l->a[i].vault_id, v->vault_id,
			           ENVX_VAULT_ID_BYTES) == 0 &&
			    strcmp(l->a[i].env, e->name) == 0 &&
			    memcmp(l->a[i].admin, spk, 32) == 0) {
				return true;
			}
		}
	}
	return false;
}

static int
bad_log(const struct envx_env *e, int64_t seq, const char *why,
        struct envx_error *err)
{
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "environment '%s' refused: entry %lld of its "
	                      "access log %s; the vault was tampered with "
	                      "(or is corrupt)",
	                      e->name, (long long)seq, why);
}

/* VF-3.8: what each action may do. A grant gives a role; a revoke takes
 * every role away; a rekey names its signer as it is and changes nothing. */
static int
check_action(const struct envx_env *e, const struct entry *x,
             const struct envx_member *by, int role, struct envx_error *err)
{
	if (strcmp(x->action, "grant") == 0) {
		if (role == ENVX_ROLE_NONE) {
			return bad_log(e, x->seq, "grants no role", err);
		}
		return 0;
	}
	if (strcmp(x->action, "revoke") == 0) {
		if (role != ENVX_ROLE_NONE) {
			return bad_log(e, x->seq, "revokes to a role", err);
		}
		return 0;
	}
	if (strcmp(x->action, "rekey") == 0) {
		if (strcmp(x->label, by->label) != 0 || role != by->role ||
		    x->subject_len != 32 ||
		    memcmp(x->subject, by->spk, 32) != 0) {
			return bad_log(e, x->seq,
			               "is a rekey that does not name its "
			               "signer",
			               err);
		}
		return 0;
	}
	return bad_log(e, x->seq, "has an unknown action", err);
}

int
envx_access_load(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	struct envx_access a = {0};
	sqlite3_stmt *st = NULL;
	unsigned char d[ENVX_HASH_BYTES];
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT seq, at, action, label, role, subject, "
	                       "recipients, signer, prev, sig FROM access_log "
	                       "WHERE env_id = ? ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read access log");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct entry x = {0};
		const struct envx_member *by;
		const unsigned char *sig;
		int role;
		int c;

		for (c = 0; c < 10; c++) {
			static const int want[10] = {
			        SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_TEXT,
			        SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_BLOB,
			        SQLITE_BLOB,    SQLITE_BLOB,    SQLITE_BLOB,
			        SQLITE_BLOB};
			/* an empty subject may read back as an empty blob */
			if (sqlite3_column_type(st, c) != want[c]) {
				r = bad_log(e, a.seq + 1,
				            "has a value of the wrong type",
				            err);
				goto out;
			}
		}
		x.seq = sqlite3_column_int64(st, 0);
		x.at = sqlite3_column_int64(st, 1);
		x.action = (const char *)sqlite3_column_text(st, 2);
		x.label = (const char *)sqlite3_column_text(st, 3);
		x.role = (const char *)sqlite3_column_text(st, 4);
		x.subject = sqlite3_column_blob(st, 5);
		x.subject_len = (size_t)sqlite3_column_bytes(st, 5);
		x.recipients = sqlite3_column_blob(st, 6);
		x.signer = sqlite3_column_blob(st, 7);
		x.prev = sqlite3_column_blob(st, 8);
		sig = sqlite3_column_blob(st, 9);
		if (x.seq != a.seq + 1) {
			r = bad_log(e, a.seq + 1, "is missing", err);
			goto out;
		}
		if (x.action == NULL || x.label == NULL || x.role == NULL ||
		    (x.subject_len != 0 && x.subject_len != 32) ||
		    sqlite3_column_bytes(st, 6) != ENVX_HASH_BYTES ||
		    sqlite3_column_bytes(st, 7) != 32 ||
		    sqlite3_column_bytes(st, 8) != ENVX_HASH_BYTES ||
		    sqlite3_column_bytes(st, 9) != ENVX_SIGNATURE_BYTES ||
		    envx_role_parse(x.role, &role) < 0 ||
		    strlen(x.label) > ENVX_LABEL_MAX_BYTES) {
			r = bad_log(e, x.seq, "is malformed", err);
			goto out;
		}
		if (x.seq > 1 && memcmp(x.prev, a.head, ENVX_HASH_BYTES) != 0) {
			r = bad_log(e, x.seq,
			            "does not follow the one before it (the "
			            "log was edited or spliced)",
			            err);
			goto out;
		}
		entry_digest(e, &x, d);
		if (crypto_sign_verify_detached(sig, d, sizeof(d), x.signer) !=
		    0) {
			r = bad_log(e, x.seq,
			            "has a signature that does not "
			            "verify",
			            err);
			goto out;
		}
		if (x.seq == 1) {
			/* the first entry: its creator, an admin, signs it */
			if (strcmp(x.action, "create") != 0 ||
			    role != ENVX_ROLE_ADMIN || x.subject_len != 32 ||
			    memcmp(x.subject, x.signer, 32) != 0) {
				r = bad_log(e, 1,
				            "is not a creation signed by its "
				            "creator",
				            err);
				goto out;
			}
		} else {
			by = envx_access_find(&a, x.signer);
			if (by == NULL || by->role != ENVX_ROLE_ADMIN) {
				r = envx_error_set(
				        err, ENVX_E_INTEGRITY,
				        "environment '%s' refused: its access "
				        "was changed (entry %lld, '%s' of "
				        "'%s') by a key that is not an admin "
				        "of '%s'",
				        e->name, (long long)x.seq, x.action,
				        x.label, e->name);
				goto out;
			}
			r = check_action(e, &x, by, role, err);
			if (r < 0) {
				goto out;
			}
		}
		if (role >= ENVX_ROLE_WRITE && x.subject_len != 32) {
			r = bad_log(e, x.seq,
			            "gives write access to a key that cannot "
			            "sign",
			            err);
			goto out;
		}
		r = member_set(&a, x.label,
		               x.subject_len == 32 ? x.subject : NULL, role,
		               x.at, x.signer, err);
		if (r < 0) {
			goto out;
		}
		if (trusted_key(e, x.signer)) {
			a.anchored = true;
		}
		if (strcmp(x.action, "rekey") == 0 ||
		    strcmp(x.action, "revoke") == 0) {
			a.rekeyed = true;
		}
		entry_head(d, sig, a.head);
		memcpy(a.recipients, x.recipients, ENVX_HASH_BYTES);
		a.seq = x.seq;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read access log");
		goto out;
	}
	if (a.seq == 0) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s' refused: it has no access "
		                   "log, so nothing proves who wrote it (a "
		                   "format-4 environment always has one): the "
		                   "vault was tampered with",
		                   e->name);
		goto out;
	}
	envx_access_release(&e->acc);
	e->acc = a;
	memset(&a, 0, sizeof(a));
out:
	sqlite3_finalize(st);
	envx_access_release(&a);
	return r;
}

int
envx_signer_role(const struct envx_env *e)
{
	const struct envx_member *m;

	if (e->v->signer == NULL) {
		return ENVX_ROLE_NONE;
	}
	m = envx_access_find(&e->acc, e->v->signer->spk);
	return m != NULL ? m->role : ENVX_ROLE_NONE;
}

void
envx_actor_from_signer(struct envx_env *e)
{
	struct envx_vault *v = e->v;
	const struct envx_member *m;
	char fp[24];
	char full[ENVX_LABEL_MAX_BYTES + 24 + sizeof(v->claimed) + 2];

	if (v->signer == NULL || v->schema < 4) {
		return;
	}
	m = envx_access_find(&e->acc, v->signer->spk);
	envx_fingerprint(v->signer->spk, fp);
	/* VF-5.1: the signer, then the claimed user@host (for people; not
	 * authenticated) */
	snprintf(full, sizeof(full), "%s %s%s%s", m != NULL ? m->label : "-",
	         fp, v->claimed[0] ? " " : "", v->claimed);
	/* VF-6.1: at most 255 bytes */
	snprintf(v->actor, sizeof(v->actor), "%.255s", full);
}

int
envx_access_append(struct envx_env *e, const char *action, const char *label,
                   int role, const unsigned char *spk, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	const struct envx_identity *id = v->signer;
	unsigned char prev[ENVX_HASH_BYTES];
	unsigned char rd[ENVX_HASH_BYTES];
	unsigned char d[ENVX_HASH_BYTES];
	unsigned char sig[ENVX_SIGNATURE_BYTES];
	struct entry x = {0};
	sqlite3_stmt *st = NULL;
	int r;

	if (id == NULL || id->ssk == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "changing access to '%s' needs an "
		                      "identity to sign with",
		                      e->name);
	}
	if (strcmp(action, "create") != 0 &&
	    envx_signer_role(e) != ENVX_ROLE_ADMIN) {
		return envx_error_set(
		        err, ENVX_E_LOCKED,
		        "only an admin of '%s' can change who has "
		        "access to it, and your identity is %s%s",
		        e->name,
		        envx_signer_role(e) == ENVX_ROLE_NONE ? "not a member"
		                                              : "a ",
		        envx_signer_role(e) == ENVX_ROLE_NONE
		                ? ""
		                : envx_role_name(envx_signer_role(e)));
	}
	r = recipients_digest(v, e->id, rd, err);
	if (r < 0) {
		return r;
	}
	if (e->acc.seq == 0) {
		randombytes_buf(prev, sizeof(prev));
	} else {
		memcpy(prev, e->acc.head, sizeof(prev));
	}
	x.seq = e->acc.seq + 1;
	x.at = envx_now();
	x.action = action;
	x.label = label;
	x.role = envx_role_name(role);
	x.subject = spk;
	x.subject_len = spk != NULL ? 32 : 0;
	x.recipients = rd;
	x.signer = id->spk;
	x.prev = prev;
	entry_digest(e, &x, d);
	crypto_sign_detached(sig, NULL, d, sizeof(d), id->ssk);
	if (sqlite3_prepare_v2(v->db,
	                       "INSERT INTO access_log (env_id, seq, at, "
	                       "action, label, role, subject, recipients, "
	                       "signer, prev, sig) VALUES "
	                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot write access log");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, x.seq);
	sqlite3_bind_int64(st, 3, x.at);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, x.role, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, spk != NULL ? spk : (const void *)"",
	                  (int)x.subject_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, rd, sizeof(rd), SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, id->spk, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, prev, sizeof(prev), SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, sig, sizeof(sig), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot write access log");
		goto out;
	}
	r = member_set(&e->acc, label, spk, role, x.at, id->spk, err);
	if (r < 0) {
		goto out;
	}
	entry_head(d, sig, e->acc.head);
	memcpy(e->acc.recipients, rd, sizeof(rd));
	e->acc.seq = x.seq;
	if (trusted_key(e, id->spk)) {
		e->acc.anchored = true;
	}
out:
	sqlite3_finalize(st);
	return r;
}

/* VF-3.8: the state digest a writer signs. */
static void
state_digest(const struct envx_env *e, int64_t audit_seq,
             const unsigned char audit_hash[32], const unsigned char *signer,
             unsigned char out[ENVX_HASH_BYTES])
{
	struct envx_lp hs;

	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-state-v1");
	envx_lp_bytes(&hs, e->v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(&hs, e->name);
	envx_lp_u64(&hs, (uint64_t)e->generation);
	envx_lp_bytes(&hs, e->key_commit, ENVX_HASH_BYTES);
	envx_lp_bytes(&hs, e->mac, ENVX_HASH_BYTES);
	envx_lp_u64(&hs, (uint64_t)e->acc.seq);
	envx_lp_bytes(&hs, e->acc.head, ENVX_HASH_BYTES);
	envx_lp_u64(&hs, (uint64_t)audit_seq);
	envx_lp_bytes(&hs, audit_hash, 32);
	envx_lp_bytes(&hs, signer, 32);
	envx_lp_final(&hs, out);
}

static int seal_check(struct envx_env *e, bool need_anchor,
                      unsigned char d[ENVX_HASH_BYTES], struct envx_error *err);

/* Why an event is not covered (VF-3.8, *Audit chain*). */
enum uncovered {
	AFTER_SEAL,  /* of an environment, after its signed state */
	BAD_SEAL,    /* of an environment whose signed state does not verify */
	AFTER_ALL,   /* of no environment, after every signed state */
	MISSING_ENV, /* of an environment the vault lacks, no env-rm after */
};

/* The refusal for the uncovered event in st's row (seq, action, env);
 * who is the environment being written, or NULL. */
static int
uncovered_error(const char *who, sqlite3_stmt *st, enum uncovered why,
                struct envx_error *err)
{
	char action[64];
	char of[ENVX_ENV_NAME_MAX_BYTES + 3];
	char safe[ENVX_ENV_NAME_MAX_BYTES + 1];
	char what[ENVX_ENV_NAME_MAX_BYTES + 96];
	const char *env = (const char *)sqlite3_column_text(st, 2);
	bool own;

	/* untrusted text: printable ASCII only */
	envx_text_safe((const char *)sqlite3_column_text(st, 1), action,
	               sizeof(action));
	envx_text_safe(env != NULL ? env : "", safe, sizeof(safe));
	own = who != NULL && strcmp(safe, who) == 0;
	snprintf(of, sizeof(of), "%s", safe);
	switch (why) {
	case MISSING_ENV:
		/* quoted: a look-alike name may end in a space */
		snprintf(of, sizeof(of), "'%s'", safe);
		snprintf(what, sizeof(what),
		         "names an environment the vault does not have, and no "
		         "env-rm of it follows: it was added");
		break;
	case AFTER_ALL:
		snprintf(of, sizeof(of), "no environment");
		snprintf(what, sizeof(what),
		         "was added after every signed state");
		break;
	case BAD_SEAL:
		snprintf(what, sizeof(what),
		         "is covered by no signed state (%s's does not verify: "
		         "its rows or seal were changed); it was added",
		         safe);
		break;
	case AFTER_SEAL:
	default:
		snprintf(what, sizeof(what),
		         "was added after %s%s last signed state",
		         own ? "its" : safe, own ? "" : "'s");
		break;
	}
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "%s%s%saudit event %lld (%s, of %s) %s without a "
	                      "signed write (outside envx); envx does not sign "
	                      "over it",
	                      who != NULL ? "environment '" : "",
	                      who != NULL ? who : "", who != NULL ? "': " : "",
	                      (long long)sqlite3_column_int64(st, 0), action,
	                      of, what);
}

/* Runs sql (binding ?1 to low, ?2 to high, ?3 to name and ?4 to after) and
 * refuses the event it finds, if any. */
static int
uncovered_query(struct envx_vault *v, const char *who, const char *sql,
                int64_t low, int64_t high, const char *name, int64_t after,
                enum uncovered why, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err,
		                         "cannot read the audit log");
	}
	sqlite3_bind_int64(st, 1, low);
	sqlite3_bind_int64(st, 2, high);
	if (name != NULL) {
		sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, after);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = uncovered_error(who, st, why, err);
	} else if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read the audit log");
	}
	sqlite3_finalize(st);
	return r;
}

static bool
dirty_in_tx(const struct envx_vault *v, int64_t id)
{
	size_t i;

	for (i = 0; i < v->ndirty; i++) {
		if (v->dirty[i]->id == id) {
			return true;
		}
	}
	return false;
}

/*
 * The last event environment name's signed state covers, in *seq (0 when
 * it has none), and whether that state verifies (*genuine): signed, over
 * the rows as they are, by a writer of its own access log (VF-3.8 step 4
 * without the trust anchor: a writer of another environment holds none
 * for it, but an edited `seals.audit_seq` no longer verifies). The state
 * of who, of every environment this transaction changes, and of every
 * environment in an upgrade (which unlocks them all and signs each for the
 * first time), was verified by this writer when it unlocked it, and is
 * taken as it is. 1 when the vault has no such environment.
 */
static int
covered_by(struct envx_vault *v, const char *who, const char *name,
           int64_t *seq, bool *genuine, struct envx_error *err)
{
	struct envx_env *f = NULL;
	struct envx_error e2;
	unsigned char d[ENVX_HASH_BYTES];
	sqlite3_stmt *st = NULL;
	int r;

	*seq = 0;
	*genuine = false;
	r = envx_env_open(v, name, &f, &e2);
	if (r == ENVX_E_NOTFOUND) {
		return 1;
	}
	if (r < 0) {
		*err = e2;
		return r;
	}
	if ((who != NULL && strcmp(name, who) == 0) || dirty_in_tx(v, f->id) ||
	    (v->in_tx && v->upgraded_from != 0)) {
		r = sqlite3_prepare_v2(v->db,
		                       "SELECT audit_seq FROM seals WHERE "
		                       "env_id = ?",
		                       -1, &st, NULL) == SQLITE_OK
		            ? 0
		            : envx_sqlite_error(v->db, err,
		                                "cannot read environment");
		if (r == 0) {
			sqlite3_bind_int64(st, 1, f->id);
			/* a new environment: nothing of it signed yet */
			*seq = sqlite3_step(st) == SQLITE_ROW
			               ? sqlite3_column_int64(st, 0)
			               : INT64_MAX;
			*genuine = true;
		}
		sqlite3_finalize(st);
	} else if (seal_check(f, false, d, &e2) == 0) {
		*seq = f->signed_audit_seq;
		*genuine = true;
	}
	envx_env_free(f);
	return r;
}

/* The last event any verified signed state of the vault covers, in *all
 * (0 when none verifies). */
static int
last_covered(struct envx_vault *v, const char *who, int64_t *all,
             struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	*all = 0;
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT n.name FROM envs n JOIN seals s ON "
	                       "s.env_id = n.id ORDER BY s.audit_seq DESC",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err,
		                         "cannot read the audit log");
	}
	/* the highest seal first: the first that verifies decides */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq;
		bool genuine;

		r = covered_by(v, who, (const char *)sqlite3_column_text(st, 0),
		               &seq, &genuine, err);
		if (r < 0) {
			break;
		}
		if (r == 0 && genuine && seq != INT64_MAX) {
			*all = seq;
			break;
		}
		r = 0;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read the audit log");
	}
	sqlite3_finalize(st);
	return r;
}

/*
 * VF-3.8: every event about an environment that envx appends is covered by
 * the signed state sealed in the same write, except `trust-reset` (which
 * writes nothing else). An event about an environment f after the one f's
 * signed state covers was therefore added outside envx; signing now would
 * make it look signed (a forged sync record would then steer `sync
 * --prune`, a forged incident the compromised state), and it would stay
 * in front of every later write of f, which refuses it, for good. f's
 * state must verify for that (an edited `seals.audit_seq` would cover
 * anything until it is put back).
 * An event about no environment (`init`, a merge's summary) is appended in
 * a write that seals some environment after it, so one after every signed
 * state in the file was added outside envx too (but `init`, the first
 * event, which comes before any environment, and one an `env-rm` follows:
 * the state that covered it may be the removed environment's). So is an
 * event about an environment the file does not have, unless an `env-rm` of
 * it follows (an environment written and then removed): otherwise a
 * look-alike name ("prod " for "prod") would be signed into the log.
 * Checked among the events after low and before high.
 */
int
envx_vault_unsigned_events(struct envx_vault *v, const char *who, int64_t low,
                           int64_t high, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t all = 0;
	int rc;
	int r = 0;

	/* each environment with events in the range (the last event any
	 * verified signed state covers: below) */
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT DISTINCT env FROM audit WHERE seq > ?1 "
	                       "AND seq < ?2 AND env <> ''",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err,
		                         "cannot read the audit log");
	}
	sqlite3_bind_int64(st, 1, low);
	sqlite3_bind_int64(st, 2, high);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int64_t seq;
		bool genuine;
		int c;

		if (name == NULL) {
			continue;
		}
		c = covered_by(v, who, name, &seq, &genuine, err);
		if (c < 0) {
			r = c;
			break;
		}
		if (c == 1) {
			continue; /* no such environment: below */
		}
		r = uncovered_query(
		        v, who,
		        "SELECT seq, action, env FROM audit WHERE "
		        "seq > ?1 AND seq < ?2 AND env = ?3 AND seq > "
		        "?4 AND action <> 'trust-reset' ORDER BY seq "
		        "LIMIT 1",
		        low, high, name, genuine ? seq : 0,
		        genuine ? AFTER_SEAL : BAD_SEAL, err);
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read the audit log");
	}
	sqlite3_finalize(st);
	if (r == 0) {
		/* events of no environment in the range, first without the
		 * signatures (the common case: none), then after the last
		 * event a verified signed state covers */
		static const char sql[] =
		        "SELECT a.seq, a.action, a.env FROM audit a WHERE a.seq > "
		        "?1 AND a.seq < ?2 AND a.env = '' AND a.seq > ?4 AND NOT "
		        "(a.seq = 1 AND a.action = 'init') AND NOT EXISTS (SELECT "
		        "1 FROM audit r WHERE r.seq > a.seq AND r.seq < ?2 AND "
		        "r.action = 'env-rm') ORDER BY a.seq LIMIT 1";
		struct envx_error e2;

		if (uncovered_query(v, who, sql, low, high, "", 0, AFTER_ALL,
		                    &e2) != 0) {
			r = last_covered(v, who, &all, err);
			if (r == 0) {
				r = uncovered_query(v, who, sql, low, high, "",
				                    all, AFTER_ALL, err);
			}
		}
	}
	if (r == 0) {
		r = uncovered_query(
		        v, who,
		        "SELECT a.seq, a.action, a.env FROM audit a WHERE a.seq > "
		        "?1 AND a.seq < ?2 AND a.env <> '' AND a.action <> "
		        "'env-rm' AND NOT EXISTS (SELECT 1 FROM envs n WHERE "
		        "n.name = a.env) AND NOT EXISTS (SELECT 1 FROM audit r "
		        "WHERE r.seq > a.seq AND r.seq < ?2 AND r.env = a.env AND "
		        "r.action = 'env-rm') ORDER BY a.seq LIMIT 1",
		        low, high, NULL, 0, MISSING_ENV, err);
	}
	return r;
}

/* The writer's check, from e's signed state on (the writer who signed it
 * checked the events before), or, for a new environment, from the oldest
 * signed state in the file, up to this write's own events. */
static int
uncovered_events(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int64_t low;
	int rc;

	if (v->in_tx && v->upgraded_from != 0 && v->upgraded_from < 4) {
		/* VF-4.5: an upgrade from a format without signatures signs
		 * the history as it is; nothing in it was signed before */
		return 0;
	}
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT coalesce((SELECT audit_seq FROM seals "
	                       "WHERE env_id = ?), (SELECT "
	                       "coalesce(min(audit_seq), 0) FROM seals))",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	rc = sqlite3_step(st);
	low = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	return envx_vault_unsigned_events(v, e->name, low, v->tx_audit_start,
	                                  err);
}

int
envx_state_sign(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	const struct envx_identity *id = v->signer;
	unsigned char ah[32];
	unsigned char rd[ENVX_HASH_BYTES];
	unsigned char d[ENVX_HASH_BYTES];
	unsigned char sig[ENVX_SIGNATURE_BYTES];
	sqlite3_stmt *st = NULL;
	int64_t aseq;
	int role = envx_signer_role(e);
	int r;

	if (id != NULL && id->ssk == NULL) {
		/* a public-only identity (its key from an agent) never signs:
		 * the command that writes loads the secret half */
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "cannot write to '%s': the identity's "
		                      "secret key is not loaded",
		                      e->name);
	}
	if (id == NULL || role < ENVX_ROLE_WRITE) {
		return envx_error_set(
		        err, ENVX_E_LOCKED,
		        "cannot write to '%s': your identity %s; an admin of "
		        "'%s' can run 'envx access grant %s <your "
		        "envxpub2 key> --label <you> --role write'",
		        e->name,
		        id == NULL               ? "is missing"
		        : role == ENVX_ROLE_READ ? "may only read it"
		                                 : "is not a writer of it",
		        e->name, e->name);
	}
	/* recipients change only with an admin's signed entry */
	r = recipients_digest(v, e->id, rd, err);
	if (r < 0) {
		return r;
	}
	if (sodium_memcmp(rd, e->acc.recipients, sizeof(rd)) != 0) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "recipients of '%s' changed without an "
		                      "access log entry",
		                      e->name);
	}
	/* VF-3.8: a writer never signs over events someone edited: those up
	 * to the signed state it verified are bound by that signature through
	 * their stored hashes; it checks that the ones since follow them (the
	 * whole chain when it verified none: a new environment, a merge) */
	r = envx_audit_verify_from(v, e->signed_audit_seq, e->signed_audit_hash,
	                           err);
	if (r < 0) {
		if (r == ENVX_E_INTEGRITY) {
			envx_error_append(err, "; envx does not sign over it");
		}
		return r;
	}
	r = uncovered_events(e, err);
	if (r < 0) {
		return r;
	}
	r = envx_audit_head(v, &aseq, ah, err);
	if (r < 0) {
		return r;
	}
	state_digest(e, aseq, ah, id->spk, d);
	crypto_sign_detached(sig, NULL, d, sizeof(d), id->ssk);
	if (sqlite3_prepare_v2(v->db,
	                       "INSERT OR REPLACE INTO seals (env_id, "
	                       "access_seq, audit_seq, signer, sig) VALUES "
	                       "(?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot seal environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, e->acc.seq);
	sqlite3_bind_int64(st, 3, aseq);
	sqlite3_bind_blob(st, 4, id->spk, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, sig, sizeof(sig), SQLITE_STATIC);
	r = 0;
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot seal environment");
	}
	sqlite3_finalize(st);
	return r;
}

/* ---- what this machine has seen (rollback memory) ---- */

static void
hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	}
}

struct seen {
	bool found;
	int64_t generation;
	char digest[65];
	int64_t access_seq;
	char access_head[65];
};

/* Reads the whole file (at most 4 MiB); *data is malloc'd, NUL-ended. */
static int
slurp(int fd, char **data, size_t *len)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap);

	if (buf == NULL) {
		return -1;
	}
	for (;;) {
		ssize_t got;
		if (n + 1 == cap) {
			char *grown;
			if (cap >= (size_t)4 << 20) {
				break;
			}
			grown = realloc(buf, cap * 2);
			if (grown == NULL) {
				free(buf);
				return -1;
			}
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			break;
		}
		n += (size_t)got;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

/*
 * Opens a file of the record of verified states (flags: O_RDONLY, or
 * O_RDWR | O_CREAT for the lock), never following a symlink nor waiting on
 * a FIFO, and refuses one that is not a regular file only its owner (this
 * user or root) can write, in a directory that is the same. *fd is -1 when
 * the file does not exist (O_RDONLY).
 */
static int
seen_open(const char *path, int flags, int *fd, struct envx_error *err)
{
	char dir[4200];
	char *slash;
	struct stat sb;
	int f;

	*fd = -1;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (lstat(dir, &sb) == 0 &&
		    (!S_ISDIR(sb.st_mode) || (sb.st_mode & 022) != 0 ||
		     (sb.st_uid != geteuid() && sb.st_uid != 0))) {
			goto unsafe;
		}
	}
	f = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (f < 0) {
		if (errno == ENOENT && (flags & O_CREAT) == 0) {
			return 0;
		}
		if (errno == ELOOP || errno == ENXIO) {
			goto unsafe;
		}
		return 0; /* unwritable home, read-only file system: no record
		           */
	}
	if (fstat(f, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 022) != 0 ||
	    (sb.st_uid != geteuid() && sb.st_uid != 0)) {
		close(f);
		goto unsafe;
	}
	*fd = f;
	return 0;
unsafe:
	return envx_error_set(err, ENVX_E_UNSAFE,
	                      "refusing '%s': the record of verified vault "
	                      "states must be a regular file (not a symbolic "
	                      "link or FIFO) that only you can write, in a "
	                      "directory only you can write",
	                      path);
}

/* The line prefix "VAULTID ENV " of e's record. */
static void
seen_key(const struct envx_env *e, char *out, size_t outsz)
{
	char id[33];

	hex(e->v->vault_id, ENVX_VAULT_ID_BYTES, id);
	snprintf(out, outsz, "%s %s ", id, e->name);
}

static void
seen_find(const char *data, const char *key, struct seen *s, const char **line,
          const char **line_end)
{
	const char *p = data;
	size_t klen = strlen(key);

	memset(s, 0, sizeof(*s));
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		const char *end = nl != NULL ? nl : p + strlen(p);
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0) {
			long long g = 0;
			long long q = 0;
			if (sscanf(p + klen, "%lld %64s %lld %64s", &g,
			           s->digest, &q, s->access_head) == 4) {
				s->found = true;
				s->generation = g;
				s->access_seq = q;
				*line = p;
				*line_end = nl != NULL ? nl + 1 : end;
			}
		}
		p = nl != NULL ? nl + 1 : end;
	}
}

/*
 * The vault file's path, pinned to its vault id: a signed vault put where
 * another signed vault was (one of your other projects, which your own key
 * signed) is refused as a substitution until `envx trust reset`. Sets pin
 * to the record line to write ("" when the record is current).
 */
static int
path_pin(const struct envx_env *e, const char *data, size_t len,
         const char **line, const char **line_end, char *pin, size_t pinsz,
         struct envx_error *err)
{
	const struct envx_trust *t = e->v->trust;
	char real[4096];
	unsigned char h[ENVX_HASH_BYTES];
	char ph[33];
	char vid[33];
	char key[48];
	const char *p = data;

	(void)len;
	pin[0] = '\0';
	if (realpath(e->v->path, real) == NULL) {
		return 0;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)real,
	                   strlen(real), NULL, 0);
	hex(h, 16, ph);
	hex(e->v->vault_id, ENVX_VAULT_ID_BYTES, vid);
	snprintf(key, sizeof(key), "path %s ", ph);
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		const char *end = nl != NULL ? nl + 1 : p + strlen(p);
		if (strncmp(p, key, strlen(key)) == 0) {
			*line = p;
			*line_end = end;
			if (strncmp(p + strlen(key), vid, 32) == 0) {
				return 0; /* the same vault as before */
			}
			if (!t->accept_older) {
				return envx_error_set(
				        err, ENVX_E_INTEGRITY,
				        "environment '%s' refused: '%s' held "
				        "another vault (%.32s) when this machine "
				        "last read it, and now holds vault %s: "
				        "the file was replaced by another vault. "
				        "If you replaced it on purpose, run 'envx "
				        "trust reset %s'",
				        e->name, e->v->path, p + strlen(key),
				        vid, e->name);
			}
			break;
		}
		p = end;
	}
	snprintf(pin, pinsz, "%s%s\n", key, vid);
	return 0;
}

/*
 * Compares e's verified state with what this machine saw before, and
 * records it when newer (or when accept_older). Missing or unwritable
 * state is not an error: the record is a defence, not a requirement.
 */
static int
seen_check(struct envx_env *e, const unsigned char digest[ENVX_HASH_BYTES],
           struct envx_error *err)
{
	const struct envx_trust *t = e->v->trust;
	char key[128];
	char dh[65];
	char hh[65];
	char rec[256];
	char lockpath[4200];
	char *data = NULL;
	size_t len = 0;
	const char *line = NULL;
	const char *line_end = NULL;
	const char *pin_line = NULL;
	const char *pin_end = NULL;
	char pin[160] = "";
	struct seen s;
	int lock = -1;
	int fd;
	int r = 0;

	if (t == NULL || t->seen_path == NULL) {
		return 0;
	}
	seen_key(e, key, sizeof(key));
	hex(digest, ENVX_HASH_BYTES, dh);
	hex(e->acc.head, ENVX_HASH_BYTES, hh);
	snprintf(lockpath, sizeof(lockpath), "%s.lock", t->seen_path);
	r = seen_open(lockpath, O_RDWR | O_CREAT, &lock, err);
	if (r < 0) {
		return r;
	}
	if (lock >= 0) {
		(void)flock(lock, LOCK_EX);
	}
	r = seen_open(t->seen_path, O_RDONLY, &fd, err);
	if (r < 0) {
		goto out;
	}
	memset(&s, 0, sizeof(s));
	if (fd >= 0) {
		int got = slurp(fd, &data, &len);
		close(fd);
		if (got < 0) {
			goto out;
		}
		seen_find(data, key, &s, &line, &line_end);
	}
	r = path_pin(e, data, len, &pin_line, &pin_end, pin, sizeof(pin), err);
	if (r < 0) {
		goto out;
	}
	if (s.found && !t->accept_older) {
		bool same_gen = s.generation == e->generation;
		if (e->generation < s.generation ||
		    (same_gen && strcmp(s.digest, dh) != 0)) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "environment '%s' refused: it is at generation "
			        "%lld, %s the state this machine verified "
			        "before (generation %lld): an older copy of it "
			        "was put back (rolled back) or it was "
			        "replaced. If you restored it on purpose, "
			        "accept it with 'envx trust reset %s' (audited)",
			        e->name, (long long)e->generation,
			        same_gen ? "but differs from" : "older than",
			        (long long)s.generation, e->name);
			goto out;
		}
		if (e->acc.seq < s.access_seq ||
		    (e->acc.seq == s.access_seq &&
		     strcmp(s.access_head, hh) != 0)) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "environment '%s' refused: its access log has "
			        "%lld entries where this machine verified %lld "
			        "before, or differs from it: access changes "
			        "(a revocation, say) were undone. If you "
			        "restored the vault on purpose, accept it with "
			        "'envx trust reset %s' (audited)",
			        e->name, (long long)e->acc.seq,
			        (long long)s.access_seq, e->name);
			goto out;
		}
		if (same_gen && e->acc.seq == s.access_seq && pin[0] == '\0') {
			goto out; /* nothing new to record */
		}
	}
	/* record: replace this environment's line (and the path's), keep
	 * the others */
	{
		int n = snprintf(rec, sizeof(rec), "%s%lld %s %lld %s\n%s", key,
		                 (long long)e->generation, dh,
		                 (long long)e->acc.seq, hh, pin);
		char *out = malloc(len + (size_t)n + 1);
		size_t used = 0;
		const char *p = data != NULL ? data : "";
		struct envx_error ignored;

		if (out == NULL) {
			goto out;
		}
		while (*p != '\0') {
			const char *nl = strchr(p, '\n');
			const char *end = nl != NULL ? nl + 1 : p + strlen(p);
			if (p != line && p != pin_line) {
				memcpy(out + used, p, (size_t)(end - p));
				used += (size_t)(end - p);
			}
			p = end;
		}
		memcpy(out + used, rec, (size_t)n);
		used += (size_t)n;
		(void)envx_file_write_atomic(t->seen_path, out, used, 0600,
		                             &ignored);
		free(out);
	}
out:
	free(data);
	if (lock >= 0) {
		close(lock);
	}
	return r;
}

/* A decimal number 1..2^62 from [p, end); -1 otherwise. */
static int64_t
parse_gen(const char *p, const char *end)
{
	int64_t v = 0;

	if (p == end || end - p > 18) {
		return -1;
	}
	for (; p < end; p++) {
		if (*p < '0' || *p > '9') {
			return -1;
		}
		v = v * 10 + (*p - '0');
	}
	return v >= 1 ? v : -1;
}

/*
 * ENVX_MIN_GENERATION: "N" for every environment, or "env=N,env=N". The
 * floor for env into *out (0: none); -1 when the text is malformed, so a
 * mistyped pin never silently turns the check off.
 */
static int
min_generation_for(const char *text, const char *env, int64_t *out)
{
	const char *p = text;
	char names[64][ENVX_ENV_NAME_MAX_BYTES + 1];
	size_t nnames = 0;

	*out = 0;
	if (text == NULL || *text == '\0') {
		return 0;
	}
	if (strchr(text, '=') == NULL) {
		*out = parse_gen(text, text + strlen(text));
		return *out > 0 ? 0 : -1;
	}
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		const char *end = comma != NULL ? comma : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t nlen = eq != NULL ? (size_t)(eq - p) : 0;
		int64_t g;
		size_t i;

		if (eq == NULL || nlen == 0 || nlen > ENVX_ENV_NAME_MAX_BYTES ||
		    nnames == 64) {
			return -1;
		}
		memcpy(names[nnames], p, nlen);
		names[nnames][nlen] = '\0';
		if (!envx_env_name_valid(names[nnames])) {
			return -1;
		}
		for (i = 0; i < nnames; i++) {
			if (strcmp(names[i], names[nnames]) == 0) {
				return -1; /* twice: which one was meant? */
			}
		}
		g = parse_gen(eq + 1, end);
		if (g < 0) {
			return -1;
		}
		if (env != NULL && strcmp(names[nnames], env) == 0) {
			*out = g;
		}
		nnames++;
		if (comma != NULL && comma[1] == '\0') {
			return -1;
		}
		p = comma != NULL ? comma + 1 : end;
	}
	return 0;
}

int
envx_min_generation_check(const char *text, struct envx_error *err)
{
	int64_t g;

	if (min_generation_for(text, NULL, &g) < 0) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "invalid ENVX_MIN_GENERATION: expected a "
		                      "generation (a number from 1) for every "
		                      "environment, or ENV=N,ENV=N with each "
		                      "environment once");
	}
	return 0;
}

/* VF-3.8 step 4: the access log replays and the environment's signed
 * state verifies, by a writer of that log, over the rows as they are; with
 * need_anchor, the log must also start from an admin this identity trusts.
 * On success, d is the state digest and e->signed_audit_seq/hash what the
 * state covers. */
static int
seal_check(struct envx_env *e, bool need_anchor,
           unsigned char d[ENVX_HASH_BYTES], struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	unsigned char ah[32];
	unsigned char signer[32];
	unsigned char sig[ENVX_SIGNATURE_BYTES];
	const struct envx_member *by;
	int64_t access_seq;
	int64_t audit_seq;
	char vid[33];
	int rc;
	int r;

	if (e->generation < 1 || e->generation == INT64_MAX) {
		return envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "environment '%s' has generation %lld (it "
		        "must be from 1 and below 2^63-1): the "
		        "vault is corrupt or tampered",
		        e->name, (long long)e->generation);
	}
	r = envx_access_load(e, err);
	if (r < 0) {
		return r;
	}
	hex(v->vault_id, ENVX_VAULT_ID_BYTES, vid);
	if (need_anchor && !e->acc.anchored) {
		return envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "environment '%s' of vault %s refused: no admin this "
		        "identity trusts signed its access log, so it may "
		        "have been made by someone else (a substituted vault "
		        "or environment). If an admin granted you access, "
		        "run the 'envx access accept' line they gave you; "
		        "'envx access list %s' shows its admins",
		        e->name, vid, e->name);
	}
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT access_seq, audit_seq, signer, sig "
	                       "FROM seals WHERE env_id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
	    sqlite3_column_bytes(st, 2) != 32 ||
	    sqlite3_column_bytes(st, 3) != ENVX_SIGNATURE_BYTES) {
		r = rc == SQLITE_ROW || rc == SQLITE_DONE
		            ? envx_error_set(err, ENVX_E_INTEGRITY,
		                             "environment '%s' refused: its "
		                             "signed state is missing or "
		                             "malformed: the vault was "
		                             "tampered with",
		                             e->name)
		            : envx_sqlite_error(v->db, err,
		                                "cannot read environment");
		sqlite3_finalize(st);
		return r;
	}
	access_seq = sqlite3_column_int64(st, 0);
	audit_seq = sqlite3_column_int64(st, 1);
	memcpy(signer, sqlite3_column_blob(st, 2), 32);
	memcpy(sig, sqlite3_column_blob(st, 3), sizeof(sig));
	sqlite3_finalize(st);
	if (access_seq != e->acc.seq) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' refused: its signed "
		                      "state names access log entry %lld, but "
		                      "the log ends at %lld: entries were "
		                      "added or removed outside envx",
		                      e->name, (long long)access_seq,
		                      (long long)e->acc.seq);
	}
	by = envx_access_find(&e->acc, signer);
	if (by == NULL || by->role < ENVX_ROLE_WRITE) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' refused: written by a "
		                      "key that is not a writer of '%s'%s%s%s",
		                      e->name, e->name, by != NULL ? " ('" : "",
		                      by != NULL ? by->label : "",
		                      by == NULL ? ""
		                      : by->role == ENVX_ROLE_READ
		                              ? "' may only read it)"
		                              : "' was revoked)");
	}
	r = envx_audit_at(v, audit_seq, ah, err);
	if (r < 0) {
		return r;
	}
	if (r == 1) {
		if (audit_seq != 0) {
			return envx_error_set(err, ENVX_E_INTEGRITY,
			                      "environment '%s' refused: the "
			                      "audit event its signed state "
			                      "covers (%lld) is missing: the "
			                      "audit log was rewritten",
			                      e->name, (long long)audit_seq);
		}
		memset(ah, 0, sizeof(ah));
	}
	state_digest(e, audit_seq, ah, signer, d);
	if (crypto_sign_verify_detached(sig, d, ENVX_HASH_BYTES, signer) != 0) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' refused: its state "
		                      "signature does not verify (its rows, "
		                      "header or audit log were changed "
		                      "outside envx)",
		                      e->name);
	}
	e->signed_audit_seq = audit_seq;
	memcpy(e->signed_audit_hash, ah, sizeof(ah));
	return 0;
}

int
envx_state_verify(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	unsigned char rd[ENVX_HASH_BYTES];
	unsigned char d[ENVX_HASH_BYTES];
	int64_t floor;
	int r;

	r = seal_check(e, true, d, err);
	if (r < 0) {
		return r;
	}
	r = recipients_digest(v, e->id, rd, err);
	if (r < 0) {
		return r;
	}
	if (sodium_memcmp(rd, e->acc.recipients, sizeof(rd)) != 0) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' refused: its "
		                      "recipients differ from those its admins "
		                      "signed (a recipient was added, removed "
		                      "or changed outside envx)",
		                      e->name);
	}
	if (min_generation_for(v->trust != NULL ? v->trust->min_generation
	                                        : NULL,
	                       e->name, &floor) < 0) {
		return envx_min_generation_check(v->trust->min_generation, err);
	}
	if (e->generation < floor) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' refused: it is at "
		                      "generation %lld, below "
		                      "ENVX_MIN_GENERATION (%lld): an older "
		                      "copy was put back",
		                      e->name, (long long)e->generation,
		                      (long long)floor);
	}
	return seen_check(e, d, err);
}

int
envx_refuse_downgrade(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	const struct envx_trust *t = v->trust;
	char vid[33];
	size_t k;
	size_t i;
	bool known = false;

	hex(v->vault_id, ENVX_VAULT_ID_BYTES, vid);
	for (k = 0; k < 3; k++) {
		const struct envx_anchors *l =
		        k == 0      ? (v->signer != NULL ? &v->signer->anchors
		                                         : NULL)
		        : t != NULL ? t->anchors[k - 1]
		                    : NULL;
		for (i = 0; l != NULL && i < l->n; i++) {
			if (memcmp(l->a[i].vault_id, v->vault_id,
			           ENVX_VAULT_ID_BYTES) == 0) {
				known = true;
			}
		}
	}
	if (!known && t != NULL && t->seen_path != NULL) {
		char *data = NULL;
		size_t len = 0;
		int fd;
		int r = seen_open(t->seen_path, O_RDONLY, &fd, err);

		if (r < 0) {
			return r;
		}
		if (fd >= 0) {
			if (slurp(fd, &data, &len) == 0) {
				known = strstr(data, vid) != NULL;
			}
			close(fd);
		}
		free(data);
	}
	if (!known) {
		if (v->upgrading || (t != NULL && t->accept_unsigned)) {
			return 0;
		}
		return envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "environment '%s' refused: vault '%s' is in format %d, "
		        "which cannot prove who wrote it (anyone who can write "
		        "the file could have made it). If it is your team's "
		        "vault from before format 4, someone who opens every "
		        "environment runs 'envx upgrade' and commits it; to "
		        "read it anyway, set ENVX_ACCEPT_UNSIGNED=1",
		        e->name, v->path, v->schema);
	}
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "environment '%s' refused: vault %s is in "
	                      "format %d, which cannot prove who wrote it, "
	                      "but this identity trusts signed (format 4) "
	                      "states of that vault: the file may have been "
	                      "replaced by a forgery in the old format",
	                      e->name, vid, v->schema);
}
