/*
 * Unit tests for src/dotenv: the table-driven cases in tests/data/dotenv
 * (expected pairs produced by the npm dotenv package), diagnostics, layout
 * facts for templates, and round trips through every writer, including real
 * dash and bash for the shell format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envx/dotenv.h"

/* ---- helpers ---- */

struct out {
	unsigned char *p;
	size_t len;
	size_t cap;
	int fail_after; /* emit fails once this many calls were made; -1 never
	                 */
	int calls;
};

static int
emit_out(void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;

	if (o->fail_after >= 0 && o->calls++ >= o->fail_after) {
		return ENVX_E_IO;
	}
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
		assert_non_null(o->p);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

static void
out_init(struct out *o)
{
	memset(o, 0, sizeof(*o));
	o->fail_after = -1;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
parse_str(const char *text, unsigned flags, struct envx_dotenv_result *r,
          struct envx_error *err)
{
	envx_dotenv_result_init(r);
	return envx_dotenv_parse(text, strlen(text), flags, r, err);
}

static bool
value_is(const struct envx_kvset *s, size_t i, const char *want)
{
	size_t len;
	const unsigned char *v = envx_kvset_value(s, i, &len);

	return len == strlen(want) && memcmp(v, want, len) == 0;
}

static const char *
data_dir(void)
{
	const char *d = getenv("ENVX_TEST_DATA");

	return d != NULL ? d : "tests/data";
}

/* ---- table-driven cases ---- */

static void
check_lines(const char *file, json_t *want, const struct envx_dotenv_result *r,
            bool errors)
{
	size_t i;
	size_t k = 0;

	for (i = 0; i < r->ndiags; i++) {
		if (r->diags[i].is_error != errors) {
			continue;
		}
		if (k >= json_array_size(want) ||
		    (json_int_t)r->diags[i].line !=
		            json_integer_value(json_array_get(want, k))) {
			fail_msg("%s: unexpected %s on line %u: %s", file,
			         errors ? "error" : "warning", r->diags[i].line,
			         r->diags[i].msg);
		}
		k++;
	}
	if (k != json_array_size(want)) {
		fail_msg("%s: %zu %s expected, %zu found", file,
		         json_array_size(want), errors ? "errors" : "warnings",
		         k);
	}
}

static void
run_case(const char *dir, const char *base)
{
	char path[2400];
	struct envx_dotenv_result r;
	struct envx_error err = {0};
	struct envx_kvset last;
	json_error_t jerr;
	json_t *exp;
	json_t *pairs;
	json_t *flags;
	const char *key;
	json_t *val;
	unsigned fl = 0;
	size_t len;
	char *text;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.json", dir, base);
	exp = json_load_file(path, JSON_ALLOW_NUL, &jerr);
	if (exp == NULL) {
		fail_msg("%s: %s", path, jerr.text);
	}
	flags = json_object_get(exp, "flags");
	for (i = 0; i < json_array_size(flags); i++) {
		const char *f = json_string_value(json_array_get(flags, i));

		fl |= strcmp(f, "lenient") == 0 ? ENVX_DOTENV_LENIENT : 0;
		fl |= strcmp(f, "commented") == 0 ? ENVX_DOTENV_COMMENTED : 0;
	}
	snprintf(path, sizeof(path), "%s/%s.env", dir, base);
	text = read_file(path, &len);
	envx_dotenv_result_init(&r);
	rc = envx_dotenv_parse(text, len, fl, &r, &err);
	if (json_array_size(json_object_get(exp, "errors")) > 0) {
		assert_int_equal(rc, ENVX_E_INPUT);
		assert_int_equal(err.code, ENVX_E_INPUT);
		assert_non_null(strstr(err.msg, "line "));
	} else if (rc != 0) {
		fail_msg("%s: %s", base, err.msg);
	}
	/* dotenv.parse() is an object: the last duplicate wins */
	envx_kvset_init(&last);
	for (i = 0; i < r.pairs.count; i++) {
		const char *nm = envx_kvset_name(&r.pairs, i);
		size_t vl;
		const unsigned char *v = envx_kvset_value(&r.pairs, i, &vl);

		if (!r.entries[i].commented_out) {
			assert_int_equal(envx_kvset_add(&last, nm, strlen(nm),
			                                v, vl, 0, NULL),
			                 0);
		}
	}
	envx_kvset_sort(&last);
	pairs = json_object_get(exp, "pairs");
	if (json_object_size(pairs) != last.count) {
		fail_msg("%s: %zu pairs expected, %zu parsed", base,
		         json_object_size(pairs), last.count);
	}
	json_object_foreach(pairs, key, val)
	{
		ssize_t at = envx_kvset_bsearch(&last, key);
		size_t vl;
		const unsigned char *v;

		if (at < 0) {
			fail_msg("%s: %s missing", base, key);
		}
		v = envx_kvset_value(&last, (size_t)at, &vl);
		if (vl != json_string_length(val) ||
		    memcmp(v, json_string_value(val), vl) != 0) {
			fail_msg("%s: value of %s differs", base, key);
		}
	}
	check_lines(base, json_object_get(exp, "warnings"), &r, false);
	check_lines(base, json_object_get(exp, "errors"), &r, true);
	envx_kvset_release(&last);
	envx_dotenv_result_release(&r);
	json_decref(exp);
	free(text);
}

static void
test_dotenv_cases_match_npm_dotenv(void **state)
{
	char dir[2048];
	DIR *d;
	struct dirent *de;
	int n = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dotenv", data_dir());
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char base[256];

		if (l < 5 || l >= sizeof(base) ||
		    strcmp(de->d_name + l - 4, ".env") != 0) {
			continue;
		}
		memcpy(base, de->d_name, l - 4);
		base[l - 4] = '\0';
		run_case(dir, base);
		n++;
	}
	closedir(d);
	/* a test that finds no data cannot fail: insist on the table */
	assert_true(n >= 25);
}

/* ---- parser behaviour ---- */

static void
test_dotenv_lenient_downgrades_errors(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str("A=1\nnot an assignment\nB.C=2\nD=3\n",
	                           ENVX_DOTENV_LENIENT, &r, &err),
	                 0);
	assert_int_equal(r.nerrors, 0);
	assert_int_equal(r.ndiags, 2);
	assert_int_equal(r.diags[0].line, 2);
	assert_false(r.diags[0].is_error);
	assert_int_equal(r.diags[1].line, 3);
	assert_int_equal(r.pairs.count, 2);
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_error_names_first_line(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str("A=1\nB=2\noops\nnope\n", 0, &r, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "line 3:"));
	assert_int_equal(r.nerrors, 2);
	/* the good pairs are still there */
	assert_int_equal(r.pairs.count, 2);
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_diags_never_quote_values(void **state)
{
	static const char *inputs[] = {
	        "A=SECRETVALUE#SECRETVALUE\n",
	        "A=\"SECRETVALUE\nB=SECRETVALUE\nC=\"\n",
	        "A='SECRETVALUE' SECRETVALUE\n",
	        "SECRETVALUE\n",
	        "A=1\nA=SECRETVALUE\n",
	        "A=\n\"SECRETVALUE\"\n",
	        "A=\"SECRETVALUE",
	        "A=SECRET\0VALUE\n",
	        "# A=SECRETVALUE\nA=SECRETVALUE\n",
	};
	size_t i;
	size_t k;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct envx_dotenv_result r;
		struct envx_error err = {0};
		size_t len = strlen(inputs[i]);

		if (i == 7) {
			len = 16;
		}
		envx_dotenv_result_init(&r);
		(void)envx_dotenv_parse(inputs[i], len, ENVX_DOTENV_COMMENTED,
		                        &r, &err);
		assert_true(r.ndiags > 0 || i == 8);
		for (k = 0; k < r.ndiags; k++) {
			assert_null(strstr(r.diags[k].msg, "SECRET"));
			assert_null(strstr(r.diags[k].msg, "VALUE"));
		}
		assert_null(strstr(err.msg, "SECRET"));
		envx_dotenv_result_release(&r);
	}
}

static void
test_dotenv_nul_is_error_even_lenient(void **state)
{
	static const char text[] = "A=x\0y\nB=2\n";
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	envx_dotenv_result_init(&r);
	assert_int_equal(envx_dotenv_parse(text, sizeof(text) - 1,
	                                   ENVX_DOTENV_LENIENT, &r, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "NUL"));
	assert_int_equal(r.pairs.count, 1);
	assert_string_equal(envx_kvset_name(&r.pairs, 0), "B");
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_too_large_is_refused(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};
	static const char small[] = "A=1";

	(void)state;
	envx_dotenv_result_init(&r);
	/* the length is checked before a byte is read */
	assert_int_equal(envx_dotenv_parse(small, ENVX_DOTENV_MAX_BYTES + 1, 0,
	                                   &r, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "too large"));
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_invalid_utf8_bytes_are_kept(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str("A=\xff\xfe\x80x\nB='\xc3'\n", 0, &r, &err),
	                 0);
	assert_true(value_is(&r.pairs, 0, "\xff\xfe\x80x"));
	assert_true(value_is(&r.pairs, 1, "\xc3"));
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_keeps_duplicates_in_order(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str("A=1\nB=2\nA=3\n", 0, &r, &err), 0);
	assert_int_equal(r.pairs.count, 3);
	assert_true(value_is(&r.pairs, 0, "1"));
	assert_true(value_is(&r.pairs, 2, "3"));
	assert_int_equal(r.entries[2].line, 3);
	envx_kvset_sort(&r.pairs);
	assert_int_equal(r.pairs.count, 2);
	assert_true(value_is(&r.pairs, 0, "3"));
	envx_dotenv_result_release(&r);

	/* release after a deduping sort frees every entry's comments (the
	 * leak checker of the sanitizer build would see a miss) */
	assert_int_equal(parse_str("# a\nA=1 # x\n# b\nA=2 # y\n# c\nA=3\n", 0,
	                           &r, &err),
	                 0);
	assert_int_equal(r.nentries, 3);
	envx_kvset_sort(&r.pairs);
	assert_int_equal(r.pairs.count, 1);
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_commented_pairs_and_comments(void **state)
{
	static const char text[] =
	        "# Postgres connection string for the app.\n"
	        "# @type url\n"
	        "DATABASE_URL=postgres://localhost/app # local default\n"
	        "\n"
	        "# orphaned by the blank line\n"
	        "\n"
	        "# @optional\n"
	        "# LOG_LEVEL=info\n"
	        "#DEBUG=\n"
	        "# not = an assignment\n"
	        "API_KEY=\n"
	        "# note\n"
	        "# OLD=1\n"
	        "NEW='x' # after quote\n";
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str(text, ENVX_DOTENV_COMMENTED, &r, &err), 0);
	assert_int_equal(r.ndiags, 0);
	assert_int_equal(r.pairs.count, 6);

	assert_string_equal(envx_kvset_name(&r.pairs, 0), "DATABASE_URL");
	assert_int_equal(r.entries[0].line, 3);
	assert_string_equal(r.entries[0].comment_above,
	                    "Postgres connection string for the app.\n"
	                    "@type url");
	assert_int_equal(r.entries[0].comment_line, 1);
	assert_string_equal(r.entries[0].inline_comment, "local default");
	assert_false(r.entries[0].commented_out);

	assert_string_equal(envx_kvset_name(&r.pairs, 1), "LOG_LEVEL");
	assert_true(r.entries[1].commented_out);
	assert_true(value_is(&r.pairs, 1, "info"));
	assert_string_equal(r.entries[1].comment_above, "@optional");
	assert_int_equal(r.entries[1].comment_line, 7);

	assert_string_equal(envx_kvset_name(&r.pairs, 2), "DEBUG");
	assert_true(r.entries[2].commented_out);
	assert_null(r.entries[2].comment_above);

	/* a commented-out assignment is not part of the next comment block */
	assert_string_equal(envx_kvset_name(&r.pairs, 3), "API_KEY");
	assert_false(r.entries[3].commented_out);
	assert_string_equal(r.entries[3].comment_above, "not = an assignment");
	assert_int_equal(r.entries[3].comment_line, 10);
	assert_null(r.entries[3].inline_comment);

	assert_string_equal(envx_kvset_name(&r.pairs, 4), "OLD");
	assert_string_equal(envx_kvset_name(&r.pairs, 5), "NEW");
	assert_null(r.entries[5].comment_above);
	assert_string_equal(r.entries[5].inline_comment, "after quote");
	envx_dotenv_result_release(&r);

	/* without the flag the commented lines are plain comments, and a
	 * commented-out assignment still breaks the block */
	assert_int_equal(parse_str(text, 0, &r, &err), 0);
	assert_int_equal(r.pairs.count, 3);
	assert_string_equal(envx_kvset_name(&r.pairs, 2), "NEW");
	assert_null(r.entries[2].comment_above);
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_hash_glued_to_value_is_not_inline_comment(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};

	(void)state;
	assert_int_equal(parse_str("A=abc#def\nB=abc #def\n", 0, &r, &err), 0);
	assert_true(value_is(&r.pairs, 0, "abc"));
	assert_null(r.entries[0].inline_comment);
	assert_int_equal(r.ndiags, 1);
	assert_int_equal(r.diags[0].line, 1);
	assert_string_equal(r.entries[1].inline_comment, "def");
	envx_dotenv_result_release(&r);
}

static void
test_dotenv_diagnostics_are_capped(void **state)
{
	struct envx_dotenv_result r;
	struct envx_error err = {0};
	size_t n = ENVX_DOTENV_MAX_DIAGS + 500;
	char *text = malloc(n * 4 + 1);
	size_t i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < n; i++) {
		memcpy(text + i * 4, "bad\n", 4);
	}
	envx_dotenv_result_init(&r);
	assert_int_equal(envx_dotenv_parse(text, n * 4, 0, &r, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(r.ndiags, ENVX_DOTENV_MAX_DIAGS);
	assert_int_equal(r.nerrors, n);
	assert_int_equal(r.ndiags_dropped, 500);
	envx_dotenv_result_release(&r);
	free(text);
}

static void
test_dotenv_pathological_input_is_fast(void **state)
{
	/* escaped quotes with no closing one: a naive reading is quadratic */
	size_t lines = 100000;
	char *text = malloc(lines * 7 + 1);
	struct envx_dotenv_result r;
	struct envx_error err = {0};
	size_t i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < lines; i++) {
		memcpy(text + i * 7, "A=\"\\\"x\n", 7);
	}
	envx_dotenv_result_init(&r);
	(void)envx_dotenv_parse(text, lines * 7, ENVX_DOTENV_LENIENT, &r, &err);
	assert_true(r.pairs.count > 0);
	envx_dotenv_result_release(&r);
	free(text);
}

/* ---- writers ---- */

static void
random_value(unsigned char *v, size_t len)
{
	size_t i;

	randombytes_buf(v, len);
	for (i = 0; i < len; i++) {
		if (v[i] == 0) {
			v[i] = (unsigned char)(1 + randombytes_uniform(255));
		}
		/* bias towards the characters that matter to the formats */
		if (randombytes_uniform(3) == 0) {
			v[i] = (unsigned char)"'\"`\\\n\r #$=n%"
			        [randombytes_uniform(12)];
		}
	}
}

static const char *special_values[] = {
        "",
        "plain",
        " leading and trailing ",
        "it's",
        "say \"hi\"",
        "back`tick",
        "a\\nb",
        "a\\rb",
        "ends with backslash\\",
        "line1\nline2\n",
        "crlf\r\nline",
        "$HOME ${X} $(id) `id`",
        "#not a comment",
        "a=b=c",
        "héllo \xe2\x80\xa8 wörld \xc2\xa0",
        "-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n",
        "'; rm -rf /; echo '",
        "x\"'`mixed`'\" without break",
        "100%0Aprogress",
};

static void
build_set(struct envx_kvset *s, unsigned char vals[][64], size_t *lens,
          size_t nrandom)
{
	size_t i;
	char name[32];

	envx_kvset_init(s);
	for (i = 0; i < sizeof(special_values) / sizeof(special_values[0]);
	     i++) {
		snprintf(name, sizeof(name), "S%zu", i);
		assert_int_equal(
		        envx_kvset_add(s, name, strlen(name), special_values[i],
		                       strlen(special_values[i]), 0, NULL),
		        0);
	}
	for (i = 0; i < nrandom; i++) {
		lens[i] = randombytes_uniform(64);
		random_value(vals[i], lens[i]);
		snprintf(name, sizeof(name), "R%zu", i);
		assert_int_equal(envx_kvset_add(s, name, strlen(name), vals[i],
		                                lens[i], 0, NULL),
		                 0);
	}
}

static void
test_dotenv_write_round_trips(void **state)
{
	enum { N = 2000 };
	static unsigned char vals[N][64];
	static size_t lens[N];
	struct envx_kvset all;
	struct envx_kvset ok;
	struct envx_dotenv_result r;
	struct envx_error err = {0};
	struct out o;
	size_t i;
	size_t refused = 0;

	(void)state;
	build_set(&all, vals, lens, N);
	envx_kvset_init(&ok);
	for (i = 0; i < all.count; i++) {
		struct envx_kvset one;
		size_t len;
		const unsigned char *v = envx_kvset_value(&all, i, &len);
		const char *nm = envx_kvset_name(&all, i);

		envx_kvset_init(&one);
		assert_int_equal(
		        envx_kvset_add(&one, nm, strlen(nm), v, len, 0, NULL),
		        0);
		out_init(&o);
		if (envx_dotenv_write(&one, emit_out, &o, &err) < 0) {
			/* refused: the secret is named, nothing is written */
			assert_int_equal(err.code, ENVX_E_INPUT);
			assert_non_null(strstr(err.msg, nm));
			assert_int_equal(o.len, 0);
			refused++;
		} else {
			assert_int_equal(envx_kvset_add(&ok, nm, strlen(nm), v,
			                                len, 0, NULL),
			                 0);
		}
		free(o.p);
		envx_kvset_release(&one);
	}
	/* the hand-picked values all have a form; random ones mostly do */
	for (i = 0; i < ok.count; i++) {
		if (envx_kvset_name(&ok, i)[0] != 'S') {
			break;
		}
	}
	assert_int_equal(i, sizeof(special_values) / sizeof(special_values[0]));
	assert_true(refused < all.count / 2);
	out_init(&o);
	assert_int_equal(envx_dotenv_write(&ok, emit_out, &o, &err), 0);
	envx_dotenv_result_init(&r);
	assert_int_equal(
	        envx_dotenv_parse((const char *)o.p, o.len, 0, &r, &err), 0);
	assert_int_equal(r.pairs.count, ok.count);
	for (i = 0; i < ok.count; i++) {
		size_t l1;
		size_t l2;
		const unsigned char *v1 = envx_kvset_value(&ok, i, &l1);
		const unsigned char *v2 = envx_kvset_value(&r.pairs, i, &l2);

		assert_string_equal(envx_kvset_name(&ok, i),
		                    envx_kvset_name(&r.pairs, i));
		assert_int_equal(l1, l2);
		assert_memory_equal(v1, v2, l1);
	}
	/* the readable forms are used when they can be */
	assert_non_null(strstr((char *)o.p, "S1=plain\n"));
	assert_non_null(strstr((char *)o.p, "S3=\"it's\"\n"));
	assert_non_null(strstr((char *)o.p, "S11='$HOME"));
	envx_dotenv_result_release(&r);
	envx_kvset_release(&ok);
	envx_kvset_release(&all);
	free(o.p);
}

static void
test_dotenv_write_refuses_impossible_value(void **state)
{
	static const char v[] = "'\"`\nTOPSECRET";
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out o;

	(void)state;
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "OK", 2, "fine", 4, 0, NULL), 0);
	assert_int_equal(
	        envx_kvset_add(&s, "BAD", 3, v, sizeof(v) - 1, 0, NULL), 0);
	out_init(&o);
	assert_int_equal(envx_dotenv_write(&s, emit_out, &o, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "BAD"));
	assert_null(strstr(err.msg, "TOPSECRET"));
	assert_int_equal(o.len, 0);
	envx_kvset_release(&s);
	free(o.p);
}

static void
test_dotenv_writers_refuse_nul_and_bad_names(void **state)
{
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out o;

	(void)state;
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "A", 1, "x\0y", 3, 0, NULL), 0);
	out_init(&o);
	assert_int_equal(envx_dotenv_write(&s, emit_out, &o, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_shell_write(&s, emit_out, &o, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_json_write(&s, emit_out, &o, &err), ENVX_E_INPUT);
	assert_int_equal(
	        envx_github_write(&s, emit_out, &o, emit_out, &o, &err),
	        ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "NUL"));
	assert_int_equal(o.len, 0);
	envx_kvset_release(&s);
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "A;B", 3, "x", 1, 0, NULL), 0);
	assert_int_equal(envx_shell_write(&s, emit_out, &o, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(o.len, 0);
	envx_kvset_release(&s);
	free(o.p);
}

static void
test_dotenv_writers_propagate_emit_errors(void **state)
{
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out o;

	(void)state;
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "A", 1, "x", 1, 0, NULL), 0);
	out_init(&o);
	o.fail_after = 1;
	assert_int_equal(envx_dotenv_write(&s, emit_out, &o, &err), ENVX_E_IO);
	o.calls = 0;
	assert_int_equal(envx_shell_write(&s, emit_out, &o, &err), ENVX_E_IO);
	o.calls = 0;
	assert_int_equal(envx_json_write(&s, emit_out, &o, &err), ENVX_E_IO);
	o.calls = 0;
	assert_int_equal(
	        envx_github_write(&s, emit_out, &o, emit_out, &o, &err),
	        ENVX_E_IO);
	envx_kvset_release(&s);
	free(o.p);
}

/* Runs `shell -c '. FILE; printf "%s\0" "$N0" ...'` and returns stdout. */
static unsigned char *
run_shell(const char *shell, const char *script, size_t *outlen)
{
	int pfd[2];
	pid_t pid;
	unsigned char *buf = NULL;
	size_t len = 0;
	size_t cap = 0;
	ssize_t n;
	int status;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execlp(shell, shell, "-c", script, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 4096 > cap) {
			cap = (len + 4096) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(pfd[0], buf + len, cap - len);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
	}
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		free(buf);
		return NULL;
	}
	*outlen = len;
	return buf;
}

static void
test_dotenv_shell_write_evals_back_exactly(void **state)
{
	enum { N = 300 };
	static unsigned char vals[N][64];
	static size_t lens[N];
	static const char *shells[] = {"sh", "dash", "bash"};
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out o;
	char tmpl[] = "/tmp/envx-test-shell-XXXXXX";
	char *script = NULL;
	size_t script_len;
	size_t i;
	size_t k;
	int fd;
	int ran = 0;

	(void)state;
	build_set(&s, vals, lens, N);
	out_init(&o);
	assert_int_equal(envx_shell_write(&s, emit_out, &o, &err), 0);
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, o.p, o.len), (ssize_t)o.len);
	close(fd);
	script_len = 64 + strlen(tmpl) + s.count * 16;
	script = malloc(script_len);
	assert_non_null(script);
	k = (size_t)snprintf(script, script_len, ". %s && printf '%%s\\0'",
	                     tmpl);
	for (i = 0; i < s.count; i++) {
		k += (size_t)snprintf(script + k, script_len - k, " \"$%s\"",
		                      envx_kvset_name(&s, i));
	}
	for (i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		size_t len = 0;
		unsigned char *got = run_shell(shells[i], script, &len);
		size_t pos = 0;
		size_t j;

		if (got == NULL) {
			continue; /* that shell is not installed */
		}
		ran++;
		for (j = 0; j < s.count; j++) {
			size_t vl;
			const unsigned char *v = envx_kvset_value(&s, j, &vl);

			if (pos + vl >= len || memcmp(got + pos, v, vl) != 0 ||
			    got[pos + vl] != '\0') {
				fail_msg("%s: %s differs", shells[i],
				         envx_kvset_name(&s, j));
			}
			pos += vl + 1;
		}
		assert_int_equal(pos, len);
		free(got);
	}
	assert_true(ran >= 1);
	unlink(tmpl);
	free(script);
	free(o.p);
	envx_kvset_release(&s);
}

static void
test_dotenv_json_write_escapes_and_round_trips(void **state)
{
	enum { N = 200 };
	static unsigned char vals[N][64];
	static size_t lens[N];
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out o;
	json_error_t jerr;
	json_t *doc;
	size_t i;

	(void)state;
	envx_kvset_init(&s);
	/* random UTF-8: build from random code points */
	for (i = 0; i < N; i++) {
		size_t len = 0;
		char name[16];

		while (len < 56) {
			uint32_t cp = randombytes_uniform(4) == 0
			                      ? randombytes_uniform(0x20)
			                      : 1 + randombytes_uniform(0x3000);

			if (cp == 0) {
				cp = 0x2028;
			}
			if (cp < 0x80) {
				vals[i][len++] = (unsigned char)cp;
			} else if (cp < 0x800) {
				vals[i][len++] =
				        (unsigned char)(0xc0 | cp >> 6);
				vals[i][len++] =
				        (unsigned char)(0x80 | (cp & 63));
			} else {
				vals[i][len++] =
				        (unsigned char)(0xe0 | cp >> 12);
				vals[i][len++] =
				        (unsigned char)(0x80 |
				                        ((cp >> 6) & 63));
				vals[i][len++] =
				        (unsigned char)(0x80 | (cp & 63));
			}
		}
		lens[i] = len;
		snprintf(name, sizeof(name), "J%zu", i);
		assert_int_equal(envx_kvset_add(&s, name, strlen(name), vals[i],
		                                len, 0, NULL),
		                 0);
	}
	out_init(&o);
	assert_int_equal(envx_json_write(&s, emit_out, &o, &err), 0);
	doc = json_loadb((const char *)o.p, o.len, 0, &jerr);
	if (doc == NULL) {
		fail_msg("json: %s", jerr.text);
	}
	for (i = 0; i < N; i++) {
		json_t *v = json_object_get(doc, envx_kvset_name(&s, i));

		assert_non_null(v);
		assert_int_equal(json_string_length(v), lens[i]);
		assert_memory_equal(json_string_value(v), vals[i], lens[i]);
	}
	json_decref(doc);
	free(o.p);
	envx_kvset_release(&s);

	/* not UTF-8: refused, naming the secret */
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "BIN", 3, "\xc0\xaf", 2, 0, NULL),
	                 0);
	out_init(&o);
	assert_int_equal(envx_json_write(&s, emit_out, &o, &err), ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "BIN"));
	assert_int_equal(o.len, 0);
	envx_kvset_release(&s);

	/* an empty set is an empty object */
	envx_kvset_init(&s);
	assert_int_equal(envx_json_write(&s, emit_out, &o, &err), 0);
	assert_string_equal((char *)o.p, "{}\n");
	free(o.p);
}

static void
test_dotenv_github_write_heredoc_and_masks(void **state)
{
	static const char pem[] =
	        "-----BEGIN-----\r\nAB%0A\n\n  \t \n-----END-----\n";
	struct envx_kvset s;
	struct envx_error err = {0};
	struct out env;
	struct out mask;
	const char *p;
	size_t i;

	(void)state;
	envx_kvset_init(&s);
	assert_int_equal(
	        envx_kvset_add(&s, "KEY", 3, pem, sizeof(pem) - 1, 0, NULL), 0);
	assert_int_equal(envx_kvset_add(&s, "EMPTY", 5, "", 0, 0, NULL), 0);
	out_init(&env);
	out_init(&mask);
	assert_int_equal(
	        envx_github_write(&s, emit_out, &env, emit_out, &mask, &err),
	        0);
	/* a line of blanks is not masked: it would hide every space */
	assert_string_equal((char *)mask.p, "::add-mask::-----BEGIN-----\n"
	                                    "::add-mask::AB%250A\n"
	                                    "::add-mask::-----END-----\n");
	/* KEY<<ghadelimiter_<32 hex>\n<value>\n<delim>\n */
	p = (const char *)env.p;
	assert_int_equal(strncmp(p, "KEY<<ghadelimiter_", 18), 0);
	for (i = 18; i < 50; i++) {
		assert_non_null(strchr("0123456789abcdef", p[i]));
	}
	assert_int_equal(p[50], '\n');
	assert_memory_equal(p + 51, pem, sizeof(pem) - 1);
	assert_int_equal(p[51 + sizeof(pem) - 1], '\n');
	assert_memory_equal(p + 52 + sizeof(pem) - 1, p + 5, 45);
	p += 52 + sizeof(pem) - 1 + 46;
	assert_int_equal(strncmp(p, "EMPTY<<ghadelimiter_", 20), 0);
	/* a fresh delimiter per value */
	assert_memory_not_equal(p + 7, env.p + 5, 45);
	assert_int_equal(p[52], '\n');
	assert_int_equal(p[53], '\n');
	free(env.p);
	free(mask.p);
	envx_kvset_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dotenv_cases_match_npm_dotenv),
	        cmocka_unit_test(test_dotenv_lenient_downgrades_errors),
	        cmocka_unit_test(test_dotenv_error_names_first_line),
	        cmocka_unit_test(test_dotenv_diags_never_quote_values),
	        cmocka_unit_test(test_dotenv_nul_is_error_even_lenient),
	        cmocka_unit_test(test_dotenv_too_large_is_refused),
	        cmocka_unit_test(test_dotenv_invalid_utf8_bytes_are_kept),
	        cmocka_unit_test(test_dotenv_keeps_duplicates_in_order),
	        cmocka_unit_test(test_dotenv_commented_pairs_and_comments),
	        cmocka_unit_test(
	                test_dotenv_hash_glued_to_value_is_not_inline_comment),
	        cmocka_unit_test(test_dotenv_diagnostics_are_capped),
	        cmocka_unit_test(test_dotenv_pathological_input_is_fast),
	        cmocka_unit_test(test_dotenv_write_round_trips),
	        cmocka_unit_test(test_dotenv_write_refuses_impossible_value),
	        cmocka_unit_test(test_dotenv_writers_refuse_nul_and_bad_names),
	        cmocka_unit_test(test_dotenv_writers_propagate_emit_errors),
	        cmocka_unit_test(test_dotenv_shell_write_evals_back_exactly),
	        cmocka_unit_test(
	                test_dotenv_json_write_escapes_and_round_trips),
	        cmocka_unit_test(test_dotenv_github_write_heredoc_and_masks),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
