/*
 * VF-3.7: names an environment lets in although envx refuses them
 * (envx_name_refused), such as NODE_OPTIONS for a build that needs more
 * heap. Each allowance is a row the environment MAC covers, so a file
 * writer without the key cannot add one, and every change is audited.
 */
#include <string.h>

#include <sqlite3.h>

#include "vault/internal.h"
#include "util/banned.h"

bool
envx_env_name_allowed(const struct envx_env *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->allowed.n; i++) {
		if (strcmp(e->allowed.names[i], name) == 0) {
			return true;
		}
	}
	return false;
}

const char *const *
envx_env_allowed(const struct envx_env *e, size_t *n)
{
	*n = e->allowed.n;
	return (const char *const *)e->allowed.names;
}

int
envx_env_name_permitted(const struct envx_env *e, const char *name,
                        struct envx_error *err)
{
	const struct envx_refused *why;
	int r;

	r = envx_name_check(name, err);
	if (r < 0) {
		return r;
	}
	why = envx_name_refused(name, strlen(name));
	if (why == NULL || envx_env_name_allowed(e, name)) {
		return 0;
	}
	return envx_error_set(err, ENVX_E_INPUT,
	                      "refusing secret name '%s' in environment '%s': "
	                      "%s can take code to run from it (refused: %s); "
	                      "if '%s' really needs it, let it in with "
	                      "'envx env allow %s %s'",
	                      name, e->name, why->why, why->pattern, e->name,
	                      e->name, name);
}

int
envx_env_allow(struct envx_env *e, const char *name, bool allow, bool *changed,
               struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int r;

	*changed = false;
	r = envx_name_check(name, err);
	if (r < 0) {
		return r;
	}
	if (allow && envx_name_refused(name, strlen(name)) == NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "'%s' is not a refused name: environment "
		                      "'%s' takes it without an allowance",
		                      name, e->name);
	}
	if (v->schema < 3) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "vault format %d has no allowed names",
		                      v->schema);
	}
	/* re-verifies the rows (and reloads e->allowed) inside the write */
	r = envx_env_mark_dirty(e, err);
	if (r < 0) {
		return r;
	}
	if (allow == envx_env_name_allowed(e, name)) {
		return 0; /* nothing to change; commit reseals an equal state */
	}
	if (sqlite3_prepare_v2(
	            v->db,
	            allow ? "INSERT INTO allowed_names (env_id, name, "
	                    "created_at, author) VALUES (?, ?, ?, ?)"
	                  : "DELETE FROM allowed_names WHERE env_id = ? AND "
	                    "name = ?",
	            -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err,
		                         "cannot change allowed names");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (allow) {
		sqlite3_bind_int64(st, 3, envx_now());
		sqlite3_bind_text(st, 4, v->actor, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err,
		                      "cannot change allowed names");
	} else {
		*changed = true;
	}
	sqlite3_finalize(st);
	return r;
}
