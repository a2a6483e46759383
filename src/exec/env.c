/*
 * Building a child's environment from the parent's and a set of secrets
 * (DESIGN §5) in O(n log n): both sides are sorted by name once and merged,
 * then written in the parent's order into one sodium_malloc arena (secrets
 * a set already holds as "NAME=value" strings are pointed to, not copied).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/exec.h"
#include "util/banned.h"

#define ENV_VAR "ENVX_ENV"

struct ent {
	const char *name;
	size_t nlen;
	size_t idx;
};

/* What becomes of each parent entry. */
#define P_DROP SIZE_MAX       /* not passed on */
#define P_KEEP (SIZE_MAX - 1) /* passed on unchanged */
#define P_ENVX (SIZE_MAX - 2) /* replaced by ENVX_ENV=env_name */
/* otherwise: replaced by the secret with that index */

static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a;
	const struct ent *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c = memcmp(x->name, y->name, n);

	if (c != 0) {
		return c;
	}
	if (x->nlen != y->nlen) {
		return x->nlen < y->nlen ? -1 : 1;
	}
	return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

/* True when v[0..n) is already in ent_cmp order: a vault's set arrives
 * sorted by name, and qsort would still cost n log n comparisons. */
static bool
in_order(const struct ent *v, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++) {
		if (ent_cmp(&v[i - 1], &v[i]) > 0) {
			return false;
		}
	}
	return true;
}

static bool
name_is(const char *name, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static int
name_cmp(const struct ent *x, const struct ent *y)
{
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c = memcmp(x->name, y->name, n);

	if (c != 0) {
		return c;
	}
	return x->nlen < y->nlen ? -1 : (x->nlen > y->nlen ? 1 : 0);
}

void
envx_exec_env_init(struct envx_exec_env *e)
{
	memset(e, 0, sizeof(*e));
}

void
envx_exec_env_release(struct envx_exec_env *e)
{
	if (e->arena != NULL) {
		sodium_free(e->arena);
	}
	free(e->envp);
	free(e->skipped);
	memset(e, 0, sizeof(*e));
}

static int
check_secret(const struct envx_kvset *secrets, size_t i, struct envx_error *err)
{
	const char *name = envx_kvset_name(secrets, i);
	size_t nlen = strlen(name);
	size_t vlen;
	const unsigned char *v = envx_kvset_value(secrets, i, &vlen);

	if (nlen != secrets->items[i].name_len ||
	    !envx_name_valid(name, nlen)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "cannot pass secret '%.64s' to the "
		                      "command: invalid name",
		                      name);
	}
	if (vlen > 0 && memchr(v, '\0', vlen) != NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "cannot pass secret '%s' to the command: "
		                      "its value contains a NUL byte",
		                      name);
	}
	return 0;
}

/* ENVX_E_INPUT when secret i cannot be one environment string. */
static int
check_fits(const struct envx_kvset *secrets, size_t i, struct envx_error *err)
{
	size_t nlen = secrets->items[i].name_len;
	size_t vlen = secrets->items[i].value_len;

	if (envx_exec_fits(nlen, vlen)) {
		return 0;
	}
	return envx_error_set(
	        err, ENVX_E_INPUT,
	        "cannot pass secret '%s' to the command: "
	        "'%s=value' is %zu bytes and Linux passes at most "
	        "%zu per environment string (MAX_ARG_STRLEN); "
	        "read it with 'envx get' or 'envx export', or "
	        "store it in a file and pass its path",
	        envx_kvset_name(secrets, i), envx_kvset_name(secrets, i),
	        nlen + vlen + 2, ENVX_EXEC_STRING_MAX);
}

bool
envx_exec_fits(size_t name_len, size_t value_len)
{
	return name_len < ENVX_EXEC_STRING_MAX &&
	       value_len <= ENVX_EXEC_STRING_MAX - name_len - 2;
}

/* Appends "name=value\0" to the arena and returns its start. */
static char *
put(unsigned char *arena, size_t *used, const char *name, size_t nlen,
    const void *value, size_t vlen)
{
	char *s = (char *)arena + *used;

	memcpy(s, name, nlen);
	s[nlen] = '=';
	if (vlen > 0) {
		memcpy(s + nlen + 1, value, vlen);
	}
	s[nlen + 1 + vlen] = '\0';
	*used += nlen + vlen + 2;
	return s;
}

/* The arena bytes secret i takes: none when the set holds it as a
 * "NAME=value" string already (envx_kvset_init_env). */
static size_t
copied(const struct envx_kvset *secrets, size_t i)
{
	if (envx_kvset_env_string(secrets, i) != NULL) {
		return 0;
	}
	return secrets->items[i].name_len + secrets->items[i].value_len + 2;
}

/* Secret i as an environment string: the set's own, or a copy in e's
 * arena. */
static char *
secret_string(struct envx_exec_env *e, size_t *used,
              const struct envx_kvset *secrets, size_t i)
{
	const char *s = envx_kvset_env_string(secrets, i);
	size_t vlen;
	const unsigned char *v;

	if (s != NULL) {
		return (char *)s;
	}
	v = envx_kvset_value(secrets, i, &vlen);
	return put(e->arena, used, envx_kvset_name(secrets, i),
	           secrets->items[i].name_len, v, vlen);
}

/* Whether name (len bytes) is one of allowed[0..n). */
static bool
is_allowed(const char *name, size_t len, const char *const *allowed, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (name_is(name, len, allowed[i])) {
			return true;
		}
	}
	return false;
}

int
envx_exec_env_build(struct envx_exec_env *e, char *const *parent,
                    const struct envx_kvset *secrets, const char *env_name,
                    unsigned flags, struct envx_error *err)
{
	return envx_exec_env_build_allowing(e, parent, secrets, env_name, flags,
	                                    NULL, 0, err);
}

int
envx_exec_env_build_allowing(struct envx_exec_env *e, char *const *parent,
                             const struct envx_kvset *secrets,
                             const char *env_name, unsigned flags,
                             const char *const *allowed, size_t nallowed,
                             struct envx_error *err)
{
	struct ent *pe = NULL;
	struct ent *se = NULL;
	size_t *pfate = NULL;
	unsigned char *inject = NULL; /* per secret: 1 = new name, 2 = used */
	size_t np = 0;
	size_t npar = 0;
	size_t ns = 0;
	size_t nsec = secrets != NULL ? secrets->count : 0;
	size_t i;
	size_t j;
	size_t size = 1;
	size_t count = 0;
	size_t used = 0;
	bool envx_placed = false;
	bool keep = (flags & ENVX_EXEC_KEEP_EXISTING) != 0;
	int r = ENVX_E_INTERNAL;

	envx_exec_env_init(e);
	while (parent != NULL && parent[npar] != NULL) {
		npar++;
	}
	pe = calloc(npar + 1, sizeof(*pe));
	pfate = calloc(npar + 1, sizeof(*pfate));
	se = calloc(nsec + 1, sizeof(*se));
	inject = calloc(nsec + 1, 1);
	e->skipped = calloc(nsec + 1, sizeof(*e->skipped));
	if (pe == NULL || pfate == NULL || se == NULL || inject == NULL ||
	    e->skipped == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < npar; i++) {
		const char *eq = strchr(parent[i], '=');

		pfate[i] = P_DROP;
		if (eq == NULL || eq == parent[i]) {
			continue;
		}
		pe[np].name = parent[i];
		pe[np].nlen = (size_t)(eq - parent[i]);
		pe[np].idx = i;
		np++;
	}
	for (i = 0; i < nsec; i++) {
		r = check_secret(secrets, i, err);
		if (r < 0) {
			goto out;
		}
		se[i].name = envx_kvset_name(secrets, i);
		se[i].nlen = secrets->items[i].name_len;
		se[i].idx = i;
	}
	ns = nsec;
	qsort(pe, np, sizeof(*pe), ent_cmp);
	if (!in_order(se, ns)) {
		qsort(se, ns, sizeof(*se), ent_cmp);
	}

	/* Parent: the first of each name survives, key material does not. */
	for (i = 0; i < np; i++) {
		if (i > 0 && name_cmp(&pe[i - 1], &pe[i]) == 0) {
			continue;
		}
		if (name_is(pe[i].name, pe[i].nlen, "ENVX_IDENTITY") ||
		    name_is(pe[i].name, pe[i].nlen, "ENVX_PASSPHRASE")) {
			continue;
		}
		if (env_name != NULL &&
		    name_is(pe[i].name, pe[i].nlen, ENV_VAR)) {
			pfate[pe[i].idx] = P_ENVX;
			envx_placed = true;
			continue;
		}
		pfate[pe[i].idx] = P_KEEP;
	}
	/* Secrets: the last of each name, merged against the parent. */
	j = 0;
	for (i = 0; i < ns; i++) {
		const struct ent *s = &se[i];
		int c = 1;

		if (i + 1 < ns && name_cmp(s, &se[i + 1]) == 0) {
			continue;
		}
		if (envx_name_refused(s->name, s->nlen) != NULL &&
		    !is_allowed(s->name, s->nlen, allowed, nallowed)) {
			inject[s->idx] = 3;
			continue;
		}
		if (env_name != NULL && name_is(s->name, s->nlen, ENV_VAR)) {
			continue;
		}
		while (j < np && (c = name_cmp(&pe[j], s)) < 0) {
			j++;
		}
		/* pe[j] is the first (surviving) parent entry of the name. */
		if (j < np && c == 0 && pfate[pe[j].idx] == P_KEEP) {
			if (!keep) {
				pfate[pe[j].idx] = s->idx;
			}
			continue;
		}
		inject[s->idx] = 1;
	}

	/* Size the arena, then write everything in the parent's order. */
	for (i = 0; i < npar; i++) {
		if (pfate[i] == P_DROP) {
			continue;
		}
		count++;
		if (pfate[i] == P_KEEP) {
			size += strlen(parent[i]) + 1;
		} else if (pfate[i] == P_ENVX) {
			size += strlen(ENV_VAR) + strlen(env_name) + 2;
		} else {
			r = check_fits(secrets, pfate[i], err);
			if (r < 0) {
				goto out;
			}
			size += copied(secrets, pfate[i]);
		}
	}
	for (i = 0; i < nsec; i++) {
		if (inject[i] == 1) {
			r = check_fits(secrets, i, err);
			if (r < 0) {
				goto out;
			}
			count++;
			size += copied(secrets, i);
		} else if (inject[i] == 3) {
			e->skipped[e->nskipped++] = i;
		}
	}
	if (env_name != NULL && !envx_placed) {
		count++;
		size += strlen(ENV_VAR) + strlen(env_name) + 2;
	}
	e->envp = calloc(count + 1, sizeof(*e->envp));
	e->arena = sodium_malloc(size);
	if (e->envp == NULL || e->arena == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	e->arena_size = size;
	for (i = 0; i < npar; i++) {
		size_t k = pfate[i];

		if (k == P_DROP) {
			continue;
		}
		if (k == P_KEEP) {
			size_t len = strlen(parent[i]);

			e->envp[e->count] = (char *)e->arena + used;
			memcpy(e->arena + used, parent[i], len + 1);
			used += len + 1;
		} else if (k == P_ENVX) {
			e->envp[e->count] =
			        put(e->arena, &used, ENV_VAR, strlen(ENV_VAR),
			            env_name, strlen(env_name));
		} else {
			e->envp[e->count] = secret_string(e, &used, secrets, k);
		}
		e->count++;
	}
	for (i = 0; i < nsec; i++) {
		if (inject[i] == 1) {
			e->envp[e->count++] =
			        secret_string(e, &used, secrets, i);
		}
	}
	if (env_name != NULL && !envx_placed) {
		e->envp[e->count++] =
		        put(e->arena, &used, ENV_VAR, strlen(ENV_VAR), env_name,
		            strlen(env_name));
	}
	e->envp[e->count] = NULL;
	r = 0;
out:
	free(pe);
	free(pfate);
	free(se);
	free(inject);
	if (r < 0) {
		envx_exec_env_release(e);
	}
	return r;
}
