/*
 * Incidents (SPEC.md VF-3.10): a value that was there at an environment's
 * last incident stays compromised, whichever write brings it back (the same
 * value set again, a rollback, a rollback of a rollback).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/internal.h"
#include "util/banned.h"

/* VF-3.10: events of an environment removed since, of the same name,
 * are not this one's (?1: the name) */
#define SINCE_CREATED                                                          \
	"(SELECT coalesce(max(seq), 0) FROM audit WHERE action = 'env-rm' "    \
	"AND env = ?1)"

/* VF-3.10: an incident rekeys, with an admin's signed access-log entry;
 * without one, an incident event of this name belongs to an environment
 * removed since or was not written by envx. */
static bool
may_have_incident(const struct envx_env *e)
{
	return e->v->schema < 4 || e->acc.rekeyed;
}

int
envx_env_last_incident(struct envx_env *e, int64_t *at, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	*at = 0;
	if (!may_have_incident(e)) {
		return 0;
	}
	if (e->v->in_tx) {
		/* the writer acts on the events it reads: the whole chain
		 * (their hashes, not only the last one's) must verify, or an
		 * edited old incident would steer what it signs */
		r = envx_audit_verify_from(
		        e->v, 0, (const unsigned char[ENVX_HASH_BYTES]){0},
		        err);
		if (r < 0) {
			if (r == ENVX_E_INTEGRITY) {
				envx_error_append(err, "; envx does not sign "
				                       "over it");
			}
			return r;
		}
	}
	if (sqlite3_prepare_v2(
	            e->v->db,
	            "SELECT max(at) FROM audit WHERE action = "
	            "'incident' AND env = ?1 AND seq > " SINCE_CREATED,
	            -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read audit log");
	}
	sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = envx_sqlite_error(e->v->db, err, "cannot read audit log");
	} else if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*at = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return r;
}

/* Whether one of name's versions before written holds value, when the
 * first that does was created, and (up to maxholders of) their numbers. */
static int
held_earlier(struct envx_env *e, const char *name, uint64_t written,
             const unsigned char *value, size_t len, bool *held, int64_t *first,
             uint64_t *holders, size_t *nholders, size_t maxholders,
             struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char *pt = NULL;
	int rc;
	int r = 0;

	*held = false;
	*nholders = 0;
	/* format 5, lazily unlocked: name's bucket verified first */
	r = envx_env_need_rows(e, name, false, err);
	if (r < 0) {
		return r;
	}
	/* format 5: through the bucket index its verification read, each row
	 * checked to be one it read (envx_env_witness_check; the secret's
	 * current version then was written - 1) */
	if (sqlite3_prepare_v2(
	            e->v->db,
	            e->v->schema >= 5
	                    ? "SELECT ver.version, ver.nonce, ver.ciphertext, "
	                      "ver.created_at, s.id FROM secrets s INDEXED BY "
	                      "secrets_bucket JOIN versions ver ON "
	                      "ver.secret_id = s.id WHERE s.env_id = ?1 AND "
	                      "s.bucket = ?4 AND s.name = ?2 AND ver.version "
	                      "< ?3 ORDER BY ver.created_at"
	                    : "SELECT ver.version, ver.nonce, ver.ciphertext, "
	                      "ver.created_at, s.id FROM secrets s JOIN "
	                      "versions ver ON ver.secret_id = s.id WHERE "
	                      "s.env_id = ?1 AND s.name = ?2 AND ver.version "
	                      "< ?3 AND ?4 IS NOT NULL ORDER BY ver.created_at",
	            -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)written);
	sqlite3_bind_int64(st, 4, envx_bucket_of(name, strlen(name)));
	pt = sodium_malloc(len + 1);
	if (pt == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct envx_lp ad;
		bool same;

		r = envx_env_witness_check(e, name, (int64_t)written - 1,
		                           sqlite3_column_int64(st, 0),
		                           sqlite3_column_int64(st, 3),
		                           sqlite3_column_int64(st, 4),
		                           sqlite3_column_blob(st, 1),
		                           (size_t)sqlite3_column_bytes(st, 1),
		                           sqlite3_column_blob(st, 2),
		                           (size_t)sqlite3_column_bytes(st, 2),
		                           "a version read", true, err);
		if (r < 0) {
			goto out;
		}
		/* another length is another value: nothing to decrypt */
		if (sqlite3_column_bytes(st, 1) != ENVX_NONCE_BYTES ||
		    (size_t)sqlite3_column_bytes(st, 2) !=
		            len + ENVX_TAG_BYTES) {
			continue;
		}
		envx_value_ad(&ad, e, name,
		              (uint64_t)sqlite3_column_int64(st, 0));
		if (envx_crypto_open_value(e->sub->value, &ad,
		                           sqlite3_column_blob(st, 1),
		                           sqlite3_column_blob(st, 2),
		                           len + ENVX_TAG_BYTES, pt) < 0) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "secret '%s' in environment '%s' does "
			        "not decrypt: the vault is corrupt or "
			        "tampered",
			        name, e->name);
			goto out;
		}
		same = len == 0 || sodium_memcmp(pt, value, len) == 0;
		if (same && !*held) {
			*first = sqlite3_column_int64(st, 3);
		}
		if (same && *nholders < maxholders) {
			holders[(*nholders)++] =
			        (uint64_t)sqlite3_column_int64(st, 0);
		}
		*held = *held || same;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
out:
	sodium_free(pt);
	sqlite3_finalize(st);
	return r;
}

/* Whether an `exposed` event of name (VF-3.10, written by a merge) lists
 * one of the versions in v. Its detail is "vN vM ...: why". The chain was
 * verified as a whole before (envx_env_last_incident). */
static int
exposed_version(struct envx_env *e, const char *name, const uint64_t *v,
                size_t n, bool *found, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_DONE;

	*found = false;
	if (sqlite3_prepare_v2(
	            e->v->db,
	            "SELECT detail FROM audit WHERE action = "
	            "'exposed' AND env = ?1 AND name = ?2 AND seq > " SINCE_CREATED,
	            -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read audit log");
	}
	sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	while (!*found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);

		while (p != NULL && !*found && *p == 'v') {
			char *end = NULL;
			unsigned long long num = strtoull(p + 1, &end, 10);
			size_t i;

			if (end == p + 1) {
				break;
			}
			for (i = 0; i < n; i++) {
				*found = *found || v[i] == (uint64_t)num;
			}
			p = *end == ' ' ? end + 1 : NULL;
		}
	}
	sqlite3_finalize(st);
	if (!*found && rc != SQLITE_DONE) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read audit log");
	}
	return 0;
}

int
envx_env_recheck_compromised(struct envx_env *e, const char *name,
                             uint64_t written, const unsigned char *value,
                             size_t len, struct envx_error *err)
{
	bool held = false;
	bool exposed = false;
	int64_t first = 0;
	uint64_t holders[16];
	size_t nholders = 0;
	int r;

	if (!e->incident_known && !may_have_incident(e)) {
		e->incident_at = 0;
		e->incident_known = true;
	}
	if (e->incident_known && e->incident_at == 0) {
		return 0;
	}
	/* the versions first (a new value is the common case), then, only
	 * when one held it, the incident's time: it may cost a walk of the
	 * whole audit chain */
	r = held_earlier(e, name, written, value, len, &held, &first, holders,
	                 &nholders, sizeof(holders) / sizeof(holders[0]), err);
	if (r < 0 || !held) {
		return r;
	}
	if (!e->incident_known) {
		r = envx_env_last_incident(e, &e->incident_at, err);
		if (r < 0) {
			return r;
		}
		e->incident_known = true;
	}
	if (e->incident_at == 0) {
		return 0;
	}
	if (first > e->incident_at) {
		/* after the incident, but perhaps merged from a branch that
		 * wrote it under the exposed key (VF-9.4) */
		r = exposed_version(e, name, holders, nholders, &exposed, err);
		if (r < 0 || !exposed) {
			return r;
		}
	}
	/* the value was there at the incident, or written under the key it
	 * exposed: not a new value */
	return envx_env_mark_compromised(e, name, err);
}

static int
copy_names(const struct envx_names *from, char ***names, size_t *n,
           struct envx_error *err)
{
	char **list = calloc(from->n + 1, sizeof(*list));
	size_t i;

	if (list == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < from->n; i++) {
		list[i] = strdup(from->names[i]);
		if (list[i] == NULL) {
			envx_strv_free(list, i);
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
	}
	*names = list;
	*n = from->n;
	return 0;
}

int
envx_env_compromised(struct envx_env *e, char ***names, size_t *n,
                     struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	char **list = NULL;
	size_t count = 0;
	int rc;
	int r = 0;

	*names = NULL;
	*n = 0;
	if (e->compromised_known && !e->dirty) {
		/* collected by the MAC pass that verified the rows: exec calls
		 * this on every run */
		return copy_names(&e->compromised, names, n, err);
	}
	r = envx_env_need_all(e, err);
	if (r < 0) {
		return r;
	}
	/* one narrow scan */
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT name FROM secrets WHERE env_id = ? AND "
	                       "state = ? ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot read secrets");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int(st, 2, ENVX_STATE_COMPROMISED);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char **grown = realloc(list, (count + 1) * sizeof(*grown));

		if (grown == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		list = grown;
		list[count] = strdup(name != NULL ? name : "");
		if (list[count++] == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read secrets");
		goto out;
	}
	*names = list;
	*n = count;
	list = NULL;
out:
	envx_strv_free(list, count);
	sqlite3_finalize(st);
	return r;
}
