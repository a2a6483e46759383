/*
 * A name/value list whose bytes live in one sodium_malloc arena, so decrypted
 * or parsed secrets never sit in ordinary heap memory. Growing copies into a
 * fresh arena and frees (wipes) the old one: amortized O(1) per add.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/util.h"
#include "util/banned.h"

void
envx_kvset_init(struct envx_kvset *s)
{
	memset(s, 0, sizeof(*s));
}

void
envx_kvset_init_env(struct envx_kvset *s)
{
	envx_kvset_init(s);
	s->env_form = true;
}

size_t
envx_kvset_pair_bytes(const struct envx_kvset *s, size_t name_len,
                      size_t value_len)
{
	/* "NAME\0" then "value\0" or "NAME=value\0" */
	return name_len + 1 + (s->env_form ? name_len + 1 : 0) + value_len + 1;
}

/* Replaces the arena by one of nsize bytes (at least s->used). */
static int
arena_move(struct envx_kvset *s, size_t nsize, struct envx_error *err)
{
	unsigned char *p = sodium_malloc(nsize);

	if (p == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	if (s->arena != NULL) {
		memcpy(p, s->arena, s->used);
		sodium_free(s->arena);
	}
	s->arena = p;
	s->size = nsize;
	return 0;
}

static int
items_reserve(struct envx_kvset *s, size_t extra, struct envx_error *err)
{
	size_t ncap;
	struct envx_kv *items;

	if (extra <= s->cap - s->count) {
		return 0;
	}
	if (extra > SIZE_MAX / sizeof(*items) - s->count) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	ncap = s->cap ? s->cap * 2 : 16;
	if (ncap < s->count + extra) {
		ncap = s->count + extra;
	}
	items = realloc(s->items, ncap * sizeof(*items));
	if (items == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	s->items = items;
	s->cap = ncap;
	return 0;
}

static int
arena_check(const struct envx_kvset *s, size_t extra, struct envx_error *err)
{
	if (extra > ENVX_KVSET_MAX_BYTES ||
	    s->used > ENVX_KVSET_MAX_BYTES - extra) {
		return envx_error_set(
		        err, ENVX_E_INPUT,
		        "too much secret data: more than %zu bytes",
		        (size_t)ENVX_KVSET_MAX_BYTES);
	}
	return 0;
}

int
envx_kvset_reserve(struct envx_kvset *s, size_t count, size_t bytes,
                   struct envx_error *err)
{
	int r = arena_check(s, bytes, err);

	if (r == 0) {
		r = items_reserve(s, count, err);
	}
	if (r == 0 && s->used + bytes > s->size) {
		/* exactly what was asked for: the caller knows the total */
		r = arena_move(s, s->used + bytes, err);
	}
	return r;
}

static int
arena_reserve(struct envx_kvset *s, size_t extra, struct envx_error *err)
{
	size_t nsize;
	int r = arena_check(s, extra, err);

	if (r < 0) {
		return r;
	}
	if (s->used + extra <= s->size) {
		return 0;
	}
	/* grow by 4: each step is a fresh sodium_malloc region, a copy and
	 * a wipe of the old one, so fewer, larger steps are cheaper */
	nsize = s->size ? s->size * 4 : 16384;
	while (nsize < s->used + extra) {
		nsize *= 4;
	}
	return arena_move(s, nsize, err);
}

int
envx_kvset_add(struct envx_kvset *s, const char *name, size_t name_len,
               const void *value, size_t value_len, unsigned line,
               struct envx_error *err)
{
	unsigned char *dst;
	int r;

	r = envx_kvset_add_reserve(s, name, name_len, value_len, line, &dst,
	                           err);
	if (r == 0 && value_len > 0) {
		memcpy(dst, value, value_len);
	}
	return r;
}

int
envx_kvset_add_reserve(struct envx_kvset *s, const char *name, size_t name_len,
                       size_t value_len, unsigned line, unsigned char **value,
                       struct envx_error *err)
{
	struct envx_kv *kv;
	int r;

	r = items_reserve(s, 1, err);
	if (r < 0) {
		return r;
	}
	if (name_len > SIZE_MAX / 8 || value_len > SIZE_MAX / 8) {
		return envx_error_set(err, ENVX_E_INPUT, "value too large");
	}
	r = arena_reserve(s, envx_kvset_pair_bytes(s, name_len, value_len),
	                  err);
	if (r < 0) {
		return r;
	}
	kv = &s->items[s->count];
	kv->name_off = s->used;
	kv->name_len = name_len;
	memcpy(s->arena + s->used, name, name_len);
	s->arena[s->used + name_len] = '\0';
	s->used += name_len + 1;
	if (s->env_form) {
		memcpy(s->arena + s->used, name, name_len);
		s->arena[s->used + name_len] = '=';
		s->used += name_len + 1;
	}
	kv->value_off = s->used;
	kv->value_len = value_len;
	*value = s->arena + s->used;
	s->arena[s->used + value_len] = '\0';
	s->used += value_len + 1;
	kv->line = line;
	s->count++;
	return 0;
}

const char *
envx_kvset_name(const struct envx_kvset *s, size_t i)
{
	return (const char *)s->arena + s->items[i].name_off;
}

const unsigned char *
envx_kvset_value(const struct envx_kvset *s, size_t i, size_t *len)
{
	if (len != NULL) {
		*len = s->items[i].value_len;
	}
	return s->arena + s->items[i].value_off;
}

const char *
envx_kvset_env_string(const struct envx_kvset *s, size_t i)
{
	if (!s->env_form) {
		return NULL;
	}
	return (const char *)s->arena + s->items[i].value_off -
	       s->items[i].name_len - 1;
}

ssize_t
envx_kvset_find(const struct envx_kvset *s, const char *name)
{
	size_t i;

	for (i = s->count; i > 0; i--) {
		if (strcmp(envx_kvset_name(s, i - 1), name) == 0) {
			return (ssize_t)(i - 1);
		}
	}
	return -1;
}

/* qsort is not stable, so ties are broken by original position. */
static const struct envx_kvset *sort_set;

static int
kv_cmp(const void *a, const void *b)
{
	const struct envx_kv *x = a;
	const struct envx_kv *y = b;
	int c = strcmp((const char *)sort_set->arena + x->name_off,
	               (const char *)sort_set->arena + y->name_off);

	if (c != 0) {
		return c;
	}
	return x->line < y->line ? -1 : (x->line > y->line ? 1 : 0);
}

void
envx_kvset_sort(struct envx_kvset *s)
{
	size_t i;
	size_t out;
	unsigned *lines;

	if (s->count < 2) {
		return;
	}
	/* already strictly increasing (a vault's rows come out in name
	 * order): nothing to sort and no duplicates to drop */
	for (i = 1; i < s->count; i++) {
		if (strcmp(envx_kvset_name(s, i - 1), envx_kvset_name(s, i)) >=
		    0) {
			break;
		}
	}
	if (i == s->count) {
		return;
	}
	/* Use the line field as the tie-breaker, restoring it afterwards. */
	lines = malloc(s->count * sizeof(*lines));
	if (lines != NULL) {
		for (i = 0; i < s->count; i++) {
			lines[i] = s->items[i].line;
			s->items[i].line = (unsigned)i;
		}
	}
	sort_set = s;
	qsort(s->items, s->count, sizeof(s->items[0]), kv_cmp);
	sort_set = NULL;
	if (lines != NULL) {
		for (i = 0; i < s->count; i++) {
			s->items[i].line = lines[s->items[i].line];
		}
		free(lines);
	}
	out = 0;
	for (i = 0; i < s->count; i++) {
		if (i + 1 < s->count &&
		    strcmp(envx_kvset_name(s, i), envx_kvset_name(s, i + 1)) ==
		            0) {
			/* an earlier duplicate: wipe its value, keep the last
			 */
			sodium_memzero(s->arena + s->items[i].value_off,
			               s->items[i].value_len);
			continue;
		}
		s->items[out++] = s->items[i];
	}
	s->count = out;
}

ssize_t
envx_kvset_bsearch(const struct envx_kvset *s, const char *name)
{
	size_t lo = 0;
	size_t hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(envx_kvset_name(s, mid), name);
		if (c == 0) {
			return (ssize_t)mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

void
envx_kvset_release(struct envx_kvset *s)
{
	if (s == NULL) {
		return;
	}
	bool env_form = s->env_form;

	sodium_free(s->arena);
	free(s->items);
	memset(s, 0, sizeof(*s));
	s->env_form = env_form; /* a released set is reused as it was made */
}

/* ---- string vectors ---- */

size_t
envx_strv_unique(const char **v, size_t n)
{
	size_t out = 0;
	size_t i;
	size_t j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < out && strcmp(v[j], v[i]) != 0; j++) {
		}
		if (j == out) {
			v[out++] = v[i];
		}
	}
	return out;
}

void
envx_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		free(v[i]);
	}
	free(v);
}
