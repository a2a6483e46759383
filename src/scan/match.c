/*
 * The multi-pattern matcher of envx/scan.h: sampled 4-byte windows looked
 * up in a bitmap and a hash table built once over every pattern's anchor,
 * candidates compared in full, and a stream that keeps just enough of the
 * input to find occurrences across chunks and to number lines.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/scan.h"
#include "util/banned.h"

/* An occurrence of a pattern of at least ENVX_SCAN_MIN_BYTES = WIN +
 * STRIDE - 1 bytes covers the WIN-byte window at exactly one multiple of
 * STRIDE within each of its MIN_BYTES-byte substrings (the anchor). */
#define WIN               4
#define STRIDE            5
#define ANCHOR_CANDIDATES 8
#define MAX_PATTERNS      ((size_t)1 << 26)
#define BITS_MIN_LOG      12
#define BITS_MAX_LOG      25
#define BIT_MUL           0x9E3779B1u

struct entry {
	uint32_t key; /* the window's bytes, as memcpy loads them */
	uint32_t pat;
	uint32_t off; /* of the window in the pattern */
};

struct slot {
	uint32_t key;
	uint32_t first; /* into entries */
	uint32_t count; /* 0: empty */
};

struct envx_scan {
	unsigned char *bytes; /* every pattern, back to back */
	size_t nbytes;
	size_t *poff;
	size_t *plen;
	size_t npat;
	size_t maxlen;
	struct entry *ent;
	size_t nent;
	struct slot *slots;
	size_t nslots;
	uint32_t slot_mask;
	uint64_t *bits;
	size_t nbits_words;
	unsigned bits_shift;
};

/* Where the numbering of lines stands for the input bytes in a buffer
 * that holds offsets [base, base + len). */
struct lines {
	uint64_t base;
	uint64_t base_lstart; /* start of the line holding base */
	uint64_t pos;         /* newlines are counted up to here (>= base) */
	uint64_t line;        /* the line holding pos, 1-based */
	uint64_t lstart;      /* its first byte's offset */
	uint64_t next_q;      /* the next window to look up */
};

struct envx_scan_stream {
	const struct envx_scan *m;
	unsigned char *buf;
	size_t cap;
	size_t len;
	struct lines st;
};

/* sodium_malloc memory, zeroed: the tables reveal the patterns. */
static void *
secalloc(size_t n)
{
	void *p = sodium_malloc(n ? n : 1);

	if (p != NULL) {
		memset(p, 0, n ? n : 1);
	}
	return p;
}

static uint32_t
load_key(const unsigned char *p)
{
	uint32_t k;

	memcpy(&k, p, sizeof(k));
	return k;
}

static uint32_t
slot_hash(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x85EBCA6Bu;
	k ^= k >> 13;
	k *= 0xC2B2AE35u;
	return k ^ (k >> 16);
}

static size_t
pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n) {
		p *= 2;
	}
	return p;
}

/* The build-time count of entries per window, to choose anchors. */
struct counts {
	struct slot *s; /* first unused: the count is in count */
	uint32_t mask;
};

static struct slot *
count_slot(struct counts *c, uint32_t key)
{
	uint32_t i = slot_hash(key) & c->mask;

	while (c->s[i].count != 0 && c->s[i].key != key) {
		i = (i + 1) & c->mask;
	}
	return &c->s[i];
}

static uint64_t
anchor_cost(struct counts *c, const unsigned char *p)
{
	uint64_t cost = 0;
	size_t o;

	for (o = 0; o < STRIDE; o++) {
		cost += count_slot(c, load_key(p + o))->count;
	}
	return cost;
}

/* The anchor of a len-byte pattern: the offset of the MIN_BYTES-byte
 * substring, among a few spread over it, whose windows are rarest so far. */
static size_t
choose_anchor(struct counts *c, const unsigned char *p, size_t len)
{
	size_t span = len - ENVX_SCAN_MIN_BYTES;
	size_t ncand =
	        span + 1 < ANCHOR_CANDIDATES ? span + 1 : ANCHOR_CANDIDATES;
	size_t best = 0;
	uint64_t best_cost = UINT64_MAX;
	size_t j;

	for (j = 0; j < ncand; j++) {
		size_t a = ncand > 1 ? j * span / (ncand - 1) : 0;
		uint64_t cost = anchor_cost(c, p + a);

		if (cost < best_cost) {
			best_cost = cost;
			best = a;
		}
	}
	return best;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a;
	const struct entry *y = b;

	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	/* within a window, the candidate that starts first comes first */
	if (x->off != y->off) {
		return x->off > y->off ? -1 : 1;
	}
	return x->pat < y->pat ? -1 : x->pat > y->pat;
}

static int
build_tables(struct envx_scan *m)
{
	size_t nkeys = 0;
	size_t i;
	unsigned log = BITS_MIN_LOG;

	if (m->nent > 1) {
		qsort(m->ent, m->nent, sizeof(*m->ent), entry_cmp);
	}
	for (i = 0; i < m->nent; i++) {
		nkeys += i == 0 || m->ent[i].key != m->ent[i - 1].key;
	}
	m->nslots = pow2_at_least(2 * nkeys);
	m->slot_mask = (uint32_t)(m->nslots - 1);
	m->slots = secalloc(m->nslots * sizeof(*m->slots));
	while (log < BITS_MAX_LOG && ((size_t)1 << log) < 32 * nkeys) {
		log++;
	}
	m->bits_shift = 32 - log;
	m->nbits_words = ((size_t)1 << log) / 64;
	m->bits = secalloc(m->nbits_words * sizeof(*m->bits));
	if (m->slots == NULL || m->bits == NULL) {
		return -1;
	}
	for (i = 0; i < m->nent;) {
		uint32_t key = m->ent[i].key;
		uint32_t h = (key * BIT_MUL) >> m->bits_shift;
		uint32_t s = slot_hash(key) & m->slot_mask;
		size_t j = i;

		while (j < m->nent && m->ent[j].key == key) {
			j++;
		}
		while (m->slots[s].count != 0) {
			s = (s + 1) & m->slot_mask;
		}
		m->slots[s].key = key;
		m->slots[s].first = (uint32_t)i;
		m->slots[s].count = (uint32_t)(j - i);
		m->bits[h >> 6] |= (uint64_t)1 << (h & 63);
		i = j;
	}
	return 0;
}

int
envx_scan_new(struct envx_scan **out, const struct envx_scan_pattern *patterns,
              size_t n, struct envx_error *err)
{
	struct envx_scan *m = NULL;
	struct counts c = {NULL, 0};
	size_t total = 0;
	size_t i;
	int r = ENVX_E_INTERNAL;

	*out = NULL;
	if (n > MAX_PATTERNS) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "too many patterns: %zu (at most %zu)", n,
		                      MAX_PATTERNS);
	}
	for (i = 0; i < n; i++) {
		if (patterns[i].len < ENVX_SCAN_MIN_BYTES) {
			return envx_error_set(err, ENVX_E_INPUT,
			                      "pattern %zu is shorter than %d "
			                      "bytes",
			                      i, ENVX_SCAN_MIN_BYTES);
		}
		if (patterns[i].len > UINT32_MAX || total > SIZE_MAX / 2) {
			return envx_error_set(err, ENVX_E_INPUT,
			                      "patterns too large");
		}
		total += patterns[i].len;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		goto out;
	}
	m->npat = n;
	m->nbytes = total;
	m->nent = STRIDE * n;
	m->bytes = secalloc(total);
	m->poff = calloc(n ? n : 1, sizeof(*m->poff));
	m->plen = calloc(n ? n : 1, sizeof(*m->plen));
	m->ent = secalloc(m->nent * sizeof(*m->ent));
	c.s = secalloc(pow2_at_least(2 * m->nent) * sizeof(*c.s));
	c.mask = (uint32_t)(pow2_at_least(2 * m->nent) - 1);
	if (m->bytes == NULL || m->poff == NULL || m->plen == NULL ||
	    m->ent == NULL || c.s == NULL) {
		goto out;
	}
	total = 0;
	for (i = 0; i < n; i++) {
		const unsigned char *p = m->bytes + total;
		size_t a;
		size_t o;

		memcpy(m->bytes + total, patterns[i].data, patterns[i].len);
		m->poff[i] = total;
		m->plen[i] = patterns[i].len;
		if (patterns[i].len > m->maxlen) {
			m->maxlen = patterns[i].len;
		}
		total += patterns[i].len;
		a = choose_anchor(&c, p, m->plen[i]);
		for (o = 0; o < STRIDE; o++) {
			struct entry *e = &m->ent[STRIDE * i + o];
			struct slot *s = count_slot(&c, load_key(p + a + o));

			s->key = load_key(p + a + o);
			s->count++;
			e->key = s->key;
			e->pat = (uint32_t)i;
			e->off = (uint32_t)(a + o);
		}
	}
	if (build_tables(m) < 0) {
		goto out;
	}
	*out = m;
	m = NULL;
	r = 0;
out:
	sodium_free(c.s);
	envx_scan_free(m);
	if (r < 0) {
		envx_error_set(err, r, "out of memory");
	}
	return r;
}

void
envx_scan_free(struct envx_scan *m)
{
	if (m == NULL) {
		return;
	}
	sodium_free(m->bytes);
	sodium_free(m->ent);
	sodium_free(m->slots);
	sodium_free(m->bits);
	free(m->poff);
	free(m->plen);
	free(m);
}

size_t
envx_scan_max_len(const struct envx_scan *m)
{
	return m->maxlen;
}

/* The number of '\n' bytes in p[0..n), eight at a time. */
static uint64_t
count_newlines(const unsigned char *p, size_t n)
{
	const uint64_t nl = 0x0a0a0a0a0a0a0a0aULL;
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	uint64_t count = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		uint64_t t;

		memcpy(&w, p + i, 8);
		w ^= nl;
		/* the high bit of each byte of t is set iff that byte of w
		 * is not zero */
		t = ((w & low7) + low7) | w;
		count += (uint64_t)__builtin_popcountll(~t & ~low7);
	}
	for (; i < n; i++) {
		count += p[i] == '\n';
	}
	return count;
}

/* Counts lines from st->pos up to offset to (>= pos, in buf). */
static void
lines_advance(struct lines *st, const unsigned char *buf, uint64_t to)
{
	const unsigned char *from = buf + (st->pos - st->base);
	size_t n = (size_t)(to - st->pos);
	uint64_t k = count_newlines(from, n);

	if (k > 0) {
		const unsigned char *last = memrchr(from, '\n', n);

		st->line += k;
		st->lstart = st->base + (uint64_t)(last - buf) + 1;
	}
	st->pos = to;
}

/* The line and column of offset at (>= base, in buf). */
static void
lines_locate(struct lines *st, const unsigned char *buf, uint64_t at,
             struct envx_scan_hit *h)
{
	uint64_t k;
	const unsigned char *nl;

	if (at >= st->pos) {
		lines_advance(st, buf, at);
		h->line = st->line;
		h->column = at - st->lstart + 1;
		return;
	}
	/* an occurrence found after one that starts later (another window) */
	k = count_newlines(buf + (at - st->base), (size_t)(st->pos - at));
	h->line = st->line - k;
	if (k == 0) {
		h->column = at - st->lstart + 1;
		return;
	}
	nl = memrchr(buf, '\n', (size_t)(at - st->base));
	h->column = nl != NULL ? at - (st->base + (uint64_t)(nl - buf))
	                       : at - st->base_lstart + 1;
}

/* Compares every candidate of the window key at offset q. */
static int
verify(const struct envx_scan *m, struct lines *st, const unsigned char *buf,
       uint64_t end, uint64_t q, uint32_t key, envx_scan_hit_fn hit, void *ctx)
{
	uint32_t s = slot_hash(key) & m->slot_mask;
	const struct entry *e;
	const struct entry *last;

	while (m->slots[s].count != 0 && m->slots[s].key != key) {
		s = (s + 1) & m->slot_mask;
	}
	if (m->slots[s].count == 0) {
		return 0;
	}
	e = &m->ent[m->slots[s].first];
	last = e + m->slots[s].count;
	for (; e < last; e++) {
		uint64_t start;
		size_t len = m->plen[e->pat];
		struct envx_scan_hit h;
		int r;

		if (e->off > q || q - e->off < st->base ||
		    q - e->off + len > end) {
			continue;
		}
		start = q - e->off;
		if (memcmp(buf + (start - st->base), m->bytes + m->poff[e->pat],
		           len) != 0) {
			continue;
		}
		h.pattern = e->pat;
		h.offset = start;
		lines_locate(st, buf, start, &h);
		r = hit(ctx, &h);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

/*
 * Looks up the windows of buf (offsets [st->base, st->base + avail)) from
 * st->next_q on: all of them when final, else those whose every candidate
 * lies inside buf.
 */
static int
scan_block(const struct envx_scan *m, struct lines *st,
           const unsigned char *buf, size_t avail, bool final,
           envx_scan_hit_fn hit, void *ctx)
{
	uint64_t end = st->base + avail;
	uint64_t need = final ? WIN : m->maxlen;
	const uint64_t *bits = m->bits;
	const unsigned shift = m->bits_shift;
	uint64_t q = st->next_q;
	uint64_t qlimit;

	if (m->npat == 0 || end < need) {
		return 0;
	}
	qlimit = end - need;
	for (; q <= qlimit; q += STRIDE) {
		uint32_t key = load_key(buf + (q - st->base));
		uint32_t h = (key * BIT_MUL) >> shift;
		int r;

		if (((bits[h >> 6] >> (h & 63)) & 1) == 0) {
			continue;
		}
		r = verify(m, st, buf, end, q, key, hit, ctx);
		if (r != 0) {
			st->next_q = q + STRIDE;
			return r;
		}
	}
	st->next_q = q;
	return 0;
}

static void
lines_reset(struct lines *st)
{
	memset(st, 0, sizeof(*st));
	st->line = 1;
}

int
envx_scan_buffer(const struct envx_scan *m, const void *data, size_t len,
                 envx_scan_hit_fn hit, void *ctx)
{
	struct lines st;

	lines_reset(&st);
	return scan_block(m, &st, data, len, true, hit, ctx);
}

int
envx_scan_stream_new(struct envx_scan_stream **out, const struct envx_scan *m,
                     struct envx_error *err)
{
	struct envx_scan_stream *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	s->m = m;
	/* the unscanned tail and the history kept for it, plus a chunk */
	s->cap = ENVX_SCAN_CHUNK_BYTES + 2 * m->maxlen + 2 * STRIDE + 8;
	s->buf = malloc(s->cap);
	if (s->buf == NULL) {
		free(s);
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	lines_reset(&s->st);
	*out = s;
	return 0;
}

void
envx_scan_stream_free(struct envx_scan_stream *s)
{
	if (s == NULL) {
		return;
	}
	free(s->buf);
	free(s);
}

void
envx_scan_stream_reset(struct envx_scan_stream *s)
{
	s->len = 0;
	lines_reset(&s->st);
}

/* Drops the bytes no later candidate can start in, keeping the count of
 * lines and the start of the line that holds the new base. */
static void
compact(struct envx_scan_stream *s)
{
	struct lines *st = &s->st;
	uint64_t newbase =
	        st->next_q > s->m->maxlen ? st->next_q - s->m->maxlen : 0;
	size_t drop;
	const unsigned char *nl;

	if (newbase <= st->base) {
		return;
	}
	if (st->pos < newbase) {
		lines_advance(st, s->buf, newbase);
	}
	drop = (size_t)(newbase - st->base);
	nl = memrchr(s->buf, '\n', drop);
	if (nl != NULL) {
		st->base_lstart = st->base + (uint64_t)(nl - s->buf) + 1;
	}
	memmove(s->buf, s->buf + drop, s->len - drop);
	s->len -= drop;
	st->base = newbase;
}

int
envx_scan_stream_feed(struct envx_scan_stream *s, const void *data, size_t len,
                      envx_scan_hit_fn hit, void *ctx)
{
	const unsigned char *p = data;

	if (s->m->npat == 0) {
		return 0;
	}
	while (len > 0) {
		size_t n = s->cap - s->len < len ? s->cap - s->len : len;
		int r;

		memcpy(s->buf + s->len, p, n);
		s->len += n;
		p += n;
		len -= n;
		r = scan_block(s->m, &s->st, s->buf, s->len, false, hit, ctx);
		if (r != 0) {
			return r;
		}
		compact(s);
	}
	return 0;
}

int
envx_scan_stream_finish(struct envx_scan_stream *s, envx_scan_hit_fn hit,
                        void *ctx)
{
	int r = scan_block(s->m, &s->st, s->buf, s->len, true, hit, ctx);

	envx_scan_stream_reset(s);
	return r;
}
