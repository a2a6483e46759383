/*
 * Incidents (SPEC.md VF-3.10): every secret of an environment marked
 * compromised in one write, and the time of the last incident, which keeps
 * a value from before it compromised when a rollback brings it back.
 */
#include <string.h>

#include "vault/internal.h"
#include "util/banned.h"

int
envx_env_compromise_all(struct envx_env *e, size_t *n, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	*n = 0;
	/* locked: ENVX_E_LOCKED */
	r = envx_env_mark_dirty(e, err);
	if (r < 0) {
		return r;
	}
	if (sqlite3_prepare_v2(e->v->db,
	                       "UPDATE secrets SET state = ? WHERE env_id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot mark secrets compromised");
	}
	sqlite3_bind_int(st, 1, ENVX_STATE_COMPROMISED);
	sqlite3_bind_int64(st, 2, e->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err,
		                      "cannot mark secrets compromised");
	} else {
		*n = (size_t)sqlite3_changes(e->v->db);
	}
	sqlite3_finalize(st);
	return r;
}

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

int
envx_env_rollback_state(struct envx_env *e, const char *name, int64_t created,
                        struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t at;
	int r;

	r = envx_env_last_incident(e, &at, err);
	if (r < 0 || at == 0 || created > at) {
		return r;
	}
	/* the restored value was there at the incident: still compromised */
	if (sqlite3_prepare_v2(e->v->db,
	                       "UPDATE secrets SET state = ? WHERE env_id = ? "
	                       "AND name = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err, "cannot write secret");
	}
	sqlite3_bind_int(st, 1, ENVX_STATE_COMPROMISED);
	sqlite3_bind_int64(st, 2, e->id);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot write secret");
	}
	sqlite3_finalize(st);
	return r;
}
