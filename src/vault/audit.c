/*
 * VF-5.1: the audit log, a hash chain of the vault's writes (who changed
 * what and when, never a value). Appending an event, reading events back,
 * and verifying the chain: writers before they sign over it, readers for
 * the event a signed state covers, and `envx audit --verify`.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"
#include "util/banned.h"

/* The columns of an event, in the order VF-5.1 hashes them. */
#define EVENT_COLUMNS "seq, at, actor, action, env, name, detail, prev, hash"
#define NTEXT         5 /* actor, action, env, name, detail */
#define COL_TEXT      2 /* the first text column */
#define COL_PREV      7
#define COL_HASH      8
/* Events one listing holds at most (about 100 bytes each and more). */
#define EVENTS_MAX ((size_t)1 << 22)

static const char *const column_names[] = {"seq",    "at",   "actor",
                                           "action", "env",  "name",
                                           "detail", "prev", "hash"};

/* One event as stored, borrowed from its statement's current row. */
struct row {
	int64_t seq;
	int64_t at;
	const unsigned char *text[NTEXT];
	size_t len[NTEXT];
	const unsigned char *prev;
	const unsigned char *hash;
};

/*
 * Reads st's current row (EVENT_COLUMNS) into r, checking each column's
 * storage class before converting it, so that a tampered row is named
 * instead of silently converted. Returns -1 when every column is what a
 * writer stores, else the index of the first one that is not.
 */
static int
row_read(sqlite3_stmt *st, struct row *r)
{
	int c;

	for (c = 0; c <= 1; c++) {
		if (sqlite3_column_type(st, c) != SQLITE_INTEGER) {
			return c;
		}
	}
	r->seq = sqlite3_column_int64(st, 0);
	r->at = sqlite3_column_int64(st, 1);
	for (c = 0; c < NTEXT; c++) {
		if (sqlite3_column_type(st, COL_TEXT + c) != SQLITE_TEXT) {
			return COL_TEXT + c;
		}
		r->text[c] = sqlite3_column_text(st, COL_TEXT + c);
		r->len[c] = (size_t)sqlite3_column_bytes(st, COL_TEXT + c);
	}
	for (c = COL_PREV; c <= COL_HASH; c++) {
		if (sqlite3_column_type(st, c) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, c) != ENVX_HASH_BYTES) {
			return c;
		}
	}
	r->prev = sqlite3_column_blob(st, COL_PREV);
	r->hash = sqlite3_column_blob(st, COL_HASH);
	return -1;
}

/* VF-5.1: the hash of an event whose predecessor's hash is prev. */
static void
event_hash(const struct envx_vault *v, const unsigned char *prev,
           const struct row *r, unsigned char out[ENVX_HASH_BYTES])
{
	struct envx_lp hs;
	int c;

	envx_lp_init_hash(&hs, NULL, 0);
	envx_lp_str(&hs, "envx-audit-v1");
	envx_lp_bytes(&hs, v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_bytes(&hs, prev, ENVX_HASH_BYTES);
	envx_lp_u64(&hs, (uint64_t)r->seq);
	envx_lp_u64(&hs, (uint64_t)r->at);
	for (c = 0; c < NTEXT; c++) {
		envx_lp_bytes(&hs, r->text[c], r->len[c]);
	}
	envx_lp_final(&hs, out);
}

static int
malformed(struct envx_error *err, int64_t seq, int col)
{
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "audit event %lld is malformed (its %s is not "
	                      "%s): the audit log was edited outside envx",
	                      (long long)seq, column_names[col],
	                      col <= 1         ? "an integer"
	                      : col < COL_PREV ? "text"
	                                       : "a 32-byte blob");
}

/* run once per event an import appends: prepared once (envx_vault_stmt) */
static const char sql_head[] =
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char sql_append[] = "INSERT INTO audit (" EVENT_COLUMNS
                                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

int
envx_audit_head(struct envx_vault *v, int64_t *seq,
                unsigned char out[ENVX_HASH_BYTES], struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	*seq = 0;
	memset(out, 0, ENVX_HASH_BYTES);
	r = envx_vault_stmt(v, sql_head, &st, "cannot read audit log", err);
	if (r < 0) {
		return r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		/* VF-5.2: nothing is appended after a malformed last hash */
		if (sqlite3_column_type(st, 1) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 1) != ENVX_HASH_BYTES) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "the audit log's last event is "
			                   "malformed: the vault is corrupt or "
			                   "tampered");
		} else {
			*seq = sqlite3_column_int64(st, 0);
			memcpy(out, sqlite3_column_blob(st, 1),
			       ENVX_HASH_BYTES);
		}
	} else if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	envx_vault_stmt_done(st);
	return r;
}

int
envx_audit_at(struct envx_vault *v, int64_t seq,
              unsigned char out[ENVX_HASH_BYTES], struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct row row;
	unsigned char h[ENVX_HASH_BYTES];
	int rc;
	int r = 1;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT " EVENT_COLUMNS " FROM audit "
	                       "WHERE seq = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		bool ok = row_read(st, &row) < 0;

		if (ok) {
			event_hash(v, row.prev, &row, h);
			ok = sodium_memcmp(h, row.hash, sizeof(h)) == 0;
		}
		if (!ok) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "audit event %lld was edited outside "
			        "envx (its hash does not match it): "
			        "the vault was tampered with",
			        (long long)seq);
		} else {
			memcpy(out, h, sizeof(h));
			r = 0;
		}
	} else if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	sqlite3_finalize(st);
	return r;
}

/* Why row, the next event after chain->intact ones, breaks the chain, or
 * 0 when it links. */
static int
row_check(const struct envx_vault *v, sqlite3_stmt *st,
          const struct envx_audit_chain *chain,
          unsigned char h[ENVX_HASH_BYTES], struct envx_error *err)
{
	struct row row;
	int64_t want = chain->intact + 1;
	int col = row_read(st, &row);

	/* seq is the rowid (INTEGER PRIMARY KEY): always an integer */
	row.seq = sqlite3_column_int64(st, 0);
	if (row.seq != want) {
		if (want == 1) {
			return envx_error_set(err, ENVX_E_INTEGRITY,
			                      "audit event 1 is missing (the "
			                      "log starts at %lld): the audit "
			                      "log was edited outside envx",
			                      (long long)row.seq);
		}
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "audit event %lld is missing (the log "
		                      "goes from %lld to %lld): the audit log "
		                      "was edited outside envx",
		                      (long long)want, (long long)chain->intact,
		                      (long long)row.seq);
	}
	if (col >= 0) {
		return malformed(err, want, col);
	}
	if (memcmp(row.prev, chain->last_hash, ENVX_HASH_BYTES) != 0) {
		if (want == 1) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "audit event 1 does not start the "
			        "chain (its prev is not 32 zero "
			        "bytes): the audit log was edited "
			        "outside envx");
		}
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "audit event %lld does not follow event "
		                      "%lld (its prev is not that event's "
		                      "hash: an event was removed, inserted or "
		                      "moved): the audit log was edited "
		                      "outside envx",
		                      (long long)want,
		                      (long long)chain->intact);
	}
	event_hash(v, chain->last_hash, &row, h);
	if (memcmp(h, row.hash, ENVX_HASH_BYTES) != 0) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "audit event %lld was edited (its hash "
		                      "does not match its fields): the audit "
		                      "log was edited outside envx",
		                      (long long)want);
	}
	return 0;
}

/*
 * Walks the events after chain->intact (whose hash is chain->last_hash) in
 * seq order, extending chain while they link; 0 when every one does.
 */
static int
walk(struct envx_vault *v, struct envx_audit_chain *chain,
     struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char h[ENVX_HASH_BYTES];
	int rc;
	int r = 0;

	/* seq is the rowid: a range search, not a scan of the table */
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT " EVENT_COLUMNS " FROM audit "
	                       "WHERE seq > ? ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	sqlite3_bind_int64(st, 1, chain->intact);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		chain->count++;
		if (r == 0) {
			r = row_check(v, st, chain, h, err);
		}
		if (r == 0) {
			chain->intact++;
			memcpy(chain->last_hash, h, sizeof(h));
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	sqlite3_finalize(st);
	return r;
}

int
envx_vault_audit_verify(struct envx_vault *v, struct envx_audit_chain *out,
                        struct envx_error *err)
{
	struct envx_audit_chain chain = {0};
	int r = 0;

	if (v->schema >= 2) { /* VF-5.1: formats 2 and later keep a log */
		r = walk(v, &chain, err);
	}
	if (out != NULL) {
		*out = chain;
	}
	return r;
}

int
envx_audit_verify_from(struct envx_vault *v, int64_t seq,
                       const unsigned char hash[ENVX_HASH_BYTES],
                       struct envx_error *err)
{
	static const unsigned char zero[ENVX_HASH_BYTES];
	struct envx_audit_chain chain = {.intact = seq};
	unsigned char h[ENVX_HASH_BYTES];
	/* walked in this write already (later events are this write's) */
	bool walked = v->in_tx && v->audit_checked <= seq;
	int r;

	if (v->schema < 2) {
		return 0;
	}
	if (seq == 0) {
		if (sodium_memcmp(hash, zero, sizeof(zero)) != 0) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "an empty audit log has no hash");
		}
	} else {
		/* the event itself, as the signature covers it */
		r = envx_audit_at(v, seq, h, err);
		if (r == 1) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "audit event %lld, which a signed "
			        "state covers, is missing: the "
			        "audit log was rewritten",
			        (long long)seq);
		}
		if (r < 0) {
			return r;
		}
		if (sodium_memcmp(h, hash, sizeof(h)) != 0) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "audit event %lld is not the one a "
			        "signed state covers: the audit log "
			        "was rewritten",
			        (long long)seq);
		}
	}
	if (walked) {
		return 0;
	}
	memcpy(chain.last_hash, hash, sizeof(chain.last_hash));
	chain.count = seq;
	r = walk(v, &chain, err);
	if (r == 0 && v->in_tx) {
		v->audit_checked = seq;
	}
	return r;
}

/* A copy of column col of st's row: its text, or "" when it holds no
 * text (a tampered row, which envx_vault_audit_verify names). */
static char *
text_copy(sqlite3_stmt *st, int col)
{
	const unsigned char *t = NULL;
	size_t n = 0;
	char *s;

	if (sqlite3_column_type(st, col) == SQLITE_TEXT) {
		t = sqlite3_column_text(st, col);
		n = (size_t)sqlite3_column_bytes(st, col);
	}
	s = malloc(n + 1);
	if (s != NULL) {
		if (n > 0) {
			memcpy(s, t, n);
		}
		s[n] = '\0';
	}
	return s;
}

static int
event_read(sqlite3_stmt *st, struct envx_audit_event *ev)
{
	char **fields[NTEXT] = {&ev->actor, &ev->action, &ev->env, &ev->name,
	                        &ev->detail};
	int c;

	memset(ev, 0, sizeof(*ev));
	ev->seq = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 1) == SQLITE_INTEGER) {
		ev->at = sqlite3_column_int64(st, 1);
	}
	for (c = 0; c < NTEXT; c++) {
		*fields[c] = text_copy(st, COL_TEXT + c);
		if (*fields[c] == NULL) {
			return -1;
		}
	}
	if (sqlite3_column_type(st, COL_HASH) == SQLITE_BLOB &&
	    sqlite3_column_bytes(st, COL_HASH) == ENVX_HASH_BYTES) {
		memcpy(ev->hash, sqlite3_column_blob(st, COL_HASH),
		       ENVX_HASH_BYTES);
	}
	return 0;
}

int
envx_vault_audit_events(struct envx_vault *v,
                        const struct envx_audit_filter *filter,
                        struct envx_audit_event **out, size_t *n,
                        struct envx_error *err)
{
	struct envx_audit_event *list = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	size_t count = 0;
	int rc;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (v->schema < 2) {
		return 0;
	}
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT " EVENT_COLUMNS " FROM audit "
	                       "WHERE (?1 IS NULL OR env = ?1) AND "
	                       "(?2 IS NULL OR name = ?2) AND "
	                       "(?3 IS NULL OR at >= ?3) ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read audit log");
	}
	if (filter != NULL && filter->env != NULL) {
		sqlite3_bind_text(st, 1, filter->env, -1, SQLITE_STATIC);
	}
	if (filter != NULL && filter->name != NULL) {
		sqlite3_bind_text(st, 2, filter->name, -1, SQLITE_STATIC);
	}
	if (filter != NULL && filter->has_since) {
		sqlite3_bind_int64(st, 3, filter->since);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			struct envx_audit_event *grown;
			size_t ncap = cap == 0 ? 64 : cap * 2;

			if (cap >= EVENTS_MAX) {
				r = envx_error_set(
				        err, ENVX_E_INPUT,
				        "the audit log holds more than "
				        "%zu matching events: narrow "
				        "the listing",
				        EVENTS_MAX);
				goto out;
			}
			grown = realloc(list, ncap * sizeof(*list));
			if (grown == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				goto out;
			}
			list = grown;
			cap = ncap;
		}
		count++;
		if (event_read(st, &list[count - 1]) < 0) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read audit log");
	}
out:
	sqlite3_finalize(st);
	if (r < 0) {
		envx_audit_events_free(list, count);
		return r;
	}
	*out = list;
	*n = count;
	return 0;
}

void
envx_audit_events_free(struct envx_audit_event *ev, size_t n)
{
	size_t i;

	for (i = 0; ev != NULL && i < n; i++) {
		free(ev[i].actor);
		free(ev[i].action);
		free(ev[i].env);
		free(ev[i].name);
		free(ev[i].detail);
	}
	free(ev);
}

/* VF-5.1: hash = BLAKE2b-256 of the chained, length-prefixed event. */
int
envx_vault_audit(struct envx_vault *v, const char *action, const char *env,
                 const char *name, const char *detail, struct envx_error *err)
{
	return envx_audit_append(v, envx_now(), v->actor, action, env, name,
	                         detail, err);
}

int
envx_audit_append(struct envx_vault *v, int64_t at, const char *actor,
                  const char *action, const char *env, const char *name,
                  const char *detail, struct envx_error *err)
{
	const char *const text[NTEXT] = {actor, action, env, name, detail};
	sqlite3_stmt *st = NULL;
	unsigned char prev[ENVX_HASH_BYTES];
	unsigned char hash[ENVX_HASH_BYTES];
	struct row row = {.at = at};
	int c;
	int r;

	r = envx_audit_head(v, &row.seq, prev, err);
	if (r < 0) {
		return r;
	}
	row.seq++;
	for (c = 0; c < NTEXT; c++) {
		row.text[c] = (const unsigned char *)text[c];
		row.len[c] = strlen(text[c]);
	}
	event_hash(v, prev, &row, hash);
	r = envx_vault_stmt(v, sql_append, &st, "cannot write audit log", err);
	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, row.seq);
	sqlite3_bind_int64(st, 2, row.at);
	for (c = 0; c < NTEXT; c++) {
		sqlite3_bind_text(st, COL_TEXT + 1 + c, text[c], -1,
		                  SQLITE_STATIC);
	}
	sqlite3_bind_blob(st, COL_PREV + 1, prev, sizeof(prev), SQLITE_STATIC);
	sqlite3_bind_blob(st, COL_HASH + 1, hash, sizeof(hash), SQLITE_STATIC);
	r = 0;
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot write audit log");
	}
	envx_vault_stmt_done(st);
	return r;
}
