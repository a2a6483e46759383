/*
 * Secrets and their versions (VF-3.3): every write appends a version
 * encrypted under the environment's value key with associated data binding
 * vault, environment, name and version, so no ciphertext can be moved.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"
#include "util/banned.h"

/* VF-3.3 */
void
envx_value_ad(struct envx_lp *ad, const struct envx_env *e, const char *name,
              uint64_t version)
{
	envx_lp_init_ad(ad);
	envx_lp_str(ad, "envx-value-v1");
	envx_lp_bytes(ad, e->v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(ad, e->name);
	envx_lp_str(ad, name);
	envx_lp_u64(ad, version);
}

/*
 * VF-3.4, format 5: a read of named rows after a one-secret verification
 * goes through the index that verification read (its bucket's range of
 * secrets_bucket), so a file whose other index disagrees with it cannot
 * show a row the verification did not hash.
 */
#define BY_BUCKET "INDEXED BY secrets_bucket"

static void
bind_bucket(const struct envx_env *e, sqlite3_stmt *st, int col,
            const char *name)
{
	if (e->v->schema >= 5) {
		sqlite3_bind_int64(st, col, envx_bucket_of(name, strlen(name)));
	}
}

static int
need_key(const struct envx_env *e, struct envx_error *err)
{
	if (e->sub == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	return 0;
}

static void
copy_col(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	snprintf(dst, dstsz, "%s", s != NULL ? s : "");
}

int
envx_env_secrets(struct envx_env *e, struct envx_secret_info **out, size_t *n,
                 struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_secret_info *list = NULL;
	size_t count = 0;
	size_t cap = 0;
	int rc;
	int r;

	r = envx_env_need_all(e, err);
	if (r < 0) {
		return r;
	}
	if (sqlite3_prepare_v2(
	            e->v->db,
	            "SELECT s.name, s.version, s.description, s.rotate_every, "
	            "s.rotated_at, s.state, ver.created_at, ver.author "
	            "FROM secrets s LEFT JOIN versions ver "
	            "ON ver.secret_id = s.id AND ver.version = s.version "
	            "WHERE s.env_id = ? ORDER BY s.name",
	            -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, "cannot list secrets");
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct envx_secret_info *si;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct envx_secret_info *nl =
			        realloc(list, ncap * sizeof(*nl));
			if (nl == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		si = &list[count++];
		memset(si, 0, sizeof(*si));
		copy_col(si->name, sizeof(si->name), st, 0);
		/* set refuses such names: one here was written outside envx,
		 * and must not reach a terminal or a JSON document */
		if (!envx_name_valid(si->name, strlen(si->name)) ||
		    (size_t)sqlite3_column_bytes(st, 0) != strlen(si->name)) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "environment '%s' holds an invalid "
			                   "secret name: the vault was edited "
			                   "outside envx",
			                   e->name);
			goto out;
		}
		si->version = (uint64_t)sqlite3_column_int64(st, 1);
		copy_col(si->description, sizeof(si->description), st, 2);
		si->rotate_every = sqlite3_column_int64(st, 3);
		si->rotated_at = sqlite3_column_int64(st, 4);
		si->state = sqlite3_column_int(st, 5);
		si->updated_at = sqlite3_column_int64(st, 6);
		copy_col(si->updated_by, sizeof(si->updated_by), st, 7);
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot list secrets");
		goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	free(list);
	sqlite3_finalize(st);
	return r;
}

bool
envx_value_storable(const unsigned char *value, size_t len)
{
	return len <= ENVX_VALUE_MAX_BYTES &&
	       (len == 0 || memchr(value, '\0', len) == NULL);
}

/* Decrypts the row's (nonce, ciphertext) in columns nc, nc+1 for version
 * ver of name into dst (ctlen - tag bytes). */
static int
open_row(const struct envx_env *e, sqlite3_stmt *st, int nc, const char *name,
         uint64_t ver, unsigned char *dst, struct envx_error *err)
{
	struct envx_lp ad;

	if (sqlite3_column_bytes(st, nc) != ENVX_NONCE_BYTES) {
		goto bad;
	}
	envx_value_ad(&ad, e, name, ver);
	if (envx_crypto_open_value(
	            e->sub->value, &ad, sqlite3_column_blob(st, nc),
	            sqlite3_column_blob(st, nc + 1),
	            (size_t)sqlite3_column_bytes(st, nc + 1), dst) < 0 ||
	    !envx_value_storable(dst, (size_t)sqlite3_column_bytes(st, nc + 1) -
	                                      ENVX_TAG_BYTES)) {
		goto bad;
	}
	return 0;
bad:
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "secret '%s' in environment '%s' does not "
	                      "decrypt: the vault is corrupt or tampered",
	                      name, e->name);
}

/* envx_env_get_version, with the version's creation time */
static int
get_version_at(struct envx_env *e, const char *name, uint64_t version,
               struct envx_secbuf *out, int64_t *created,
               struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	uint64_t ver;
	int ctlen;
	int rc;
	int r;

	out->data = NULL;
	r = envx_name_check(name, err);
	if (r < 0) {
		return r;
	}
	r = need_key(e, err);
	if (r == 0) {
		r = envx_env_need_rows(e, name, false, err);
	}
	if (r < 0) {
		return r;
	}
	if (sqlite3_prepare_v2(
	            e->v->db,
	            e->v->schema >= 5
	                    ? "SELECT ver.version, ver.nonce, ver.ciphertext, "
	                      "s.version, s.id, ver.created_at FROM secrets "
	                      "s " BY_BUCKET " JOIN versions ver "
	                      "ON ver.secret_id = s.id AND ver.version = "
	                      "CASE WHEN ?3 = 0 THEN s.version ELSE ?3 END "
	                      "WHERE s.env_id = ?1 AND s.bucket = ?4 AND "
	                      "s.name = ?2"
	                    : "SELECT ver.version, ver.nonce, ver.ciphertext, "
	                      "s.version, s.id, ver.created_at FROM secrets s "
	                      "JOIN versions ver ON "
	                      "ver.secret_id = s.id AND ver.version = CASE "
	                      "WHEN ?3 = 0 THEN s.version ELSE ?3 END WHERE "
	                      "s.env_id = ?1 AND s.name = ?2",
	            -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, "cannot read secret");
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)version);
	bind_bucket(e, st, 4, name);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read secret");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		/* a damaged page can hide a row: check the file before
		 * saying the secret does not exist */
		r = envx_vault_integrity_check(e->v, err);
		if (r < 0) {
			goto out;
		}
		if (version != 0) {
			r = envx_error_set(err, ENVX_E_NOTFOUND,
			                   "no version %llu of secret '%.64s' "
			                   "in environment '%s'",
			                   (unsigned long long)version, name,
			                   e->name);
		} else {
			r = envx_error_set(err, ENVX_E_NOTFOUND,
			                   "no secret '%.64s' in environment "
			                   "'%s'",
			                   name, e->name);
		}
		goto out;
	}
	ver = (uint64_t)sqlite3_column_int64(st, 0);
	ctlen = sqlite3_column_bytes(st, 2);
	if (ctlen < (int)ENVX_TAG_BYTES) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "secret '%s' in environment '%s' is "
		                   "truncated",
		                   name, e->name);
		goto out;
	}
	r = envx_env_witness_check(
	        e, name, sqlite3_column_int64(st, 3), (int64_t)ver,
	        sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 4),
	        sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
	        sqlite3_column_blob(st, 2), (size_t)ctlen, "the row read",
	        false, err);
	if (r < 0) {
		goto out;
	}
	if (created != NULL) {
		*created = sqlite3_column_int64(st, 5);
	}
	r = envx_secbuf_init(out, (size_t)ctlen - ENVX_TAG_BYTES + 1, err);
	if (r < 0) {
		goto out;
	}
	r = open_row(e, st, 1, name, ver, out->data, err);
	if (r < 0) {
		goto out;
	}
	out->len = (size_t)ctlen - ENVX_TAG_BYTES;
	out->data[out->len] = '\0';
out:
	if (r < 0) {
		envx_secbuf_release(out);
	}
	sqlite3_finalize(st);
	return r;
}

int
envx_env_get_version(struct envx_env *e, const char *name, uint64_t version,
                     struct envx_secbuf *out, struct envx_error *err)
{
	return get_version_at(e, name, version, out, NULL, err);
}

int
envx_env_get(struct envx_env *e, const char *name, struct envx_secbuf *out,
             struct envx_error *err)
{
	return envx_env_get_version(e, name, 0, out, err);
}

static int
step_done(struct envx_env *e, sqlite3_stmt *st, struct envx_error *err,
          const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		return envx_sqlite_error(e->v->db, err, what);
	}
	return 0;
}

/* The shared write path: rotated_at is the time the value's rotation clock
 * starts (now for a new value, the original's for a rollback). */
/* Whether the secure buffer a holds exactly the len bytes at b. */
static bool
holds(const struct envx_secbuf *a, const unsigned char *b, size_t len)
{
	return a->len == len &&
	       (len == 0 || sodium_memcmp(a->data, b, len) == 0);
}

/* Format 5: name's secret row found through the bucket index, with its
 * current version, checked to be the one its bucket's verification read
 * (envx_env_witness_check), so that a write acts on the row the MAC covers and
 * not on one an edited index points to. 1: found, 0: no such secret. */
static const char sql_find_witnessed[] =
        "SELECT s.id, s.version, s.rotated_at, ver.nonce, ver.ciphertext, "
        "ver.created_at FROM secrets s " BY_BUCKET " LEFT JOIN versions ver ON "
        "ver.secret_id = s.id AND ver.version = s.version WHERE s.env_id = "
        "?1 AND s.bucket = ?3 AND s.name = ?2";

static int
find_witnessed(struct envx_env *e, const char *name, int64_t *id,
               int64_t *version, int64_t *rotated_at, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r;

	r = envx_vault_stmt(e->v, sql_find_witnessed, &st, "cannot read secret",
	                    err);
	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	bind_bucket(e, st, 3, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*version = sqlite3_column_int64(st, 1);
		*rotated_at = sqlite3_column_int64(st, 2);
		r = envx_env_witness_check(e, name, *version, *version,
		                           sqlite3_column_int64(st, 5), *id,
		                           sqlite3_column_blob(st, 3),
		                           (size_t)sqlite3_column_bytes(st, 3),
		                           sqlite3_column_blob(st, 4),
		                           (size_t)sqlite3_column_bytes(st, 4),
		                           "the row found", true, err);
		r = r < 0 ? r : 1;
	} else if (rc == SQLITE_DONE) {
		r = 0;
	} else {
		r = envx_sqlite_error(e->v->db, err, "cannot read secret");
	}
	envx_vault_stmt_done(st);
	return r;
}

_Static_assert(ENVX_SET_NONCE_BYTES == ENVX_NONCE_BYTES,
               "envx_set_opts.nonce is a value nonce");

/* write_version's statements, prepared once per vault (envx_vault_stmt):
 * an import runs them for every line */
static const char sql_find[] = "SELECT id, version, rotated_at FROM secrets "
                               "WHERE env_id = ?1 AND name = ?2";
static const char sql_insert_secret[] =
        "INSERT INTO secrets (env_id, name, version, description, "
        "rotate_every, rotated_at, state) VALUES (?, ?, 1, ?, ?, ?, 0)";
/* format 5: with its bucket (VF-3.4) */
static const char sql_insert_secret5[] =
        "INSERT INTO secrets (env_id, name, version, description, "
        "rotate_every, rotated_at, state, bucket) "
        "VALUES (?, ?, 1, ?, ?, ?, 0, ?)";
static const char sql_update_secret[] =
        "UPDATE secrets SET version = ?, rotated_at = ?, state = 0, "
        "description = CASE WHEN ? THEN ? ELSE description END, "
        "rotate_every = CASE WHEN ? THEN ? ELSE rotate_every END "
        "WHERE id = ?";
static const char sql_insert_version[] =
        "INSERT INTO versions (secret_id, version, nonce, ciphertext, "
        "created_at, author, kind) VALUES (?, ?, ?, ?, ?, ?, ?)";

/*
 * The next version of name. rotated_at starts its rotation clock, except
 * that with same_keeps_clock a value equal to the current one keeps the
 * current clock (writing it again is no rotation).
 */
static int
write_version(struct envx_env *e, const char *name, const unsigned char *value,
              size_t len, const struct envx_set_opts *opts, int64_t rotated_at,
              bool same_keeps_clock, uint64_t *version_out,
              struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t current_rotated_at = 0;
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char *ct = NULL;
	struct envx_lp ad;
	int64_t secret_id = 0;
	uint64_t ver = 1;
	unsigned flags = opts != NULL ? opts->flags : 0;
	const char *desc = opts != NULL && opts->description != NULL
	                           ? opts->description
	                           : "";
	int64_t every = opts != NULL ? opts->rotate_every : 0;
	const char *kind =
	        opts != NULL && opts->kind != NULL ? opts->kind : "set";
	int64_t now = envx_now();
	int r;

	r = need_key(e, err);
	if (r < 0) {
		return r;
	}
	r = envx_name_check(name, err);
	if (r < 0) {
		return r;
	}
	if (len > ENVX_VALUE_MAX_BYTES) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "value of '%s' is too large: %zu bytes, "
		                      "the limit is %zu",
		                      name, len, ENVX_VALUE_MAX_BYTES);
	}
	if (len > 0 && memchr(value, '\0', len) != NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "value of '%s' contains a NUL byte, "
		                      "which no environment variable can carry",
		                      name);
	}
	if (strlen(desc) > ENVX_DESCRIPTION_MAX_BYTES) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "description of '%s' is longer than %d "
		                      "bytes",
		                      name, ENVX_DESCRIPTION_MAX_BYTES);
	}
	if (every < 0) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "negative rotation interval");
	}
	r = envx_env_mark_dirty(e, err);
	if (r < 0) {
		return r;
	}
	/* DESIGN §5: after mark_dirty, so the allowances are the ones
	 * verified inside this write */
	r = envx_env_name_permitted(e, name, err);
	if (r == 0) {
		r = envx_env_need_rows(e, name, true, err);
	}
	if (r < 0) {
		return r;
	}
	if (e->v->schema >= 5) {
		int64_t cur = 0;

		r = find_witnessed(e, name, &secret_id, &cur,
		                   &current_rotated_at, err);
		if (r < 0) {
			goto out;
		}
		if (r == 1) {
			ver = (uint64_t)cur + 1;
		}
		r = 0;
	} else {
		r = envx_vault_stmt(e->v, sql_find, &st, "cannot write secret",
		                    err);
		if (r < 0) {
			goto out;
		}
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			secret_id = sqlite3_column_int64(st, 0);
			ver = (uint64_t)sqlite3_column_int64(st, 1) + 1;
			current_rotated_at = sqlite3_column_int64(st, 2);
		}
		envx_vault_stmt_done(st);
		st = NULL;
	}
	if (opts != NULL && opts->expect_version != 0 &&
	    ver != opts->expect_version + 1) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "secret '%s' in environment '%s' changed "
		                   "meanwhile (version %llu was read, it is "
		                   "now %s)",
		                   name, e->name,
		                   (unsigned long long)opts->expect_version,
		                   secret_id == 0 ? "deleted" : "newer");
		goto out;
	}
	/* the current value, read once inside the write, for both checks */
	if (secret_id != 0 &&
	    (same_keeps_clock || (opts != NULL && opts->expect_version != 0 &&
	                          opts->expect_value != NULL))) {
		struct envx_secbuf cur = {0};

		r = envx_env_get_version(e, name, ver - 1, &cur, err);
		if (r < 0) {
			goto out;
		}
		if (opts != NULL && opts->expect_version != 0 &&
		    opts->expect_value != NULL &&
		    !holds(&cur, opts->expect_value->data,
		           opts->expect_value->len)) {
			envx_secbuf_release(&cur);
			r = envx_error_set(
			        err, ENVX_E_IO,
			        "secret '%s' in environment '%s' "
			        "changed meanwhile (removed and set "
			        "again: its value is not the one read "
			        "before)",
			        name, e->name);
			goto out;
		}
		if (same_keeps_clock && holds(&cur, value, len)) {
			rotated_at = current_rotated_at;
		}
		envx_secbuf_release(&cur);
	}
	if (secret_id == 0) {
		r = envx_vault_stmt(e->v,
		                    e->v->schema >= 5 ? sql_insert_secret5
		                                      : sql_insert_secret,
		                    &st, "cannot write secret", err);
		if (r < 0) {
			goto out;
		}
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4,
		                   (flags & ENVX_SET_ROTATE) ? every : 0);
		sqlite3_bind_int64(st, 5, rotated_at);
		if (e->v->schema >= 5) {
			sqlite3_bind_int64(st, 6,
			                   envx_bucket_of(name, strlen(name)));
		}
		r = step_done(e, st, err, "cannot write secret");
		if (r < 0) {
			goto out;
		}
		secret_id = sqlite3_last_insert_rowid(e->v->db);
	} else {
		r = envx_vault_stmt(e->v, sql_update_secret, &st,
		                    "cannot write secret", err);
		if (r < 0) {
			goto out;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ver);
		sqlite3_bind_int64(st, 2, rotated_at);
		sqlite3_bind_int(st, 3, (flags & ENVX_SET_DESCRIPTION) != 0);
		sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (flags & ENVX_SET_ROTATE) != 0);
		sqlite3_bind_int64(st, 6, every);
		sqlite3_bind_int64(st, 7, secret_id);
		r = step_done(e, st, err, "cannot write secret");
		if (r < 0) {
			goto out;
		}
	}
	envx_vault_stmt_done(st);
	st = NULL;
	ct = malloc(len + ENVX_TAG_BYTES);
	if (ct == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	envx_value_ad(&ad, e, name, ver);
	if (opts != NULL && opts->nonce != NULL) {
		memcpy(nonce, opts->nonce, sizeof(nonce));
		r = envx_crypto_seal_value_with(e->sub->value, &ad, value, len,
		                                nonce, ct, err);
	} else {
		r = envx_crypto_seal_value(e->sub->value, &ad, value, len,
		                           nonce, ct, err);
	}
	if (r < 0) {
		goto out;
	}
	r = envx_vault_stmt(e->v, sql_insert_version, &st,
	                    "cannot write secret", err);
	if (r < 0) {
		goto out;
	}
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ver);
	sqlite3_bind_blob(st, 3, nonce, sizeof(nonce), SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, ct, (int)(len + ENVX_TAG_BYTES),
	                  SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, e->v->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, kind, -1, SQLITE_STATIC);
	r = step_done(e, st, err, "cannot write secret");
	envx_vault_stmt_done(st);
	st = NULL;
	if (r == 0) {
		r = envx_env_recheck_compromised(e, name, ver, value, len, err);
	}
	if (r < 0) {
		goto out;
	}
	if (version_out != NULL) {
		*version_out = ver;
	}
out:
	free(ct);
	envx_vault_stmt_done(st);
	return r;
}

int
envx_env_set(struct envx_env *e, const char *name, const unsigned char *value,
             size_t len, const struct envx_set_opts *opts,
             uint64_t *version_out, struct envx_error *err)
{
	return write_version(e, name, value, len, opts, envx_now(), true,
	                     version_out, err);
}

int
envx_env_rollback(struct envx_env *e, const char *name, uint64_t version,
                  uint64_t *version_out, struct envx_error *err)
{
	struct envx_secbuf old = {0};
	struct envx_set_opts opts = {.kind = "rollback"};
	int64_t created = envx_now();
	int r;

	/* the version restored, and its time, from the row verified */
	r = get_version_at(e, name, version, &old, &created, err);
	if (r < 0) {
		return r;
	}
	r = write_version(e, name, old.data, old.len, &opts, created, false,
	                  version_out, err);
	envx_secbuf_release(&old);
	return r;
}

/*
 * A write to e's secrets table: stmt with ?1 bound to e's id and ?2 to
 * name (NULL: every secret, for statements that allow it), which must
 * change name's row when a name is given.
 */
static int
write_rows(struct envx_env *e, const char *name, bool witness, const char *stmt,
           const char *what, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int r;

	if (name != NULL) {
		r = envx_name_check(name, err);
		if (r < 0) {
			return r;
		}
	}
	r = need_key(e, err);
	if (r < 0) {
		return r;
	}
	r = envx_env_mark_dirty(e, err);
	if (r == 0) {
		r = name != NULL ? envx_env_need_rows(e, name, true, err)
		                 : envx_env_touch_all(e, err);
	}
	if (r < 0) {
		return r;
	}
	/* format 5, a row not written yet in this transaction: the one its
	 * bucket's verification read */
	if (witness && name != NULL && e->v->schema >= 5) {
		int64_t ver;
		int64_t at;

		r = find_witnessed(e, name, &id, &ver, &at, err);
		if (r < 0) {
			return r;
		}
		if (r == 0) {
			return envx_error_set(
			        err, ENVX_E_NOTFOUND,
			        "no secret '%.64s' in environment "
			        "'%s'",
			        name, e->name);
		}
	}
	if (sqlite3_prepare_v2(e->v->db, stmt, -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, what);
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	if (name != NULL) {
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, 2);
	}
	/* format 5: the row verified, by its id (the table, no index) */
	if (id != 0) {
		sqlite3_bind_int64(st, 3, id);
	} else {
		sqlite3_bind_null(st, 3);
	}
	r = step_done(e, st, err, what);
	if (r == 0 && id != 0 && sqlite3_changes(e->v->db) != 1) {
		/* the verified row, by its id, is not the row named */
		r = envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "secret '%s' in environment '%s': the row "
		        "verified is not where the file's index says "
		        "(the vault is corrupt or tampered); nothing "
		        "was written",
		        name, e->name);
	} else if (r == 0 && name != NULL && sqlite3_changes(e->v->db) != 1) {
		r = envx_error_set(err, ENVX_E_NOTFOUND,
		                   "no secret '%.64s' in environment '%s'",
		                   name, e->name);
	}
out:
	sqlite3_finalize(st);
	return r;
}

_Static_assert(ENVX_STATE_COMPROMISED == 1, "the state written below");

int
envx_env_mark_compromised(struct envx_env *e, const char *name,
                          struct envx_error *err)
{
	return write_rows(e, name, false,
	                  "UPDATE secrets SET state = 1 WHERE env_id = ?1 "
	                  "AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR "
	                  "id = ?3)",
	                  "cannot mark secret compromised", err);
}

int
envx_env_rm(struct envx_env *e, const char *name, struct envx_error *err)
{
	if (name == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "no name");
	}
	return write_rows(e, name, true,
	                  "DELETE FROM secrets WHERE env_id = ?1 AND "
	                  "name = ?2 AND (?3 IS NULL OR id = ?3)",
	                  "cannot remove secret", err);
}

int
envx_env_history(struct envx_env *e, const char *name,
                 struct envx_version_info **out, size_t *n,
                 struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_version_info *list = NULL;
	size_t count = 0;
	size_t cap = 0;
	int rc;
	int r;

	r = envx_name_check(name, err);
	if (r == 0) {
		r = envx_env_need_rows(e, name, false, err);
	}
	if (r < 0) {
		return r;
	}
	if (sqlite3_prepare_v2(
	            e->v->db,
	            e->v->schema >= 5
	                    ? "SELECT ver.version, ver.created_at, "
	                      "ver.author, ver.kind FROM secrets s " BY_BUCKET
	                      " JOIN versions ver ON "
	                      "ver.secret_id = s.id WHERE "
	                      "s.env_id = ?1 AND s.bucket = ?3 AND "
	                      "s.name = ?2 ORDER BY ver.version"
	                    : "SELECT ver.version, ver.created_at, "
	                      "ver.author, ver.kind FROM secrets s "
	                      "JOIN versions ver ON ver.secret_id = "
	                      "s.id WHERE s.env_id = ?1 AND s.name "
	                      "= ?2 ORDER BY ver.version",
	            -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(e->v->db, err, "cannot read history");
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	bind_bucket(e, st, 3, name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct envx_version_info *nl =
			        realloc(list, ncap * sizeof(*nl));
			if (nl == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		memset(&list[count], 0, sizeof(list[count]));
		list[count].version = (uint64_t)sqlite3_column_int64(st, 0);
		list[count].created_at = sqlite3_column_int64(st, 1);
		copy_col(list[count].author, sizeof(list[count].author), st, 2);
		copy_col(list[count].kind, sizeof(list[count].kind), st, 3);
		count++;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read history");
		goto out;
	}
	if (count == 0) {
		r = envx_error_set(err, ENVX_E_NOTFOUND,
		                   "no secret '%.64s' in environment '%s'",
		                   name, e->name);
		goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	free(list);
	sqlite3_finalize(st);
	return r;
}

/* VF-3.11: the sync fingerprint key is subkey 4 of the environment key. */
int
envx_env_sync_fingerprint(const struct envx_env *e, const char *name,
                          const unsigned char *value, size_t len,
                          unsigned char out[16], struct envx_error *err)
{
	unsigned char *k;
	unsigned char h[ENVX_HASH_BYTES];
	struct envx_lp w;
	int r = need_key(e, err);

	if (r < 0) {
		return r;
	}
	k = sodium_malloc(ENVX_KEY_BYTES);
	if (k == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	crypto_kdf_derive_from_key(k, ENVX_KEY_BYTES, 4, "envx-env", e->key);
	envx_lp_init_hash(&w, k, ENVX_KEY_BYTES);
	envx_lp_str(&w, "envx-sync-fingerprint-v1");
	envx_lp_str(&w, name);
	envx_lp_bytes(&w, value, len);
	envx_lp_final(&w, h);
	/* the buffer saw the value: wipe it as well as the key */
	sodium_memzero(&w, sizeof(w));
	sodium_free(k);
	memcpy(out, h, 16);
	sodium_memzero(h, sizeof(h));
	return 0;
}

void
envx_env_key_tag(const struct envx_env *e, char out[17])
{
	sodium_bin2hex(out, 17, e->key_commit, 8);
}
