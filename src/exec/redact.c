/*
 * Streaming multi-pattern redaction: an Aho-Corasick automaton over every
 * secret value and its encoded forms (dense byte-class DFA when small,
 * goto/fail links when large), entered only at positions a two-level
 * prefilter (a block bitmap over a window as long as the shortest pattern,
 * then a hashed first-four-bytes bitmap) cannot rule out, so runs of ordinary
 * output are passed through as one zero-copy emit. Semantics are in
 * envx/redact.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/redact.h"
#include "exec/forms.h"
#include "util/banned.h"

#define NONE UINT32_MAX
/* Largest dense transition table; past it the automaton stays sparse. */
#define DENSE_MAX_BYTES ((size_t)32 * 1024 * 1024)
#define BLOCK_BYTES     (65536 / 8)
/* The prefilter window: the shortest pattern, capped (see prefilter()). */
#define WINDOW_MAX 16
/* From this window on, blocks are hashed four-byte words. */
#define WIDE_MIN     6
#define LABEL_PREFIX "[redacted:"
/* Keeps automaton state ids within 32 bits whatever the set's size. */
#define ENVX_REDACT_FORMS_MAX_BYTES ((size_t)1 << 30)

struct pattern {
	uint64_t key; /* first 8 bytes, big-endian, zero-padded: sorts first */
	const unsigned char *p;
	size_t len;
	size_t idx; /* index in the secrets set */
};

struct envx_redact {
	size_t npat;
	size_t nvalues;
	size_t maxlen;
	uint32_t nstates;
	uint32_t nclass;
	unsigned qshift;
	unsigned wshift;  /* wide mode: block bitmap index = top bits */
	size_t win;       /* every pattern is at least this long */
	size_t stride;    /* starts one block check rules out */
	int wide;         /* blocks are hashed 4-byte words, not 2 bytes */
	size_t block_len; /* bytes of the block bitmap */
	/* One sodium_malloc arena: every table below reveals the values. */
	unsigned char *arena;
	uint32_t *first_child;
	uint32_t *fail;
	uint32_t *depth;
	uint32_t *out; /* longest value ending in this state, or NONE */
	uint32_t *plen;
	uint32_t *root_next;
	uint32_t *next1; /* 256 transitions per child of the root */
	uint16_t *nchild;
	unsigned char *byte;  /* byte on the edge into the state */
	unsigned char *cls;   /* byte -> class (dense mode) */
	unsigned char *block; /* blocks of each pattern's first win bytes */
	unsigned char *quad;
	/* Dense DFA, nstates x nclass, or NULL (sparse mode). */
	uint32_t *dfa;
	/* Labels are names, not values: ordinary heap. */
	char *labels;
	size_t *label_off; /* npat + 1 offsets into labels */
};

struct match {
	uint64_t e; /* absolute offset of the last byte */
	uint32_t id;
};

struct envx_redact_stream {
	uint32_t q;
	int in_dfa;
	uint64_t pos;      /* absolute offset of the next input byte */
	uint64_t cur;      /* first byte neither emitted nor replaced */
	uint64_t hold_off; /* absolute offset of hold[0] */
	unsigned char *hold;
	size_t hold_len;
	size_t hold_cap;
	struct match *m; /* known occurrences ending at or after cur */
	size_t mhead;
	size_t mlen;
	size_t mcap;
	size_t best; /* index in m, or SIZE_MAX */
	uint64_t best_es;
};

struct feed {
	const unsigned char *chunk;
	uint64_t chunk_off;
	envx_emit_fn emit;
	void *ctx;
};

static void
pattern_set(struct pattern *pat, const unsigned char *p, size_t len, size_t idx)
{
	size_t i;

	pat->key = 0;
	for (i = 0; i < 8; i++) {
		pat->key = pat->key << 8 | (i < len ? p[i] : 0);
	}
	pat->p = p;
	pat->len = len;
	pat->idx = idx;
}

static int
pattern_cmp(const void *a, const void *b)
{
	const struct pattern *x = a;
	const struct pattern *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	/* Keys order like the bytes: where they differ, either both hold
	 * pattern bytes or the shorter's zero padding meets a non-zero byte of
	 * a pattern it is a prefix of. */
	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	c = memcmp(x->p, y->p, n);
	if (c != 0) {
		return c;
	}
	if (x->len != y->len) {
		return x->len < y->len ? -1 : 1;
	}
	return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

static size_t
common_prefix(const struct pattern *a, const struct pattern *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	size_t i = 0;

	while (i < n && a->p[i] == b->p[i]) {
		i++;
	}
	return i;
}

static uint32_t
quad_hash(const unsigned char *p, unsigned shift)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return (uint32_t)(w * UINT32_C(0x9E3779B1)) >> shift;
}

static uint32_t
wide_hash(const unsigned char *p, unsigned shift)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return (uint32_t)(w * UINT32_C(0x85EBCA6B)) >> shift;
}

static uint32_t
find_child(const struct envx_redact *r, uint32_t q, unsigned char b)
{
	uint32_t lo;
	uint32_t hi;

	if (q == 0) {
		return r->root_next[b];
	}
	lo = r->first_child[q];
	hi = lo + r->nchild[q];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->byte[mid] == b) {
			return mid;
		}
		if (r->byte[mid] < b) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return 0;
}

/* The root's children are states 1 .. nchild[0] (breadth-first ids) and fail
 * to the root: their transitions are tabulated once children are known. */
static uint32_t
sparse_step(const struct envx_redact *r, uint32_t q, unsigned char b)
{
	for (;;) {
		uint32_t v;

		if (q <= r->nchild[0]) {
			return q == 0 ? r->root_next[b]
			              : r->next1[(size_t)(q - 1) * 256 + b];
		}
		v = find_child(r, q, b);
		if (v != 0) {
			return v;
		}
		q = r->fail[q];
	}
}

static inline uint32_t
dense_step(const struct envx_redact *r, uint32_t q, unsigned char b)
{
	return r->dfa[(size_t)q * r->nclass + r->cls[b]];
}

/* Sorts pats[0 .. n) and drops repeated byte strings, keeping the one of the
 * lowest idx (it sorts first). Returns the number kept. */
static size_t
sort_dedupe(struct pattern *pats, size_t n)
{
	size_t i;
	size_t k = 0;

	qsort(pats, n, sizeof(*pats), pattern_cmp);
	for (i = 0; i < n; i++) {
		if (k > 0 && pats[k - 1].len == pats[i].len &&
		    memcmp(pats[k - 1].p, pats[i].p, pats[i].len) == 0) {
			continue;
		}
		pats[k++] = pats[i];
	}
	return k;
}

/*
 * The patterns: every distinct value of at least ENVX_REDACT_MIN_BYTES
 * bytes, then the derived forms of each (exec/forms.h), written into one
 * sodium_malloc buffer *forms_out the caller wipes and frees once the
 * automaton is built. *nvalues counts the distinct values.
 */
static int
collect(const struct envx_kvset *secrets, struct pattern **out, size_t *npat,
        size_t *nvalues, unsigned char **forms_out, size_t *forms_bytes,
        struct envx_error *err)
{
	struct pattern *pats = NULL;
	unsigned char *buf = NULL;
	size_t bytes = 0;
	size_t n = 0;
	size_t nv;
	size_t i;
	size_t at = 0;
	int r = ENVX_E_INTERNAL;

	*out = NULL;
	*npat = 0;
	*nvalues = 0;
	*forms_out = NULL;
	*forms_bytes = 0;
	if (secrets == NULL || secrets->count == 0) {
		r = 0;
		goto out;
	}
	if (secrets->count > SIZE_MAX / sizeof(*pats) / (ENVX_FORMS_MAX + 1)) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	pats = calloc(secrets->count * (ENVX_FORMS_MAX + 1), sizeof(*pats));
	if (pats == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < secrets->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(secrets, i, &len);

		if (len >= ENVX_REDACT_MIN_BYTES) {
			pattern_set(&pats[n++], v, len, i);
		}
	}
	/* Equal values: keep the first pair's name. */
	nv = sort_dedupe(pats, n);
	n = nv;
	for (i = 0; i < nv; i++) {
		size_t b = envx_forms_derive(pats[i].p, pats[i].len,
		                             ENVX_REDACT_MIN_BYTES, NULL, NULL,
		                             NULL);

		if (b > ENVX_REDACT_FORMS_MAX_BYTES - bytes) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "too many secret bytes to redact");
			goto out;
		}
		bytes += b;
	}
	buf = sodium_malloc(bytes > 0 ? bytes : 1);
	if (buf == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	for (i = 0; i < nv; i++) {
		struct envx_form f[ENVX_FORMS_MAX];
		size_t nf = 0;
		size_t j;
		size_t b = envx_forms_derive(pats[i].p, pats[i].len,
		                             ENVX_REDACT_MIN_BYTES, buf + at, f,
		                             &nf);

		for (j = 0; j < nf; j++) {
			pattern_set(&pats[n++], buf + at + f[j].off, f[j].len,
			            pats[i].idx);
		}
		at += b;
		sodium_memzero(f, sizeof(f));
	}
	/* A form equal to the value, or to another value's form, is one
	 * pattern labelled with the lowest name. */
	*npat = sort_dedupe(pats, n);
	*nvalues = nv;
	*out = pats;
	*forms_out = buf;
	*forms_bytes = bytes;
	pats = NULL;
	buf = NULL;
	r = 0;
out:
	if (pats != NULL) {
		sodium_memzero(pats, secrets->count * (ENVX_FORMS_MAX + 1) *
		                             sizeof(*pats));
	}
	free(pats);
	if (buf != NULL) {
		sodium_memzero(buf, bytes);
		sodium_free(buf);
	}
	return r;
}

static int
build_labels(struct envx_redact *rd, const struct envx_kvset *secrets,
             const struct pattern *pats, struct envx_error *err)
{
	size_t total = 0;
	size_t i;
	size_t plen = strlen(LABEL_PREFIX);
	int r = ENVX_E_INTERNAL;

	rd->label_off = calloc(rd->npat + 1, sizeof(*rd->label_off));
	if (rd->label_off == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < rd->npat; i++) {
		rd->label_off[i] = total;
		total += plen + strlen(envx_kvset_name(secrets, pats[i].idx)) +
		         1;
	}
	rd->label_off[rd->npat] = total;
	rd->labels = malloc(total + 1);
	if (rd->labels == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < rd->npat; i++) {
		char *dst = rd->labels + rd->label_off[i];
		const char *name = envx_kvset_name(secrets, pats[i].idx);
		size_t nlen = strlen(name);

		memcpy(dst, LABEL_PREFIX, plen);
		memcpy(dst + plen, name, nlen);
		dst[plen + nlen] = ']';
	}
	r = 0;
out:
	return r;
}

/* Carves the arena into the node tables for at most nmax states. */
static int
alloc_tables(struct envx_redact *rd, size_t nmax, unsigned qbits,
             struct envx_error *err)
{
	size_t quad_bytes = ((size_t)1 << qbits) / 8;
	size_t u32s = 4 * nmax + rd->npat + 256 + 256 * 256;
	size_t size =
	        u32s * 4 + nmax * 2 + nmax + 256 + rd->block_len + quad_bytes;
	unsigned char *p;

	/* sodium_malloc places the block at the end of a page: only a size
	 * that is a multiple of the alignment gives an aligned start. */
	size = (size + 15) & ~(size_t)15;
	rd->arena = sodium_malloc(size);
	if (rd->arena == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	memset(rd->arena, 0, size);
	p = rd->arena;
	rd->first_child = (uint32_t *)(void *)p;
	rd->fail = rd->first_child + nmax;
	rd->depth = rd->fail + nmax;
	rd->out = rd->depth + nmax;
	rd->plen = rd->out + nmax;
	rd->root_next = rd->plen + rd->npat;
	rd->next1 = rd->root_next + 256;
	p += u32s * 4;
	rd->nchild = (uint16_t *)(void *)p;
	p += nmax * 2;
	rd->byte = p;
	p += nmax;
	rd->cls = p;
	p += 256;
	rd->block = p;
	p += rd->block_len;
	rd->quad = p;
	rd->qshift = 32 - qbits;
	return 0;
}

/*
 * Breadth-first trie over the sorted patterns: every node is a range of
 * patterns sharing its prefix, so a node's children get consecutive ids in
 * byte order (binary-searchable, no edge lists) and ids grow with depth.
 */
static int
build_trie(struct envx_redact *rd, const struct pattern *pats, size_t nmax,
           struct envx_error *err)
{
	uint32_t *lo = NULL;
	uint32_t *hi = NULL;
	uint32_t *term = NULL;
	size_t n = 1;
	size_t u;
	int r = ENVX_E_INTERNAL;

	lo = malloc(nmax * sizeof(*lo));
	hi = malloc(nmax * sizeof(*hi));
	term = malloc(nmax * sizeof(*term));
	if (lo == NULL || hi == NULL || term == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	lo[0] = 0;
	hi[0] = (uint32_t)rd->npat;
	rd->depth[0] = 0;
	for (u = 0; u < n; u++) {
		uint32_t k = rd->depth[u];
		uint32_t a = lo[u];
		uint32_t b = hi[u];

		term[u] = NONE;
		/* Only one (deduplicated) value can end here; it sorts first.
		 */
		if (u != 0 && pats[a].len == k) {
			term[u] = a;
			a++;
		}
		rd->first_child[u] = (uint32_t)n;
		while (a < b) {
			unsigned char c = pats[a].p[k];
			uint32_t j = a + 1;

			while (j < b && pats[j].p[k] == c) {
				j++;
			}
			lo[n] = a;
			hi[n] = j;
			rd->depth[n] = k + 1;
			rd->byte[n] = c;
			rd->nchild[u]++;
			n++;
			a = j;
		}
	}
	rd->nstates = (uint32_t)n;
	for (u = 0; u < rd->nchild[0]; u++) {
		uint32_t v = rd->first_child[0] + (uint32_t)u;

		rd->root_next[rd->byte[v]] = v;
	}
	for (u = 1; u <= rd->nchild[0]; u++) {
		uint32_t *row = rd->next1 + (u - 1) * 256;
		unsigned c;

		for (c = 0; c < 256; c++) {
			uint32_t v =
			        find_child(rd, (uint32_t)u, (unsigned char)c);

			row[c] = v != 0 ? v : rd->root_next[c];
		}
	}
	/* Fail links and outputs in id order: a fail target is shallower,
	 * hence already final. */
	rd->fail[0] = 0;
	rd->out[0] = NONE;
	for (u = 1; u < n; u++) {
		uint32_t f = rd->fail[u];
		uint32_t c;

		rd->out[u] = term[u] != NONE ? term[u] : rd->out[f];
		for (c = 0; c < rd->nchild[u]; c++) {
			uint32_t v = rd->first_child[u] + c;

			rd->fail[v] =
			        u == 0 ? 0 : sparse_step(rd, f, rd->byte[v]);
		}
	}
	/* Root children fail to the root (set by memset); nothing else to do.
	 */
	r = 0;
out:
	free(lo);
	free(hi);
	free(term);
	return r;
}

static int
build_dense(struct envx_redact *rd, struct envx_error *err)
{
	size_t c;
	size_t u;
	size_t size;
	uint32_t k = 1;

	for (c = 0; c < 256; c++) {
		rd->cls[c] = 0;
	}
	for (u = 1; u < rd->nstates; u++) {
		if (rd->cls[rd->byte[u]] == 0) {
			rd->cls[rd->byte[u]] = 1;
		}
	}
	for (c = 0; c < 256; c++) {
		if (rd->cls[c] != 0) {
			rd->cls[c] = (unsigned char)k++;
		}
	}
	/* Up to 257 classes do not fit a byte: stay sparse then. */
	if (k > 256) {
		return 0;
	}
	rd->nclass = k;
	if ((size_t)rd->nstates > DENSE_MAX_BYTES / 4 / k) {
		return 0;
	}
	size = (size_t)rd->nstates * k * 4;
	rd->dfa = sodium_malloc(size);
	if (rd->dfa == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	memset(rd->dfa, 0, size);
	for (u = 0; u < rd->nstates; u++) {
		uint32_t *row = rd->dfa + u * k;
		uint32_t i;

		if (u != 0) {
			memcpy(row, rd->dfa + (size_t)rd->fail[u] * k, k * 4);
		}
		for (i = 0; i < rd->nchild[u]; i++) {
			uint32_t v = rd->first_child[u] + i;

			row[rd->cls[rd->byte[v]]] = v;
		}
	}
	return 0;
}

/*
 * The prefilter's window is the shortest pattern, up to WINDOW_MAX: one
 * block check at the window's end then rules out every start inside it.
 * Short windows use two-byte blocks (a direct 64 Kib bitmap); longer ones
 * hashed four-byte words, whose bitmap grows with the set to stay sparse.
 */
static void
choose_window(struct envx_redact *rd, const struct pattern *pats, size_t npat)
{
	size_t i;
	size_t bits = (size_t)1 << 15;

	rd->win = WINDOW_MAX;
	for (i = 0; i < npat; i++) {
		if (pats[i].len < rd->win) {
			rd->win = pats[i].len;
		}
	}
	rd->wide = rd->win >= WIDE_MIN;
	if (!rd->wide) {
		rd->stride = rd->win - 1;
		rd->block_len = BLOCK_BYTES;
		return;
	}
	rd->stride = rd->win - 3;
	while (bits < ((size_t)1 << 25) && bits < npat * rd->stride * 16) {
		bits <<= 1;
	}
	rd->block_len = bits / 8;
	rd->wshift = 32;
	while (bits > 1) {
		bits >>= 1;
		rd->wshift--;
	}
}

int
envx_redact_new(struct envx_redact **out, const struct envx_kvset *secrets,
                struct envx_error *err)
{
	struct envx_redact *rd = NULL;
	struct pattern *pats = NULL;
	unsigned char *forms = NULL;
	size_t forms_bytes = 0;
	size_t npat = 0;
	size_t total = 0;
	size_t i;
	unsigned qbits = 12;
	int r = ENVX_E_INTERNAL;

	*out = NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	r = collect(secrets, &pats, &npat, &rd->nvalues, &forms, &forms_bytes,
	            err);
	if (r < 0) {
		goto out;
	}
	rd->npat = npat;
	for (i = 0; i < npat; i++) {
		/* pats is sorted: a pattern adds a state per byte past the
		 * prefix it shares with the one before it. */
		total += pats[i].len -
		         (i > 0 ? common_prefix(&pats[i - 1], &pats[i]) : 0);
		if (pats[i].len > rd->maxlen) {
			rd->maxlen = pats[i].len;
		}
	}
	if (npat == 0) {
		*out = rd;
		rd = NULL;
		r = 0;
		goto out;
	}
	/* total (the trie's states) is bounded by ENVX_KVSET_MAX_BYTES and
	 * ENVX_REDACT_FORMS_MAX_BYTES, so ids fit 32 bits. */
	while (qbits < 24 && ((size_t)1 << qbits) < npat * 64) {
		qbits++;
	}
	choose_window(rd, pats, npat);
	r = build_labels(rd, secrets, pats, err);
	if (r < 0) {
		goto out;
	}
	r = alloc_tables(rd, total + 1, qbits, err);
	if (r < 0) {
		goto out;
	}
	for (i = 0; i < npat; i++) {
		uint32_t h = quad_hash(pats[i].p, rd->qshift);
		size_t o;

		rd->plen[i] = (uint32_t)pats[i].len;
		/* sorted: equal first win bytes are neighbours, same bits */
		if (i > 0 && common_prefix(&pats[i - 1], &pats[i]) >= rd->win) {
			continue;
		}
		rd->quad[h >> 3] |= (unsigned char)(1u << (h & 7));
		for (o = 0; o < rd->stride; o++) {
			uint32_t b;

			if (rd->wide) {
				b = wide_hash(pats[i].p + o, rd->wshift);
			} else {
				uint16_t b2;

				memcpy(&b2, pats[i].p + o, sizeof(b2));
				b = b2;
			}
			rd->block[b >> 3] |= (unsigned char)(1u << (b & 7));
		}
	}
	r = build_trie(rd, pats, total + 1, err);
	if (r < 0) {
		goto out;
	}
	r = build_dense(rd, err);
	if (r < 0) {
		goto out;
	}
	*out = rd;
	rd = NULL;
	r = 0;
out:
	if (pats != NULL) {
		sodium_memzero(pats, npat * sizeof(*pats));
	}
	free(pats);
	if (forms != NULL) {
		sodium_memzero(forms, forms_bytes);
		sodium_free(forms);
	}
	envx_redact_free(rd);
	return r;
}

void
envx_redact_free(struct envx_redact *r)
{
	if (r == NULL) {
		return;
	}
	if (r->arena != NULL) {
		sodium_free(r->arena);
	}
	if (r->dfa != NULL) {
		sodium_free(r->dfa);
	}
	free(r->labels);
	free(r->label_off);
	free(r);
}

size_t
envx_redact_count(const struct envx_redact *r)
{
	return r->nvalues;
}

int
envx_redact_stream_new(struct envx_redact_stream **out,
                       const struct envx_redact *r, struct envx_error *err)
{
	struct envx_redact_stream *s = NULL;
	int rc = ENVX_E_INTERNAL;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	s->best = SIZE_MAX;
	if (r->npat > 0) {
		/* Held bytes never exceed the longest value; known matches
		 * end at distinct offsets within one more than that. */
		s->hold_cap = r->maxlen;
		s->hold = sodium_malloc(s->hold_cap);
		s->mcap = r->maxlen + 2;
		s->m = calloc(s->mcap, sizeof(*s->m));
		if (s->hold == NULL || s->m == NULL) {
			rc = envx_error_set(err, ENVX_E_INTERNAL,
			                    "cannot allocate secure memory");
			goto out;
		}
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	envx_redact_stream_free(s);
	return rc;
}

void
envx_redact_stream_free(struct envx_redact_stream *s)
{
	if (s == NULL) {
		return;
	}
	if (s->hold != NULL) {
		sodium_free(s->hold);
	}
	if (s->m != NULL) {
		sodium_memzero(s->m, s->mcap * sizeof(*s->m));
		free(s->m);
	}
	free(s);
}

/* Emits the original bytes [s->cur, upto) from the hold and the chunk. */
static int
emit_raw(struct envx_redact_stream *s, const struct feed *fd, uint64_t upto)
{
	uint64_t a = s->cur;
	int rc;

	if (a < fd->chunk_off && a < upto) {
		uint64_t end = upto < fd->chunk_off ? upto : fd->chunk_off;

		rc = fd->emit(fd->ctx, s->hold + (a - s->hold_off),
		              (size_t)(end - a));
		if (rc < 0) {
			return rc;
		}
		a = end;
	}
	if (a < upto) {
		rc = fd->emit(fd->ctx, fd->chunk + (a - fd->chunk_off),
		              (size_t)(upto - a));
		if (rc < 0) {
			return rc;
		}
	}
	if (upto > s->cur) {
		s->cur = upto;
	}
	return 0;
}

static uint64_t
match_start(const struct envx_redact *r, const struct match *m)
{
	return m->e + 1 - r->plen[m->id];
}

static void
recompute_best(const struct envx_redact *r, struct envx_redact_stream *s)
{
	size_t i;

	s->best = SIZE_MAX;
	for (i = s->mhead; i < s->mlen; i++) {
		uint64_t st = match_start(r, &s->m[i]);
		uint64_t es = st > s->cur ? st : s->cur;

		/* Later entries end later: ties go to the longer one. */
		if (s->best == SIZE_MAX || es <= s->best_es) {
			s->best = i;
			s->best_es = es;
		}
	}
}

static void
add_match(const struct envx_redact *r, struct envx_redact_stream *s, uint64_t e,
          uint32_t id)
{
	struct match *m;
	uint64_t st;
	uint64_t es;

	if (s->mlen == s->mcap) {
		/* Cannot overflow: see envx_redact_stream_new; compacting the
		 * consumed head always makes room. */
		memmove(s->m, s->m + s->mhead,
		        (s->mlen - s->mhead) * sizeof(*s->m));
		s->mlen -= s->mhead;
		if (s->best != SIZE_MAX) {
			s->best -= s->mhead;
		}
		s->mhead = 0;
	}
	m = &s->m[s->mlen];
	m->e = e;
	m->id = id;
	st = match_start(r, m);
	es = st > s->cur ? st : s->cur;
	if (s->best == SIZE_MAX || es <= s->best_es) {
		s->best = s->mlen;
		s->best_es = es;
	}
	s->mlen++;
}

/*
 * Makes every decision that no future byte can change: f is the earliest
 * offset at which a not yet completed occurrence could start.
 */
static int
decide(const struct envx_redact *r, struct envx_redact_stream *s,
       const struct feed *fd, uint64_t f)
{
	uint64_t upto;
	int rc;

	while (s->best != SIZE_MAX && s->best_es < f) {
		const struct match *b = &s->m[s->best];
		uint64_t e = b->e;
		uint32_t id = b->id;

		rc = emit_raw(s, fd, s->best_es);
		if (rc < 0) {
			return rc;
		}
		rc = fd->emit(fd->ctx, r->labels + r->label_off[id],
		              r->label_off[id + 1] - r->label_off[id]);
		if (rc < 0) {
			return rc;
		}
		s->cur = e + 1;
		while (s->mhead < s->mlen && s->m[s->mhead].e < s->cur) {
			s->mhead++;
		}
		if (s->mhead == s->mlen) {
			s->mhead = 0;
			s->mlen = 0;
		}
		recompute_best(r, s);
	}
	upto = f;
	if (s->best != SIZE_MAX && s->best_es < upto) {
		upto = s->best_es;
	}
	if (upto > s->cur) {
		return emit_raw(s, fd, upto);
	}
	return 0;
}

static int
quad_hit(const struct envx_redact *r, const unsigned char *p)
{
	uint32_t h = quad_hash(p, r->qshift);

	return (r->quad[h >> 3] >> (h & 7)) & 1;
}

static int
block_hit(const unsigned char *block, uint32_t b)
{
	return (block[b >> 3] >> (b & 7)) & 1;
}

/*
 * Index of the first position at or after i where a pattern may start, or
 * the first position past len - 4 (the prefilter needs four bytes). Every
 * pattern is at least win bytes long, so one starting anywhere in
 * [j, j + stride) covers the block that ends at j + win: when that block
 * occurs at none of offsets 0 .. stride - 1 of any pattern, stride starts
 * are ruled out at once (Wu-Manber's idea, at a fixed stride so iterations
 * do not depend on each other). A hash of the first four bytes then
 * confirms each remaining start.
 */
static size_t
prefilter(const struct envx_redact *r, const unsigned char *p, size_t i,
          size_t len)
{
	const unsigned char *block = r->block;
	size_t stride = r->stride;
	size_t lim;
	size_t j;

	if (len < 4) {
		return i;
	}
	lim = len - 3;
	/* The window's block and the quads read by the confirmations lie
	 * inside the chunk. */
	if (r->wide) {
		const unsigned char *k = p + r->win - 4;
		unsigned shift = r->wshift;

		for (; i + r->win + 2 < len; i += stride) {
			if (!block_hit(block, wide_hash(k + i, shift))) {
				continue;
			}
			for (j = i; j < i + stride; j++) {
				if (quad_hit(r, p + j)) {
					return j;
				}
			}
		}
	} else {
		const unsigned char *k = p + r->win - 2;

		for (; i + r->win + 2 < len; i += stride) {
			uint16_t b;

			memcpy(&b, k + i, sizeof(b));
			if (!block_hit(block, b)) {
				continue;
			}
			for (j = i; j < i + stride; j++) {
				if (quad_hit(r, p + j)) {
					return j;
				}
			}
		}
	}
	for (; i < lim; i++) {
		if (quad_hit(r, p + i)) {
			return i;
		}
	}
	return i;
}

/* Keeps the undecided tail [cur, pos) for the next feed. */
static int
save_hold(struct envx_redact_stream *s, const struct feed *fd)
{
	size_t keep = (size_t)(s->pos - s->cur);
	size_t from_hold = 0;

	if (keep > s->hold_cap) {
		return ENVX_E_INTERNAL;
	}
	if (s->cur < fd->chunk_off) {
		from_hold = (size_t)(fd->chunk_off - s->cur);
		memmove(s->hold, s->hold + (s->cur - s->hold_off), from_hold);
	}
	if (keep > from_hold) {
		uint64_t a = s->cur > fd->chunk_off ? s->cur : fd->chunk_off;

		memcpy(s->hold + from_hold, fd->chunk + (a - fd->chunk_off),
		       keep - from_hold);
	}
	s->hold_off = s->cur;
	s->hold_len = keep;
	return 0;
}

int
envx_redact_feed(const struct envx_redact *r, struct envx_redact_stream *s,
                 const void *data, size_t len, envx_emit_fn emit, void *ctx)
{
	const unsigned char *p = data;
	struct feed fd = {p, s->pos, emit, ctx};
	uint32_t q = s->q;
	size_t i = 0;
	int rc;

	if (len == 0) {
		return 0;
	}
	if (r->npat == 0) {
		s->pos += len;
		s->cur = s->pos;
		return emit(ctx, data, len);
	}
	while (i < len) {
		if (!s->in_dfa) {
			i = prefilter(r, p, i, len);
			if (i >= len) {
				break;
			}
			s->in_dfa = 1;
			q = 0;
		}
		for (; i < len; i++) {
			q = r->dfa != NULL ? dense_step(r, q, p[i])
			                   : sparse_step(r, q, p[i]);
			if (r->out[q] != NONE) {
				uint64_t e = fd.chunk_off + i;

				add_match(r, s, e, r->out[q]);
				rc = decide(r, s, &fd, e + 1 - r->depth[q]);
				if (rc < 0) {
					return rc;
				}
			}
			if (q == 0) {
				s->in_dfa = 0;
				i++;
				break;
			}
		}
	}
	s->q = q;
	s->pos += len;
	rc = decide(r, s, &fd, s->pos - (s->in_dfa ? r->depth[q] : 0));
	if (rc < 0) {
		return rc;
	}
	return save_hold(s, &fd);
}

int
envx_redact_finish(const struct envx_redact *r, struct envx_redact_stream *s,
                   envx_emit_fn emit, void *ctx)
{
	struct feed fd = {NULL, s->pos, emit, ctx};
	int rc = 0;

	if (r->npat > 0) {
		/* No future byte: everything pending is final. */
		rc = decide(r, s, &fd, s->pos);
	}
	if (s->hold != NULL) {
		sodium_memzero(s->hold, s->hold_cap);
	}
	s->q = 0;
	s->in_dfa = 0;
	s->pos = 0;
	s->cur = 0;
	s->hold_off = 0;
	s->hold_len = 0;
	s->mhead = 0;
	s->mlen = 0;
	s->best = SIZE_MAX;
	return rc;
}
