/*
 * Merging two copies of a vault by row identity (SPEC §9, VF-9.1 to VF-9.7):
 * the plan is made from the three read-only copies, every conflict is
 * reported by name, and only a merge without conflicts writes, through the
 * ordinary write path (mark_dirty, seal and sign at commit).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/banned.h"
#include "vault/internal.h"

enum { SIDE_O, SIDE_A, SIDE_B, NSIDES };
static const char *const side_word[NSIDES] = {"ancestor", "ours", "theirs"};

struct blob {
	unsigned char *p;
	size_t n;
	bool null;
};

struct mver {
	uint64_t num;
	int64_t created_at;
	char *author;
	char *kind;
	struct blob nonce;
	struct blob ct;
};

struct msec {
	char *name;
	uint64_t version;
	char *description;
	int64_t rotate_every;
	int64_t rotated_at;
	int64_t state;
	struct mver *v;
	size_t nv;
};

struct mallow {
	char *name;
	int64_t created_at;
	char *author;
};

struct mrecip {
	char *label;
	char *kind;
	struct blob public_key;
	struct blob kdf;
	struct blob wrapped;
	int64_t created_at;
};

struct mentry {
	int64_t seq;
	int64_t at;
	char *action;
	char *label;
	char *role;
	struct blob subject;
	struct blob recipients;
	struct blob signer;
	struct blob prev;
	struct blob sig;
};

/* One environment as one copy has it. */
struct side {
	bool present;
	int which; /* SIDE_* */
	struct envx_vault *v;
	struct envx_env *e; /* unlocked when the merge needs it */
	int64_t generation;
	int64_t created_at;
	unsigned char key_commit[ENVX_HASH_BYTES];
	unsigned char mac[ENVX_HASH_BYTES];
	struct msec *s;
	size_t ns;
	struct mallow *al;
	size_t nal;
	struct mrecip *rc;
	size_t nrc;
	struct mentry *log;
	size_t nlog;
};

/* A version of the result: where it comes from and its number there. */
struct rver {
	const struct mver *src;
	int side;
	uint64_t num;
};

struct rsec {
	const char *name;
	uint64_t version;
	const char *description;
	int64_t rotate_every;
	int64_t rotated_at;
	int64_t state;
	struct rver *v;
	size_t nv;
	bool combined; /* both sides wrote versions (VF-9.4 step 3) */
	char note[400];
	char marked[200]; /* why the merge marked it compromised, or "" */
	/* VF-9.4: its versions written under a key an incident exposed, as
	 * "v3 v4" (result numbers), for an `exposed` event; or "" */
	char exposed[160];
};

enum action { KEEP, TAKE_THEIRS, DROP, MERGE };

struct menv {
	char name[ENVX_ENV_NAME_MAX_BYTES + 1];
	struct side s[NSIDES];
	enum action action;
	int frame; /* MERGE: the side whose key, recipients and log it keeps */
	bool grants; /* MERGE: theirs' new grants are appended */
	struct rsec *rs;
	size_t nrs;
	const struct mallow **al;
	size_t nal;
};

struct merge {
	struct envx_merge *m;
	struct menv *envs;
	size_t nenvs;
	size_t base_events; /* the ancestor's audit events */
	/* ours' and theirs' audit events (SIDE_O's slot unused), read once
	 * after check_audit verified the chains */
	struct envx_audit_event *ev[NSIDES];
	size_t nev[NSIDES];
	int64_t now;
};

/* VF-9.4: how far after the merge's own clock a version may be dated */
#define MERGE_CLOCK_SKEW_S 300

static void conflict(struct merge *g, int code, const char *env,
                     const char *name, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void
conflict(struct merge *g, int code, const char *env, const char *name,
         const char *fmt, ...)
{
	char text[ENVX_ERROR_MSG_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	g->m->conflicts++;
	if (code != ENVX_E_CHECK && g->m->worst == 0) {
		g->m->worst = code;
	}
	if (g->m->report != NULL) {
		g->m->report(g->m->report_ctx, true, env, name, text);
	}
}

static void
note(struct merge *g, const char *env, const char *name, const char *text)
{
	if (g->m->report != NULL) {
		g->m->report(g->m->report_ctx, false, env, name, text);
	}
}

/* ---- reading one copy ---- */

static void
blob_release(struct blob *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int
blob_col(sqlite3_stmt *st, int col, struct blob *b, struct envx_error *err)
{
	const void *p = sqlite3_column_blob(st, col);

	b->n = (size_t)sqlite3_column_bytes(st, col);
	b->null = sqlite3_column_type(st, col) == SQLITE_NULL;
	b->p = malloc(b->n > 0 ? b->n : 1);
	if (b->p == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	if (b->n > 0) {
		memcpy(b->p, p, b->n);
	}
	return 0;
}

static bool
blob_eq(const struct blob *x, const struct blob *y)
{
	return x->null == y->null && x->n == y->n &&
	       (x->n == 0 || memcmp(x->p, y->p, x->n) == 0);
}

static int
text_col(sqlite3_stmt *st, int col, char **out, struct envx_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	*out = strdup(t != NULL ? (const char *)t : "");
	return *out == NULL
	               ? envx_error_set(err, ENVX_E_INTERNAL, "out of memory")
	               : 0;
}

/* Grows *p (n used, *cap allocated) by one zeroed element of size sz. */
static void *
grow(void *pp, size_t *n, size_t *cap, size_t sz)
{
	void **p = pp;
	unsigned char *q;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *np = realloc(*p, nc * sz);
		if (np == NULL) {
			return NULL;
		}
		*p = np;
		*cap = nc;
	}
	q = (unsigned char *)*p + *n * sz;
	memset(q, 0, sz);
	(*n)++;
	return q;
}

static void
side_release(struct side *x)
{
	size_t i;
	size_t j;

	envx_env_free(x->e);
	for (i = 0; i < x->ns; i++) {
		for (j = 0; j < x->s[i].nv; j++) {
			free(x->s[i].v[j].author);
			free(x->s[i].v[j].kind);
			blob_release(&x->s[i].v[j].nonce);
			blob_release(&x->s[i].v[j].ct);
		}
		free(x->s[i].v);
		free(x->s[i].name);
		free(x->s[i].description);
	}
	free(x->s);
	for (i = 0; i < x->nal; i++) {
		free(x->al[i].name);
		free(x->al[i].author);
	}
	free(x->al);
	for (i = 0; i < x->nrc; i++) {
		free(x->rc[i].label);
		free(x->rc[i].kind);
		blob_release(&x->rc[i].public_key);
		blob_release(&x->rc[i].kdf);
		blob_release(&x->rc[i].wrapped);
	}
	free(x->rc);
	for (i = 0; i < x->nlog; i++) {
		struct mentry *y = &x->log[i];
		free(y->action);
		free(y->label);
		free(y->role);
		blob_release(&y->subject);
		blob_release(&y->recipients);
		blob_release(&y->signer);
		blob_release(&y->prev);
		blob_release(&y->sig);
	}
	free(x->log);
	memset(x, 0, sizeof(*x));
}

static int
oom(struct envx_error *err)
{
	return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
}

static int
read_secrets(struct side *x, int64_t id, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	size_t vcap = 0;
	struct msec *cur = NULL;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(
	            x->v->db,
	            "SELECT s.name, s.version, s.description, s.rotate_every, "
	            "s.rotated_at, s.state, ver.version, ver.created_at, "
	            "ver.author, ver.kind, ver.nonce, ver.ciphertext FROM "
	            "secrets s LEFT JOIN versions ver ON ver.secret_id = s.id "
	            "WHERE s.env_id = ? ORDER BY s.name, ver.version",
	            -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(x->v->db, err, "cannot read secrets");
	}
	sqlite3_bind_int64(st, 1, id);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		struct mver *ver;

		if (name == NULL) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "a secret without a name");
			break;
		}
		if (cur == NULL || strcmp(cur->name, name) != 0) {
			cur = grow(&x->s, &x->ns, &cap, sizeof(*x->s));
			if (cur == NULL) {
				r = oom(err);
				break;
			}
			vcap = 0;
			cur->version = (uint64_t)sqlite3_column_int64(st, 1);
			cur->rotate_every = sqlite3_column_int64(st, 3);
			cur->rotated_at = sqlite3_column_int64(st, 4);
			cur->state = sqlite3_column_int64(st, 5);
			r = text_col(st, 0, &cur->name, err);
			if (r == 0) {
				r = text_col(st, 2, &cur->description, err);
			}
		}
		if (r < 0 || sqlite3_column_type(st, 6) == SQLITE_NULL) {
			continue;
		}
		ver = grow(&cur->v, &cur->nv, &vcap, sizeof(*cur->v));
		if (ver == NULL) {
			r = oom(err);
			break;
		}
		ver->num = (uint64_t)sqlite3_column_int64(st, 6);
		ver->created_at = sqlite3_column_int64(st, 7);
		r = text_col(st, 8, &ver->author, err);
		if (r == 0) {
			r = text_col(st, 9, &ver->kind, err);
		}
		if (r == 0) {
			r = blob_col(st, 10, &ver->nonce, err);
		}
		if (r == 0) {
			r = blob_col(st, 11, &ver->ct, err);
		}
	}
	sqlite3_finalize(st);
	return r;
}

static int
read_rest(struct side *x, int64_t id, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;
	int r = 0;

	if (sqlite3_prepare_v2(x->v->db,
	                       "SELECT name, created_at, author FROM "
	                       "allowed_names WHERE env_id = ? ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(x->v->db, err, "cannot read vault");
	}
	sqlite3_bind_int64(st, 1, id);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mallow *a = grow(&x->al, &x->nal, &cap, sizeof(*a));
		if (a == NULL) {
			r = oom(err);
			break;
		}
		a->created_at = sqlite3_column_int64(st, 1);
		r = text_col(st, 0, &a->name, err);
		if (r == 0) {
			r = text_col(st, 2, &a->author, err);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	cap = 0;
	if (r == 0 && sqlite3_prepare_v2(x->v->db,
	                                 "SELECT label, kind, public_key, kdf, "
	                                 "wrapped_key, created_at FROM "
	                                 "recipients WHERE env_id = ? ORDER "
	                                 "BY id",
	                                 -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(x->v->db, err, "cannot read vault");
	}
	sqlite3_bind_int64(st, 1, id);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mrecip *c = grow(&x->rc, &x->nrc, &cap, sizeof(*c));
		if (c == NULL) {
			r = oom(err);
			break;
		}
		c->created_at = sqlite3_column_int64(st, 5);
		r = text_col(st, 0, &c->label, err);
		if (r == 0) {
			r = text_col(st, 1, &c->kind, err);
		}
		if (r == 0) {
			r = blob_col(st, 2, &c->public_key, err);
		}
		if (r == 0) {
			r = blob_col(st, 3, &c->kdf, err);
		}
		if (r == 0) {
			r = blob_col(st, 4, &c->wrapped, err);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	cap = 0;
	if (r == 0 &&
	    sqlite3_prepare_v2(x->v->db,
	                       "SELECT seq, at, action, label, role, subject, "
	                       "recipients, signer, prev, sig FROM access_log "
	                       "WHERE env_id = ? ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(x->v->db, err, "cannot read vault");
	}
	sqlite3_bind_int64(st, 1, id);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mentry *y = grow(&x->log, &x->nlog, &cap, sizeof(*y));
		int c;
		if (y == NULL) {
			r = oom(err);
			break;
		}
		y->seq = sqlite3_column_int64(st, 0);
		y->at = sqlite3_column_int64(st, 1);
		r = text_col(st, 2, &y->action, err);
		if (r == 0) {
			r = text_col(st, 3, &y->label, err);
		}
		if (r == 0) {
			r = text_col(st, 4, &y->role, err);
		}
		for (c = 5; c < 10 && r == 0; c++) {
			struct blob *b[] = {&y->subject, &y->recipients,
			                    &y->signer, &y->prev, &y->sig};
			r = blob_col(st, c, b[c - 5], err);
		}
	}
	sqlite3_finalize(st);
	return r;
}

static int
side_load(struct side *x, int which, struct envx_vault *v, const char *name,
          struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc;
	int r;

	x->which = which;
	x->v = v;
	if (sqlite3_prepare_v2(v->db,
	                       "SELECT id, key_commit, generation, mac, "
	                       "created_at FROM envs WHERE name = ?",
	                       -1, &st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, "cannot read vault");
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != ENVX_HASH_BYTES ||
		    sqlite3_column_bytes(st, 3) != ENVX_HASH_BYTES) {
			sqlite3_finalize(st);
			return envx_error_set(err, ENVX_E_INTEGRITY,
			                      "environment '%s' has a "
			                      "malformed header",
			                      name);
		}
		x->present = true;
		id = sqlite3_column_int64(st, 0);
		memcpy(x->key_commit, sqlite3_column_blob(st, 1),
		       ENVX_HASH_BYTES);
		x->generation = sqlite3_column_int64(st, 2);
		memcpy(x->mac, sqlite3_column_blob(st, 3), ENVX_HASH_BYTES);
		x->created_at = sqlite3_column_int64(st, 4);
	} else if (rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return envx_sqlite_error(v->db, err, "cannot read vault");
	}
	sqlite3_finalize(st);
	if (!x->present) {
		return 0;
	}
	r = read_secrets(x, id, err);
	if (r == 0) {
		r = read_rest(x, id, err);
	}
	return r;
}

/* VF-9.3: the same environment state in two copies. */
static bool
unchanged(const struct side *x, const struct side *y)
{
	if (!x->present || !y->present) {
		return x->present == y->present;
	}
	return x->generation == y->generation &&
	       memcmp(x->mac, y->mac, ENVX_HASH_BYTES) == 0 &&
	       memcmp(x->key_commit, y->key_commit, ENVX_HASH_BYTES) == 0 &&
	       x->nlog == y->nlog &&
	       (x->nlog == 0 ||
	        blob_eq(&x->log[x->nlog - 1].sig, &y->log[y->nlog - 1].sig));
}

static int
side_unlock(struct merge *g, struct menv *me, struct side *x)
{
	struct envx_error err;
	int r;

	if (!x->present || x->e != NULL) {
		return 0;
	}
	r = envx_env_open(x->v, me->name, &x->e, &err);
	if (r == 0) {
		r = envx_env_unlock(x->e, g->m->how, &err);
	}
	if (r < 0) {
		envx_env_free(x->e);
		x->e = NULL;
		conflict(g, r, me->name, NULL, "%s's copy: %s",
		         side_word[x->which], err.msg);
	}
	return r;
}

/* ---- the plan ---- */

static const struct msec *
find_secret(const struct side *x, const char *name)
{
	size_t i;

	for (i = 0; x->present && i < x->ns; i++) {
		if (strcmp(x->s[i].name, name) == 0) {
			return &x->s[i];
		}
	}
	return NULL;
}

/* Whether version x of side xs and y of ys hold one value: copies under
 * two keys (a rekey on one side) are compared by their plaintexts, since
 * their dates and authors are the writers' to choose. Without both keys
 * (a side the merge takes whole) the dates and authors decide. */
static bool
same_value(const struct side *xs, const char *name, const struct mver *x,
           const struct side *ys, const struct mver *y)
{
	struct envx_secbuf px = {0};
	struct envx_secbuf py = {0};
	struct envx_error err;
	bool same = false;

	if (xs->e == NULL || ys->e == NULL) {
		return true;
	}
	if (envx_env_get_version(xs->e, name, x->num, &px, &err) == 0 &&
	    envx_env_get_version(ys->e, name, y->num, &py, &err) == 0) {
		same = px.len == py.len &&
		       (px.len == 0 ||
		        sodium_memcmp(px.data, py.data, px.len) == 0);
	}
	envx_secbuf_release(&px);
	envx_secbuf_release(&py);
	return same;
}

/* Whether version x of side xs (of secret name) and y of ys are one. */
static bool
same_version(const struct side *xs, const char *name, const struct mver *x,
             const struct side *ys, const struct mver *y)
{
	if (x->num != y->num || x->created_at != y->created_at ||
	    strcmp(x->author, y->author) != 0 ||
	    strcmp(x->kind, y->kind) != 0) {
		return false;
	}
	if (memcmp(xs->key_commit, ys->key_commit, ENVX_HASH_BYTES) == 0) {
		return blob_eq(&x->nonce, &y->nonce) && blob_eq(&x->ct, &y->ct);
	}
	return same_value(xs, name, x, ys, y);
}

static bool
same_secret(const struct msec *x, const struct side *xs, const struct msec *y,
            const struct side *ys)
{
	size_t i;

	if (x == NULL || y == NULL) {
		return x == y;
	}
	if (x->version != y->version ||
	    strcmp(x->description, y->description) != 0 ||
	    x->rotate_every != y->rotate_every ||
	    x->rotated_at != y->rotated_at || x->state != y->state ||
	    x->nv != y->nv) {
		return false;
	}
	for (i = 0; i < x->nv; i++) {
		if (!same_version(xs, x->name, &x->v[i], ys, &y->v[i])) {
			return false;
		}
	}
	return true;
}

/* Whether o's versions are the first versions of x. */
static bool
extends(const struct msec *o, const struct side *os, const struct msec *x,
        const struct side *xs)
{
	size_t i;

	if (o == NULL) {
		return true;
	}
	if (o->nv > x->nv) {
		return false;
	}
	for (i = 0; i < o->nv; i++) {
		if (!same_version(os, o->name, &o->v[i], xs, &x->v[i])) {
			return false;
		}
	}
	return true;
}

static int
take_secret(struct rsec *out, const struct msec *x, int side)
{
	size_t i;

	out->name = x->name;
	out->version = x->version;
	out->description = x->description;
	out->rotate_every = x->rotate_every;
	out->rotated_at = x->rotated_at;
	out->state = x->state;
	out->v = calloc(x->nv > 0 ? x->nv : 1, sizeof(*out->v));
	if (out->v == NULL) {
		return -1;
	}
	for (i = 0; i < x->nv; i++) {
		out->v[i].src = &x->v[i];
		out->v[i].side = side;
		out->v[i].num = x->v[i].num;
	}
	out->nv = x->nv;
	return 0;
}

/* A field both sides may have changed: the side that changed it wins
 * (VF-9.4); 1 when both changed it to different values. */
static int
pick_text(const char *o, const char *a, const char *b, const char **out)
{
	if (strcmp(a, b) == 0 || (o != NULL && strcmp(o, b) == 0)) {
		*out = a;
		return 0;
	}
	if (o != NULL && strcmp(o, a) == 0) {
		*out = b;
		return 0;
	}
	return 1;
}

static int
pick_int(const int64_t *o, int64_t a, int64_t b, int64_t *out)
{
	if (a == b || (o != NULL && *o == b)) {
		*out = a;
		return 0;
	}
	if (o != NULL && *o == a) {
		*out = b;
		return 0;
	}
	return 1;
}

static void
fmt_time(int64_t t, char *out, size_t outsz)
{
	envx_time_format(t, out, outsz);
}

/* VF-9.4 step 3: both sides wrote new versions of the secret. */
/* VF-9.4: the order of new versions comes from their dates, which the
 * writer's clock sets; one dated after the merge would be current over
 * every later write (a clock set wrong, or a date chosen to win). */
static int
future_dated(struct merge *g, const struct menv *me, const struct msec *x,
             size_t from, int side)
{
	size_t i;

	for (i = from; i < x->nv; i++) {
		char when[32];

		if (x->v[i].created_at <= g->now + MERGE_CLOCK_SKEW_S) {
			continue;
		}
		fmt_time(x->v[i].created_at, when, sizeof(when));
		conflict(g, ENVX_E_CHECK, me->name, x->name,
		         "%s/%s: %s's v%llu is dated %s, after this merge: "
		         "the merge orders versions by date, so it cannot "
		         "say which is current (a clock set wrong?); set the "
		         "value again after taking one side",
		         me->name, x->name, side_word[side],
		         (unsigned long long)x->v[i].num, when);
		return 1;
	}
	return 0;
}

static int
combine(struct merge *g, struct menv *me, const struct msec *o,
        const struct msec *a, const struct msec *b, struct rsec *out)
{
	size_t no = o != NULL ? o->nv : 0;
	size_t i = no;
	size_t j = no;
	size_t k = 0;
	uint64_t num = no > 0 ? o->v[no - 1].num + 1 : 1;
	int last_side = SIDE_A;
	size_t len = 0;
	int bad = 0;

	out->name = a->name;
	out->combined = true;
	out->v = calloc(a->nv + b->nv - no + 1, sizeof(*out->v));
	if (out->v == NULL) {
		return -1;
	}
	for (k = 0; k < no; k++) {
		out->v[k].src = &a->v[k];
		out->v[k].side = SIDE_A;
		out->v[k].num = a->v[k].num;
	}
	len = (size_t)snprintf(out->note, sizeof(out->note),
	                       "both sides wrote new versions:");
	bad = future_dated(g, me, a, no, SIDE_A) |
	      future_dated(g, me, b, no, SIDE_B);
	while (i < a->nv || j < b->nv) {
		bool take_a =
		        j >= b->nv ||
		        (i < a->nv && a->v[i].created_at <= b->v[j].created_at);
		const struct mver *src = take_a ? &a->v[i++] : &b->v[j++];
		char when[32];

		out->v[k].src = src;
		out->v[k].side = take_a ? SIDE_A : SIDE_B;
		out->v[k].num = num++;
		last_side = out->v[k].side;
		fmt_time(src->created_at, when, sizeof(when));
		if (len < sizeof(out->note)) {
			len += (size_t)snprintf(
			        out->note + len, sizeof(out->note) - len,
			        " v%llu (%s v%llu, %s)",
			        (unsigned long long)out->v[k].num,
			        side_word[out->v[k].side],
			        (unsigned long long)src->num, when);
		}
		k++;
	}
	out->nv = k;
	out->version = out->v[k - 1].num;
	if (len < sizeof(out->note)) {
		snprintf(out->note + len, sizeof(out->note) - len,
		         "; v%llu (%s, written last) is current",
		         (unsigned long long)out->version,
		         side_word[last_side]);
	}
	out->rotated_at = last_side == SIDE_A ? a->rotated_at : b->rotated_at;
	if (pick_text(o != NULL ? o->description : NULL, a->description,
	              b->description, &out->description) != 0) {
		conflict(g, ENVX_E_CHECK, me->name, a->name,
		         "%s/%s: both sides changed its description", me->name,
		         a->name);
		bad = 1;
	}
	if (pick_int(o != NULL ? &o->rotate_every : NULL, a->rotate_every,
	             b->rotate_every, &out->rotate_every) != 0) {
		conflict(g, ENVX_E_CHECK, me->name, a->name,
		         "%s/%s: both sides changed its rotation schedule",
		         me->name, a->name);
		bad = 1;
	}
	/* VF-9.4: the state goes with the current version (a rotation on
	 * one side clears the mark for its value, not for the other side's
	 * later one, which may be the leaked value set again); a compromised
	 * mark the other side set since the ancestor is kept */
	{
		int64_t o_state = o != NULL ? o->state : 0;
		int64_t other = last_side == SIDE_A ? b->state : a->state;

		out->state = last_side == SIDE_A ? a->state : b->state;
		if (other > o_state && other > out->state) {
			out->state = other;
		}
	}
	return bad;
}

static int
plan_secrets(struct merge *g, struct menv *me)
{
	struct side *so = &me->s[SIDE_O];
	struct side *sa = &me->s[SIDE_A];
	struct side *sb = &me->s[SIDE_B];
	const char **names = NULL;
	size_t n = 0;
	size_t i;
	int r = 0;

	names = calloc(sa->ns + sb->ns + so->ns + 1, sizeof(*names));
	me->rs = calloc(sa->ns + sb->ns + so->ns + 1, sizeof(*me->rs));
	if (names == NULL || me->rs == NULL) {
		free(names);
		return -1;
	}
	for (i = 0; i < so->ns; i++) {
		names[n++] = so->s[i].name;
	}
	for (i = 0; i < sa->ns; i++) {
		names[n++] = sa->s[i].name;
	}
	for (i = 0; i < sb->ns; i++) {
		names[n++] = sb->s[i].name;
	}
	n = envx_strv_unique(names, n);
	for (i = 0; i < n && r == 0; i++) {
		const char *name = names[i];
		const struct msec *o = find_secret(so, name);
		const struct msec *a = find_secret(sa, name);
		const struct msec *b = find_secret(sb, name);
		struct rsec *out = &me->rs[me->nrs];
		int c;

		if (same_secret(a, sa, b, sb) || same_secret(o, so, b, sb)) {
			if (a != NULL) {
				r = take_secret(out, a, SIDE_A);
				me->nrs++;
			}
			continue;
		}
		if (same_secret(o, so, a, sa)) {
			if (b != NULL) {
				r = take_secret(out, b, SIDE_B);
				me->nrs++;
			}
			continue;
		}
		if (a == NULL || b == NULL) {
			conflict(g, ENVX_E_CHECK, me->name, name,
			         "%s/%s: %s removed it, %s changed it",
			         me->name, name, a == NULL ? "ours" : "theirs",
			         a == NULL ? "theirs" : "ours");
			continue;
		}
		if (!extends(o, so, a, sa) || !extends(o, so, b, sb)) {
			conflict(g, ENVX_E_CHECK, me->name, name,
			         "%s/%s: %s removed it and set it again, the "
			         "other side changed it",
			         me->name, name,
			         !extends(o, so, a, sa) ? "ours" : "theirs");
			continue;
		}
		c = combine(g, me, o, a, b, out);
		me->nrs++;
		if (c < 0) {
			r = -1;
		}
	}
	free(names);
	return r;
}

static const struct mallow *
find_allow(const struct side *x, const char *name)
{
	size_t i;

	for (i = 0; x->present && i < x->nal; i++) {
		if (strcmp(x->al[i].name, name) == 0) {
			return &x->al[i];
		}
	}
	return NULL;
}

/* VF-9.4: allowed names merge as sets. */
static int
plan_allowed(struct menv *me)
{
	const struct side *so = &me->s[SIDE_O];
	const struct side *sa = &me->s[SIDE_A];
	const struct side *sb = &me->s[SIDE_B];
	size_t i;

	me->al = calloc(sa->nal + sb->nal + 1, sizeof(*me->al));
	if (me->al == NULL) {
		return -1;
	}
	for (i = 0; i < sa->nal; i++) {
		const char *nm = sa->al[i].name;
		if (find_allow(sb, nm) != NULL || find_allow(so, nm) == NULL) {
			me->al[me->nal++] = &sa->al[i];
		}
	}
	for (i = 0; i < sb->nal; i++) {
		const char *nm = sb->al[i].name;
		if (find_allow(sa, nm) == NULL && find_allow(so, nm) == NULL) {
			me->al[me->nal++] = &sb->al[i];
		}
	}
	return 0;
}

static const struct mrecip *
find_recip(const struct side *x, const char *label)
{
	size_t i;

	for (i = 0; i < x->nrc; i++) {
		if (strcmp(x->rc[i].label, label) == 0) {
			return &x->rc[i];
		}
	}
	return NULL;
}

/* The last entry of x's log in [from, to) that names label, or NULL. */
static const struct mentry *
last_entry(const struct side *x, size_t from, size_t to, const char *label)
{
	size_t i;

	for (i = to; i-- > from;) {
		if (strcmp(x->log[i].label, label) == 0) {
			return &x->log[i];
		}
	}
	return NULL;
}

/* VF-9.5: whether the log of x begins with the ancestor's. */
static bool
log_extends(const struct side *o, const struct side *x)
{
	return o->nlog <= x->nlog &&
	       (o->nlog == 0 ||
	        blob_eq(&o->log[o->nlog - 1].sig, &x->log[o->nlog - 1].sig));
}

static bool
rekeyed(const struct side *o, const struct side *x)
{
	size_t i;

	if (memcmp(o->key_commit, x->key_commit, ENVX_HASH_BYTES) != 0) {
		return true;
	}
	for (i = o->nlog; i < x->nlog; i++) {
		if (strcmp(x->log[i].action, "grant") != 0) {
			return true;
		}
	}
	return false;
}

static int
role_rank(const char *role)
{
	int r = ENVX_ROLE_NONE;

	return envx_role_parse(role, &r) == 0 ? r : ENVX_ROLE_NONE;
}

/* VF-9.5: whether x took access away after the ancestor: a revoke, or a
 * grant that lowers a member's role. (A rekey alone takes nothing away.) */
static bool
took_access(const struct side *o, const struct side *x)
{
	size_t i;

	for (i = o->nlog; i < x->nlog; i++) {
		const struct mentry *y = &x->log[i];
		const struct mentry *before;

		if (strcmp(y->action, "revoke") == 0) {
			return true;
		}
		if (strcmp(y->action, "grant") != 0) {
			continue;
		}
		before = last_entry(x, 0, i, y->label);
		if (before != NULL && strcmp(before->action, "revoke") != 0 &&
		    role_rank(y->role) < role_rank(before->role)) {
			return true;
		}
	}
	return false;
}

/* Whether x wrote the environment since the ancestor: its generation,
 * secrets or allowed names differ (a change undone, such as an allowance
 * added and removed, still counts: it was written). */
static bool
rows_changed(const struct side *o, const struct side *x)
{
	size_t i;

	if (o->generation != x->generation || o->ns != x->ns ||
	    o->nal != x->nal) {
		return true;
	}
	for (i = 0; i < x->ns; i++) {
		if (!same_secret(find_secret(o, x->s[i].name), o, &x->s[i],
		                 x)) {
			return true;
		}
	}
	for (i = 0; i < x->nal; i++) {
		if (find_allow(o, x->al[i].name) == NULL) {
			return true;
		}
	}
	return false;
}

/* VF-9.5: a side that revoked or demoted a member after the ancestor
 * takes nothing the other side wrote meanwhile: the member may have
 * written it, and the incident it answers may be about it. */
static int
access_taken(struct merge *g, struct menv *me)
{
	const struct side *so = &me->s[SIDE_O];
	int x;

	for (x = SIDE_A; x <= SIDE_B; x++) {
		int y = x == SIDE_A ? SIDE_B : SIDE_A;

		if (!took_access(so, &me->s[x]) ||
		    !rows_changed(so, &me->s[y])) {
			continue;
		}
		conflict(g, ENVX_E_CHECK, me->name, NULL,
		         "%s: %s revoked or demoted a member since the branch "
		         "point, and %s changed its secrets meanwhile (maybe "
		         "written by that member): take %s ('git checkout "
		         "--%s envx.vault') and set %s changes again",
		         me->name, side_word[x], side_word[y], side_word[x],
		         side_word[x], x == SIDE_A ? "theirs'" : "ours'");
		return 1;
	}
	return 0;
}

/* VF-9.5: chooses the frame; checks the grants both sides made. */
static int
plan_access(struct merge *g, struct menv *me)
{
	const struct side *so = &me->s[SIDE_O];
	const struct side *sa = &me->s[SIDE_A];
	const struct side *sb = &me->s[SIDE_B];
	bool ca = sa->nlog != so->nlog;
	bool cb = sb->nlog != so->nlog;
	size_t i;
	int bad = 0;

	if (!log_extends(so, sa) || !log_extends(so, sb)) {
		conflict(g, ENVX_E_CHECK, me->name, NULL,
		         "%s: the access logs do not begin with the "
		         "ancestor's",
		         me->name);
		return 1;
	}
	me->frame = cb && !ca ? SIDE_B : SIDE_A;
	if (!(ca && cb)) {
		if (memcmp(sa->key_commit, sb->key_commit, ENVX_HASH_BYTES) !=
		            0 &&
		    memcmp(me->s[me->frame].key_commit, so->key_commit,
		           ENVX_HASH_BYTES) == 0) {
			/* a new key without an access-log entry */
			conflict(g, ENVX_E_INTEGRITY, me->name, NULL,
			         "%s: its key changed without an access-log "
			         "entry",
			         me->name);
			return 1;
		}
		return 0;
	}
	if (rekeyed(so, sa) || rekeyed(so, sb) || took_access(so, sa) ||
	    took_access(so, sb)) {
		conflict(
		        g, ENVX_E_CHECK, me->name, NULL,
		        "%s: both sides changed access to it and one of them "
		        "rekeyed, revoked or demoted; take one side ('git checkout "
		        "--ours|--theirs') and repeat the other's change",
		        me->name);
		return 1;
	}
	if (envx_signer_role(sa->e) != ENVX_ROLE_ADMIN) {
		conflict(g, ENVX_E_LOCKED, me->name, NULL,
		         "%s: both sides changed who has access to it; the "
		         "merged access log must be signed by an admin of "
		         "'%s', and your identity is %s",
		         me->name, me->name,
		         envx_signer_role(sa->e) == ENVX_ROLE_NONE
		                 ? "not a member"
		                 : envx_role_name(envx_signer_role(sa->e)));
		return 1;
	}
	for (i = so->nlog; i < sb->nlog; i++) {
		const struct mentry *y = &sb->log[i];
		const struct mentry *theirs =
		        last_entry(sb, so->nlog, sb->nlog, y->label);
		const struct mentry *ours =
		        last_entry(sa, so->nlog, sa->nlog, y->label);
		const struct mrecip *rb = find_recip(sb, y->label);
		const struct mrecip *ra = find_recip(sa, y->label);

		if (ours != NULL &&
		    (strcmp(ours->role, theirs->role) != 0 ||
		     !blob_eq(&ours->subject, &theirs->subject))) {
			conflict(g, ENVX_E_CHECK, me->name, y->label,
			         "%s: both sides changed the access of '%s'",
			         me->name, y->label);
			bad = 1;
		} else if (ra != NULL && rb != NULL &&
		           (!blob_eq(&ra->public_key, &rb->public_key) ||
		            strcmp(ra->kind, rb->kind) != 0)) {
			conflict(g, ENVX_E_CHECK, me->name, y->label,
			         "%s: '%s' is another key on each side",
			         me->name, y->label);
			bad = 1;
		} else if (rb == NULL) {
			conflict(g, ENVX_E_INTEGRITY, me->name, y->label,
			         "%s: theirs granted '%s' without a recipient",
			         me->name, y->label);
			bad = 1;
		}
	}
	me->grants = true;
	return bad;
}

/* VF-9.2: a copy that changed an environment must continue the
 * ancestor's state, not put an older signed one back (its rows from an
 * earlier commit verify too, and the merge would sign them anew): its
 * signed state covers an event after the branch point, its generation and
 * access log do not go back, and it keeps every version the ancestor has
 * of each secret it keeps. x is unlocked. */
static int
continues(struct merge *g, struct menv *me, const struct side *x)
{
	const struct side *so = &me->s[SIDE_O];
	const char *who = side_word[x->which];
	int64_t signed_at = envx_env_signed_audit_seq(x->e);
	size_t i;

	if (signed_at <= (int64_t)g->base_events) {
		conflict(g, ENVX_E_INTEGRITY, me->name, NULL,
		         "%s: %s's state of it was signed at audit event %lld, "
		         "before the branch point (event %zu): an older copy "
		         "put back, which the merge will not sign again",
		         me->name, who, (long long)signed_at, g->base_events);
		return 1;
	}
	if (!so->present) {
		return 0;
	}
	if (x->generation < so->generation || !log_extends(so, x)) {
		conflict(g, ENVX_E_INTEGRITY, me->name, NULL,
		         "%s: %s's state of it is older than the ancestor's "
		         "(generation %lld against %lld, or a shorter access "
		         "log): an older copy put back",
		         me->name, who, (long long)x->generation,
		         (long long)so->generation);
		return 1;
	}
	for (i = 0; i < so->ns; i++) {
		const struct msec *xs = find_secret(x, so->s[i].name);

		if (xs != NULL && !extends(&so->s[i], so, xs, x)) {
			conflict(g, ENVX_E_INTEGRITY, me->name, xs->name,
			         "%s/%s: %s's copy lacks versions the ancestor "
			         "has (an older copy put back, or versions "
			         "removed outside envx)",
			         me->name, xs->name, who);
			return 1;
		}
	}
	return 0;
}

static int
writer_check(struct merge *g, struct menv *me, const struct side *frame)
{
	int role = envx_signer_role(frame->e);

	if (g->m->how->identity == NULL) {
		conflict(g, ENVX_E_LOCKED, me->name, NULL,
		         "%s: the merged state must be signed, and there is no "
		         "identity (set ENVX_IDENTITY or pass --identity)",
		         me->name);
		return 1;
	}
	if (role < ENVX_ROLE_WRITE) {
		conflict(g, ENVX_E_LOCKED, me->name, NULL,
		         "%s: the merged state must be signed by a writer of "
		         "'%s', and your identity %s",
		         me->name, me->name,
		         role == ENVX_ROLE_READ ? "may only read it"
		                                : "is not a member");
		return 1;
	}
	return 0;
}

/* Whether side x had an incident in env after the branch point. */
static bool
incident_since(const struct merge *g, int x, const char *env)
{
	size_t i;

	for (i = g->base_events; i < g->nev[x]; i++) {
		if (strcmp(g->ev[x][i].action, "incident") == 0 &&
		    strcmp(g->ev[x][i].env, env) == 0) {
			return true;
		}
	}
	return false;
}

/* Whether x (of side xs) has version v (of side vs) at its place. */
static bool
holds(const struct side *xs, const struct msec *x, const struct side *vs,
      const struct mver *v)
{
	size_t i;

	for (i = 0; x != NULL && i < x->nv; i++) {
		if (x->v[i].num == v->num) {
			return same_version(xs, x->name, &x->v[i], vs, v);
		}
	}
	return false;
}

/* VF-9.4: an incident on one side after the branch point treats the key
 * the other side went on writing under as exposed, and its own rotations
 * clear its marks, not the other side's values (one of which may be the
 * leaked value set again). So a current version the other side wrote
 * after the branch point is compromised, whatever either side's mark says
 * now. */
static void
incident_marks(struct merge *g, struct menv *me)
{
	const struct side *so = &me->s[SIDE_O];
	bool had[NSIDES] = {false, incident_since(g, SIDE_A, me->name),
	                    incident_since(g, SIDE_B, me->name)};
	size_t i;

	if (!had[SIDE_A] && !had[SIDE_B]) {
		return;
	}
	for (i = 0; i < me->nrs; i++) {
		struct rsec *rs = &me->rs[i];
		const struct msec *o = find_secret(so, rs->name);
		size_t len = 0;
		size_t k;
		bool cur_exposed = false;
		int cur_side;

		for (k = 0; k < rs->nv; k++) {
			const struct rver *w = &rs->v[k];
			int y = w->side;
			int x = y == SIDE_A ? SIDE_B : SIDE_A;
			const struct side *xs = &me->s[x];

			if (!had[x] || holds(so, o, &me->s[y], w->src) ||
			    holds(xs, find_secret(xs, rs->name), &me->s[y],
			          w->src)) {
				/* not new since the ancestor, or the incident
				 * side has it too: judged there */
				continue;
			}
			if (len < sizeof(rs->exposed)) {
				len += (size_t)snprintf(
				        rs->exposed + len,
				        sizeof(rs->exposed) - len, "%sv%llu",
				        len > 0 ? " " : "",
				        (unsigned long long)w->num);
			}
			cur_exposed = k + 1 == rs->nv;
		}
		if (len >= sizeof(rs->exposed)) {
			/* too many to list: the current one at least */
			snprintf(rs->exposed, sizeof(rs->exposed), "v%llu",
			         (unsigned long long)rs->version);
		}
		if (!cur_exposed || rs->state == ENVX_STATE_COMPROMISED) {
			continue;
		}
		rs->state = ENVX_STATE_COMPROMISED;
		cur_side = rs->v[rs->nv - 1].side;
		snprintf(rs->marked, sizeof(rs->marked),
		         "marked compromised: %s had an incident since the "
		         "branch point, and %s's v%llu was written under the "
		         "key it treats as exposed; rotate it",
		         side_word[cur_side == SIDE_A ? SIDE_B : SIDE_A],
		         side_word[cur_side],
		         (unsigned long long)rs->v[rs->nv - 1].src->num);
	}
}

static int
plan_env(struct merge *g, struct menv *me)
{
	struct side *so = &me->s[SIDE_O];
	struct side *sa = &me->s[SIDE_A];
	struct side *sb = &me->s[SIDE_B];
	int bad = 0;
	int i;

	if (unchanged(sb, so) || unchanged(sa, sb)) {
		me->action = KEEP;
		return 0;
	}
	if (unchanged(sa, so)) {
		me->action = sb->present ? TAKE_THEIRS : DROP;
		if (!sb->present) {
			/* VF-9.3: nothing signs a removal */
			conflict(
			        g, ENVX_E_CHECK, me->name, NULL,
			        "environment '%s': theirs removed it; a "
			        "removal carries no signature, so a merge does "
			        "not apply it (after the merge, run 'envx env "
			        "rm %s' if that is meant)",
			        me->name, me->name);
			return 1;
		}
		if (side_unlock(g, me, sb) < 0) {
			return 1;
		}
		return continues(g, me, sb) || writer_check(g, me, sb);
	}
	if (!sa->present || !sb->present) {
		conflict(g, ENVX_E_CHECK, me->name, NULL,
		         "environment '%s': %s removed it, %s changed it",
		         me->name, sa->present ? "theirs" : "ours",
		         sa->present ? "ours" : "theirs");
		return 1;
	}
	if (!so->present) {
		conflict(g, ENVX_E_CHECK, me->name, NULL,
		         "environment '%s' was added on both sides (two keys, "
		         "two access logs): keep one and add the other's "
		         "secrets to it",
		         me->name);
		return 1;
	}
	me->action = MERGE;
	for (i = 0; i < NSIDES; i++) {
		if (side_unlock(g, me, &me->s[i]) < 0) {
			bad = 1;
		}
	}
	if (bad) {
		return 1;
	}
	bad = continues(g, me, sa) || continues(g, me, sb);
	if (!bad) {
		bad = plan_access(g, me);
	}
	if (!bad) {
		bad = access_taken(g, me);
	}
	if (!bad) {
		bad = writer_check(g, me, &me->s[me->frame]);
	}
	if (plan_secrets(g, me) < 0 || plan_allowed(me) < 0) {
		return -1;
	}
	if (!bad) {
		incident_marks(g, me);
	}
	return bad || g->m->conflicts > 0;
}

/* ---- applying the plan to the result ---- */

static int
bind_blob(sqlite3_stmt *st, int col, const struct blob *b)
{
	if (b->null) {
		return sqlite3_bind_null(st, col);
	}
	return sqlite3_bind_blob(st, col, b->n > 0 ? b->p : (const void *)"",
	                         (int)b->n, SQLITE_STATIC);
}

static int
step(struct envx_vault *v, sqlite3_stmt *st, struct envx_error *err)
{
	int r = 0;

	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot write merged vault");
	}
	sqlite3_finalize(st);
	return r;
}

static int
prep(struct envx_vault *v, const char *sql, sqlite3_stmt **st,
     struct envx_error *err)
{
	if (sqlite3_prepare_v2(v->db, sql, -1, st, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err,
		                         "cannot write merged vault");
	}
	return 0;
}

static int
insert_recip(struct envx_vault *v, int64_t env_id, const struct mrecip *c,
             struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = prep(v,
	             "INSERT INTO recipients (env_id, label, kind, "
	             "public_key, kdf, wrapped_key, created_at) VALUES (?, ?, "
	             "?, ?, ?, ?, ?)",
	             &st, err);

	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, env_id);
	sqlite3_bind_text(st, 2, c->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->kind, -1, SQLITE_STATIC);
	bind_blob(st, 4, &c->public_key);
	bind_blob(st, 5, &c->kdf);
	bind_blob(st, 6, &c->wrapped);
	sqlite3_bind_int64(st, 7, c->created_at);
	return step(v, st, err);
}

static int
insert_allow(struct envx_vault *v, int64_t env_id, const struct mallow *a,
             struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = prep(v,
	             "INSERT INTO allowed_names (env_id, name, created_at, "
	             "author) VALUES (?, ?, ?, ?)",
	             &st, err);

	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, env_id);
	sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, a->created_at);
	sqlite3_bind_text(st, 4, a->author, -1, SQLITE_STATIC);
	return step(v, st, err);
}

static int
insert_secret_row(struct envx_vault *v, int64_t env_id, const char *name,
                  uint64_t version, const char *desc, int64_t every,
                  int64_t rotated_at, int64_t state, int64_t *id,
                  struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = prep(v,
	             "INSERT INTO secrets (env_id, name, version, description, "
	             "rotate_every, rotated_at, state) VALUES (?, ?, ?, ?, ?, "
	             "?, ?)",
	             &st, err);

	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, env_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)version);
	sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, every);
	sqlite3_bind_int64(st, 6, rotated_at);
	sqlite3_bind_int64(st, 7, state);
	r = step(v, st, err);
	*id = sqlite3_last_insert_rowid(v->db);
	return r;
}

static int
insert_version(struct envx_vault *v, int64_t secret_id, uint64_t num,
               const struct mver *src, const unsigned char *nonce, size_t nlen,
               const unsigned char *ct, size_t ctlen, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = prep(v,
	             "INSERT INTO versions (secret_id, version, nonce, "
	             "ciphertext, created_at, author, kind) VALUES (?, ?, ?, "
	             "?, ?, ?, ?)",
	             &st, err);

	if (r < 0) {
		return r;
	}
	sqlite3_bind_int64(st, 1, secret_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)num);
	sqlite3_bind_blob(st, 3, nonce, (int)nlen, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, ct, (int)ctlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, src->created_at);
	sqlite3_bind_text(st, 6, src->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, src->kind, -1, SQLITE_STATIC);
	return step(v, st, err);
}

/* Copies every row of environment x into v (a new envs row). */
static int
copy_env(struct envx_vault *v, const char *name, const struct side *x,
         struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t env_id;
	size_t i;
	size_t j;
	int r;

	r = prep(v,
	         "INSERT INTO envs (name, key_commit, generation, mac, "
	         "created_at) VALUES (?, ?, ?, ?, ?)",
	         &st, err);
	if (r < 0) {
		return r;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, x->key_commit, ENVX_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, x->generation);
	sqlite3_bind_blob(st, 4, x->mac, ENVX_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, x->created_at);
	r = step(v, st, err);
	env_id = sqlite3_last_insert_rowid(v->db);
	for (i = 0; r == 0 && i < x->nrc; i++) {
		r = insert_recip(v, env_id, &x->rc[i], err);
	}
	for (i = 0; r == 0 && i < x->nal; i++) {
		r = insert_allow(v, env_id, &x->al[i], err);
	}
	for (i = 0; r == 0 && i < x->ns; i++) {
		const struct msec *s = &x->s[i];
		int64_t sid = 0;

		r = insert_secret_row(v, env_id, s->name, s->version,
		                      s->description, s->rotate_every,
		                      s->rotated_at, s->state, &sid, err);
		for (j = 0; r == 0 && j < s->nv; j++) {
			const struct mver *w = &s->v[j];
			r = insert_version(v, sid, w->num, w, w->nonce.p,
			                   w->nonce.n, w->ct.p, w->ct.n, err);
		}
	}
	for (i = 0; r == 0 && i < x->nlog; i++) {
		const struct mentry *y = &x->log[i];

		r = prep(v,
		         "INSERT INTO access_log (env_id, seq, at, action, "
		         "label, role, subject, recipients, signer, prev, sig) "
		         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		         &st, err);
		if (r < 0) {
			break;
		}
		sqlite3_bind_int64(st, 1, env_id);
		sqlite3_bind_int64(st, 2, y->seq);
		sqlite3_bind_int64(st, 3, y->at);
		sqlite3_bind_text(st, 4, y->action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, y->label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, y->role, -1, SQLITE_STATIC);
		bind_blob(st, 7, &y->subject);
		bind_blob(st, 8, &y->recipients);
		bind_blob(st, 9, &y->signer);
		bind_blob(st, 10, &y->prev);
		bind_blob(st, 11, &y->sig);
		r = step(v, st, err);
	}
	return r;
}

static int
drop_env(struct envx_vault *v, const char *name, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = prep(v, "DELETE FROM envs WHERE name = ?", &st, err);

	if (r < 0) {
		return r;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return step(v, st, err);
}

/* Opens name in the result, with the key of src (the frame). */
static int
open_result(struct envx_vault *v, const char *name, const struct envx_env *src,
            struct envx_env **out, struct envx_error *err)
{
	struct envx_env *e = NULL;
	int r;

	r = envx_env_open(v, name, &e, err);
	if (r < 0) {
		return r;
	}
	if (memcmp(e->key_commit, src->key_commit, ENVX_HASH_BYTES) != 0) {
		envx_env_free(e);
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "merge: key of '%s' mixed up", name);
	}
	e->key = sodium_malloc(ENVX_KEY_BYTES);
	e->sub = sodium_malloc(sizeof(*e->sub));
	if (e->key == NULL || e->sub == NULL) {
		envx_env_free(e);
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	memcpy(e->key, src->key, ENVX_KEY_BYTES);
	memcpy(e->sub, src->sub, sizeof(*e->sub));
	*out = e;
	return envx_env_rebuild_buckets(e, err);
}

/* Writes one version of the result: copied when its number and key stay,
 * else decrypted from its source and encrypted again (VF-9.4). */
static int
write_rver(struct envx_env *e, const struct menv *me, const char *name,
           int64_t sid, const struct rver *w, struct envx_error *err)
{
	const struct side *src = &me->s[w->side];
	struct envx_secbuf pt = {0};
	unsigned char nonce[ENVX_NONCE_BYTES];
	unsigned char *ct = NULL;
	struct envx_lp ad;
	int r;

	if (w->num == w->src->num &&
	    memcmp(src->key_commit, e->key_commit, ENVX_HASH_BYTES) == 0) {
		return insert_version(e->v, sid, w->num, w->src,
		                      w->src->nonce.p, w->src->nonce.n,
		                      w->src->ct.p, w->src->ct.n, err);
	}
	r = envx_env_get_version(src->e, name, w->src->num, &pt, err);
	if (r < 0) {
		return r;
	}
	ct = malloc(pt.len + ENVX_TAG_BYTES);
	if (ct == NULL) {
		envx_secbuf_release(&pt);
		return oom(err);
	}
	envx_value_ad(&ad, e, name, w->num);
	r = envx_crypto_seal_value(e->sub->value, &ad, pt.data, pt.len, nonce,
	                           ct, err);
	if (r == 0) {
		r = insert_version(e->v, sid, w->num, w->src, nonce,
		                   sizeof(nonce), ct, pt.len + ENVX_TAG_BYTES,
		                   err);
	}
	envx_secbuf_release(&pt);
	free(ct);
	return r;
}

/* VF-9.5: theirs' new grants, signed again by the merger. */
static int
append_grants(struct envx_env *e, const struct menv *me, struct envx_error *err)
{
	const struct side *so = &me->s[SIDE_O];
	const struct side *sa = &me->s[SIDE_A];
	const struct side *sb = &me->s[SIDE_B];
	size_t i;
	int r = 0;

	for (i = so->nlog; r == 0 && i < sb->nlog; i++) {
		const struct mentry *y = &sb->log[i];
		sqlite3_stmt *st = NULL;
		bool have = false;
		int role;

		if (last_entry(sa, so->nlog, sa->nlog, y->label) != NULL) {
			continue; /* the same change on both sides */
		}
		r = prep(e->v,
		         "SELECT 1 FROM recipients WHERE env_id = ? AND "
		         "label = ?",
		         &st, err);
		if (r < 0) {
			break;
		}
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_text(st, 2, y->label, -1, SQLITE_STATIC);
		have = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!have) {
			r = insert_recip(e->v, e->id, find_recip(sb, y->label),
			                 err);
		}
		if (r == 0 && envx_role_parse(y->role, &role) < 0) {
			r = envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "%s: access-log entry with role '%s'", me->name,
			        y->role);
		}
		if (r == 0) {
			r = envx_access_append(
			        e, "grant", y->label, role,
			        y->subject.n == 32 ? y->subject.p : NULL, err);
		}
	}
	return r;
}

static int
apply_merge(struct menv *me, struct envx_env *e, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	size_t j;
	int r;

	if (me->grants) {
		r = append_grants(e, me, err);
		if (r < 0) {
			return r;
		}
	}
	r = prep(e->v, "DELETE FROM secrets WHERE env_id = ?", &st, err);
	if (r == 0) {
		sqlite3_bind_int64(st, 1, e->id);
		r = step(e->v, st, err);
	}
	if (r == 0) {
		r = prep(e->v, "DELETE FROM allowed_names WHERE env_id = ?",
		         &st, err);
	}
	if (r == 0) {
		sqlite3_bind_int64(st, 1, e->id);
		r = step(e->v, st, err);
	}
	for (i = 0; r == 0 && i < me->nal; i++) {
		r = insert_allow(e->v, e->id, me->al[i], err);
	}
	for (i = 0; r == 0 && i < me->nrs; i++) {
		const struct rsec *s = &me->rs[i];
		int64_t sid = 0;

		r = insert_secret_row(e->v, e->id, s->name, s->version,
		                      s->description, s->rotate_every,
		                      s->rotated_at, s->state, &sid, err);
		for (j = 0; r == 0 && j < s->nv; j++) {
			r = write_rver(e, me, s->name, sid, &s->v[j], err);
		}
	}
	return r;
}

static void
hex32(const unsigned char *p, char out[65])
{
	sodium_bin2hex(out, 65, p, 32);
}

/* VF-9.6: theirs' new events re-chained after ours, then the merge's. */
static int
merge_audit(struct merge *g, struct envx_vault *res, struct envx_error *err)
{
	const struct envx_audit_event *ev = g->ev[SIDE_B];
	size_t na = g->nev[SIDE_A];
	size_t nb = g->nev[SIDE_B];
	char detail[256];
	char ha[65] = "";
	char hb[65] = "";
	size_t i;
	size_t k;
	int r = 0;

	for (i = g->base_events; r == 0 && i < nb; i++) {
		r = envx_audit_append(res, ev[i].at, ev[i].actor, ev[i].action,
		                      ev[i].env, ev[i].name, ev[i].detail, err);
	}
	for (k = 0; r == 0 && k < g->nenvs; k++) {
		const struct menv *me = &g->envs[k];
		for (i = 0; me->action == MERGE && r == 0 && i < me->nrs; i++) {
			const struct rsec *s = &me->rs[i];
			if (s->combined) {
				r = envx_vault_audit(res, "merge", me->name,
				                     s->name, s->note, err);
			}
			if (r == 0 && s->exposed[0] != '\0') {
				snprintf(detail, sizeof(detail),
				         "%s: written under a key an incident "
				         "on the other branch exposed",
				         s->exposed);
				r = envx_vault_audit(res, "exposed", me->name,
				                     s->name, detail, err);
			}
		}
	}
	if (r == 0) {
		if (na > 0) {
			hex32(g->ev[SIDE_A][na - 1].hash, ha);
		}
		if (nb > 0) {
			hex32(ev[nb - 1].hash, hb);
		}
		snprintf(detail, sizeof(detail), "ours %zu %s, theirs %zu %s",
		         na, ha, nb, hb);
		r = envx_vault_audit(res, "merge", "", "", detail, err);
	}
	return r;
}

/* VF-9.2: the audit chains verify and share the ancestor's history. */
static int
check_audit(struct merge *g, struct envx_error *err)
{
	struct envx_vault *src[NSIDES] = {g->m->base, g->m->ours, g->m->theirs};
	struct envx_audit_chain c[NSIDES];
	unsigned char at[ENVX_HASH_BYTES];
	int i;
	int r;

	for (i = 0; i < NSIDES; i++) {
		r = envx_vault_audit_verify(src[i], &c[i], err);
		if (r < 0) {
			conflict(g, r, NULL, NULL, "%s's audit log: %s",
			         side_word[i], err->msg);
			return 1;
		}
	}
	g->base_events = (size_t)c[SIDE_O].count;
	for (i = SIDE_A; i <= SIDE_B; i++) {
		r = c[SIDE_O].count == 0
		            ? 0
		            : envx_audit_at(src[i], c[SIDE_O].count, at, err);
		if (r < 0) {
			return r;
		}
		if (c[i].count < c[SIDE_O].count ||
		    (c[SIDE_O].count > 0 &&
		     (r == 1 ||
		      memcmp(at, c[SIDE_O].last_hash, ENVX_HASH_BYTES) != 0))) {
			conflict(
			        g, ENVX_E_CHECK, NULL, NULL,
			        "%s's audit log does not continue the "
			        "ancestor's: these are not two versions of one "
			        "history",
			        side_word[i]);
			return 1;
		}
	}
	return 0;
}

/* The last event a signed state of theirs that the merge verified covers,
 * per environment (g->envs order), and the last any covers (for events of
 * no environment). */
static int64_t
theirs_covered(const struct merge *g, int64_t *per_env)
{
	int64_t any = 0;
	size_t i;

	for (i = 0; i < g->nenvs; i++) {
		const struct envx_env *e = g->envs[i].s[SIDE_B].e;

		per_env[i] = e != NULL ? envx_env_signed_audit_seq(e) : 0;
		if (per_env[i] > any) {
			any = per_env[i];
		}
	}
	return any;
}

static int64_t
covered_for(const struct merge *g, const int64_t *per_env, int64_t any,
            const char *env)
{
	size_t i;

	if (*env == '\0') {
		return any;
	}
	for (i = 0; i < g->nenvs; i++) {
		if (strcmp(g->envs[i].name, env) == 0) {
			return per_env[i];
		}
	}
	return 0;
}

/* VF-9.6: theirs' events go into the result, where the merger's signature
 * will cover them, so each must already be covered by a signed state of
 * theirs the merge verified; events added to theirs' file outside envx
 * (a valid unkeyed chain is easy to forge) are not laundered by a merge.
 * No action is exempt: `trust-reset` (a reader's act) and `env-rm` are
 * signed by nobody either, so their actor and text are anyone's claim. */
static int
check_theirs_events(struct merge *g, struct envx_error *err)
{
	const struct envx_audit_event *ev = g->ev[SIDE_B];
	const struct envx_audit_event *first = NULL;
	int64_t *per_env = calloc(g->nenvs + 1, sizeof(*per_env));
	int64_t any;
	size_t bad = 0;
	size_t i;

	if (per_env == NULL) {
		return oom(err);
	}
	any = theirs_covered(g, per_env);
	for (i = g->base_events; i < g->nev[SIDE_B]; i++) {
		if (ev[i].seq > covered_for(g, per_env, any, ev[i].env)) {
			bad++;
			if (first == NULL) {
				first = &ev[i];
			}
		}
	}
	free(per_env);
	if (bad > 0) {
		char what[64];
		char env[ENVX_ENV_NAME_MAX_BYTES + 1];

		envx_text_safe(first->action, what, sizeof(what));
		envx_text_safe(first->env, env, sizeof(env));
		conflict(g, ENVX_E_INTEGRITY, NULL, NULL,
		         "theirs' audit log has %zu event%s that no signed "
		         "state of theirs covers, from #%lld ('%s'%s%s): added "
		         "outside envx; the merge will not sign %s",
		         bad, bad == 1 ? "" : "s", (long long)first->seq, what,
		         *env != '\0' ? " of " : "", env,
		         bad == 1 ? "it" : "them");
	}
	return 0;
}

/* VF-9.6: ours' events after the branch point go into the result too,
 * under the merger's signature: each must be one a signed state of ours
 * covers, by the rules every writer follows (VF-3.8). */
static int
check_ours_events(struct merge *g, struct envx_error *err)
{
	struct envx_error e2;
	int r = envx_vault_unsigned_events(
	        g->m->ours, NULL, (int64_t)g->base_events, INT64_MAX, &e2);

	if (r == ENVX_E_INTEGRITY) {
		conflict(g, r, NULL, NULL, "ours' %s", e2.msg);
		return 0;
	}
	if (r < 0) {
		*err = e2;
	}
	return r;
}

/* Reads ours' and theirs' audit events, once. */
static int
load_events(struct merge *g, struct envx_error *err)
{
	struct envx_vault *src[NSIDES] = {g->m->base, g->m->ours, g->m->theirs};
	int s;
	int r = 0;

	for (s = SIDE_A; s <= SIDE_B && r == 0; s++) {
		r = envx_vault_audit_events(src[s], NULL, &g->ev[s], &g->nev[s],
		                            err);
	}
	return r;
}

static int
env_names(struct merge *g, struct envx_error *err)
{
	struct envx_vault *src[NSIDES] = {g->m->base, g->m->ours, g->m->theirs};
	struct envx_env_info *list[NSIDES] = {NULL, NULL, NULL};
	size_t n[NSIDES] = {0, 0, 0};
	const char **names = NULL;
	size_t total = 0;
	size_t i;
	int s;
	int r = 0;

	for (s = 0; s < NSIDES && r == 0; s++) {
		r = envx_vault_env_list(src[s], &list[s], &n[s], err);
		total += n[s];
	}
	if (r == 0) {
		names = calloc(total + 1, sizeof(*names));
		g->envs = calloc(total + 1, sizeof(*g->envs));
		if (names == NULL || g->envs == NULL) {
			r = oom(err);
		}
	}
	total = 0;
	for (s = 0; s < NSIDES && r == 0; s++) {
		for (i = 0; i < n[s]; i++) {
			names[total++] = list[s][i].name;
		}
	}
	if (r == 0) {
		total = envx_strv_unique(names, total);
		for (i = 0; i < total; i++) {
			snprintf(g->envs[i].name, sizeof(g->envs[i].name), "%s",
			         names[i]);
		}
		g->nenvs = total;
	}
	free(names);
	for (s = 0; s < NSIDES; s++) {
		free(list[s]);
	}
	return r;
}

static void
merge_release(struct merge *g)
{
	size_t i;
	size_t j;
	int s;

	for (i = 0; i < g->nenvs; i++) {
		struct menv *me = &g->envs[i];
		for (j = 0; j < me->nrs; j++) {
			free(me->rs[j].v);
		}
		free(me->rs);
		free(me->al);
		for (s = 0; s < NSIDES; s++) {
			side_release(&me->s[s]);
		}
	}
	free(g->envs);
	for (s = SIDE_A; s <= SIDE_B; s++) {
		envx_audit_events_free(g->ev[s], g->nev[s]);
	}
}

/* Whether the result differs from ours: an environment to write, or
 * events of theirs to add. A merge of nothing (theirs changed only the
 * file's pages, say by VACUUM) writes nothing, not an event no signed
 * state would cover. */
static bool
changes(const struct merge *g)
{
	size_t i;

	for (i = 0; i < g->nenvs; i++) {
		if (g->envs[i].action != KEEP) {
			return true;
		}
	}
	return g->nev[SIDE_B] > g->base_events;
}

static int
apply(struct merge *g, struct envx_vault *res, struct envx_env **open,
      struct envx_error *err)
{
	size_t i;
	int r = envx_vault_begin(res, err);

	for (i = 0; r == 0 && i < g->nenvs; i++) {
		struct menv *me = &g->envs[i];
		const struct side *frame = &me->s[SIDE_B];
		int64_t gen;

		if (me->action == KEEP) {
			continue;
		}
		if (me->action == DROP ||
		    (me->action == TAKE_THEIRS && me->s[SIDE_A].present) ||
		    (me->action == MERGE && me->frame == SIDE_B)) {
			r = drop_env(res, me->name, err);
		}
		if (r < 0 || me->action == DROP) {
			continue;
		}
		if (me->action == MERGE) {
			frame = &me->s[me->frame];
		}
		if (me->action == TAKE_THEIRS || me->frame == SIDE_B) {
			r = copy_env(res, me->name, frame, err);
		}
		if (r == 0) {
			r = open_result(res, me->name, frame->e, &open[i], err);
		}
		if (r == 0) {
			r = envx_env_mark_dirty(open[i], err);
		}
		if (r == 0 && me->action == MERGE) {
			r = apply_merge(me, open[i], err);
		}
		/* VF-9.7: above both sides' generations */
		gen = me->s[SIDE_B].generation;
		if (me->s[SIDE_A].present && me->s[SIDE_A].generation > gen) {
			gen = me->s[SIDE_A].generation;
		}
		if (r == 0) {
			open[i]->generation = gen;
		}
	}
	if (r == 0) {
		r = merge_audit(g, res, err);
	}
	if (r == 0) {
		r = envx_vault_commit(res, err);
	} else {
		envx_vault_rollback(res);
	}
	return r;
}

int
envx_vault_merge(struct envx_vault *result, struct envx_merge *m,
                 struct envx_error *err)
{
	struct envx_vault *src[NSIDES] = {m->base, m->ours, m->theirs};
	struct envx_env **open = NULL;
	struct merge g = {.m = m};
	size_t i;
	int s;
	int r;

	m->conflicts = 0;
	m->worst = 0;
	g.now = envx_now();
	for (s = 0; s < NSIDES; s++) {
		if (src[s]->schema != ENVX_VAULT_SCHEMA_VERSION) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "%s's copy is in format %d: "
			        "upgrade the vault ('envx "
			        "upgrade') on both branches first",
			        side_word[s], src[s]->schema);
		}
		if (memcmp(src[s]->vault_id, result->vault_id,
		           ENVX_VAULT_ID_BYTES) != 0) {
			return envx_error_set(err, ENVX_E_INTEGRITY,
			                      "%s's copy is another vault (its "
			                      "vault id differs)",
			                      side_word[s]);
		}
	}
	r = check_audit(&g, err);
	if (r == 0) {
		r = load_events(&g, err);
	}
	if (r == 0) {
		r = env_names(&g, err);
	}
	for (i = 0; r == 0 && i < g.nenvs; i++) {
		struct menv *me = &g.envs[i];
		for (s = 0; s < NSIDES && r == 0; s++) {
			r = side_load(&me->s[s], s, src[s], me->name, err);
		}
		if (r == 0 && plan_env(&g, me) < 0) {
			r = oom(err);
		}
	}
	if (r == 0) {
		r = check_theirs_events(&g, err);
	}
	if (r == 0) {
		r = check_ours_events(&g, err);
	}
	if (r == 1) {
		r = 0; /* check_audit's conflict is counted: reported below */
	}
	if (r == 0 && m->conflicts == 0) {
		for (i = 0; i < g.nenvs; i++) {
			const struct menv *me = &g.envs[i];
			for (size_t j = 0; me->action == MERGE && j < me->nrs;
			     j++) {
				if (me->rs[j].combined) {
					note(&g, me->name, me->rs[j].name,
					     me->rs[j].note);
				}
				if (me->rs[j].marked[0] != '\0') {
					note(&g, me->name, me->rs[j].name,
					     me->rs[j].marked);
				}
			}
		}
		open = calloc(g.nenvs + 1, sizeof(*open));
		r = open == NULL   ? oom(err)
		    : !changes(&g) ? 0 /* the result is ours as it is */
		                   : apply(&g, result, open, err);
	}
	if (r == 0 && m->conflicts > 0) {
		r = envx_error_set(err, m->worst != 0 ? m->worst : ENVX_E_CHECK,
		                   "%zu conflict%s: nothing was merged",
		                   m->conflicts, m->conflicts == 1 ? "" : "s");
	}
	for (i = 0; open != NULL && i < g.nenvs; i++) {
		envx_env_free(open[i]);
	}
	free(open);
	merge_release(&g);
	return r;
}
