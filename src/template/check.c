/*
 * Checking environments against a template (DESIGN §6): names (missing,
 * extra), values (empty, type, a template value that is a real secret, the
 * same value in two environments) and rotation schedules. Lookups go through
 * sorted indexes and value comparisons through keyed hashes confirmed with
 * sodium_memcmp, so a check is O(n log n), never quadratic in the names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/template.h"
#include "util/banned.h"

#define HASH_BYTES 16

struct named {
	const char *name;
	size_t idx;
};

struct hashed {
	unsigned char h[HASH_BYTES];
	size_t idx;
};

/* Per-environment lookup tables. */
struct env_index {
	struct named *secrets;
	size_t nsecrets;
	struct named *values; /* one per name, the last duplicate */
	size_t nvalues;
	struct hashed *hashes; /* of the values long enough to leak */
	size_t nhashes;
};

/* What one check run needs beside its arguments. */
struct run {
	const struct envx_template *t;
	const struct envx_check_env *envs;
	size_t nenvs;
	unsigned flags;
	struct env_index *idx;
	unsigned char key[crypto_generichash_KEYBYTES];
	struct envx_findings *f;
	const char **extras;
	size_t nextras;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a;
	const struct named *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
cmp_hashed(const void *a, const void *b)
{
	const struct hashed *x = a;
	const struct hashed *y = b;
	int c = memcmp(x->h, y->h, HASH_BYTES);

	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of name in a sorted, deduplicated array, or -1. */
static ssize_t
find_named(const struct named *a, size_t n, const char *name)
{
	size_t lo = 0;
	size_t hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, a[mid].name);

		if (c == 0) {
			return (ssize_t)mid;
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return -1;
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* The value without leading and trailing whitespace. */
static const unsigned char *
trim(const unsigned char *v, size_t len, size_t *out_len)
{
	while (len > 0 && is_ws(v[0])) {
		v++;
		len--;
	}
	while (len > 0 && is_ws(v[len - 1])) {
		len--;
	}
	*out_len = len;
	return v;
}

static bool
leak_checked(const struct envx_template_type *type)
{
	return type->kind == ENVX_TYPE_STRING || type->kind == ENVX_TYPE_URL ||
	       type->kind == ENVX_TYPE_REGEX;
}

/* Values of these types come from small sets; the same value in two
 * environments says nothing about shared credentials. */
static bool
reuse_checked(const struct envx_template_type *type)
{
	return type->kind != ENVX_TYPE_INT && type->kind != ENVX_TYPE_PORT &&
	       type->kind != ENVX_TYPE_BOOL && type->kind != ENVX_TYPE_ENUM;
}

static char *
dup_str(const char *s)
{
	size_t n;
	char *d;

	if (s == NULL) {
		return NULL;
	}
	n = strlen(s);
	d = malloc(n + 1);
	if (d != NULL) {
		memcpy(d, s, n + 1);
	}
	return d;
}

/*
 * Replaces control and non-ASCII bytes with '?'. Messages quote text from the
 * template (a @type spec) and the path, which must neither drive a terminal
 * nor make the JSON output invalid UTF-8.
 */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f) {
			*s = '?';
		}
	}
}

static void
finding_release(struct envx_finding *x)
{
	free(x->env);
	free(x->name);
	free(x->other_env);
	free(x->other_name);
	free(x->message);
}

static int add_finding(struct envx_findings *f, enum envx_severity sev,
                       enum envx_finding_kind kind, const char *env,
                       const char *name, unsigned line, const char *other_env,
                       const char *other_name, struct envx_error *err,
                       const char *fmt, ...)
        __attribute__((format(printf, 10, 11)));

static int
add_finding(struct envx_findings *f, enum envx_severity sev,
            enum envx_finding_kind kind, const char *env, const char *name,
            unsigned line, const char *other_env, const char *other_name,
            struct envx_error *err, const char *fmt, ...)
{
	struct envx_finding x;
	va_list ap;
	int n;
	int r = ENVX_E_INTERNAL;

	memset(&x, 0, sizeof(x));
	if (f->count == f->cap) {
		size_t cap = f->cap == 0 ? 16 : f->cap * 2;
		struct envx_finding *p = realloc(f->items, cap * sizeof(*p));

		if (p == NULL) {
			goto out;
		}
		f->items = p;
		f->cap = cap;
	}
	x.severity = sev;
	x.kind = kind;
	x.line = line;
	x.env = dup_str(env);
	x.name = dup_str(name);
	x.other_env = dup_str(other_env);
	x.other_name = dup_str(other_name);
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || x.env == NULL || (name != NULL && x.name == NULL) ||
	    (other_env != NULL && x.other_env == NULL) ||
	    (other_name != NULL && x.other_name == NULL)) {
		goto out;
	}
	x.message = malloc((size_t)n + 1);
	if (x.message == NULL) {
		goto out;
	}
	va_start(ap, fmt);
	vsnprintf(x.message, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sanitize(x.message);
	f->items[f->count++] = x;
	memset(&x, 0, sizeof(x));
	if (sev == ENVX_SEVERITY_ERROR) {
		f->errors++;
	} else if (sev == ENVX_SEVERITY_WARNING) {
		f->warnings++;
	} else {
		f->infos++;
	}
	r = 0;
out:
	finding_release(&x);
	if (r < 0) {
		envx_error_set(err, r, "out of memory");
	}
	return r;
}

static void
hash_value(const struct run *run, const unsigned char *v, size_t len,
           unsigned char *h)
{
	crypto_generichash(h, HASH_BYTES, v, len, run->key, sizeof(run->key));
}

static void
env_index_release(struct env_index *x)
{
	free(x->secrets);
	free(x->values);
	if (x->hashes != NULL) {
		sodium_memzero(x->hashes, x->nhashes * sizeof(*x->hashes));
	}
	free(x->hashes);
	memset(x, 0, sizeof(*x));
}

static int
env_index_build(struct run *run, size_t e, struct envx_error *err)
{
	const struct envx_check_env *env = &run->envs[e];
	struct env_index *x = &run->idx[e];
	const struct envx_kvset *vals = env->values;
	size_t n = 0;
	int r = ENVX_E_INTERNAL;

	x->secrets = calloc(env->nsecrets + 1, sizeof(*x->secrets));
	if (x->secrets == NULL) {
		goto out;
	}
	for (size_t i = 0; i < env->nsecrets; i++) {
		x->secrets[i].name = env->secrets[i].name;
		x->secrets[i].idx = i;
	}
	qsort(x->secrets, env->nsecrets, sizeof(*x->secrets), cmp_named);
	for (size_t i = 0; i < env->nsecrets; i++) {
		if (n > 0 &&
		    strcmp(x->secrets[n - 1].name, x->secrets[i].name) == 0) {
			continue;
		}
		x->secrets[n++] = x->secrets[i];
	}
	x->nsecrets = n;
	if (vals == NULL) {
		r = 0;
		goto out;
	}
	x->values = calloc(vals->count + 1, sizeof(*x->values));
	x->hashes = calloc(vals->count + 1, sizeof(*x->hashes));
	if (x->values == NULL || x->hashes == NULL) {
		goto out;
	}
	for (size_t i = 0; i < vals->count; i++) {
		x->values[i].name = envx_kvset_name(vals, i);
		x->values[i].idx = i;
	}
	qsort(x->values, vals->count, sizeof(*x->values), cmp_named);
	n = 0;
	for (size_t i = 0; i < vals->count; i++) {
		/* Sorted by (name, index): the last of a run is the last
		 * duplicate, which wins as in the dotenv format. */
		if (n > 0 &&
		    strcmp(x->values[n - 1].name, x->values[i].name) == 0) {
			x->values[n - 1] = x->values[i];
			continue;
		}
		x->values[n++] = x->values[i];
	}
	x->nvalues = n;
	for (size_t i = 0; i < x->nvalues; i++) {
		size_t len;
		const unsigned char *v =
		        envx_kvset_value(vals, x->values[i].idx, &len);

		if (len < ENVX_TEMPLATE_LEAK_MIN_BYTES) {
			continue;
		}
		hash_value(run, v, len, x->hashes[x->nhashes].h);
		x->hashes[x->nhashes].idx = x->values[i].idx;
		x->nhashes++;
	}
	qsort(x->hashes, x->nhashes, sizeof(*x->hashes), cmp_hashed);
	r = 0;
out:
	if (r < 0) {
		envx_error_set(err, r, "out of memory");
	}
	return r;
}

/* The env's value for name, or NULL when it has none (or is locked). */
static const unsigned char *
env_value(const struct run *run, size_t e, const char *name, size_t *len)
{
	const struct env_index *x = &run->idx[e];
	ssize_t k;

	if (run->envs[e].values == NULL) {
		return NULL;
	}
	k = find_named(x->values, x->nvalues, name);
	if (k < 0) {
		return NULL;
	}
	return envx_kvset_value(run->envs[e].values, x->values[k].idx, len);
}

static const struct envx_check_secret *
env_secret(const struct run *run, size_t e, const char *name)
{
	const struct env_index *x = &run->idx[e];
	ssize_t k = find_named(x->secrets, x->nsecrets, name);

	if (k < 0) {
		return NULL;
	}
	return &run->envs[e].secrets[x->secrets[k].idx];
}

/* Reports each secret of env e whose value is exactly cand. */
static int
leak_candidate(struct run *run, size_t e, const struct envx_template_var *v,
               const unsigned char *cand, size_t clen, struct envx_error *err)
{
	const struct env_index *x = &run->idx[e];
	const struct envx_kvset *vals = run->envs[e].values;
	struct hashed key;
	size_t lo = 0;
	size_t hi = x->nhashes;
	int r = 0;

	hash_value(run, cand, clen, key.h);
	key.idx = 0;
	/* Lower bound of the hash: the first entry not below (h, 0). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_hashed(&x->hashes[mid], &key) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	for (;
	     lo < x->nhashes && memcmp(x->hashes[lo].h, key.h, HASH_BYTES) == 0;
	     lo++) {
		size_t len;
		const unsigned char *real =
		        envx_kvset_value(vals, x->hashes[lo].idx, &len);
		const char *secret = envx_kvset_name(vals, x->hashes[lo].idx);

		if (len != clen || sodium_memcmp(real, cand, len) != 0) {
			continue;
		}
		r = add_finding(
		        run->f, ENVX_SEVERITY_ERROR, ENVX_FINDING_LEAK,
		        run->envs[e].name, v->name, v->line, NULL, secret, err,
		        "the template's value for %s (line %u) is the "
		        "real value of %s in %s: replace it with a "
		        "placeholder and rotate %s",
		        v->name, v->line, secret, run->envs[e].name, secret);
		if (r < 0) {
			break;
		}
	}
	sodium_memzero(&key, sizeof(key));
	return r;
}

static int
check_leak(struct run *run, size_t e, size_t i, struct envx_error *err)
{
	const struct envx_template_var *v = &run->t->vars[i];
	const unsigned char *tv;
	const unsigned char *tt;
	size_t len;
	size_t tlen;
	int r = 0;

	if (!leak_checked(&v->type)) {
		return 0;
	}
	tv = envx_template_value(run->t, i, &len);
	tt = trim(tv, len, &tlen);
	if (tlen < ENVX_TEMPLATE_LEAK_MIN_BYTES) {
		return 0;
	}
	r = leak_candidate(run, e, v, tv, len, err);
	if (r == 0 && tlen != len) {
		r = leak_candidate(run, e, v, tt, tlen, err);
	}
	return r;
}

static int
check_rotation(struct run *run, size_t e, const struct envx_template_var *v,
               const struct envx_check_secret *s, struct envx_error *err)
{
	char want[32];
	char have[32];

	if (v->rotate_every == 0 || s->rotate_every == v->rotate_every) {
		return 0;
	}
	envx_duration_format(v->rotate_every, want, sizeof(want));
	if (s->rotate_every == 0) {
		return add_finding(run->f, ENVX_SEVERITY_ERROR,
		                   ENVX_FINDING_ROTATION, run->envs[e].name,
		                   v->name, v->rotate_line, NULL, NULL, err,
		                   "no rotation schedule in %s; the template "
		                   "requires @rotate %s",
		                   run->envs[e].name, want);
	}
	envx_duration_format(s->rotate_every, have, sizeof(have));
	return add_finding(run->f, ENVX_SEVERITY_ERROR, ENVX_FINDING_ROTATION,
	                   run->envs[e].name, v->name, v->rotate_line, NULL,
	                   NULL, err,
	                   "rotation schedule in %s is %s; the template "
	                   "requires @rotate %s",
	                   run->envs[e].name, have, want);
}

static bool
is_blank_value(const unsigned char *v, size_t len)
{
	size_t tlen;

	trim(v, len, &tlen);
	return tlen == 0;
}

/* Checks template name i in env e, where it is set, and sets its cell. */
static int
check_present(struct run *run, size_t e, size_t i,
              const struct envx_check_secret *s, struct envx_error *err)
{
	const struct envx_template_var *v = &run->t->vars[i];
	const char *env = run->envs[e].name;
	enum envx_cell *cell = &run->f->cells[i * run->nenvs + e];
	const unsigned char *value;
	size_t len = 0;
	int r;

	r = check_rotation(run, e, v, s, err);
	if (r < 0) {
		return r;
	}
	value = env_value(run, e, v->name, &len);
	if (value == NULL) {
		*cell = ENVX_CELL_UNVERIFIED;
	} else if (is_blank_value(value, len)) {
		*cell = ENVX_CELL_EMPTY;
		if (v->optional == ENVX_TEMPLATE_REQUIRED) {
			r = add_finding(run->f, ENVX_SEVERITY_ERROR,
			                ENVX_FINDING_EMPTY, env, v->name,
			                v->line, NULL, NULL, err,
			                "required by the template but empty "
			                "in %s",
			                env);
		}
	} else if (!envx_template_type_check(&v->type, value, len)) {
		*cell = ENVX_CELL_BAD_TYPE;
		r = add_finding(run->f, ENVX_SEVERITY_ERROR, ENVX_FINDING_TYPE,
		                env, v->name, v->line, NULL, NULL, err,
		                "value in %s is not of @type %s", env,
		                envx_template_type_name(&v->type));
	} else {
		*cell = ENVX_CELL_OK;
	}
	return r;
}

/* Checks every template name in env e, setting the matrix cells. */
static int
check_vars(struct run *run, size_t e, struct envx_error *err)
{
	const struct envx_template *t = run->t;
	const char *env = run->envs[e].name;
	int r = 0;

	for (size_t i = 0; i < t->nvars && r == 0; i++) {
		const struct envx_template_var *v = &t->vars[i];
		const struct envx_check_secret *s = env_secret(run, e, v->name);
		bool required = v->optional == ENVX_TEMPLATE_REQUIRED;

		if (s != NULL) {
			r = check_present(run, e, i, s, err);
		} else if (required) {
			run->f->cells[i * run->nenvs + e] = ENVX_CELL_MISSING;
			r = add_finding(run->f, ENVX_SEVERITY_ERROR,
			                ENVX_FINDING_MISSING, env, v->name,
			                v->line, NULL, NULL, err,
			                "required by the template but not set "
			                "in %s",
			                env);
		}
		/* Whether or not the name is set here: the template's value
		 * may be the real value of another name. */
		if (r == 0 && run->envs[e].values != NULL) {
			r = check_leak(run, e, i, err);
		}
	}
	return r;
}

static int
check_extras(struct run *run, size_t e, struct envx_error *err)
{
	const struct env_index *x = &run->idx[e];
	bool strict = (run->flags & ENVX_CHECK_STRICT) != 0;
	int r = 0;

	/* x->secrets is sorted, so extras come out sorted. */
	for (size_t i = 0; i < x->nsecrets && r == 0; i++) {
		const char *name = x->secrets[i].name;
		const char **row;

		if (envx_template_find(run->t, name) != NULL) {
			continue;
		}
		row = bsearch(&name, run->extras, run->nextras,
		              sizeof(*run->extras), cmp_str);
		if (row != NULL) {
			size_t k = run->t->nvars + (size_t)(row - run->extras);

			run->f->cells[k * run->nenvs + e] = ENVX_CELL_EXTRA;
		}
		r = add_finding(
		        run->f,
		        strict ? ENVX_SEVERITY_ERROR : ENVX_SEVERITY_WARNING,
		        ENVX_FINDING_EXTRA, run->envs[e].name, name, 0, NULL,
		        NULL, err, "set in %s but not in the template",
		        run->envs[e].name);
	}
	return r;
}

/* The same non-empty value for one name in two unlocked environments. */
static int
check_reuse(struct run *run, struct envx_error *err)
{
	struct envx_findings *f = run->f;
	int r = 0;

	for (size_t row = 0; row < f->nrows && r == 0; row++) {
		const char *name = f->rows[row];
		const struct envx_template_var *v =
		        row < run->t->nvars ? &run->t->vars[row] : NULL;

		if (v != NULL && (v->shared || !reuse_checked(&v->type))) {
			continue;
		}
		for (size_t a = 0; a < run->nenvs && r == 0; a++) {
			size_t alen;
			const unsigned char *av =
			        env_value(run, a, name, &alen);

			if (av == NULL || is_blank_value(av, alen)) {
				continue;
			}
			for (size_t b = a + 1; b < run->nenvs && r == 0; b++) {
				size_t blen;
				const unsigned char *bv =
				        env_value(run, b, name, &blen);

				if (bv == NULL || blen != alen ||
				    sodium_memcmp(av, bv, alen) != 0) {
					continue;
				}
				r = add_finding(
				        f, ENVX_SEVERITY_ERROR,
				        ENVX_FINDING_REUSE, run->envs[a].name,
				        name, f->row_lines[row],
				        run->envs[b].name, NULL, err,
				        "same value in %s and %s: use "
				        "separate credentials per "
				        "environment, or mark the name "
				        "@shared in the template",
				        run->envs[a].name, run->envs[b].name);
			}
		}
	}
	return r;
}

/* Rows: the template's names in file order, then every extra name of any
 * environment, sorted and once. */
static int
build_rows(struct run *run, struct envx_error *err)
{
	struct envx_findings *f = run->f;
	size_t total = 0;
	size_t n = 0;
	int r = ENVX_E_INTERNAL;

	for (size_t e = 0; e < run->nenvs; e++) {
		total += run->idx[e].nsecrets;
	}
	run->extras = calloc(total + 1, sizeof(*run->extras));
	if (run->extras == NULL) {
		goto out;
	}
	for (size_t e = 0; e < run->nenvs; e++) {
		for (size_t i = 0; i < run->idx[e].nsecrets; i++) {
			const char *name = run->idx[e].secrets[i].name;

			if (envx_template_find(run->t, name) == NULL) {
				run->extras[n++] = name;
			}
		}
	}
	qsort(run->extras, n, sizeof(*run->extras), cmp_str);
	run->nextras = 0;
	for (size_t i = 0; i < n; i++) {
		if (run->nextras > 0 && strcmp(run->extras[run->nextras - 1],
		                               run->extras[i]) == 0) {
			continue;
		}
		run->extras[run->nextras++] = run->extras[i];
	}
	f->nrows = run->t->nvars + run->nextras;
	f->rows = calloc(f->nrows + 1, sizeof(*f->rows));
	f->row_lines = calloc(f->nrows + 1, sizeof(*f->row_lines));
	f->cells = calloc(f->nrows * run->nenvs + 1, sizeof(*f->cells));
	if (f->rows == NULL || f->row_lines == NULL || f->cells == NULL) {
		goto out;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		const char *name = i < run->t->nvars
		                           ? run->t->vars[i].name
		                           : run->extras[i - run->t->nvars];

		f->rows[i] = dup_str(name);
		if (f->rows[i] == NULL) {
			goto out;
		}
		f->row_lines[i] = i < run->t->nvars ? run->t->vars[i].line : 0;
		for (size_t e = 0; e < run->nenvs; e++) {
			f->cells[i * run->nenvs + e] = ENVX_CELL_ABSENT;
		}
	}
	r = 0;
out:
	if (r < 0) {
		envx_error_set(err, r, "out of memory");
	}
	return r;
}

int
envx_template_check(const struct envx_template *t,
                    const struct envx_check_env *envs, size_t nenvs,
                    unsigned flags, struct envx_findings *out,
                    struct envx_error *err)
{
	struct run run;
	int r = ENVX_E_INTERNAL;

	memset(&run, 0, sizeof(run));
	run.t = t;
	run.envs = envs;
	run.nenvs = nenvs;
	run.flags = flags;
	run.f = out;
	randombytes_buf(run.key, sizeof(run.key));
	if (nenvs == 0) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "no environment to check");
		goto out;
	}
	for (size_t a = 0; a < nenvs; a++) {
		for (size_t b = a + 1; b < nenvs; b++) {
			if (strcmp(envs[a].name, envs[b].name) == 0) {
				r = envx_error_set(err, ENVX_E_INPUT,
				                   "environment '%s' given "
				                   "twice",
				                   envs[a].name);
				goto out;
			}
		}
	}
	out->flags = flags;
	out->template_path = dup_str(t->path);
	out->envs = calloc(nenvs, sizeof(*out->envs));
	run.idx = calloc(nenvs, sizeof(*run.idx));
	if (out->template_path == NULL || out->envs == NULL ||
	    run.idx == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	sanitize(out->template_path);
	out->nenvs = nenvs;
	for (size_t e = 0; e < nenvs; e++) {
		out->envs[e].unlocked = envs[e].values != NULL;
		out->envs[e].name = dup_str(envs[e].name);
		if (out->envs[e].name == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		r = env_index_build(&run, e, err);
		if (r < 0) {
			goto out;
		}
	}
	r = build_rows(&run, err);
	if (r < 0) {
		goto out;
	}
	for (size_t e = 0; e < nenvs; e++) {
		if (envs[e].values == NULL) {
			r = add_finding(out, ENVX_SEVERITY_INFO,
			                ENVX_FINDING_SKIPPED, envs[e].name,
			                NULL, 0, NULL, NULL, err,
			                "cannot unlock %s: checked names and "
			                "rotation schedules only; empty, type, "
			                "leak and reuse checks skipped",
			                envs[e].name);
			if (r < 0) {
				goto out;
			}
		}
		r = check_vars(&run, e, err);
		if (r == 0) {
			r = check_extras(&run, e, err);
		}
		if (r < 0) {
			goto out;
		}
	}
	if ((flags & ENVX_CHECK_ALL) != 0) {
		r = check_reuse(&run, err);
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
out:
	if (run.idx != NULL) {
		for (size_t e = 0; e < nenvs; e++) {
			env_index_release(&run.idx[e]);
		}
	}
	free(run.idx);
	free(run.extras);
	sodium_memzero(run.key, sizeof(run.key));
	if (r < 0) {
		envx_findings_release(out);
	}
	return r;
}

void
envx_findings_init(struct envx_findings *f)
{
	memset(f, 0, sizeof(*f));
}

void
envx_findings_release(struct envx_findings *f)
{
	if (f == NULL) {
		return;
	}
	for (size_t i = 0; i < f->count; i++) {
		finding_release(&f->items[i]);
	}
	free(f->items);
	for (size_t i = 0; i < f->nenvs; i++) {
		free(f->envs[i].name);
	}
	free(f->envs);
	if (f->rows != NULL) {
		for (size_t i = 0; i < f->nrows; i++) {
			free(f->rows[i]);
		}
	}
	free(f->rows);
	free(f->row_lines);
	free(f->cells);
	free(f->template_path);
	memset(f, 0, sizeof(*f));
}

const char *
envx_findings_severity_name(enum envx_severity s)
{
	switch (s) {
	case ENVX_SEVERITY_INFO:
		return "info";
	case ENVX_SEVERITY_WARNING:
		return "warning";
	case ENVX_SEVERITY_ERROR:
		return "error";
	}
	return "?";
}

const char *
envx_findings_kind_name(enum envx_finding_kind k)
{
	switch (k) {
	case ENVX_FINDING_MISSING:
		return "missing";
	case ENVX_FINDING_EMPTY:
		return "empty";
	case ENVX_FINDING_EXTRA:
		return "extra";
	case ENVX_FINDING_TYPE:
		return "type";
	case ENVX_FINDING_ROTATION:
		return "rotation";
	case ENVX_FINDING_LEAK:
		return "leak";
	case ENVX_FINDING_REUSE:
		return "reuse";
	case ENVX_FINDING_SKIPPED:
		return "skipped";
	}
	return "?";
}

const char *
envx_findings_cell_name(enum envx_cell c)
{
	switch (c) {
	case ENVX_CELL_OK:
		return "ok";
	case ENVX_CELL_MISSING:
		return "missing";
	case ENVX_CELL_ABSENT:
		return "absent";
	case ENVX_CELL_EMPTY:
		return "empty";
	case ENVX_CELL_BAD_TYPE:
		return "type";
	case ENVX_CELL_EXTRA:
		return "extra";
	case ENVX_CELL_UNVERIFIED:
		return "unverified";
	}
	return "?";
}
