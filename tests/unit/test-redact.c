/*
 * Unit tests for the streaming redaction filter: fixed cases for each rule of
 * envx/redact.h, and randomized comparisons against a naive reference that
 * implements the documented semantics directly, under every way of splitting
 * the input into feeds. The encoded forms are checked against vectors made
 * with Python's base64, urllib.parse and json modules; the reference then
 * takes them from exec/forms.h to check the matching.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "envx/redact.h"
#include "exec/forms.h"

struct out {
	unsigned char *p;
	size_t len;
	size_t cap;
	int fail_after; /* fail the n-th emit (1-based), 0 never */
	int calls;
};

static int
collect(void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;

	o->calls++;
	if (o->fail_after != 0 && o->calls >= o->fail_after) {
		return ENVX_E_IO;
	}
	if (o->len + n + 1 > o->cap) {
		size_t ncap = (o->len + n + 1) * 2;
		unsigned char *np = realloc(o->p, ncap);

		assert_non_null(np);
		o->p = np;
		o->cap = ncap;
	}
	if (n > 0) {
		memcpy(o->p + o->len, p, n);
	}
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static void
out_release(struct out *o)
{
	free(o->p);
	memset(o, 0, sizeof(*o));
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 32);
}

static void
add(struct envx_kvset *s, const char *name, const void *v, size_t len)
{
	assert_int_equal(envx_kvset_add(s, name, strlen(name), v, len, 0, NULL),
	                 0);
}

/* Runs data through a fresh stream with the given chunk sizes (0 = random). */
static void
run(const struct envx_redact *r, const unsigned char *data, size_t len,
    size_t chunk, struct out *o)
{
	struct envx_redact_stream *s = NULL;
	size_t i = 0;

	assert_int_equal(envx_redact_stream_new(&s, r, NULL), 0);
	collect(o, "", 0); /* o->p is never NULL afterwards */
	o->calls = 0;
	while (i < len) {
		size_t n = chunk != 0 ? chunk : 1 + rnd() % 17;

		if (n > len - i) {
			n = len - i;
		}
		assert_int_equal(
		        envx_redact_feed(r, s, data + i, n, collect, o), 0);
		i += n;
	}
	assert_int_equal(envx_redact_finish(r, s, collect, o), 0);
	envx_redact_stream_free(s);
}

/* The documented semantics, implemented as directly as possible. */
struct occ {
	size_t s;
	size_t e;
	size_t k;
};

/* Every pattern of the set: each value of at least ENVX_REDACT_MIN_BYTES
 * and its forms, in the set's order, so the first of equal ones has the
 * lowest index. */
struct refpat {
	const unsigned char *p;
	size_t len;
	size_t k;
};

struct refset {
	struct refpat *pat;
	size_t n;
	unsigned char **bufs;
	size_t nbufs;
};

static void
refset_build(const struct envx_kvset *set, struct refset *rs)
{
	size_t k;

	memset(rs, 0, sizeof(*rs));
	rs->pat =
	        calloc(set->count * (ENVX_FORMS_MAX + 1) + 1, sizeof(*rs->pat));
	rs->bufs = calloc(set->count + 1, sizeof(*rs->bufs));
	assert_non_null(rs->pat);
	assert_non_null(rs->bufs);
	for (k = 0; k < set->count; k++) {
		size_t vl;
		const unsigned char *v = envx_kvset_value(set, k, &vl);
		struct envx_form f[ENVX_FORMS_MAX];
		size_t nf = 0;
		size_t bytes;
		size_t j;
		unsigned char *buf;

		if (vl < ENVX_REDACT_MIN_BYTES) {
			continue;
		}
		rs->pat[rs->n++] = (struct refpat){v, vl, k};
		bytes = envx_forms_derive(v, vl, ENVX_REDACT_MIN_BYTES, NULL,
		                          NULL, NULL);
		buf = malloc(bytes + 1);
		assert_non_null(buf);
		rs->bufs[rs->nbufs++] = buf;
		assert_int_equal(envx_forms_derive(v, vl, ENVX_REDACT_MIN_BYTES,
		                                   buf, f, &nf),
		                 bytes);
		for (j = 0; j < nf; j++) {
			rs->pat[rs->n++] =
			        (struct refpat){buf + f[j].off, f[j].len, k};
		}
	}
}

static void
refset_release(struct refset *rs)
{
	size_t i;

	for (i = 0; i < rs->nbufs; i++) {
		free(rs->bufs[i]);
	}
	free(rs->bufs);
	free(rs->pat);
}

static void
reference(const struct envx_kvset *set, const unsigned char *t, size_t n,
          struct out *o)
{
	struct occ *occ = NULL;
	struct refset rs;
	size_t nocc = 0;
	size_t cap = 0;
	size_t cur = 0;
	size_t e;
	size_t k;

	refset_build(set, &rs);
	/* Every occurrence of every pattern, in order of end offset. */
	for (e = 0; e < n; e++) {
		for (k = 0; k < rs.n; k++) {
			size_t vl = rs.pat[k].len;
			const unsigned char *v = rs.pat[k].p;

			if (vl > e + 1 || memcmp(t + e + 1 - vl, v, vl) != 0) {
				continue;
			}
			if (nocc == cap) {
				cap = cap ? cap * 2 : 64;
				occ = realloc(occ, cap * sizeof(*occ));
				assert_non_null(occ);
			}
			occ[nocc].s = e + 1 - vl;
			occ[nocc].e = e;
			occ[nocc].k = rs.pat[k].k;
			nocc++;
		}
	}
	for (;;) {
		size_t best_es = 0;
		size_t best_e = 0;
		size_t best_s = 0;
		ssize_t best = -1;
		size_t i;

		for (i = 0; i < nocc; i++) {
			size_t es = occ[i].s > cur ? occ[i].s : cur;

			if (occ[i].e < cur) {
				continue;
			}
			if (best < 0 || es < best_es ||
			    (es == best_es && occ[i].e > best_e) ||
			    (es == best_es && occ[i].e == best_e &&
			     occ[i].s < best_s)) {
				best = (ssize_t)occ[i].k;
				best_es = es;
				best_e = occ[i].e;
				best_s = occ[i].s;
			}
		}
		if (best < 0) {
			collect(o, t + cur, n - cur);
			break;
		}
		collect(o, t + cur, best_es - cur);
		collect(o, "[redacted:", 10);
		collect(o, envx_kvset_name(set, (size_t)best),
		        strlen(envx_kvset_name(set, (size_t)best)));
		collect(o, "]", 1);
		cur = best_e + 1;
	}
	free(occ);
	refset_release(&rs);
}

static void
check_all_splits(const struct envx_redact *r, const char *text,
                 const char *expect)
{
	size_t len = strlen(text);
	size_t cut;
	size_t cut2;
	struct out o = {0};

	run(r, (const unsigned char *)text, len, len ? len : 1, &o);
	assert_string_equal(o.p ? (char *)o.p : "", expect);
	out_release(&o);
	run(r, (const unsigned char *)text, len, 1, &o);
	assert_string_equal(o.p ? (char *)o.p : "", expect);
	out_release(&o);
	/* Two and three feeds, split at every pair of boundaries. */
	for (cut = 0; cut <= len; cut++) {
		for (cut2 = cut; cut2 <= len; cut2++) {
			struct envx_redact_stream *s = NULL;

			assert_int_equal(envx_redact_stream_new(&s, r, NULL),
			                 0);
			assert_int_equal(
			        envx_redact_feed(r, s, text, cut, collect, &o),
			        0);
			assert_int_equal(envx_redact_feed(r, s, text + cut,
			                                  cut2 - cut, collect,
			                                  &o),
			                 0);
			assert_int_equal(envx_redact_feed(r, s, text + cut2,
			                                  len - cut2, collect,
			                                  &o),
			                 0);
			assert_int_equal(envx_redact_finish(r, s, collect, &o),
			                 0);
			envx_redact_stream_free(s);
			assert_string_equal(o.p ? (char *)o.p : "", expect);
			out_release(&o);
		}
	}
}

static void
test_redact_single_value(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "DB_PASSWORD", "hunter22", 8);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 1);
	check_all_splits(r, "login with hunter22 now\n",
	                 "login with [redacted:DB_PASSWORD] now\n");
	check_all_splits(r, "hunter22hunter22",
	                 "[redacted:DB_PASSWORD][redacted:DB_PASSWORD]");
	check_all_splits(r, "hunter2 hunter222",
	                 "hunter2 [redacted:DB_PASSWORD]2");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_value_split_at_every_boundary(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "TOKEN", "ghp_0123456789abcdef", 20);
	add(&set, "KEY", "sk-live-XYZ", 11);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, "a ghp_0123456789abcdef b sk-live-XYZsk-live-XY",
	                 "a [redacted:TOKEN] b [redacted:KEY]sk-live-XY");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_overlapping_longest_wins(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "SHORT", "secret", 6);
	add(&set, "LONG", "secretpassword", 14);
	add(&set, "MID", "password", 8);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, "x secretpassword y", "x [redacted:LONG] y");
	check_all_splits(r, "x secretpass y", "x [redacted:SHORT]pass y");
	check_all_splits(r, "password", "[redacted:MID]");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_overlapping_tail_is_covered(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "A", "abcd", 4);
	add(&set, "B", "bcdefgh", 7);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	/* Leftmost A wins, but B's remaining bytes must not leak. */
	check_all_splits(r, "-abcdefgh-", "-[redacted:A][redacted:B]-");
	check_all_splits(r, "-bcdefgh-", "-[redacted:B]-");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_value_prefix_of_another(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "P", "abcd", 4);
	add(&set, "Q", "abcdabcdX", 9);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, "abcdabcdabcdX.abcdabcd",
	                 "[redacted:P][redacted:Q].[redacted:P][redacted:P]");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_short_values_untouched(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "PORT", "80", 2);
	add(&set, "FLAG", "yes", 3);
	add(&set, "EMPTY", "", 0);
	add(&set, "PIN", "1234", 4);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 1);
	check_all_splits(r, "yes 80 123 1234", "yes 80 123 [redacted:PIN]");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_no_secrets_passes_through(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 0);
	check_all_splits(r, "nothing to hide", "nothing to hide");
	envx_redact_free(r);
	assert_int_equal(envx_redact_new(&r, NULL, NULL), 0);
	check_all_splits(r, "abc", "abc");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_same_value_uses_first_name(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "ZETA", "shared-value", 12);
	add(&set, "ALPHA", "shared-value", 12);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 1);
	check_all_splits(r, "=shared-value=", "=[redacted:ZETA]=");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_dangling_prefix_at_eof(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	struct envx_redact_stream *s = NULL;
	struct out o = {0};

	(void)state;
	envx_kvset_init(&set);
	add(&set, "K", "correcthorse", 12);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_stream_new(&s, r, NULL), 0);
	assert_int_equal(
	        envx_redact_feed(r, s, "tail: correcth", 14, collect, &o), 0);
	/* The possible prefix is held back until the stream ends... */
	assert_int_equal(o.len, 6);
	assert_int_equal(envx_redact_finish(r, s, collect, &o), 0);
	/* ...and then written unchanged. */
	assert_string_equal((char *)o.p, "tail: correcth");
	out_release(&o);
	/* finish resets the stream for reuse. */
	assert_int_equal(
	        envx_redact_feed(r, s, "correcthorse", 12, collect, &o), 0);
	assert_int_equal(envx_redact_finish(r, s, collect, &o), 0);
	assert_string_equal((char *)o.p, "[redacted:K]");
	out_release(&o);
	envx_redact_stream_free(s);
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_binary_data(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	const unsigned char v1[] = {0x00, 0xff, 0x00, 0x80, 0x7f};
	const unsigned char v2[] = {0xff, 0xff, 0xff, 0xff};
	unsigned char text[] = {0x01, 0x00, 0xff, 0x00, 0x80, 0x7f, 0x00,
	                        0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	/* The second FF occurrence overlaps the first by three bytes: its
	 * last byte gets its own label rather than leaking. */
	const char expect[] = "\x01[redacted:BIN]\x00[redacted:FF]"
	                      "[redacted:FF]\x00";
	struct out o = {0};
	size_t chunk;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "BIN", v1, sizeof(v1));
	add(&set, "FF", v2, sizeof(v2));
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	for (chunk = 1; chunk <= sizeof(text); chunk++) {
		run(r, text, sizeof(text), chunk, &o);
		assert_int_equal(o.len, sizeof(expect) - 1);
		assert_memory_equal(o.p, expect, sizeof(expect) - 1);
		out_release(&o);
	}
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_emit_error_stops(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	struct envx_redact_stream *s = NULL;
	struct out o = {0};

	(void)state;
	envx_kvset_init(&set);
	add(&set, "K", "abcdef", 6);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_stream_new(&s, r, NULL), 0);
	o.fail_after = 2;
	assert_int_equal(
	        envx_redact_feed(r, s, "xx abcdef yy", 12, collect, &o),
	        ENVX_E_IO);
	envx_redact_stream_free(s);
	out_release(&o);
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
compare_random(size_t npat, size_t alpha, size_t minlen, size_t maxlen,
               size_t textlen, int rounds)
{
	int round;

	for (round = 0; round < rounds; round++) {
		struct envx_kvset set;
		struct envx_redact *r = NULL;
		unsigned char *text = malloc(textlen + 1);
		size_t n = rnd() % (textlen + 1);
		size_t i;
		size_t k;
		struct out want = {0};
		struct out got = {0};
		struct refset rs;

		assert_non_null(text);
		envx_kvset_init(&set);
		for (k = 0; k < npat; k++) {
			unsigned char v[64];
			size_t vl = minlen + rnd() % (maxlen - minlen + 1);
			char name[16];

			for (i = 0; i < vl; i++) {
				v[i] = (unsigned char)('a' + rnd() % alpha);
			}
			snprintf(name, sizeof(name), "N%zu", k);
			add(&set, name, v, vl);
		}
		for (i = 0; i < n; i++) {
			text[i] = (unsigned char)('a' + rnd() % alpha);
		}
		/* Plant some values and forms so matches are not left to
		 * chance. */
		refset_build(&set, &rs);
		for (k = 0; k < 4 && rs.n > 0; k++) {
			const struct refpat *rp = &rs.pat[rnd() % rs.n];
			size_t at;

			if (rp->len > n) {
				continue;
			}
			at = rnd() % (n - rp->len + 1);
			memcpy(text + at, rp->p, rp->len);
		}
		refset_release(&rs);
		assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
		reference(&set, text, n, &want);
		run(r, text, n, 0, &got);
		if (got.len != want.len ||
		    memcmp(got.p, want.p, got.len) != 0) {
			for (k = 0; k < set.count; k++) {
				print_error("%s='%s'\n",
				            envx_kvset_name(&set, k),
				            envx_kvset_value(&set, k, NULL));
			}
			print_error("text '%.*s'\nwant '%s'\ngot  '%s'\n",
			            (int)n, text, want.p, got.p);
			fail();
		}
		out_release(&got);
		run(r, text, n, 1, &got);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.p, want.p, got.len);
		out_release(&got);
		out_release(&want);
		envx_redact_free(r);
		envx_kvset_release(&set);
		free(text);
	}
}

static void
test_redact_random_matches_reference(void **state)
{
	(void)state;
	/* Tiny alphabets force overlaps, shared prefixes and near misses. */
	compare_random(2, 2, 1, 6, 60, 1500);
	compare_random(4, 3, 1, 8, 120, 1500);
	compare_random(8, 4, 1, 12, 200, 500);
	compare_random(30, 26, 1, 20, 400, 100);
	/* Longer shortest values: the prefilter's wider windows. */
	compare_random(3, 3, 5, 9, 200, 500);
	compare_random(6, 4, 8, 24, 400, 300);
	compare_random(20, 26, 16, 40, 800, 100);
}

static void
test_redact_large_set_sparse_automaton(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	const size_t n = 10000;
	size_t i;
	size_t k;
	unsigned char *text;
	size_t tlen = 4096;
	struct out want = {0};
	struct out got = {0};

	(void)state;
	envx_kvset_init(&set);
	for (k = 0; k < n; k++) {
		char v[33];
		char name[16];

		for (i = 0; i < 32; i++) {
			v[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rnd() %
			                                              36];
		}
		snprintf(name, sizeof(name), "S%zu", k);
		add(&set, name, v, 32);
	}
	/* 10,000 x 32 bytes: far past the dense table budget. */
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), n);
	text = malloc(tlen);
	assert_non_null(text);
	for (i = 0; i < tlen; i++) {
		text[i] = (unsigned char)"abcdefghij klm\n"[rnd() % 15];
	}
	for (k = 0; k < 40; k++) {
		const unsigned char *v =
		        envx_kvset_value(&set, rnd() % n, NULL);

		memcpy(text + rnd() % (tlen - 32), v, 32);
	}
	reference(&set, text, tlen, &want);
	run(r, text, tlen, 0, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.p, want.p, got.len);
	assert_non_null(strstr((char *)got.p, "[redacted:S"));
	out_release(&got);
	out_release(&want);
	free(text);
	envx_redact_free(r);
	envx_kvset_release(&set);
}

/* Vectors: Python's base64.b64encode and base64.encodebytes. */
static void
test_redact_base64_forms(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "K", "hunter22 pw/\"x", 14);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 1);
	/* padded, unpadded, and `echo "$K" | base64` (value + newline) */
	check_all_splits(r, "a aHVudGVyMjIgcHcvIng= b", "a [redacted:K] b");
	check_all_splits(r, "jwt.aHVudGVyMjIgcHcvIng.sig",
	                 "jwt.[redacted:K].sig");
	check_all_splits(r, "aHVudGVyMjIgcHcvIngK\n", "[redacted:K]\n");
	/* inside a longer blob, at each offset mod 3: only the characters
	 * made of the value's bits alone are replaced */
	check_all_splits(r, "eHl6aHVudGVyMjIgcHcvIng=", "eHl6[redacted:K]");
	check_all_splits(r, "eGh1bnRlcjIyIHB3LyJ4", "eG[redacted:K]");
	check_all_splits(r, "eHlodW50ZXIyMiBwdy8ieA==", "eHl[redacted:K]A==");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_base64_wrapped_at_76_columns(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	const char *v = "ghp_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
	                "0123456789";
	struct out o = {0};
	const char *text = "Z2hwXzAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3"
	                   "h5ekFCQ0RFRkdISUowMTIzNDU2\nNzg5Cg==\n";
	size_t chunk;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "TOKEN", v, strlen(v));
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	for (chunk = 1; chunk <= strlen(text); chunk++) {
		run(r, (const unsigned char *)text, strlen(text), chunk, &o);
		assert_string_equal((char *)o.p, "[redacted:TOKEN]\n");
		out_release(&o);
	}
	envx_redact_free(r);
	envx_kvset_release(&set);
}

/* Vectors: urllib.parse.quote(v, safe="") and quote_plus. */
static void
test_redact_percent_encoded_forms(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "PW", "p@ss word/1~", 12);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, "?pw=p%40ss%20word%2F1~&x=1",
	                 "?pw=[redacted:PW]&x=1");
	check_all_splits(r, "pw=p%40ss+word%2F1~", "pw=[redacted:PW]");
	/* lower-case escapes are not covered */
	check_all_splits(r, "p%40ss%20word%2f1~", "p%40ss%20word%2f1~");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

/* Vector: json.dumps (JSON.stringify and jq agree), and PHP's "\/". */
static void
test_redact_json_escaped_forms(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	const char v[] = "q\"b\\n\nt\t\x01/e";

	(void)state;
	envx_kvset_init(&set);
	add(&set, "J", v, sizeof(v) - 1);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, "{\"j\":\"q\\\"b\\\\n\\nt\\t\\u0001/e\"}",
	                 "{\"j\":\"[redacted:J]\"}");
	check_all_splits(r, "{\"j\":\"q\\\"b\\\\n\\nt\\t\\u0001\\/e\"}",
	                 "{\"j\":\"[redacted:J]\"}");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_url_password(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "DB", "postgres://app:s3cr%40t!@db:5432/app", 36);
	add(&set, "SHORT", "https://u:abc@h.example/x", 25);
	add(&set, "NOSCHEME", "app:s3cr3tpw@db", 15);
	add(&set, "NOPASS", "https://alice@idp.example/", 26);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	/* the password as written and as decoded; the whole URL */
	check_all_splits(
	        r,
	        "pw s3cr@t! s3cr%40t! url postgres://app:s3cr%40t!@db:5432/app",
	        "pw [redacted:DB] [redacted:DB] url [redacted:DB]");
	/* a password under the minimum, a value that is no URL, a URL
	 * without a password: nothing but the whole values */
	check_all_splits(r, "abc s3cr3tpw alice app:s3cr3tpw@db",
	                 "abc s3cr3tpw alice [redacted:NOSCHEME]");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

static void
test_redact_short_value_forms_untouched(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "PIN", "ab", 2);
	add(&set, "EMPTY", "", 0);
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	assert_int_equal(envx_redact_count(r), 0);
	/* base64 of "ab" and of "ab\n" are four bytes, yet not redacted:
	 * a value too short to redact is not redacted in any form */
	check_all_splits(r, "ab YWI= YWIK YWI", "ab YWI= YWIK YWI");
	envx_redact_free(r);
	envx_kvset_release(&set);
}

/* Ordinary output that is none of the values' forms passes unchanged. */
static void
test_redact_no_false_positives(void **state)
{
	struct envx_kvset set;
	struct envx_redact *r = NULL;
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
	                       "uvwxyz0123456789+/=%\\\" \n";
	const char *log =
	        "GET /api/v1/users?name=a%20b 200 OK {\"level\":\"info\","
	        "\"msg\":\"a\\\"b\\n\"} token=dGhpcyBpcyBub3QgaXQ= "
	        "postgres://app:other@db/app hunter2 aHVudGVy\n";
	const size_t tlen = 256 * 1024;
	unsigned char *text;
	struct out o = {0};
	size_t i;
	size_t k;

	(void)state;
	envx_kvset_init(&set);
	add(&set, "K", "hunter22 pw/\"x", 14);
	add(&set, "DB", "postgres://app:s3cr%40t!@db:5432/app", 36);
	for (k = 0; k < 50; k++) {
		char v[33];
		char name[16];

		for (i = 0; i < 32; i++) {
			v[i] = alphabet[rnd() % 62];
		}
		snprintf(name, sizeof(name), "R%zu", k);
		add(&set, name, v, 16 + rnd() % 17);
	}
	assert_int_equal(envx_redact_new(&r, &set, NULL), 0);
	check_all_splits(r, log, log);
	text = malloc(tlen);
	assert_non_null(text);
	for (i = 0; i < tlen; i++) {
		text[i] = (unsigned char)alphabet[rnd() % strlen(alphabet)];
	}
	run(r, text, tlen, 0, &o);
	assert_int_equal(o.len, tlen);
	assert_memory_equal(o.p, text, tlen);
	out_release(&o);
	free(text);
	envx_redact_free(r);
	envx_kvset_release(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redact_single_value),
	        cmocka_unit_test(test_redact_value_split_at_every_boundary),
	        cmocka_unit_test(test_redact_overlapping_longest_wins),
	        cmocka_unit_test(test_redact_overlapping_tail_is_covered),
	        cmocka_unit_test(test_redact_value_prefix_of_another),
	        cmocka_unit_test(test_redact_short_values_untouched),
	        cmocka_unit_test(test_redact_no_secrets_passes_through),
	        cmocka_unit_test(test_redact_same_value_uses_first_name),
	        cmocka_unit_test(test_redact_dangling_prefix_at_eof),
	        cmocka_unit_test(test_redact_binary_data),
	        cmocka_unit_test(test_redact_emit_error_stops),
	        cmocka_unit_test(test_redact_random_matches_reference),
	        cmocka_unit_test(test_redact_large_set_sparse_automaton),
	        cmocka_unit_test(test_redact_base64_forms),
	        cmocka_unit_test(test_redact_base64_wrapped_at_76_columns),
	        cmocka_unit_test(test_redact_percent_encoded_forms),
	        cmocka_unit_test(test_redact_json_escaped_forms),
	        cmocka_unit_test(test_redact_url_password),
	        cmocka_unit_test(test_redact_short_value_forms_untouched),
	        cmocka_unit_test(test_redact_no_false_positives),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
