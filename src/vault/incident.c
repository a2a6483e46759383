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

int
envx_env_last_incident(struct envx_env *e, int64_t *at, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	*at = 0;
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT max(at) FROM audit WHERE action = "
	                       "'incident' AND env = ?",
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

/* Whether one of name's versions created at or before at holds value. */
static int
held_before(struct envx_env *e, const char *name, int64_t at, uint64_t written,
            const unsigned char *value, size_t len, bool *held,
            struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char *pt = NULL;
	int rc;
	int r = 0;

	*held = false;
	r = envx_env_need_rows(e, name, false, err);
	if (r < 0) {
		return r;
	}
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT ver.version, ver.nonce, ver.ciphertext "
	                       "FROM secrets s JOIN versions ver ON "
	                       "ver.secret_id = s.id WHERE s.env_id = ? AND "
	                       "s.name = ? AND ver.created_at <= ? AND "
	                       "ver.version < ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)written);
	pt = sodium_malloc(len + 1);
	if (pt == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	while (!*held && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct envx_lp ad;

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
		*held = len == 0 || sodium_memcmp(pt, value, len) == 0;
	}
	if (!*held && rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read versions");
	}
out:
	sodium_free(pt);
	sqlite3_finalize(st);
	return r;
}

int
envx_env_recheck_compromised(struct envx_env *e, const char *name,
                             uint64_t written, const unsigned char *value,
                             size_t len, struct envx_error *err)
{
	bool held = false;
	int r;

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
	r = held_before(e, name, e->incident_at, written, value, len, &held,
	                err);
	if (r < 0 || !held) {
		return r;
	}
	/* the value was there at the incident: not a new value */
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
