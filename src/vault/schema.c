/*
 * The vault's SQLite schema, one list of statements per format version
 * (VF-4). A new vault runs every migration from version 0; an older vault
 * runs the missing ones in one transaction. The expected schema of each
 * version is the union of the statements up to it, compared byte for byte
 * with sqlite_schema before anything else is read.
 */
#include <string.h>

#include <sqlite3.h>

#include "vault/internal.h"
#include "util/banned.h"

static const char *const v1[] = {
        "CREATE TABLE vault (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "vault_id BLOB NOT NULL CHECK (length(vault_id) = 16), "
        "created_at INTEGER NOT NULL)",
        "CREATE TABLE envs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "key_commit BLOB NOT NULL, generation INTEGER NOT NULL, "
        "mac BLOB NOT NULL, created_at INTEGER NOT NULL)",
        "CREATE TABLE recipients (id INTEGER PRIMARY KEY, "
        "env_id INTEGER NOT NULL REFERENCES envs (id) ON DELETE CASCADE, "
        "label TEXT NOT NULL, "
        "kind TEXT NOT NULL CHECK (kind IN ('x25519', 'passphrase')), "
        "public_key BLOB, kdf BLOB, wrapped_key BLOB NOT NULL, "
        "created_at INTEGER NOT NULL, UNIQUE (env_id, label))",
        "CREATE TABLE secrets (id INTEGER PRIMARY KEY, "
        "env_id INTEGER NOT NULL REFERENCES envs (id) ON DELETE CASCADE, "
        "name TEXT NOT NULL, version INTEGER NOT NULL, "
        "description TEXT NOT NULL, rotate_every INTEGER NOT NULL, "
        "rotated_at INTEGER NOT NULL, state INTEGER NOT NULL, "
        "UNIQUE (env_id, name))",
        "CREATE TABLE versions (secret_id INTEGER NOT NULL "
        "REFERENCES secrets (id) ON DELETE CASCADE, version INTEGER NOT NULL, "
        "nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, "
        "created_at INTEGER NOT NULL, author TEXT NOT NULL, "
        "kind TEXT NOT NULL, PRIMARY KEY (secret_id, version)) WITHOUT ROWID",
        NULL,
};

static const char *const v2[] = {
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, env TEXT NOT NULL, "
        "name TEXT NOT NULL, detail TEXT NOT NULL, prev BLOB NOT NULL, "
        "hash BLOB NOT NULL)",
        NULL,
};

/* Names an environment lets in although envx refuses them (VF-3.7). */
static const char *const v3[] = {
        "CREATE TABLE allowed_names (env_id INTEGER NOT NULL "
        "REFERENCES envs (id) ON DELETE CASCADE, name TEXT NOT NULL, "
        "created_at INTEGER NOT NULL, author TEXT NOT NULL, "
        "PRIMARY KEY (env_id, name)) WITHOUT ROWID",
        NULL,
};

/* VF-3.8: each environment's signed access log and signed state. */
static const char *const v4[] = {
        "CREATE TABLE access_log (env_id INTEGER NOT NULL "
        "REFERENCES envs (id) ON DELETE CASCADE, seq INTEGER NOT NULL, "
        "at INTEGER NOT NULL, action TEXT NOT NULL, label TEXT NOT NULL, "
        "role TEXT NOT NULL, subject BLOB NOT NULL, "
        "recipients BLOB NOT NULL, signer BLOB NOT NULL, "
        "prev BLOB NOT NULL, sig BLOB NOT NULL, "
        "PRIMARY KEY (env_id, seq)) WITHOUT ROWID",
        "CREATE TABLE seals (env_id INTEGER PRIMARY KEY "
        "REFERENCES envs (id) ON DELETE CASCADE, "
        "access_seq INTEGER NOT NULL, audit_seq INTEGER NOT NULL, "
        "signer BLOB NOT NULL, sig BLOB NOT NULL)",
        NULL,
};

/* VF-3.4, format 5: each secret's MAC bucket, and each environment's
 * bucket digests. */
static const char alter_secrets[] =
        "ALTER TABLE secrets ADD COLUMN bucket INTEGER NOT NULL DEFAULT -1";
static const char *const v5[] = {
        alter_secrets,
        "CREATE INDEX secrets_bucket ON secrets (env_id, bucket, name)",
        "CREATE TABLE mac_buckets (env_id INTEGER NOT NULL "
        "REFERENCES envs (id) ON DELETE CASCADE, bucket INTEGER NOT NULL, "
        "digest BLOB NOT NULL, nsecrets INTEGER NOT NULL, "
        "nversions INTEGER NOT NULL, PRIMARY KEY (env_id, bucket)) "
        "WITHOUT ROWID",
        NULL,
};

/* The text SQLite stores for secrets once format 5 has added its column
 * (ALTER TABLE inserts it before the table constraint). */
static const char secrets_v5[] =
        "CREATE TABLE secrets (id INTEGER PRIMARY KEY, "
        "env_id INTEGER NOT NULL REFERENCES envs (id) ON DELETE CASCADE, "
        "name TEXT NOT NULL, version INTEGER NOT NULL, "
        "description TEXT NOT NULL, rotate_every INTEGER NOT NULL, "
        "rotated_at INTEGER NOT NULL, state INTEGER NOT NULL, "
        "bucket INTEGER NOT NULL DEFAULT -1, UNIQUE (env_id, name))";

/* migrations[i] takes a vault from version i to version i + 1 */
static const char *const *const migrations[] = {v1, v2, v3, v4, v5};

/*
 * The statement of the schema of format version that stmt (one of the
 * migration statements up to version) leaves in sqlite_schema: NULL for an
 * ALTER TABLE, which changes another statement's text instead.
 */
static const char *
expected_text(const char *stmt, int version)
{
	if (stmt == alter_secrets) {
		return NULL;
	}
	if (version >= 5 && strcmp(stmt, v1[3]) == 0) {
		return secrets_v5;
	}
	return stmt;
}

const char *const *
envx_schema_migration(int from_version)
{
	if (from_version < 0 ||
	    from_version >= (int)(sizeof(migrations) / sizeof(migrations[0]))) {
		return NULL;
	}
	return migrations[from_version];
}

int
envx_schema_migrate(sqlite3 *db, int from, int to, struct envx_error *err)
{
	int version;
	char pragma[64];

	for (version = from; version < to; version++) {
		const char *const *stmt = envx_schema_migration(version);
		if (stmt == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "no migration from vault format "
			                      "%d",
			                      version);
		}
		for (; *stmt != NULL; stmt++) {
			if (sqlite3_exec(db, *stmt, NULL, NULL, NULL) !=
			    SQLITE_OK) {
				return envx_sqlite_error(
				        db, err, "cannot migrate vault");
			}
		}
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", to);
	if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
		return envx_sqlite_error(db, err, "cannot migrate vault");
	}
	return 0;
}

/* VF-4.3: every object with SQL text must be one we expect, and every
 * statement we expect must be present, exactly. */
int
envx_schema_check(sqlite3 *db, int version, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	size_t expected = 0;
	size_t seen = 0;
	int v;
	int rc;
	int r = ENVX_E_INTEGRITY;

	for (v = 0; v < version; v++) {
		const char *const *stmt = envx_schema_migration(v);
		for (; stmt != NULL && *stmt != NULL; stmt++) {
			expected += expected_text(*stmt, version) != NULL;
		}
	}
	/* VF-4.3: SQLite's own statistics table (ANALYZE, PRAGMA optimize)
	 * changes only query plans, never results: it is tolerated when it
	 * is exactly the table SQLite makes, and not counted. */
	if (sqlite3_prepare_v2(db,
	                       "SELECT sql FROM sqlite_schema "
	                       "WHERE sql IS NOT NULL AND NOT (type = 'table' "
	                       "AND name = 'sqlite_stat1' AND sql = 'CREATE "
	                       "TABLE sqlite_stat1(tbl,idx,stat)')",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(db, err, "cannot read vault schema");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 0);
		bool found = false;

		for (v = 0; v < version && !found; v++) {
			const char *const *stmt = envx_schema_migration(v);
			for (; stmt != NULL && *stmt != NULL; stmt++) {
				const char *want =
				        expected_text(*stmt, version);

				if (want != NULL && strcmp(want, sql) == 0) {
					found = true;
					break;
				}
			}
		}
		if (!found) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "vault has an unexpected schema "
			                   "object: not an envx vault of "
			                   "format %d, or tampered",
			                   version);
			goto out;
		}
		seen++;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(db, err, "cannot read vault schema");
		goto out;
	}
	if (seen != expected) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "vault schema is incomplete: expected %zu "
		                   "tables for format %d, found %zu",
		                   expected, version, seen);
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}
