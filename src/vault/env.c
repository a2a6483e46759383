/*
 * Environments: their keys, recipients, and the whole-environment MAC that
 * makes a deleted, duplicated, reordered or rolled-back row detectable
 * (VF-3.2, VF-3.4, VF-3.5).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"
#include "util/banned.h"

/*
 * Current values to decrypt once the MAC has verified. During the scan each
 * job's nonce, ciphertext and name are copied out of the row into one pool
 * (none of it is secret); once the MAC has verified, the output set is sized
 * once from the ciphertext lengths, each job gets its slot (index kv), and
 * the values are decrypted straight into those slots. Decrypting after
 * verification means nothing unverified is ever decrypted, and the slots no
 * longer move, so the work can be split across threads.
 */
struct decrypt_job {
	size_t kv;
	uint64_t version;
	size_t off; /* in the pool: nonce, ciphertext, name and a NUL */
	uint32_t name_len;
	uint32_t ct_len;
};

struct decrypt_jobs {
	struct decrypt_job *items;
	size_t count;
	size_t cap;
	unsigned char *pool; /* not secret */
	size_t used;
	size_t size;
	size_t values_bytes; /* what the output set needs for all values */
};

static void
jobs_release(struct decrypt_jobs *j)
{
	free(j->items);
	free(j->pool);
	memset(j, 0, sizeof(*j));
}

static const unsigned char *
job_nonce(const struct decrypt_jobs *j, const struct decrypt_job *job)
{
	return j->pool + job->off;
}

static const unsigned char *
job_ct(const struct decrypt_jobs *j, const struct decrypt_job *job)
{
	return j->pool + job->off + ENVX_NONCE_BYTES;
}

static const char *
job_name(const struct decrypt_jobs *j, const struct decrypt_job *job)
{
	return (const char *)j->pool + job->off + ENVX_NONCE_BYTES +
	       job->ct_len;
}

/* Queues the decryption of the row's current value (columns: name 0,
 * version 6, nonce 10, ciphertext 11) into values. */
static int
queue_value(const struct envx_env *e, sqlite3_stmt *st, const char *name,
            size_t nlen, const struct envx_kvset *values,
            struct decrypt_jobs *jobs, struct envx_error *err)
{
	struct decrypt_job *job;
	size_t ctlen = (size_t)sqlite3_column_bytes(st, 11);
	size_t need;
	unsigned char *p;

	if (ctlen < ENVX_TAG_BYTES ||
	    ctlen - ENVX_TAG_BYTES > ENVX_VALUE_MAX_BYTES ||
	    sqlite3_column_bytes(st, 10) != ENVX_NONCE_BYTES) {
		return envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "secret '%s' in environment '%s' does not "
		        "decrypt: the vault is corrupt or "
		        "tampered",
		        name, e->name);
	}
	if (jobs->count == jobs->cap) {
		size_t ncap = jobs->cap ? jobs->cap * 2 : 256;
		struct decrypt_job *n = realloc(jobs->items, ncap * sizeof(*n));
		if (n == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		jobs->items = n;
		jobs->cap = ncap;
	}
	need = ENVX_NONCE_BYTES + ctlen + nlen + 1;
	if (need > jobs->size - jobs->used) {
		size_t nsize = jobs->size ? jobs->size * 2 : 65536;

		while (nsize - jobs->used < need) {
			nsize *= 2;
		}
		p = realloc(jobs->pool, nsize);
		if (p == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		jobs->pool = p;
		jobs->size = nsize;
	}
	job = &jobs->items[jobs->count++];
	job->kv = 0;
	job->version = (uint64_t)sqlite3_column_int64(st, 6);
	job->off = jobs->used;
	job->name_len = (uint32_t)nlen;
	job->ct_len = (uint32_t)ctlen;
	p = jobs->pool + jobs->used;
	memcpy(p, sqlite3_column_blob(st, 10), ENVX_NONCE_BYTES);
	memcpy(p + ENVX_NONCE_BYTES, sqlite3_column_blob(st, 11), ctlen);
	memcpy(p + ENVX_NONCE_BYTES + ctlen, name, nlen + 1);
	jobs->used += need;
	jobs->values_bytes +=
	        envx_kvset_pair_bytes(values, nlen, ctlen - ENVX_TAG_BYTES);
	return 0;
}

/* Sizes values once for every queued job and reserves each job's slot. */
static int
reserve_slots(struct envx_kvset *values, struct decrypt_jobs *jobs,
              struct envx_error *err)
{
	size_t i;
	int r;

	r = envx_kvset_reserve(values, jobs->count, jobs->values_bytes, err);
	for (i = 0; r == 0 && i < jobs->count; i++) {
		struct decrypt_job *job = &jobs->items[i];
		unsigned char *slot;

		r = envx_kvset_add_reserve(
		        values, job_name(jobs, job), job->name_len,
		        job->ct_len - ENVX_TAG_BYTES, 0, &slot, err);
		if (r == 0) {
			job->kv = values->count - 1;
		}
	}
	return r;
}

struct decrypt_range {
	const struct envx_env *e;
	const unsigned char *key;
	struct envx_kvset *values;
	const struct decrypt_jobs *jobs;
	size_t from;
	size_t to;
	size_t failed; /* index of the first job that failed, or to */
};

static void *
decrypt_range_run(void *arg)
{
	struct decrypt_range *dr = arg;
	size_t i;

	dr->failed = dr->to;
	for (i = dr->from; i < dr->to; i++) {
		const struct decrypt_job *job = &dr->jobs->items[i];
		const struct envx_kv *kv = &dr->values->items[job->kv];
		struct envx_lp ad;

		envx_value_ad(&ad, dr->e, job_name(dr->jobs, job),
		              job->version);
		if (envx_crypto_open_value(
		            dr->key, &ad, job_nonce(dr->jobs, job),
		            job_ct(dr->jobs, job), job->ct_len,
		            dr->values->arena + kv->value_off) < 0 ||
		    !envx_value_storable(dr->values->arena + kv->value_off,
		                         kv->value_len)) {
			dr->failed = i;
			break;
		}
	}
	return NULL;
}

/* Below this many values a second thread costs more than it saves. */
#define PARALLEL_DECRYPT_MIN 512

static int
decrypt_all(const struct envx_env *e, const unsigned char *key,
            struct envx_kvset *values, const struct decrypt_jobs *jobs,
            struct envx_error *err)
{
	struct decrypt_range half[2];
	pthread_t worker;
	bool threaded = false;
	size_t mid = jobs->count;
	int k;

	if (jobs->count >= PARALLEL_DECRYPT_MIN) {
		mid = jobs->count / 2;
	}
	for (k = 0; k < 2; k++) {
		half[k].e = e;
		half[k].key = key;
		half[k].values = values;
		half[k].jobs = jobs;
		half[k].from = k == 0 ? mid : 0;
		half[k].to = k == 0 ? jobs->count : mid;
	}
	if (mid > 0 && mid < jobs->count) {
		threaded = pthread_create(&worker, NULL, decrypt_range_run,
		                          &half[0]) == 0;
	}
	if (!threaded) {
		half[1].to = jobs->count; /* everything on this thread */
		half[0].from = half[0].to = half[0].failed = jobs->count;
	}
	decrypt_range_run(&half[1]);
	if (threaded) {
		pthread_join(worker, NULL);
	}
	for (k = 1; k >= 0; k--) {
		if (half[k].failed < half[k].to) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "secret '%s' in environment '%s' does not "
			        "decrypt to a storable value (VF-3.3): the "
			        "vault is corrupt or tampered",
			        envx_kvset_name(values,
			                        jobs->items[half[k].failed].kv),
			        e->name);
		}
	}
	return 0;
}

void
envx_names_release(struct envx_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->names[i]);
	}
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

static int
names_add(struct envx_names *l, const char *name, struct envx_error *err)
{
	char **grown = realloc(l->names, (l->n + 1) * sizeof(*grown));
	char *copy = strdup(name);

	if (grown == NULL || copy == NULL) {
		free(copy);
		if (grown != NULL) {
			l->names = grown;
		}
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	l->names = grown;
	l->names[l->n++] = copy;
	return 0;
}

/* Replaces e's allowed names with *l (which is left empty). */
static void
take_allowed(struct envx_env *e, struct envx_names *l)
{
	envx_names_release(&e->allowed);
	e->allowed = *l;
	l->names = NULL;
	l->n = 0;
}

/*
 * VF-3.7: the environment's allowed names, in name order, appended to the
 * MAC input; a format-2 vault (read-only, not migrated) has none. With
 * allowed, the names are also collected into it (released on failure).
 */
static int
hash_allowed(const struct envx_env *e, struct envx_lp *hs,
             struct envx_names *allowed, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	if (v->schema < 3) {
		return 0;
	}
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT name, created_at, author "
	                       "FROM allowed_names WHERE env_id = ? "
	                       "ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* types first: sqlite3_column_text converts in place */
		bool typed = sqlite3_column_type(st, 0) == SQLITE_TEXT &&
		             sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
		             sqlite3_column_type(st, 2) == SQLITE_TEXT;
		const char *name = (const char *)sqlite3_column_text(st, 0);
		size_t nlen = (size_t)sqlite3_column_bytes(st, 0);

		if (!typed || name == NULL || strlen(name) != nlen ||
		    !envx_name_valid(name, nlen)) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "environment '%s' failed its "
			        "integrity check: an allowed-name row "
			        "has an invalid name or a value of "
			        "the wrong type",
			        e->name);
			break;
		}
		envx_lp_str(hs, "allow");
		envx_lp_str(hs, name);
		envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 1));
		envx_lp_bytes(hs, sqlite3_column_text(st, 2),
		              (size_t)sqlite3_column_bytes(st, 2));
		if (allowed != NULL) {
			r = names_add(allowed, name, err);
			if (r < 0) {
				break;
			}
		}
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_finalize(st);
	if (r < 0 && allowed != NULL) {
		envx_names_release(allowed);
	}
	return r;
}

/*
 * Whether a row of compute_mac's query has the storage class of every column
 * (VF-4.6): SQLite's column affinity lets a REAL or TEXT into an INTEGER
 * column, and the MAC hashes integers as read, so "0.5" and 0 would hash
 * alike. The version columns are NULL for a secret without versions.
 */
static bool
row_typed(sqlite3_stmt *st)
{
	static const int want[12] = {
	        SQLITE_TEXT,    SQLITE_INTEGER, SQLITE_TEXT,    SQLITE_INTEGER,
	        SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER,
	        SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_BLOB,    SQLITE_BLOB};
	bool versionless = sqlite3_column_type(st, 6) == SQLITE_NULL;
	int i;

	for (i = 0; i < 12; i++) {
		int t = sqlite3_column_type(st, i);

		if (i >= 6 && versionless) {
			if (t != SQLITE_NULL) {
				return false;
			}
		} else if (t != want[i]) {
			return false;
		}
	}
	return true;
}

/* A secret whose current version has no row: fail closed (every command,
 * not only get, must refuse it). */
static int
no_current(const struct envx_env *e, const char *name, int64_t current,
           struct envx_error *err)
{
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "secret '%s' in environment '%s' has no row for "
	                      "its current version %lld: the vault is corrupt "
	                      "or tampered",
	                      name, e->name, (long long)current);
}

/*
 * VF-3.4: what a MAC pass collects besides the MAC. With values (and e
 * unlocked), the current version of each secret is also decrypted into
 * values in the same pass: exec and export read every row once, not twice.
 */
struct mac_collect {
	struct envx_kvset *values;      /* with jobs: the current values */
	struct decrypt_jobs *jobs;      /* their decryptions, queued */
	struct envx_names *allowed;     /* VF-3.7 */
	struct envx_names *compromised; /* names in ENVX_STATE_COMPROMISED */
};

/* The secret and version rows of one MAC input (format ≤ 4: the whole
 * environment; format 5: one bucket), as they are hashed. */
struct row_pass {
	struct envx_lp *hs;
	struct envx_buckets *wit; /* where to record witnesses, or NULL */
	char last[ENVX_NAME_MAX_BYTES + 2];
	bool have_last;
	bool seen_current;
	int64_t current;
	uint64_t nsecrets;
	uint64_t nversions;
};

static int
rows_invalid(const struct envx_env *e, struct envx_error *err)
{
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "environment '%s' failed its "
	                      "integrity check: a secret or version "
	                      "row has an invalid name or a value of "
	                      "the wrong type",
	                      e->name);
}

/*
 * Hashes one row of the VF-3.4 query (columns 0 to 11) into p: the secret's
 * fields when the row starts a secret, then its version's. *fresh says
 * whether it started one.
 */
#define BIT_GET(a, b) (((a)[(b) / 8] >> ((b) % 8)) & 1)
#define BIT_SET(a, b) ((a)[(b) / 8] |= (unsigned char)(1u << ((b) % 8)))

static void
put_u64le(uint64_t x, unsigned char *out)
{
	int i;

	for (i = 0; i < 8; i++) {
		out[i] = (unsigned char)(x >> (8 * i));
	}
}

/* The witness of a version row: name, its secret's current version, the
 * row's version and creation time, its ciphertext hash and its secret's
 * row id. */
static void
witness_of(const char *name, int64_t current, int64_t version, int64_t created,
           int64_t id, const unsigned char cth[ENVX_HASH_BYTES],
           unsigned char out[16])
{
	crypto_generichash_state st;
	unsigned char n[24];

	crypto_generichash_init(&st, NULL, 0, 16);
	put_u64le((uint64_t)strlen(name), n);
	put_u64le((uint64_t)current, n + 8);
	crypto_generichash_update(&st, n, 16);
	crypto_generichash_update(&st, (const unsigned char *)name,
	                          strlen(name));
	put_u64le((uint64_t)version, n);
	put_u64le((uint64_t)created, n + 8);
	crypto_generichash_update(&st, n, 16);
	crypto_generichash_update(&st, cth, ENVX_HASH_BYTES);
	put_u64le((uint64_t)id, n);
	crypto_generichash_update(&st, n, 8);
	crypto_generichash_final(&st, out, 16);
}

static int
witness_add(struct envx_buckets *bk, const char *name, int64_t current,
            int64_t version, int64_t created, int64_t id,
            const unsigned char cth[ENVX_HASH_BYTES], struct envx_error *err)
{
	if (bk->nwit == bk->capwit) {
		size_t cap = bk->capwit > 0 ? bk->capwit * 2 : 64;
		unsigned char(*w)[16] = realloc(bk->wit, cap * sizeof(*w));

		if (w == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		bk->wit = w;
		bk->capwit = cap;
	}
	witness_of(name, current, version, created, id, cth,
	           bk->wit[bk->nwit++]);
	return 0;
}

int
envx_env_witness_check(const struct envx_env *e, const char *name,
                       int64_t current, int64_t version, int64_t created,
                       int64_t id, const void *nonce, size_t nlen,
                       const void *ct, size_t ctlen, const char *what,
                       bool writing, struct envx_error *err)
{
	unsigned char cth[ENVX_HASH_BYTES];
	unsigned char w[16];
	uint32_t b;
	size_t i;

	if (e->v->schema < 5 || e->bk == NULL) {
		return 0;
	}
	b = envx_bucket_of(name, strlen(name));
	if (e->bk->all_ok || !BIT_GET(e->bk->ok, b)) {
		return 0;
	}
	envx_crypto_ciphertext_hash(nonce, nlen, ct, ctlen, cth);
	witness_of(name, current, version, created, id, cth, w);
	for (i = 0; i < e->bk->nwit; i++) {
		if (sodium_memcmp(e->bk->wit[i], w, sizeof(w)) == 0) {
			return 0;
		}
	}
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "secret '%s' in environment '%s': %s is not one "
	                      "the integrity check read (the file's indexes "
	                      "disagree with its tables): the vault is corrupt "
	                      "or tampered%s",
	                      name, e->name, what,
	                      writing ? "; nothing was written" : "");
}

static int
hash_row(const struct envx_env *e, sqlite3_stmt *st, struct row_pass *p,
         struct mac_collect *c, bool *fresh, struct envx_error *err)
{
	struct envx_lp *hs = p->hs;
	unsigned char cth[ENVX_HASH_BYTES];
	/* types first: sqlite3_column_text converts in place */
	bool typed = row_typed(st);
	const char *name = (const char *)sqlite3_column_text(st, 0);
	const char *desc = (const char *)sqlite3_column_text(st, 2);
	size_t nlen = (size_t)sqlite3_column_bytes(st, 0);
	int r;

	*fresh = false;
	if (!typed || name == NULL || desc == NULL ||
	    !envx_name_valid(name, nlen) || strlen(name) != nlen) {
		return rows_invalid(e, err);
	}
	if (!p->have_last || strcmp(p->last, name) != 0) {
		if (p->have_last && !p->seen_current) {
			return no_current(e, p->last, p->current, err);
		}
		p->seen_current = false;
		p->current = sqlite3_column_int64(st, 1);
		envx_lp_str(hs, "secret");
		envx_lp_str(hs, name);
		envx_lp_u64(hs, (uint64_t)p->current);
		envx_lp_str(hs, desc);
		envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 3));
		envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 4));
		envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 5));
		if (c != NULL && c->compromised != NULL &&
		    sqlite3_column_int64(st, 5) == ENVX_STATE_COMPROMISED) {
			r = names_add(c->compromised, name, err);
			if (r < 0) {
				return r;
			}
		}
		if (nlen >= sizeof(p->last)) {
			return envx_error_set(err, ENVX_E_INTEGRITY,
			                      "environment '%s' has a secret "
			                      "name longer than %d bytes",
			                      e->name, ENVX_NAME_MAX_BYTES);
		}
		memcpy(p->last, name, nlen + 1);
		p->have_last = true;
		p->nsecrets++;
		*fresh = true;
	}
	if (sqlite3_column_type(st, 6) == SQLITE_NULL) {
		return 0; /* a secret without versions: hashed as such */
	}
	envx_crypto_ciphertext_hash(sqlite3_column_blob(st, 10),
	                            (size_t)sqlite3_column_bytes(st, 10),
	                            sqlite3_column_blob(st, 11),
	                            (size_t)sqlite3_column_bytes(st, 11), cth);
	envx_lp_str(hs, "version");
	envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 6));
	envx_lp_u64(hs, (uint64_t)sqlite3_column_int64(st, 7));
	envx_lp_bytes(hs, sqlite3_column_text(st, 8),
	              (size_t)sqlite3_column_bytes(st, 8));
	envx_lp_bytes(hs, sqlite3_column_text(st, 9),
	              (size_t)sqlite3_column_bytes(st, 9));
	envx_lp_bytes(hs, cth, sizeof(cth));
	p->nversions++;
	if (p->wit != NULL) {
		r = witness_add(p->wit, name, p->current,
		                sqlite3_column_int64(st, 6),
		                sqlite3_column_int64(st, 7),
		                sqlite3_column_int64(st, 13), cth, err);
		if (r < 0) {
			return r;
		}
	}
	if (sqlite3_column_int64(st, 6) != p->current) {
		return 0;
	}
	p->seen_current = true;
	if (c != NULL && c->values != NULL) {
		return queue_value(e, st, name, nlen, c->values, c->jobs, err);
	}
	return 0;
}

/* The end of a run of rows: its last secret has its current version. */
static int
end_rows(const struct envx_env *e, const struct row_pass *p,
         struct envx_error *err)
{
	if (p->have_last && !p->seen_current) {
		return no_current(e, p->last, p->current, err);
	}
	return 0;
}

static int
generation_valid(const struct envx_env *e, int64_t generation,
                 struct envx_error *err)
{
	if (generation < 1) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' has generation %lld "
		                      "(it must be at least 1): the vault is "
		                      "corrupt or tampered",
		                      e->name, (long long)generation);
	}
	return 0;
}

#define ROW_COLUMNS                                                            \
	"SELECT s.name, s.version, s.description, s.rotate_every, "            \
	"s.rotated_at, s.state, ver.version, ver.created_at, ver.author, "     \
	"ver.kind, ver.nonce, ver.ciphertext"

/* VF-3.4, formats 1 to 4: the MAC over every secret and version row. */
static int
compute_mac_v1(const struct envx_env *e, int64_t generation,
               const struct envx_env_subkeys *sub,
               unsigned char out[ENVX_HASH_BYTES], struct mac_collect *c,
               struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	struct envx_lp hs;
	struct row_pass p = {.hs = &hs};
	bool fresh;
	int rc;
	int r;

	if (sqlite3_prepare_v2(v->db,
	                       ROW_COLUMNS " FROM secrets s LEFT JOIN versions "
	                                   "ver ON ver.secret_id = s.id WHERE "
	                                   "s.env_id = ? "
	                                   "ORDER BY s.name, ver.version",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	r = generation_valid(e, generation, err);
	if (r < 0) {
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	envx_lp_init_hash(&hs, sub->mac, ENVX_KEY_BYTES);
	envx_lp_str(&hs, "envx-env-mac-v1");
	envx_lp_bytes(&hs, v->vault_id, sizeof(v->vault_id));
	envx_lp_str(&hs, e->name);
	envx_lp_u64(&hs, (uint64_t)generation);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = hash_row(e, st, &p, c, &fresh, err);
		if (r < 0) {
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	r = end_rows(e, &p, err);
	if (r == 0) {
		r = hash_allowed(e, &hs, c != NULL ? c->allowed : NULL, err);
	}
	if (r < 0) {
		goto out;
	}
	envx_lp_str(&hs, "end");
	envx_lp_u64(&hs, p.nsecrets);
	envx_lp_u64(&hs, p.nversions);
	envx_lp_final(&hs, out);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

/* ---- VF-3.4, format 5: the bucketed MAC ---- */

static int reverify(struct envx_env *e, struct envx_error *err);

uint32_t
envx_bucket_of(const char *name, size_t len)
{
	unsigned char h[16];

	crypto_generichash(h, sizeof(h), (const unsigned char *)name, len, NULL,
	                   0);
	return (uint32_t)(h[0] | (h[1] << 8)) % ENVX_BUCKETS;
}

static int
buckets_ready(struct envx_env *e, struct envx_error *err)
{
	if (e->bk == NULL) {
		e->bk = calloc(1, sizeof(*e->bk));
		if (e->bk == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
	}
	return 0;
}

static int
bucket_mismatch(const struct envx_env *e, struct envx_error *err)
{
	/* a damaged file is told apart from edited rows */
	int r = envx_vault_integrity_check(e->v, err);

	if (r < 0) {
		return r;
	}
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "environment '%s' failed its integrity "
	                      "check: rows were changed, deleted, "
	                      "duplicated or rolled back outside envx",
	                      e->name);
}

/*
 * The root (the environment MAC of format 5) over the bucket rows in rows
 * (nsecrets 0: the bucket is empty and has no row) and the allowed names
 * (collected into allowed when not NULL).
 */
static int
root_mac(const struct envx_env *e, int64_t generation,
         const struct envx_env_subkeys *sub, const struct envx_bucket *rows,
         struct envx_names *allowed, unsigned char out[ENVX_HASH_BYTES],
         struct envx_error *err)
{
	struct envx_lp hs;
	uint64_t ns = 0;
	uint64_t nv = 0;
	uint32_t b;
	int r = generation_valid(e, generation, err);

	if (r < 0) {
		return r;
	}
	envx_lp_init_hash(&hs, sub->mac, ENVX_KEY_BYTES);
	envx_lp_str(&hs, "envx-env-mac-v2");
	envx_lp_bytes(&hs, e->v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(&hs, e->name);
	envx_lp_u64(&hs, (uint64_t)generation);
	for (b = 0; rows != NULL && b < ENVX_BUCKETS; b++) {
		if (rows[b].nsecrets == 0) {
			continue;
		}
		envx_lp_u64(&hs, b);
		envx_lp_bytes(&hs, rows[b].digest, ENVX_HASH_BYTES);
		envx_lp_u64(&hs, rows[b].nsecrets);
		envx_lp_u64(&hs, rows[b].nversions);
		ns += rows[b].nsecrets;
		nv += rows[b].nversions;
	}
	r = hash_allowed(e, &hs, allowed, err);
	if (r < 0) {
		return r;
	}
	envx_lp_str(&hs, "end");
	envx_lp_u64(&hs, ns);
	envx_lp_u64(&hs, nv);
	envx_lp_final(&hs, out);
	return 0;
}

/* Reads e's mac_buckets rows into rows (all ENVX_BUCKETS of them). */
static int
read_bucket_rows(const struct envx_env *e, struct envx_bucket *rows,
                 struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	memset(rows, 0, ENVX_BUCKETS * sizeof(*rows));
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT bucket, digest, nsecrets, nversions "
	                       "FROM mac_buckets WHERE env_id = ? "
	                       "ORDER BY bucket",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(st, 0);
		int64_t ns = sqlite3_column_int64(st, 2);
		int64_t nv = sqlite3_column_int64(st, 3);

		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    sqlite3_column_type(st, 1) != SQLITE_BLOB ||
		    sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
		    sqlite3_column_type(st, 3) != SQLITE_INTEGER ||
		    sqlite3_column_bytes(st, 1) != ENVX_HASH_BYTES || b < 0 ||
		    b >= ENVX_BUCKETS || ns < 1 || nv < ns) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "environment '%s' has a malformed "
			                   "MAC bucket row: the vault is "
			                   "corrupt or tampered",
			                   e->name);
			break;
		}
		memcpy(rows[b].digest, sqlite3_column_blob(st, 1),
		       ENVX_HASH_BYTES);
		rows[b].nsecrets = (uint64_t)ns;
		rows[b].nversions = (uint64_t)nv;
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
	}
	sqlite3_finalize(st);
	return r;
}

/*
 * VF-3.4 (format 5), the first half of every verification: the bucket rows
 * as stored, their root compared (in constant time) with mac for
 * generation. On success e->bk holds the rows, now authentic, and no
 * bucket's secret rows count as verified yet.
 */
static int
verify_root(struct envx_env *e, const struct envx_env_subkeys *sub,
            int64_t generation, const unsigned char mac[ENVX_HASH_BYTES],
            struct envx_names *allowed, struct envx_error *err)
{
	struct envx_bucket *rows = NULL;
	unsigned char root[ENVX_HASH_BYTES];
	int r = buckets_ready(e, err);

	if (r < 0) {
		return r;
	}
	rows = malloc(ENVX_BUCKETS * sizeof(*rows));
	if (rows == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	r = read_bucket_rows(e, rows, err);
	if (r == 0) {
		r = root_mac(e, generation, sub, rows, allowed, root, err);
	}
	if (r == 0 && sodium_memcmp(root, mac, ENVX_HASH_BYTES) != 0) {
		r = bucket_mismatch(e, err);
	}
	if (r == 0) {
		memcpy(e->bk->b, rows, sizeof(e->bk->b));
		memset(e->bk->ok, 0, sizeof(e->bk->ok));
		e->bk->nwit = 0; /* each bucket's witnesses come again */
		e->bk->all_ok = false;
	} else if (allowed != NULL) {
		envx_names_release(allowed);
	}
	free(rows);
	return r;
}

/* What a bucket scan does with each bucket it has hashed. */
enum scan_use {
	SCAN_VERIFY, /* compare with e->bk (authentic), except touched ones */
	SCAN_STORE,  /* take as e->bk's row (a seal) */
};

/* One bucket's digest, being computed. */
struct bucket_hash {
	struct envx_lp hs;
	struct row_pass p;
	bool started;
};

struct bucket_scan {
	struct envx_env *e;
	const struct envx_env_subkeys *sub;
	enum scan_use use;
	int64_t only;          /* the one bucket scanned, -1: all of them */
	struct bucket_hash *h; /* one, or ENVX_BUCKETS for all */
};

static struct bucket_hash *
bucket_slot(struct bucket_scan *s, int64_t b)
{
	return s->only < 0 ? &s->h[b] : &s->h[0];
}

static void
bucket_start(struct bucket_scan *s, int64_t b)
{
	struct bucket_hash *h = bucket_slot(s, b);

	envx_lp_init_hash(&h->hs, s->sub->mac, ENVX_KEY_BYTES);
	envx_lp_str(&h->hs, "envx-bucket-v1");
	envx_lp_bytes(&h->hs, s->e->v->vault_id, ENVX_VAULT_ID_BYTES);
	envx_lp_str(&h->hs, s->e->name);
	envx_lp_u64(&h->hs, (uint64_t)b);
	memset(&h->p, 0, sizeof(h->p));
	h->p.hs = &h->hs;
	/* one bucket verified for a lookup: its rows' witnesses */
	h->p.wit = s->only >= 0 && s->use == SCAN_VERIFY ? s->e->bk : NULL;
	h->started = true;
}

/* Ends bucket b: D_b (nothing hashed: an empty bucket, with no row), then
 * compared with e's authentic row or stored as it. */
static int
bucket_end(struct bucket_scan *s, int64_t b, struct envx_error *err)
{
	struct bucket_hash *h = bucket_slot(s, b);
	struct envx_bucket got = {0};
	struct envx_bucket *have = &s->e->bk->b[b];
	int r;

	if (h->started) {
		r = end_rows(s->e, &h->p, err);
		if (r < 0) {
			return r;
		}
		envx_lp_str(&h->hs, "end");
		envx_lp_u64(&h->hs, h->p.nsecrets);
		envx_lp_u64(&h->hs, h->p.nversions);
		envx_lp_final(&h->hs, got.digest);
		got.nsecrets = h->p.nsecrets;
		got.nversions = h->p.nversions;
	}
	if (s->use == SCAN_STORE) {
		*have = got;
	} else if (!BIT_GET(s->e->bk->touched, b) &&
	           (have->nsecrets != got.nsecrets ||
	            have->nversions != got.nversions ||
	            (got.nsecrets != 0 &&
	             sodium_memcmp(have->digest, got.digest, ENVX_HASH_BYTES) !=
	                     0))) {
		/* rows changed, added, gone, or moved to another bucket */
		return bucket_mismatch(s->e, err);
	}
	return 0;
}

/* One bucket's rows: the plan is pinned to the bucket index (the planner
 * would take the (env_id, name) index for the name order and read every
 * row of the environment; an sqlite_stat1 table, VF-4.3, could steer it
 * too). Every row: in name order, as the rows were inserted, which reads
 * the table in order; each row is hashed into its bucket's digest. */
static const char sql_bucket_rows[] =
        ROW_COLUMNS ", s.bucket, s.id FROM secrets s INDEXED BY secrets_bucket "
                    "LEFT JOIN versions ver ON ver.secret_id = s.id "
                    "WHERE s.env_id = ? AND s.bucket = ? "
                    "ORDER BY s.bucket, s.name, ver.version";
static const char sql_all_rows[] =
        ROW_COLUMNS ", s.bucket, s.id FROM secrets s LEFT JOIN versions ver "
                    "ON ver.secret_id = s.id WHERE s.env_id = ? "
                    "ORDER BY s.name, ver.version";

/*
 * Hashes the secret and version rows of bucket only (-1: of every bucket)
 * into their bucket digests, for use. Every row's bucket column must be
 * the bucket of its name. In SCAN_VERIFY, a bucket of the scanned set whose
 * authentic row is not matched by the rows (rows missing or added, a row
 * moved to another bucket) is an integrity failure.
 */
static int
scan_buckets(struct envx_env *e, const struct envx_env_subkeys *sub,
             int64_t only, enum scan_use use, struct mac_collect *c,
             struct envx_error *err)
{
	struct envx_vault *v = e->v;
	struct bucket_scan s = {.e = e, .sub = sub, .use = use, .only = only};
	struct bucket_hash *h;
	sqlite3_stmt *st = NULL;
	bool fresh;
	int64_t b;
	int rc;
	int r;

	/* for all: about 2.5 MiB, of which only the buckets used are
	 * touched */
	s.h = calloc(only < 0 ? ENVX_BUCKETS : 1, sizeof(*s.h));
	if (s.h == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	r = envx_vault_stmt(v, only < 0 ? sql_all_rows : sql_bucket_rows, &st,
	                    "cannot read environment", err);
	if (r < 0) {
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	if (only >= 0) {
		sqlite3_bind_int64(st, 2, only);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 12) != SQLITE_INTEGER) {
			r = rows_invalid(e, err);
			goto out;
		}
		b = sqlite3_column_int64(st, 12);
		if (b < 0 || b >= ENVX_BUCKETS || (only >= 0 && b != only)) {
			r = bucket_mismatch(e, err); /* not in any bucket */
			goto out;
		}
		h = bucket_slot(&s, b);
		if (!h->started) {
			bucket_start(&s, b);
		}
		r = hash_row(e, st, &h->p, c, &fresh, err);
		if (r < 0) {
			goto out;
		}
		/* VF-3.4: the row is in its name's bucket */
		if (fresh &&
		    envx_bucket_of(h->p.last, strlen(h->p.last)) != b) {
			r = bucket_mismatch(e, err);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	for (b = only < 0 ? 0 : only; b < (only < 0 ? ENVX_BUCKETS : only + 1);
	     b++) {
		r = bucket_end(&s, b, err);
		if (r < 0) {
			goto out;
		}
	}
	if (use == SCAN_VERIFY && only >= 0) {
		BIT_SET(e->bk->ok, only);
	} else if (use == SCAN_VERIFY) {
		e->bk->all_ok = true;
	}
	r = 0;
out:
	envx_vault_stmt_done(st);
	free(s.h);
	return r;
}

/* Stores e's bucket row b as it is in e->bk (deleted when empty). */
static int
store_bucket_row(struct envx_env *e, int64_t b, struct envx_error *err)
{
	const struct envx_bucket *row = &e->bk->b[b];
	sqlite3_stmt *st = NULL;
	int r;

	r = envx_vault_stmt(e->v,
	                    row->nsecrets == 0
	                            ? "DELETE FROM mac_buckets WHERE env_id = "
	                              "?1 AND bucket = ?2"
	                            : "INSERT OR REPLACE INTO mac_buckets "
	                              "(env_id, bucket, digest, nsecrets, "
	                              "nversions) VALUES (?1, ?2, ?3, ?4, ?5)",
	                    &st, "cannot seal environment", err);
	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, b);
	if (row->nsecrets != 0) {
		sqlite3_bind_blob(st, 3, row->digest, ENVX_HASH_BYTES,
		                  SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)row->nsecrets);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)row->nversions);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot seal environment");
	}
	envx_vault_stmt_done(st);
	return r;
}

/*
 * Puts every secret row of e that has no bucket yet (-1, rows this write
 * inserted: e's rows were all verified before it began) in its name's
 * bucket.
 */
static int
fill_buckets(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int64_t *rows = NULL; /* id, bucket pairs */
	size_t n = 0;
	size_t cap = 0;
	size_t i;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT id, name FROM secrets WHERE env_id = ? "
	                       "AND bucket = -1",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot seal environment");
	}
	sqlite3_bind_int64(st, 1, e->id);
	/* read first, then update: the update moves rows in the index the
	 * select walks */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);

		if (name == NULL) {
			r = rows_invalid(e, err);
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int64_t *grown =
			        realloc(rows, ncap * 2 * sizeof(*grown));

			if (grown == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				goto out;
			}
			rows = grown;
			cap = ncap;
		}
		rows[2 * n] = sqlite3_column_int64(st, 0);
		rows[2 * n + 1] = envx_bucket_of(
		        name, (size_t)sqlite3_column_bytes(st, 1));
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot seal environment");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(v->db,
	                       "UPDATE secrets SET bucket = ? WHERE id = ?", -1,
	                       &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot seal environment");
		goto out;
	}
	for (i = 0; i < n && r == 0; i++) {
		sqlite3_bind_int64(st, 1, rows[2 * i + 1]);
		sqlite3_bind_int64(st, 2, rows[2 * i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = envx_sqlite_error(v->db, err,
			                      "cannot seal environment");
		}
		sqlite3_reset(st);
	}
out:
	free(rows);
	sqlite3_finalize(st);
	return r;
}

/*
 * Format 5 sealing: recomputes the digests of the buckets the open write
 * changed (all of them after envx_env_touch_all) and stores their rows.
 */
static int
seal_buckets(struct envx_env *e, struct envx_error *err)
{
	struct envx_buckets *bk = e->bk;
	int64_t b;
	int r;

	if (bk->all_touched) {
		r = fill_buckets(e, err);
		if (r == 0) {
			r = scan_buckets(e, e->sub, -1, SCAN_STORE, NULL, err);
		}
		for (b = 0; r == 0 && b < ENVX_BUCKETS; b++) {
			r = store_bucket_row(e, b, err);
		}
		if (r == 0) {
			bk->all_ok = true;
		}
	} else {
		r = 0;
		for (b = 0; r == 0 && b < ENVX_BUCKETS; b++) {
			if (!BIT_GET(bk->touched, b)) {
				continue;
			}
			r = scan_buckets(e, e->sub, b, SCAN_STORE, NULL, err);
			if (r == 0) {
				r = store_bucket_row(e, b, err);
			}
			if (r == 0) {
				BIT_SET(bk->ok, b);
			}
		}
	}
	if (r == 0) {
		memset(bk->touched, 0, sizeof(bk->touched));
		bk->all_touched = false;
	}
	return r;
}

int
envx_env_need_rows(struct envx_env *e, const char *name, bool write,
                   struct envx_error *err)
{
	uint32_t b;
	int r;

	if (e->v->schema < 5 || e->bk == NULL) {
		return 0; /* every row was verified at unlock */
	}
	b = envx_bucket_of(name, strlen(name));
	if (!e->bk->all_ok && !BIT_GET(e->bk->ok, b) &&
	    !BIT_GET(e->bk->touched, b)) {
		if (e->v->in_tx && !e->dirty) {
			/* the rows as they are in this write (VF-3.6) */
			r = reverify(e, err);
			if (r < 0) {
				return r;
			}
		}
		r = scan_buckets(e, e->sub, b, SCAN_VERIFY, NULL, err);
		if (r < 0) {
			return r;
		}
	}
	if (write) {
		BIT_SET(e->bk->touched, b);
	}
	return 0;
}

int
envx_env_need_all(struct envx_env *e, struct envx_error *err)
{
	int r;

	if (e->v->schema < 5 || e->bk == NULL || e->bk->all_ok) {
		return 0;
	}
	if (e->v->in_tx && !e->dirty) {
		r = reverify(e, err);
		if (r < 0) {
			return r;
		}
	}
	return scan_buckets(e, e->sub, -1, SCAN_VERIFY, NULL, err);
}

int
envx_env_touch_all(struct envx_env *e, struct envx_error *err)
{
	int r = envx_env_need_all(e, err);

	if (r == 0 && e->bk != NULL) {
		e->bk->all_touched = true;
	}
	return r;
}

int
envx_env_rebuild_buckets(struct envx_env *e, struct envx_error *err)
{
	int64_t b;
	int r;

	if (e->v->schema < 5) {
		return 0;
	}
	r = buckets_ready(e, err);
	if (r == 0) {
		r = fill_buckets(e, err);
	}
	if (r == 0) {
		r = scan_buckets(e, e->sub, -1, SCAN_STORE, NULL, err);
	}
	for (b = 0; r == 0 && b < ENVX_BUCKETS; b++) {
		r = store_bucket_row(e, b, err);
	}
	if (r == 0) {
		/* not verified: the root is checked when e is made dirty */
		e->rows_verified = false;
		e->bk->all_touched = true;
	}
	return r;
}

int
envx_env_upgrade_buckets(struct envx_env *e, int from, struct envx_error *err)
{
	char detail[64];
	int r;

	r = buckets_ready(e, err);
	if (r < 0) {
		return r;
	}
	if (from >= 4) {
		/* VF-4.5: the upgrader re-signs every state, so it must be a
		 * writer of each */
		r = envx_access_load(e, err);
		if (r < 0) {
			return r;
		}
		if (envx_signer_role(e) < ENVX_ROLE_WRITE) {
			return envx_error_set(
			        err, ENVX_E_LOCKED,
			        "cannot upgrade vault '%s' to format %d: your "
			        "identity is not a writer of '%s', and the "
			        "upgrade signs every environment. Ask someone "
			        "who writes to all of them to run 'envx "
			        "upgrade'",
			        e->v->path, ENVX_VAULT_SCHEMA_VERSION, e->name);
		}
		envx_actor_from_signer(e);
		snprintf(detail, sizeof(detail), "format %d to %d", from,
		         ENVX_VAULT_SCHEMA_VERSION);
		r = envx_vault_audit(e->v, "upgrade", e->name, "", detail, err);
		if (r < 0) {
			return r;
		}
	}
	/* every row is in bucket -1 (the column's default): all of them
	 * were verified by the MAC of the old format at unlock */
	e->bk->all_touched = true;
	return envx_env_seal(e, err);
}

/* The MAC of a new environment (generation 1, no rows). */
static int
new_env_mac(const struct envx_env *e, const struct envx_env_subkeys *sub,
            unsigned char out[ENVX_HASH_BYTES], struct envx_error *err)
{
	if (e->v->schema >= 5) {
		return root_mac(e, 1, sub, NULL, NULL, out, err);
	}
	return compute_mac_v1(e, 1, sub, out, NULL, err);
}

static int
store_seal(struct envx_vault *v, int64_t env_id, int64_t generation,
           const unsigned char mac[ENVX_HASH_BYTES], struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(v->db,
	                       "UPDATE envs SET generation = ?, mac = ? "
	                       "WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot seal environment");
		goto out;
	}
	sqlite3_bind_int64(st, 1, generation);
	sqlite3_bind_blob(st, 2, mac, ENVX_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, env_id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot seal environment");
	}
out:
	sqlite3_finalize(st);
	return r;
}

int
envx_env_seal(struct envx_env *e, struct envx_error *err)
{
	struct envx_names allowed = {0};
	unsigned char mac[ENVX_HASH_BYTES];
	int64_t gen = e->generation + 1;
	int r;

	if (e->sub == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "environment '%s' changed while locked",
		                      e->name);
	}
	if (e->v->schema >= 5) {
		/* VF-3.4: only the buckets this write changed are hashed
		 * again; the root covers the others' authentic rows */
		r = buckets_ready(e, err);
		if (r == 0) {
			r = seal_buckets(e, err);
		}
		if (r == 0) {
			r = root_mac(e, gen, e->sub, e->bk->b, &allowed, mac,
			             err);
		}
	} else {
		r = compute_mac_v1(e, gen, e->sub, mac,
		                   &(struct mac_collect){.allowed = &allowed},
		                   err);
	}
	if (r == 0) {
		r = store_seal(e->v, e->id, gen, mac, err);
	}
	if (r == 0) {
		e->generation = gen;
		memcpy(e->mac, mac, sizeof(mac));
		take_allowed(e, &allowed);
		/* VF-3.8: the writer signs the state it sealed */
		if (e->v->schema >= 4) {
			r = envx_state_sign(e, err);
		}
	}
	envx_names_release(&allowed);
	return r;
}

/* PRAGMA data_version: changes whenever another connection commits to the
 * file (this connection's own commits do not change it). */
static int
data_version(struct envx_vault *v, int64_t *out, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(v->db, "PRAGMA data_version", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
	} else {
		*out = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return r;
}

/* Records that e's rows, as of its generation and MAC, have just been
 * verified (see unchanged_since_verified). */
static int
note_verified(struct envx_env *e, struct envx_error *err)
{
	int r = data_version(e->v, &e->verified_data_version, err);

	e->verified_changes = sqlite3_total_changes64(e->v->db);
	e->rows_verified = r == 0;
	return r;
}

/*
 * Whether the rows of e are provably the ones verified at unlock, given the
 * generation and MAC re-read inside the write transaction: the same pair,
 * no commit by any other connection since (data_version) and no row changed
 * by this one (total_changes, which counts rolled-back changes too). Then
 * VF-3.6's re-verification has its answer without hashing the environment
 * again: the MAC was checked against exactly these rows. Anything else, or
 * any doubt, is a full re-verification.
 */
static bool
unchanged_since_verified(struct envx_env *e, int64_t gen,
                         const unsigned char mac[ENVX_HASH_BYTES])
{
	int64_t dv;

	return e->rows_verified && gen == e->generation &&
	       sodium_memcmp(mac, e->mac, ENVX_HASH_BYTES) == 0 &&
	       sqlite3_total_changes64(e->v->db) == e->verified_changes &&
	       data_version(e->v, &dv, NULL) == 0 &&
	       dv == e->verified_data_version;
}

/* VF-3.6: the stored generation and MAC, re-read and verified inside the
 * write transaction that is about to change the environment. */
static int
reverify(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	unsigned char stored[ENVX_HASH_BYTES];
	unsigned char mac[ENVX_HASH_BYTES];
	struct envx_names allowed = {0};
	int64_t gen;
	int r;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT generation, mac, key_commit FROM envs "
	                       "WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_bytes(st, 1) != ENVX_HASH_BYTES ||
	    sqlite3_column_bytes(st, 2) != ENVX_HASH_BYTES) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s' changed or vanished while "
		                   "envx was using it",
		                   e->name);
		goto out;
	}
	/* VF-3.9: another writer rekeyed it since this one unlocked it (a
	 * race, not tampering: that key no longer opens anything) */
	if (sodium_memcmp(sqlite3_column_blob(st, 2), e->key_commit,
	                  ENVX_HASH_BYTES) != 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "environment '%s' was rekeyed by another "
		                   "writer after envx opened it; nothing was "
		                   "written: run the command again",
		                   e->name);
		goto out;
	}
	gen = sqlite3_column_int64(st, 0);
	memcpy(stored, sqlite3_column_blob(st, 1), sizeof(stored));
	e->rows_verified =
	        e->rows_verified && unchanged_since_verified(e, gen, stored);
	if (e->rows_verified) {
		r = 0; /* e->allowed is still the verified one */
		goto out;
	}
	if (v->schema >= 5) {
		/* VF-3.4: the root over the bucket rows as they are now; each
		 * bucket's secret rows are verified when a write touches them
		 * (envx_env_need_rows) */
		r = verify_root(e, e->sub, gen, stored, &allowed, err);
		if (r < 0) {
			goto out;
		}
		memcpy(mac, stored, sizeof(mac));
		r = note_verified(e, err);
		if (r < 0) {
			goto out;
		}
	} else {
		r = compute_mac_v1(e, gen, e->sub, mac,
		                   &(struct mac_collect){.allowed = &allowed},
		                   err);
	}
	if (r < 0) {
		goto out;
	}
	if (sodium_memcmp(mac, stored, sizeof(mac)) != 0) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s' failed its integrity "
		                   "check: rows were changed, deleted, "
		                   "duplicated or rolled back outside envx",
		                   e->name);
		goto out;
	}
	e->generation = gen;
	memcpy(e->mac, stored, sizeof(stored));
	take_allowed(e, &allowed);
out:
	envx_names_release(&allowed);
	sqlite3_finalize(st);
	return r;
}

int
envx_env_mark_dirty(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	int r;

	if (!v->in_tx) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "write outside a transaction");
	}
	if (e->dirty) {
		return 0;
	}
	/* the rows are about to change: the names verified at unlock no
	 * longer say which are compromised */
	e->compromised_known = false;
	if (e->sub == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	if (v->ndirty == ENVX_MAX_DIRTY) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "too many environments changed at once");
	}
	r = reverify(e, err);
	if (r < 0) {
		return r;
	}
	if (v->schema >= 4) {
		/* VF-3.8: the access log as it is inside this transaction;
		 * only a writer may change the environment */
		r = envx_access_load(e, err);
		if (r < 0) {
			return r;
		}
		if (envx_signer_role(e) < ENVX_ROLE_WRITE) {
			return envx_error_set(
			        err, ENVX_E_LOCKED,
			        "cannot write to '%s': your identity %s; an "
			        "admin of '%s' can run 'envx access grant %s "
			        "<your envxpub2 key> --label <you> --role "
			        "write'",
			        e->name,
			        v->signer == NULL ? "is missing"
			        : envx_signer_role(e) == ENVX_ROLE_READ
			                ? "may only read it"
			                : "is not a writer of it",
			        e->name, e->name);
		}
		envx_actor_from_signer(e);
	}
	v->dirty[v->ndirty++] = e;
	e->dirty = true;
	return 0;
}

int
envx_env_touch(struct envx_env *e, struct envx_error *err)
{
	return envx_env_mark_dirty(e, err);
}

int64_t
envx_env_signed_audit_seq(const struct envx_env *e)
{
	return e->signed_audit_seq;
}

void
envx_passphrase_ad(struct envx_lp *ad, const struct envx_vault *v,
                   const char *env,
                   const unsigned char params[ENVX_KDF_PARAMS_BYTES])
{
	envx_lp_init_ad(ad);
	envx_lp_str(ad, "envx-env-passphrase-v1");
	envx_lp_bytes(ad, v->vault_id, sizeof(v->vault_id));
	envx_lp_str(ad, env);
	envx_lp_bytes(ad, params, ENVX_KDF_PARAMS_BYTES);
}

static int
insert_recipient(struct envx_vault *v, int64_t env_id, const char *label,
                 const char *kind, const void *pk, size_t pklen,
                 const void *kdf, size_t kdflen, const void *wrapped,
                 size_t wlen, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(v->db,
	                       "INSERT INTO recipients (env_id, label, kind, "
	                       "public_key, kdf, wrapped_key, created_at) "
	                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot add recipient");
		goto out;
	}
	sqlite3_bind_int64(st, 1, env_id);
	sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	if (pk != NULL) {
		sqlite3_bind_blob(st, 4, pk, (int)pklen, SQLITE_STATIC);
	}
	if (kdf != NULL) {
		sqlite3_bind_blob(st, 5, kdf, (int)kdflen, SQLITE_STATIC);
	}
	sqlite3_bind_blob(st, 6, wrapped, (int)wlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, envx_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		if ((sqlite3_errcode(v->db) & 0xff) == SQLITE_CONSTRAINT) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "a recipient labelled '%s' already "
			                   "exists",
			                   label);
		} else {
			r = envx_sqlite_error(v->db, err,
			                      "cannot add recipient");
		}
	}
out:
	sqlite3_finalize(st);
	return r;
}

static int
check_label(const char *label, struct envx_error *err)
{
	size_t i;
	size_t n = strlen(label);

	if (n == 0 || n > ENVX_LABEL_MAX_BYTES) {
		goto bad;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)label[i];
		if (c < 0x21 || c == 0x7f) {
			goto bad;
		}
	}
	/* VF-6.1: valid UTF-8, no C1 or bidirectional controls: a label is
	 * what people read to decide whom to revoke */
	if (envx_text_plain(label)) {
		return 0;
	}
bad:
	return envx_error_set(err, ENVX_E_INPUT,
	                      "invalid recipient label: 1 to %d bytes of "
	                      "printable UTF-8, without spaces or control "
	                      "characters",
	                      ENVX_LABEL_MAX_BYTES);
}

int
envx_vault_env_add(struct envx_vault *v, const char *name,
                   const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                   const char *label, struct envx_error *err)
{
	unsigned char *key = NULL;
	struct envx_env_subkeys *sub = NULL;
	unsigned char wrapped[ENVX_SEAL_BYTES];
	unsigned char mac[ENVX_HASH_BYTES];
	struct envx_env tmp = {0};
	sqlite3_stmt *st = NULL;
	int64_t env_id;
	int r;

	if (!envx_env_name_valid(name)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid environment name '%.64s': use "
		                      "lowercase letters, digits, '.', '_' "
		                      "and '-', starting with a letter or "
		                      "digit",
		                      name);
	}
	r = check_label(label, err);
	if (r < 0) {
		return r;
	}
	key = sodium_malloc(ENVX_KEY_BYTES);
	sub = sodium_malloc(sizeof(*sub));
	if (key == NULL || sub == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	crypto_kdf_keygen(key);
	envx_crypto_subkeys(key, sub);
	if (sqlite3_prepare_v2(v->db,
	                       "INSERT INTO envs (name, key_commit, "
	                       "generation, mac, created_at) "
	                       "VALUES (?, ?, 0, zeroblob(32), ?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot add environment");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, sub->commit, ENVX_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, envx_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		if ((sqlite3_errcode(v->db) & 0xff) == SQLITE_CONSTRAINT) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "environment '%s' already exists",
			                   name);
		} else {
			r = envx_sqlite_error(v->db, err,
			                      "cannot add environment");
		}
		goto out;
	}
	env_id = sqlite3_last_insert_rowid(v->db);
	crypto_box_seal(wrapped, key, ENVX_KEY_BYTES, pk);
	r = insert_recipient(v, env_id, label, "x25519", pk,
	                     ENVX_PUBLIC_KEY_BYTES, NULL, 0, wrapped,
	                     sizeof(wrapped), err);
	if (r < 0) {
		goto out;
	}
	tmp.v = v;
	tmp.id = env_id;
	snprintf(tmp.name, sizeof(tmp.name), "%s", name);
	if (v->schema >= 4) {
		/* VF-3.8: the creator, an admin, signs the first entry */
		if (v->signer == NULL) {
			r = envx_error_set(err, ENVX_E_LOCKED,
			                   "creating an environment needs an "
			                   "identity to sign with");
			goto out;
		}
		r = envx_access_append(&tmp, "create", label, ENVX_ROLE_ADMIN,
		                       v->signer->spk, err);
		if (r < 0) {
			goto out;
		}
		envx_actor_from_signer(&tmp);
	}
	r = envx_vault_audit(v, "env-add", name, "", label, err);
	if (r == 0) {
		r = new_env_mac(&tmp, sub, mac, err);
	}
	if (r == 0) {
		r = store_seal(v, env_id, 1, mac, err);
	}
	if (r == 0 && v->schema >= 4) {
		tmp.generation = 1;
		memcpy(tmp.mac, mac, sizeof(mac));
		memcpy(tmp.key_commit, sub->commit, ENVX_HASH_BYTES);
		r = envx_state_sign(&tmp, err);
	}
out:
	envx_access_release(&tmp.acc);
	sqlite3_finalize(st);
	sodium_free(key);
	sodium_free(sub);
	return r;
}

int
envx_vault_env_rm(struct envx_vault *v, const char *name,
                  struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(v->db, "DELETE FROM envs WHERE name = ?", -1,
	                       &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot remove environment");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot remove environment");
		goto out;
	}
	if (sqlite3_changes(v->db) != 1) {
		r = envx_error_set(err, ENVX_E_NOTFOUND, "no environment '%s'",
		                   name);
		goto out;
	}
	r = envx_vault_audit(v, "env-rm", name, "", "", err);
out:
	sqlite3_finalize(st);
	return r;
}

int
envx_vault_env_list(struct envx_vault *v, struct envx_env_info **out, size_t *n,
                    struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_env_info *list = NULL;
	size_t count = 0;
	size_t cap = 0;
	int rc;
	int r;

	if (sqlite3_prepare_v2(
	            v->db,
	            "SELECT e.name, e.created_at, "
	            "(SELECT count(*) FROM secrets s WHERE s.env_id = e.id), "
	            "(SELECT count(*) FROM recipients c WHERE c.env_id = e.id) "
	            "FROM envs e ORDER BY e.name",
	            -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot list environments");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct envx_env_info *nl =
			        realloc(list, ncap * sizeof(*nl));
			if (nl == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		if (name == NULL || !envx_env_name_valid(name)) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "vault '%s' holds an invalid "
			                   "environment name: it was edited "
			                   "outside envx",
			                   v->path);
			goto out;
		}
		memset(&list[count], 0, sizeof(list[count]));
		snprintf(list[count].name, sizeof(list[count].name), "%s",
		         name);
		list[count].created_at = sqlite3_column_int64(st, 1);
		list[count].nsecrets = (size_t)sqlite3_column_int64(st, 2);
		list[count].nrecipients = (size_t)sqlite3_column_int64(st, 3);
		count++;
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot list environments");
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

int
envx_env_open(struct envx_vault *v, const char *name, struct envx_env **out,
              struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_env *e = NULL;
	int rc;
	int r;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT id, key_commit, generation, mac "
	                       "FROM envs WHERE name = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot open environment");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot open environment");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		/* a damaged envs page can hide a row: check the file before
		 * saying the environment does not exist */
		r = envx_vault_integrity_check(v, err);
		if (r == 0) {
			r = envx_error_set(err, ENVX_E_NOTFOUND,
			                   "no environment '%.64s' in vault "
			                   "'%s'",
			                   name, v->path);
		}
		goto out;
	}
	/* VF-4.6: storage classes as well as lengths (a REAL generation
	 * would read as its integer part, a TEXT MAC as its bytes) */
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 1) != SQLITE_BLOB ||
	    sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 3) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, 1) != ENVX_HASH_BYTES ||
	    sqlite3_column_bytes(st, 3) != ENVX_HASH_BYTES) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s' has a malformed header: "
		                   "the vault is corrupt or tampered",
		                   name);
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	e->v = v;
	e->id = sqlite3_column_int64(st, 0);
	snprintf(e->name, sizeof(e->name), "%s", name);
	memcpy(e->key_commit, sqlite3_column_blob(st, 1), ENVX_HASH_BYTES);
	e->generation = sqlite3_column_int64(st, 2);
	memcpy(e->mac, sqlite3_column_blob(st, 3), ENVX_HASH_BYTES);
	*out = e;
	e = NULL;
	r = 0;
out:
	free(e);
	sqlite3_finalize(st);
	return r;
}

void
envx_env_free(struct envx_env *e)
{
	size_t i;

	if (e == NULL) {
		return;
	}
	if (e->dirty) {
		struct envx_vault *v = e->v;
		for (i = 0; i < v->ndirty; i++) {
			if (v->dirty[i] == e) {
				v->dirty[i] = v->dirty[--v->ndirty];
				break;
			}
		}
		v->lost_changes = true;
	}
	sodium_free(e->key);
	sodium_free(e->sub);
	envx_names_release(&e->allowed);
	envx_names_release(&e->compromised);
	envx_access_release(&e->acc);
	if (e->bk != NULL) {
		free(e->bk->wit);
	}
	free(e->bk);
	free(e);
}

const char *
envx_env_name(const struct envx_env *e)
{
	return e->name;
}

bool
envx_env_is_unlocked(const struct envx_env *e)
{
	return e->sub != NULL;
}

void
envx_env_keyref(const struct envx_env *e, struct envx_env_keyref *out)
{
	memcpy(out->vault_id, e->v->vault_id, ENVX_VAULT_ID_BYTES);
	snprintf(out->env, sizeof(out->env), "%s", e->name);
	memcpy(out->commit, e->key_commit, ENVX_HASH_BYTES);
}

int
envx_env_key(const struct envx_env *e, unsigned char *key,
             struct envx_error *err)
{
	if (e->key == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	memcpy(key, e->key, ENVX_KEY_BYTES);
	return 0;
}

bool
envx_key_matches(const unsigned char *key, const unsigned char *commit)
{
	struct envx_env_subkeys *sub = sodium_malloc(sizeof(*sub));
	bool same;

	if (sub == NULL) {
		return false;
	}
	envx_crypto_subkeys(key, sub);
	same = sodium_memcmp(sub->commit, commit, ENVX_HASH_BYTES) == 0;
	sodium_free(sub);
	return same;
}

/* "identity file 'x' is not one of its recipients", or why there is no
 * identity: the first half of every "cannot unlock" message. */
static void
describe_identity(const struct envx_unlock *how, char *out, size_t outsz)
{
	char pub[ENVX_PUBKEY_TEXT_BYTES];

	if (how != NULL && how->identity == NULL &&
	    how->identity_label != NULL) {
		snprintf(out, outsz, "%s", how->identity_label);
	} else if (how == NULL || how->identity == NULL) {
		snprintf(out, outsz, "no identity was given");
	} else if (how->identity_label != NULL) {
		snprintf(out, outsz, "%s is not one of its recipients",
		         how->identity_label);
	} else {
		envx_pubkey_format(how->identity->pk, pub);
		snprintf(out, outsz,
		         "your identity (%.20s…) is not one of its recipients",
		         pub);
	}
}

static int
try_passphrase(struct envx_env *e, const struct envx_unlock *how,
               const unsigned char *kdf, const unsigned char *wrapped,
               size_t wlen, struct envx_secbuf *pass, unsigned char *key,
               struct envx_error *err)
{
	struct envx_kdf_params kp;
	struct envx_lp ad;
	unsigned char *kek = NULL;
	char prompt[128];
	int r;

	envx_kdf_decode(kdf, &kp);
	r = envx_kdf_check(&kp, err);
	if (r < 0) {
		return r;
	}
	if (wlen != ENVX_NONCE_BYTES + ENVX_KEY_BYTES + ENVX_TAG_BYTES) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "environment '%s' has a malformed "
		                      "passphrase recipient",
		                      e->name);
	}
	if (pass->data == NULL) {
		r = envx_secbuf_init(pass, 1024, err);
		if (r == 0) {
			snprintf(prompt, sizeof(prompt),
			         "passphrase for environment '%s'", e->name);
			r = how->ask(how->ask_ctx, prompt, pass, err);
		}
		if (r == ENVX_E_LOCKED && err != NULL) {
			/* say what was tried before what is missing */
			char why[ENVX_ERROR_MSG_BYTES];
			char who[ENVX_ERROR_MSG_BYTES];

			snprintf(why, sizeof(why), "%s", err->msg);
			describe_identity(how, who, sizeof(who));
			envx_error_set(
			        err, ENVX_E_LOCKED,
			        "cannot unlock environment '%s': %s, and "
			        "%s",
			        e->name, who, why);
		}
		if (r < 0) {
			return r;
		}
	}
	kek = sodium_malloc(ENVX_KEY_BYTES);
	if (kek == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	r = envx_kdf_derive(&kp, pass->data, pass->len, kek, err);
	if (r == 0) {
		envx_passphrase_ad(&ad, e->v, e->name, kdf);
		r = envx_crypto_open_value(kek, &ad, wrapped,
		                           wrapped + ENVX_NONCE_BYTES,
		                           wlen - ENVX_NONCE_BYTES, key);
		r = r < 0 ? 1 : 0; /* 1: wrong passphrase for this one */
	}
	sodium_free(kek);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * VF-3.4 then VF-3.3: checks the environment MAC over every row (as of now,
 * against the stored generation and MAC) and, with values, decrypts every
 * current value into it, sorted by name, only once the MAC has verified.
 * On failure values is released: nothing unverified reaches a caller.
 * With lazy (format 5, no values), only the root over the bucket rows is
 * verified: each bucket's secret rows are verified when they are read
 * (envx_env_need_rows, envx_env_need_all).
 */
static int
verify_and_collect(struct envx_env *e, const struct envx_env_subkeys *sub,
                   struct envx_kvset *values, bool lazy, struct envx_error *err)
{
	struct decrypt_jobs jobs = {0};
	struct envx_names allowed = {0};
	struct envx_names compromised = {0};
	struct mac_collect c = {.values = values,
	                        .jobs = &jobs,
	                        .allowed = &allowed,
	                        .compromised = &compromised};
	unsigned char mac[ENVX_HASH_BYTES];
	int r;

	if (e->v->schema >= 5) {
		r = verify_root(e, sub, e->generation, e->mac, &allowed, err);
		if (r == 0 && (!lazy || values != NULL)) {
			c.allowed = NULL;
			r = scan_buckets(e, sub, -1, SCAN_VERIFY, &c, err);
			/* the rows came in bucket order */
			if (r == 0 && compromised.n > 1) {
				qsort(compromised.names, compromised.n,
				      sizeof(*compromised.names), name_cmp);
			}
		}
		if (r < 0) {
			goto out;
		}
	} else {
		r = compute_mac_v1(e, e->generation, sub, mac, &c, err);
		if (r < 0) {
			goto out;
		}
		if (sodium_memcmp(mac, e->mac, ENVX_HASH_BYTES) != 0) {
			r = bucket_mismatch(e, err);
			goto out;
		}
	}
	if (values != NULL) {
		r = reserve_slots(values, &jobs, err);
		if (r < 0) {
			goto out;
		}
		r = decrypt_all(e, sub->value, values, &jobs, err);
		if (r < 0) {
			goto out;
		}
		envx_kvset_sort(values);
	}
	take_allowed(e, &allowed);
	/* exec's warning reads these verified names, not a second scan */
	envx_names_release(&e->compromised);
	e->compromised = compromised;
	e->compromised_known = e->bk == NULL || e->bk->all_ok;
	compromised = (struct envx_names){0};
out:
	envx_names_release(&allowed);
	envx_names_release(&compromised);
	jobs_release(&jobs);
	if (r < 0 && values != NULL) {
		envx_kvset_release(values);
	}
	return r;
}

int
envx_env_get_all(struct envx_env *e, struct envx_kvset *out,
                 struct envx_error *err)
{
	if (e->sub == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	return verify_and_collect(e, e->sub, out, false, err);
}

static int
exec_read(struct envx_vault *v, const char *sql, struct envx_error *err)
{
	if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read environment");
	}
	return 0;
}

/* Re-reads e's key commitment, generation and MAC (in the caller's
 * snapshot). */
static int
reload_header(struct envx_env *e, struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	int rc;
	int r;

	if (sqlite3_prepare_v2(v->db,
	                       "SELECT key_commit, generation, mac FROM envs "
	                       "WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot read environment");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		r = envx_error_set(err, ENVX_E_NOTFOUND,
		                   "environment '%s' was removed from vault "
		                   "'%s' while envx was opening it",
		                   e->name, v->path);
		goto out;
	}
	if (sqlite3_column_bytes(st, 0) != ENVX_HASH_BYTES ||
	    sqlite3_column_bytes(st, 2) != ENVX_HASH_BYTES) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s' has a malformed header: "
		                   "the vault is corrupt or tampered",
		                   e->name);
		goto out;
	}
	memcpy(e->key_commit, sqlite3_column_blob(st, 0), ENVX_HASH_BYTES);
	e->generation = sqlite3_column_int64(st, 1);
	memcpy(e->mac, sqlite3_column_blob(st, 2), ENVX_HASH_BYTES);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int
envx_env_unlock(struct envx_env *e, const struct envx_unlock *how,
                struct envx_error *err)
{
	struct envx_vault *v = e->v;
	sqlite3_stmt *st = NULL;
	unsigned char *key = NULL;
	struct envx_env_subkeys *sub = NULL;
	struct envx_secbuf pass = {0};
	char who[ENVX_ERROR_MSG_BYTES];
	const struct envx_identity *id = how != NULL ? how->identity : NULL;
	bool opened = false;
	bool has_passphrase = false;
	bool snapshot = false;
	int tries = 0;
	int rc;
	int r;

	if (e->sub != NULL) {
		return 0;
	}
	if (v->signer == NULL) {
		/* VF-3.8: the identity that opens is the one trusted and
		 * signing, unless the caller named another */
		v->signer = id;
	}
	key = sodium_malloc(ENVX_KEY_BYTES);
	sub = sodium_malloc(sizeof(*sub));
	if (key == NULL || sub == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	if (how != NULL && how->key != NULL) {
		/* a key from elsewhere (an agent) stands for the recipients;
		 * the commitment below decides whether it is this one */
		memcpy(key, how->key, ENVX_KEY_BYTES);
		opened = true;
	} else if (sqlite3_prepare_v2(v->db,
	                              "SELECT kind, public_key, kdf, "
	                              "wrapped_key FROM recipients WHERE "
	                              "env_id = ? ORDER BY id",
	                              -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot read recipients");
		goto out;
	}
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, e->id);
	}
	/* VF-3.5: an X25519 recipient matching the identity first; a
	 * passphrase is asked for only when no key recipient matches. */
	while (!opened && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		const unsigned char *wrapped = sqlite3_column_blob(st, 3);
		size_t wlen = (size_t)sqlite3_column_bytes(st, 3);

		if (kind != NULL && strcmp(kind, "passphrase") == 0) {
			has_passphrase = true;
			continue;
		}
		if (id == NULL || id->sk == NULL ||
		    sqlite3_column_bytes(st, 1) != ENVX_PUBLIC_KEY_BYTES ||
		    sodium_memcmp(sqlite3_column_blob(st, 1), id->pk,
		                  ENVX_PUBLIC_KEY_BYTES) != 0) {
			continue;
		}
		if (wlen != ENVX_SEAL_BYTES ||
		    crypto_box_seal_open(key, wrapped, wlen, id->pk, id->sk) !=
		            0) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "environment '%s': the key wrapped "
			                   "for your identity does not open: "
			                   "the vault is corrupt or tampered",
			                   e->name);
			goto out;
		}
		opened = true;
	}
	if (!opened && has_passphrase && how != NULL && how->ask != NULL) {
		sqlite3_reset(st);
		/* VF-3.5: each try costs an Argon2id run, so a crafted vault
		 * with many passphrase recipients cannot make envx spin */
		while (!opened && tries < ENVX_MAX_PASSPHRASE_TRIES &&
		       (rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *kind =
			        (const char *)sqlite3_column_text(st, 0);
			if (kind == NULL || strcmp(kind, "passphrase") != 0) {
				continue;
			}
			if (sqlite3_column_bytes(st, 2) !=
			    ENVX_KDF_PARAMS_BYTES) {
				r = envx_error_set(err, ENVX_E_INTEGRITY,
				                   "environment '%s' has a "
				                   "malformed passphrase "
				                   "recipient",
				                   e->name);
				goto out;
			}
			tries++;
			r = try_passphrase(e, how, sqlite3_column_blob(st, 2),
			                   sqlite3_column_blob(st, 3),
			                   (size_t)sqlite3_column_bytes(st, 3),
			                   &pass, key, err);
			if (r < 0) {
				goto out;
			}
			opened = r == 0;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!opened) {
		/* a damaged recipients page looks like "no recipient
		 * matches": the file is checked before the key is blamed */
		r = envx_vault_integrity_check(v, err);
		if (r < 0) {
			goto out;
		}
		/* VF-3.5 step 4: say what was tried */
		describe_identity(how, who, sizeof(who));
		r = envx_error_set(
		        err, ENVX_E_LOCKED,
		        "cannot unlock environment '%s': %s%s", e->name, who,
		        !has_passphrase ? " and it has no passphrase recipient"
		        : tries > 0     ? "; the passphrase given did not open "
		                          "any of its passphrase recipients"
		                        : " and no passphrase could be asked "
		                          "for its passphrase recipients");
		goto out;
	}
	envx_crypto_subkeys(key, sub);
	/* VF-3.4, VF-4.4: the header and the rows the MAC covers are read in
	 * one snapshot. A read-only open holds one already; a writable open
	 * takes one here, so a writer committing between envx_env_open and
	 * now is seen whole (its new header with its new rows), never as
	 * the old header over new rows, which would look like tampering. */
	if (!v->read_tx && !v->in_tx) {
		r = exec_read(v, "BEGIN", err);
		if (r < 0) {
			goto out;
		}
		snapshot = true;
	}
	r = reload_header(e, err);
	if (r < 0) {
		goto out;
	}
	/* VF-3.2: a key that does not match the commitment is tampering,
	 * not a reason to decrypt garbage. */
	if (sodium_memcmp(sub->commit, e->key_commit, ENVX_HASH_BYTES) != 0 &&
	    how != NULL && how->key != NULL) {
		/* a stale key (the environment was rekeyed) or another's:
		 * not this environment's, and nothing is wrong with it */
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "the key offered for environment '%s' does "
		                   "not match its commitment",
		                   e->name);
		goto out;
	}
	if (sodium_memcmp(sub->commit, e->key_commit, ENVX_HASH_BYTES) != 0) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "environment '%s': the unwrapped key does "
		                   "not match its commitment: the vault is "
		                   "corrupt or tampered",
		                   e->name);
		goto out;
	}
	/* VF-3.8: who wrote this state, before anything is decrypted */
	r = v->schema >= 4 ? envx_state_verify(e, err)
	                   : envx_refuse_downgrade(e, err);
	if (r < 0) {
		goto out;
	}
	r = verify_and_collect(e, sub, how != NULL ? how->values : NULL,
	                       how != NULL && how->lazy, err);
	if (r == 0) {
		r = note_verified(e, err);
	}
	if (r < 0) {
		goto out;
	}
	envx_actor_from_signer(e);
	if (snapshot) {
		snapshot = false;
		r = exec_read(v, "COMMIT", err);
		if (r < 0) {
			goto out;
		}
	}
	e->key = key;
	e->sub = sub;
	key = NULL;
	sub = NULL;
	r = 0;
out:
	if (snapshot) {
		sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
	}
	envx_secbuf_release(&pass);
	sqlite3_finalize(st);
	sodium_free(key);
	sodium_free(sub);
	return r;
}

/* The recipient row labelled label: its kind and public key (*found). */
static int
find_recipient(struct envx_env *e, const char *label, bool *found,
               char kind[16], unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
               struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	*found = false;
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT kind, public_key FROM recipients "
	                       "WHERE env_id = ? AND label = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read recipients");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = true;
		snprintf(kind, 16, "%s",
		         sqlite3_column_type(st, 0) == SQLITE_TEXT
		                 ? (const char *)sqlite3_column_text(st, 0)
		                 : "");
		memset(pk, 0, ENVX_PUBLIC_KEY_BYTES);
		if (sqlite3_column_bytes(st, 1) == ENVX_PUBLIC_KEY_BYTES) {
			memcpy(pk, sqlite3_column_blob(st, 1),
			       ENVX_PUBLIC_KEY_BYTES);
		}
	} else if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read recipients");
	}
	sqlite3_finalize(st);
	return r;
}

/* The label of the x25519 recipient with public key pk, if any. */
static int
label_of_key(struct envx_env *e, const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
             char *out, size_t outsz, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	int r = 0;

	out[0] = '\0';
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT label FROM recipients WHERE env_id = ? "
	                       "AND kind = 'x25519' AND public_key = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read recipients");
	}
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_blob(st, 2, pk, ENVX_PUBLIC_KEY_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
		snprintf(out, outsz, "%s",
		         (const char *)sqlite3_column_text(st, 0));
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read recipients");
	}
	sqlite3_finalize(st);
	return r;
}

int
envx_env_grant(struct envx_env *e, const char *label,
               const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
               const unsigned char *spk, int role, bool *changed,
               struct envx_error *err)
{
	unsigned char wrapped[ENVX_SEAL_BYTES];
	unsigned char have_pk[ENVX_PUBLIC_KEY_BYTES];
	char other[ENVX_LABEL_MAX_BYTES + 1];
	char kind[16];
	char detail[96];
	const struct envx_member *m;
	bool found;
	int r;

	*changed = false;
	if (e->key == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	r = check_label(label, err);
	if (r < 0) {
		return r;
	}
	if (role < ENVX_ROLE_READ || role > ENVX_ROLE_ADMIN) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid role: read, write or admin");
	}
	if (role >= ENVX_ROLE_WRITE && spk == NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "role %s needs a key that can sign: an "
		                      "'%s…' public key (what 'envx identity "
		                      "show' prints since format 4); an "
		                      "'%s…' key can be granted read only",
		                      envx_role_name(role), ENVX_PUBKEY2_PREFIX,
		                      ENVX_PUBKEY_PREFIX);
	}
	r = envx_env_mark_dirty(e, err);
	if (r < 0) {
		return r;
	}
	if (e->v->schema >= 4 && envx_signer_role(e) != ENVX_ROLE_ADMIN) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "only an admin of '%s' can grant access "
		                      "to it, and your identity is a %s",
		                      e->name,
		                      envx_role_name(envx_signer_role(e)));
	}
	r = find_recipient(e, label, &found, kind, have_pk, err);
	if (r == 0) {
		r = label_of_key(e, pk, other, sizeof(other), err);
	}
	if (r < 0) {
		return r;
	}
	if (found && (strcmp(kind, "x25519") != 0 ||
	              sodium_memcmp(have_pk, pk, sizeof(have_pk)) != 0)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "a recipient labelled '%s' already "
		                      "exists in '%s' with another key (pick "
		                      "another label)",
		                      label, e->name);
	}
	if (!found && other[0] != '\0') {
		return envx_error_set(
		        err, ENVX_E_INPUT,
		        "that key is already a recipient of '%s', "
		        "labelled '%s' (grant that label to "
		        "change its role)",
		        e->name, other);
	}
	if (found && e->v->schema >= 4) {
		size_t i;
		m = NULL;
		for (i = 0; i < e->acc.n; i++) {
			if (strcmp(e->acc.m[i].label, label) == 0) {
				m = &e->acc.m[i];
			}
		}
		if (m != NULL && m->role == role &&
		    (spk == NULL ||
		     (m->has_spk && memcmp(m->spk, spk, 32) == 0))) {
			return 0; /* nothing to change */
		}
		if (m == NULL && role == ENVX_ROLE_READ && spk == NULL) {
			return 0; /* a reader already */
		}
	} else if (found) {
		return 0;
	}
	if (!found) {
		crypto_box_seal(wrapped, e->key, ENVX_KEY_BYTES, pk);
		r = insert_recipient(e->v, e->id, label, "x25519", pk,
		                     ENVX_PUBLIC_KEY_BYTES, NULL, 0, wrapped,
		                     sizeof(wrapped), err);
		if (r < 0) {
			return r;
		}
	}
	if (e->v->schema >= 4) {
		r = envx_access_append(e, "grant", label, role, spk, err);
		if (r < 0) {
			return r;
		}
	}
	snprintf(detail, sizeof(detail), "%s %s", label, envx_role_name(role));
	r = envx_vault_audit(e->v, "access-grant", e->name, "", detail, err);
	if (r == 0) {
		*changed = true;
	}
	return r;
}

int
envx_env_grant_key(struct envx_env *e, const char *label,
                   const unsigned char pk[ENVX_PUBLIC_KEY_BYTES],
                   struct envx_error *err)
{
	bool changed;
	int r = envx_env_grant(e, label, pk, NULL, ENVX_ROLE_READ, &changed,
	                       err);

	if (r == 0 && !changed) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "a recipient labelled '%s' already exists",
		                   label);
	}
	return r;
}

int
envx_env_upgrade_sign(struct envx_env *e, int from, struct envx_error *err)
{
	char label[ENVX_LABEL_MAX_BYTES + 1];
	char detail[64];
	int r;

	r = label_of_key(e, e->v->signer->pk, label, sizeof(label), err);
	if (r < 0) {
		return r;
	}
	if (label[0] == '\0') {
		snprintf(label, sizeof(label), "upgrade");
	}
	r = envx_access_append(e, "create", label, ENVX_ROLE_ADMIN,
	                       e->v->signer->spk, err);
	if (r < 0) {
		return r;
	}
	envx_actor_from_signer(e);
	snprintf(detail, sizeof(detail), "format %d to %d", from,
	         ENVX_VAULT_SCHEMA_VERSION);
	r = envx_vault_audit(e->v, "upgrade", e->name, "", detail, err);
	if (r == 0) {
		r = envx_state_sign(e, err);
	}
	return r;
}

size_t
envx_env_admin_count(const struct envx_env *e)
{
	size_t i;
	size_t n = 0;

	for (i = 0; i < e->acc.n; i++) {
		if (e->acc.m[i].role == ENVX_ROLE_ADMIN &&
		    e->acc.m[i].has_spk) {
			n++;
		}
	}
	return n;
}

int64_t
envx_env_generation(const struct envx_env *e)
{
	return e->generation;
}

int
envx_env_access(struct envx_env *e, struct envx_access_info **out, size_t *n,
                struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct envx_access_info *list = NULL;
	size_t count = 0;
	int rc;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (e->key == NULL && e->v->schema >= 4) {
		r = envx_access_load(e, err);
		if (r < 0) {
			return r;
		}
	}
	if (sqlite3_prepare_v2(e->v->db,
	                       "SELECT label, kind, created_at FROM recipients "
	                       "WHERE env_id = ? ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(e->v->db, err,
		                         "cannot read recipients");
	}
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct envx_access_info *grown;
		struct envx_access_info *a;
		size_t i;

		grown = realloc(list, (count + 1) * sizeof(*grown));
		if (grown == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		list = grown;
		a = &list[count++];
		memset(a, 0, sizeof(*a));
		snprintf(a->label, sizeof(a->label), "%s",
		         sqlite3_column_text(st, 0) != NULL
		                 ? (const char *)sqlite3_column_text(st, 0)
		                 : "");
		snprintf(a->kind, sizeof(a->kind), "%s",
		         sqlite3_column_text(st, 1) != NULL
		                 ? (const char *)sqlite3_column_text(st, 1)
		                 : "");
		a->created_at = sqlite3_column_int64(st, 2);
		a->role = ENVX_ROLE_READ;
		for (i = 0; i < e->acc.n; i++) {
			const struct envx_member *m = &e->acc.m[i];
			if (strcmp(m->label, a->label) != 0) {
				continue;
			}
			a->role = m->role;
			a->has_sign_key = m->has_spk;
			a->granted_at = m->at;
			if (m->at != 0) {
				const struct envx_member *by =
				        envx_access_find(&e->acc, m->by);
				snprintf(a->granted_by, sizeof(a->granted_by),
				         "%s", by != NULL ? by->label : "-");
				envx_fingerprint(m->by,
				                 a->granted_by_fingerprint);
			}
			if (m->has_spk) {
				memcpy(a->sign_key, m->spk, 32);
				envx_fingerprint(m->spk, a->fingerprint);
			}
		}
	}
	if (rc != SQLITE_DONE) {
		r = envx_sqlite_error(e->v->db, err, "cannot read recipients");
		goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
out:
	free(list);
	sqlite3_finalize(st);
	return r;
}

int
envx_env_grant_passphrase(struct envx_env *e, const char *label,
                          const unsigned char *pass, size_t passlen,
                          struct envx_error *err)
{
	struct envx_kdf_params kp;
	unsigned char params[ENVX_KDF_PARAMS_BYTES];
	unsigned char
	        wrapped[ENVX_NONCE_BYTES + ENVX_KEY_BYTES + ENVX_TAG_BYTES];
	unsigned char *kek = NULL;
	struct envx_lp ad;
	int r;

	if (e->key == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "environment '%s' is locked", e->name);
	}
	r = check_label(label, err);
	if (r == 0) {
		r = envx_env_mark_dirty(e, err);
	}
	if (r == 0 && e->v->schema >= 4 &&
	    envx_signer_role(e) != ENVX_ROLE_ADMIN) {
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "only an admin of '%s' can grant access to "
		                   "it",
		                   e->name);
	}
	if (r < 0) {
		return r;
	}
	kek = sodium_malloc(ENVX_KEY_BYTES);
	if (kek == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	r = envx_kdf_defaults(&kp, err);
	if (r == 0) {
		r = envx_kdf_derive(&kp, pass, passlen, kek, err);
	}
	if (r == 0) {
		envx_kdf_encode(&kp, params);
		envx_passphrase_ad(&ad, e->v, e->name, params);
		r = envx_crypto_seal_value(kek, &ad, e->key, ENVX_KEY_BYTES,
		                           wrapped, wrapped + ENVX_NONCE_BYTES,
		                           err);
	}
	if (r == 0) {
		r = insert_recipient(e->v, e->id, label, "passphrase", NULL, 0,
		                     params, sizeof(params), wrapped,
		                     sizeof(wrapped), err);
	}
	if (r == 0 && e->v->schema >= 4) {
		r = envx_access_append(e, "grant", label, ENVX_ROLE_READ, NULL,
		                       err);
	}
	if (r == 0) {
		r = envx_vault_audit(e->v, "access-grant", e->name, "", label,
		                     err);
	}
	sodium_free(kek);
	return r;
}
