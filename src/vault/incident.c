/*
 * Incidents (SPEC.md VF-3.10): the time of an environment's last incident,
 * which keeps a value from before it compromised when a rollback brings it
 * back.
 */
#include <string.h>

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

int
envx_env_rollback_state(struct envx_env *e, const char *name, int64_t created,
                        struct envx_error *err)
{
	int64_t at;
	int r;

	r = envx_env_last_incident(e, &at, err);
	if (r < 0 || at == 0 || created > at) {
		return r;
	}
	/* the restored value was there at the incident: still compromised */
	return envx_env_mark_compromised(e, name, err);
}
