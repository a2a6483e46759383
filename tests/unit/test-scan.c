/*
 * Unit tests for the scan module: the matcher against a naive reference
 * (every pattern compared at every offset) on fixed and random inputs, whole
 * and fed in chunks of many sizes, with lines and columns; and the encoded
 * forms against vectors made with Python's base64, urllib.parse and json.
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

#include "envx/scan.h"

struct hits {
	struct envx_scan_hit *h;
	size_t n;
	size_t cap;
	size_t stop_after; /* return 1 on this hit (1-based), 0 never */
};

static int
collect(void *ctx, const struct envx_scan_hit *hit)
{
	struct hits *hs = ctx;

	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? 2 * hs->cap : 64;
		hs->h = realloc(hs->h, hs->cap * sizeof(*hs->h));
		assert_non_null(hs->h);
	}
	hs->h[hs->n++] = *hit;
	return hs->stop_after != 0 && hs->n == hs->stop_after;
}

static int
hit_cmp(const void *a, const void *b)
{
	const struct envx_scan_hit *x = a;
	const struct envx_scan_hit *y = b;

	if (x->offset != y->offset) {
		return x->offset < y->offset ? -1 : 1;
	}
	return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

/* Every occurrence, by brute force (patterns bucketed by first byte to
 * keep 10,000 of them quick), with its line and column. */
static void
reference(const struct envx_scan_pattern *p, size_t np,
          const unsigned char *text, size_t len, struct hits *out)
{
	size_t *order = calloc(np ? np : 1, sizeof(*order));
	size_t first[257] = {0};
	size_t i;
	size_t k;
	uint64_t line = 1;
	uint64_t lstart = 0;

	assert_non_null(order);
	for (k = 0; k < np; k++) {
		first[p[k].data[0] + 1]++;
	}
	for (i = 1; i < 257; i++) {
		first[i] += first[i - 1];
	}
	for (k = 0; k < np; k++) {
		order[first[p[k].data[0]]++] = k;
	}
	/* first[b] now ends bucket b; bucket b starts at first[b - 1] */
	for (i = 0; i < len; i++) {
		size_t from = text[i] == 0 ? 0 : first[text[i] - 1];

		for (k = from; k < first[text[i]]; k++) {
			const struct envx_scan_pattern *q = &p[order[k]];

			if (q->len <= len - i &&
			    memcmp(text + i, q->data, q->len) == 0) {
				struct envx_scan_hit h = {order[k], i, line,
				                          i - lstart + 1};
				collect(out, &h);
			}
		}
		if (text[i] == '\n') {
			line++;
			lstart = i + 1;
		}
	}
	free(order);
}

static void
assert_same_hits(struct hits *got, struct hits *want)
{
	size_t i;

	if (got->n > 1) {
		qsort(got->h, got->n, sizeof(*got->h), hit_cmp);
	}
	assert_int_equal(got->n, want->n);
	for (i = 0; i < got->n; i++) {
		assert_int_equal(got->h[i].pattern, want->h[i].pattern);
		assert_int_equal(got->h[i].offset, want->h[i].offset);
		assert_int_equal(got->h[i].line, want->h[i].line);
		assert_int_equal(got->h[i].column, want->h[i].column);
	}
}

/* The matcher finds what the reference finds, whole and in chunks of
 * every size in sizes (0: random sizes). */
static void
check_all_ways(const struct envx_scan_pattern *p, size_t np,
               const unsigned char *text, size_t len)
{
	static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 64, 4096, 0};
	struct envx_scan *m = NULL;
	struct envx_scan_stream *s = NULL;
	struct hits want = {0};
	struct hits got = {0};
	size_t k;

	reference(p, np, text, len, &want);
	if (want.n > 1) {
		qsort(want.h, want.n, sizeof(*want.h), hit_cmp);
	}
	assert_int_equal(envx_scan_new(&m, p, np, NULL), 0);
	assert_int_equal(envx_scan_buffer(m, text, len, collect, &got), 0);
	assert_same_hits(&got, &want);
	assert_int_equal(envx_scan_stream_new(&s, m, NULL), 0);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t off = 0;

		got.n = 0;
		while (off < len) {
			size_t n = sizes[k] ? sizes[k]
			                    : 1 + randombytes_uniform(300);

			if (n > len - off) {
				n = len - off;
			}
			assert_int_equal(envx_scan_stream_feed(s, text + off, n,
			                                       collect, &got),
			                 0);
			off += n;
		}
		assert_int_equal(envx_scan_stream_finish(s, collect, &got), 0);
		assert_same_hits(&got, &want);
	}
	envx_scan_stream_free(s);
	envx_scan_free(m);
	free(want.h);
	free(got.h);
}

#define PAT(s)                                                                 \
	{                                                                      \
		(const unsigned char *)(s), sizeof(s) - 1                      \
	}

static void
test_scan_overlapping_and_nested(void **state)
{
	/* prefix, suffix, overlap, a pattern inside another, repeats */
	static const struct envx_scan_pattern p[] = {
	        PAT("secretpassword"), PAT("secretpa"), PAT("password"),
	        PAT("tpasswor"),       PAT("aaaaaaaa"), PAT("aaaaaaaaaa"),
	        PAT("wordsecr"),       PAT("secretpa"),
	};
	static const char text[] =
	        "xx secretpassword yy\nsecretpasswordsecretpassword\n"
	        "aaaaaaaaaaaaa\nsecretpa\n\npassword";

	(void)state;
	check_all_ways(p, sizeof(p) / sizeof(p[0]), (const unsigned char *)text,
	               sizeof(text) - 1);
}

static void
test_scan_binary_bytes(void **state)
{
	static const unsigned char a[] = {0, 1, 2, 0, 0xff, 0xfe, 0, 0, 7};
	static const unsigned char b[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char c[] = {'\n', '\n', 0,    '\n',
	                                  0x80, 0x81, '\n', 0};
	struct envx_scan_pattern p[] = {
	        {a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	unsigned char text[4096];
	size_t i;

	(void)state;
	randombytes_buf(text, sizeof(text));
	memset(text + 100, 0, 40);
	memcpy(text + 500, a, sizeof(a));
	memcpy(text + 4096 - sizeof(a), a, sizeof(a));
	memcpy(text, c, sizeof(c));
	memcpy(text + 2000, c, sizeof(c));
	for (i = 3000; i < 3100; i += 9) {
		memcpy(text + i, a, sizeof(a));
	}
	check_all_ways(p, 3, text, sizeof(text));
}

static void
test_scan_at_the_edges(void **state)
{
	static const struct envx_scan_pattern p[] = {PAT("ABCDEFGH"),
	                                             PAT("0123456789xyz")};
	struct envx_scan *m = NULL;
	struct hits got = {0};

	(void)state;
	check_all_ways(p, 2, (const unsigned char *)"ABCDEFGH", 8);
	check_all_ways(p, 2, (const unsigned char *)"ABCDEFG", 7);
	check_all_ways(p, 2, (const unsigned char *)"", 0);
	check_all_ways(p, 2,
	               (const unsigned char *)"0123456789xyzABCDEFGH0123456789"
	                                      "xy",
	               33);
	/* stopping: the callback's value comes back */
	assert_int_equal(envx_scan_new(&m, p, 2, NULL), 0);
	got.stop_after = 1;
	assert_int_equal(
	        envx_scan_buffer(m, "ABCDEFGHABCDEFGH", 16, collect, &got), 1);
	assert_int_equal(got.n, 1);
	envx_scan_free(m);
	free(got.h);
}

/* Occurrences straddle every chunk boundary of a long input. */
static void
test_scan_across_chunks(void **state)
{
	size_t len = 3 * ENVX_SCAN_CHUNK_BYTES + 1000;
	unsigned char *text = malloc(len);
	unsigned char longp[3000];
	struct envx_scan_pattern p[] = {PAT("boundary-crossing"),
	                                {longp, sizeof(longp)}};
	size_t at;

	(void)state;
	assert_non_null(text);
	for (at = 0; at < len; at++) {
		text[at] = (unsigned char)('a' + at % 23);
		if (at % 61 == 60) {
			text[at] = '\n';
		}
	}
	randombytes_buf(longp, sizeof(longp));
	for (at = ENVX_SCAN_CHUNK_BYTES - 20; at < len - 100;
	     at += ENVX_SCAN_CHUNK_BYTES) {
		memcpy(text + at, "boundary-crossing", 17);
	}
	memcpy(text + 2 * ENVX_SCAN_CHUNK_BYTES - 1500, longp, sizeof(longp));
	check_all_ways(p, 2, text, len);
	free(text);
}

/* 10,000 patterns, many sharing a prefix, in random text with some of them
 * planted; also compared with the reference. */
static void
test_scan_ten_thousand_patterns(void **state)
{
	enum { N = 10000, LEN = 200000 };
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	                            "opqrstuvwxyz0123456789";
	struct envx_scan_pattern *p = calloc(N, sizeof(*p));
	unsigned char *bytes = malloc((size_t)N * 40);
	unsigned char *text = malloc(LEN);
	size_t i;
	size_t j;

	(void)state;
	assert_non_null(p);
	assert_non_null(bytes);
	assert_non_null(text);
	for (i = 0; i < N; i++) {
		size_t len = 8 + randombytes_uniform(32);
		unsigned char *b = bytes + 40 * i;

		for (j = 0; j < len; j++) {
			b[j] = (unsigned char)alnum[randombytes_uniform(62)];
		}
		if (i % 2 == 0) {
			memcpy(b, "AKIA", 4); /* a prefix half of them share */
		}
		p[i].data = b;
		p[i].len = len;
	}
	for (i = 0; i < LEN; i++) {
		text[i] =
		        i % 50 == 49
		                ? '\n'
		                : (unsigned char)alnum[randombytes_uniform(62)];
	}
	for (i = 0; i < 200; i++) {
		const struct envx_scan_pattern *q = &p[randombytes_uniform(N)];
		size_t at = randombytes_uniform(LEN - 40);

		memcpy(text + at, q->data, q->len);
	}
	check_all_ways(p, N, text, LEN);
	free(text);
	free(bytes);
	free(p);
}

static void
test_scan_refuses_short_patterns(void **state)
{
	static const struct envx_scan_pattern p[] = {PAT("longenough"),
	                                             PAT("short")};
	struct envx_scan *m = NULL;
	struct envx_error err;

	(void)state;
	assert_int_equal(envx_scan_new(&m, p, 2, &err), ENVX_E_INPUT);
	assert_null(m);
	assert_non_null(strstr(err.msg, "shorter than 8"));
	assert_int_equal(envx_scan_new(&m, p, 0, &err), 0);
	assert_int_equal(envx_scan_buffer(m, "longenough", 10, collect, NULL),
	                 0);
	envx_scan_free(m);
}

/* The forms of v, each checked against want[] (encoding, text). */
struct want_form {
	int encoding;
	const char *text;
};

static void
check_forms(const char *v, const struct want_form *want, size_t nwant)
{
	struct envx_scan_form forms[ENVX_SCAN_FORMS_MAX];
	size_t n = envx_scan_forms((const unsigned char *)v, strlen(v), NULL,
	                           NULL, NULL);
	unsigned char *dst = malloc(n ? n : 1);
	size_t nforms = 99;
	size_t i;

	assert_non_null(dst);
	assert_int_equal(envx_scan_forms((const unsigned char *)v, strlen(v),
	                                 dst, forms, &nforms),
	                 n);
	assert_int_equal(nforms, nwant);
	for (i = 0; i < nwant; i++) {
		assert_int_equal(forms[i].encoding, want[i].encoding);
		assert_int_equal(forms[i].len, strlen(want[i].text));
		assert_memory_equal(dst + forms[i].off, want[i].text,
		                    forms[i].len);
	}
	free(dst);
}

static void
test_scan_forms_vectors(void **state)
{
	/* base64 (Python: base64.b64encode, cut to the characters made of
	 * the value's bits, at alignments 0, 1, 2), urllib.parse.quote with
	 * safe="-_.!~*'()", json.dumps with and without ensure_ascii */
	static const struct want_form all[] = {
	        {ENVX_SCAN_RAW,
	         "p\xc3\xa4+ss/w\"rd\n?\xe2\x82\xac\xf0\x9f\x98\x80"},
	        {ENVX_SCAN_BASE64, "cMOkK3NzL3cicmQKP+KCrPCfmI"},
	        {ENVX_SCAN_BASE64URL, "cMOkK3NzL3cicmQKP-KCrPCfmI"},
	        {ENVX_SCAN_BASE64, "DDpCtzcy93InJkCj/igqzwn5iA"},
	        {ENVX_SCAN_BASE64URL, "DDpCtzcy93InJkCj_igqzwn5iA"},
	        {ENVX_SCAN_BASE64, "ww6Qrc3MvdyJyZAo/4oKs8J+Yg"},
	        {ENVX_SCAN_BASE64URL, "ww6Qrc3MvdyJyZAo_4oKs8J-Yg"},
	        {ENVX_SCAN_URL,
	         "p%C3%A4%2Bss%2Fw%22rd%0A%3F%E2%82%AC%F0%9F%98%80"},
	        {ENVX_SCAN_URL_LOWER,
	         "p%c3%a4%2bss%2fw%22rd%0a%3f%e2%82%ac%f0%9f%98%80"},
	        {ENVX_SCAN_JSON,
	         "p\xc3\xa4+ss/w\\\"rd\\n?\xe2\x82\xac\xf0\x9f\x98\x80"},
	        {ENVX_SCAN_JSON_ASCII,
	         "p\\u00e4+ss/w\\\"rd\\n?\\u20ac\\ud83d\\ude00"},
	};
	/* a plain token: its URL and JSON forms are the value itself, and
	 * its base64 has no + or /, so those forms are not repeated */
	static const struct want_form plain[] = {
	        {ENVX_SCAN_RAW, "tok_0123456789"},
	        {ENVX_SCAN_BASE64, "dG9rXzAxMjM0NTY3OD"},
	        {ENVX_SCAN_BASE64, "Rva18wMTIzNDU2Nzg5"},
	        {ENVX_SCAN_BASE64, "0b2tfMDEyMzQ1Njc4O"},
	};

	(void)state;
	check_forms("p\xc3\xa4+ss/w\"rd\n?\xe2\x82\xac\xf0\x9f\x98\x80", all,
	            sizeof(all) / sizeof(all[0]));
	check_forms("tok_0123456789", plain, sizeof(plain) / sizeof(plain[0]));
	/* short values have no forms */
	check_forms("1234567", NULL, 0);
	assert_string_equal(envx_scan_encoding_name(ENVX_SCAN_URL_LOWER),
	                    "url-lower");
}

/* Invalid UTF-8 has no json-ascii form; control bytes are \u00xx. */
static void
test_scan_forms_control_and_invalid(void **state)
{
	static const struct want_form w[] = {
	        {ENVX_SCAN_RAW, "ab\x01\xff"
	                        "cdefg"},
	        {ENVX_SCAN_BASE64, "YWIB/2NkZWZn"},
	        {ENVX_SCAN_BASE64URL, "YWIB_2NkZWZn"},
	        {ENVX_SCAN_BASE64, "FiAf9jZGVmZ"},
	        {ENVX_SCAN_BASE64, "hYgH/Y2RlZm"},
	        {ENVX_SCAN_BASE64URL, "hYgH_Y2RlZm"},
	        {ENVX_SCAN_URL, "ab%01%FFcdefg"},
	        {ENVX_SCAN_URL_LOWER, "ab%01%ffcdefg"},
	        {ENVX_SCAN_JSON, "ab\\u0001\xff"
	                         "cdefg"},
	};

	(void)state;
	check_forms("ab\x01\xff"
	            "cdefg",
	            w, sizeof(w) / sizeof(w[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_scan_overlapping_and_nested),
	        cmocka_unit_test(test_scan_binary_bytes),
	        cmocka_unit_test(test_scan_at_the_edges),
	        cmocka_unit_test(test_scan_across_chunks),
	        cmocka_unit_test(test_scan_ten_thousand_patterns),
	        cmocka_unit_test(test_scan_refuses_short_patterns),
	        cmocka_unit_test(test_scan_forms_vectors),
	        cmocka_unit_test(test_scan_forms_control_and_invalid),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
