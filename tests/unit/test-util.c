/*
 * Unit tests for src/util: bounded buffers, the secure name/value set, name
 * rules, durations, time parsing, key-file permission checks and the form
 * encoders.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "envx/util.h"
#include "skip.h"
#include "util/encode.h"

/* The library's build option, passed to the unit tests too by
 * tests/meson.build: -Dtest_clock=true defines ENVX_TEST_CLOCK. */
#ifdef ENVX_TEST_CLOCK
static const int have_test_clock = 1;
#else
static const int have_test_clock = 0;
#endif

static void
test_util_buf_refuses_growth_past_max(void **state)
{
	struct envx_buf b;
	struct envx_error err;

	(void)state;
	envx_buf_init(&b, 10);
	assert_int_equal(envx_buf_append(&b, "12345", 5, &err), 0);
	assert_int_equal(envx_buf_append(&b, "12345", 5, &err), 0);
	assert_string_equal(b.data, "1234512345");
	assert_int_equal(envx_buf_append(&b, "x", 1, &err), ENVX_E_INPUT);
	assert_int_equal(b.len, 10);
	envx_buf_release(&b);
}

static void
test_util_kvset_grows_and_sorts_last_wins(void **state)
{
	struct envx_kvset s;
	char name[32];
	char value[64];
	size_t len;
	size_t i;

	(void)state;
	envx_kvset_init(&s);
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "N%04zu", 1999 - i);
		snprintf(value, sizeof(value), "value-%zu", i);
		assert_int_equal(envx_kvset_add(&s, name, strlen(name), value,
		                                strlen(value), (unsigned)i + 1,
		                                NULL),
		                 0);
	}
	assert_int_equal(envx_kvset_add(&s, "N0005", 5, "last", 4, 9999, NULL),
	                 0);
	envx_kvset_sort(&s);
	assert_int_equal(s.count, 2000);
	assert_string_equal(envx_kvset_name(&s, 0), "N0000");
	assert_int_equal(envx_kvset_bsearch(&s, "N0005"), 5);
	assert_string_equal((const char *)envx_kvset_value(&s, 5, &len),
	                    "last");
	assert_int_equal(len, 4);
	assert_int_equal(s.items[5].line, 9999);
	assert_int_equal(envx_kvset_bsearch(&s, "nope"), -1);
	assert_int_equal(envx_kvset_find(&s, "N1999"), 1999);
	envx_kvset_release(&s);
	envx_kvset_release(&s);
}

/* A set made for a child's environment keeps each pair as "NAME=value" too,
 * and reserving first sizes the arena once: the adds that follow do not move
 * it. Sorting keeps both forms (a dropped duplicate is wiped in both). */
static void
test_util_kvset_env_form_reserved(void **state)
{
	struct envx_kvset s;
	const unsigned char *arena;
	unsigned char *slot;
	size_t bytes;
	size_t len;

	(void)state;
	envx_kvset_init_env(&s);
	bytes = envx_kvset_pair_bytes(&s, 3, 5) +
	        envx_kvset_pair_bytes(&s, 1, 0) +
	        envx_kvset_pair_bytes(&s, 3, 2);
	assert_int_equal(bytes, (4 + 4 + 6) + (2 + 2 + 1) + (4 + 4 + 3));
	assert_int_equal(envx_kvset_reserve(&s, 3, bytes, NULL), 0);
	arena = s.arena;
	assert_int_equal(s.size, bytes);
	assert_int_equal(envx_kvset_add(&s, "ZED", 3, "value", 5, 0, NULL), 0);
	assert_int_equal(envx_kvset_add_reserve(&s, "E", 1, 0, 0, &slot, NULL),
	                 0);
	assert_int_equal(envx_kvset_add(&s, "ZED", 3, "v2", 2, 0, NULL), 0);
	assert_ptr_equal(s.arena, arena);
	assert_int_equal(s.used, bytes);
	assert_string_equal(envx_kvset_env_string(&s, 0), "ZED=value");
	assert_string_equal(envx_kvset_env_string(&s, 1), "E=");
	assert_string_equal(envx_kvset_name(&s, 0), "ZED");
	assert_memory_equal(envx_kvset_value(&s, 0, &len), "value", 5);
	assert_int_equal(len, 5);
	envx_kvset_sort(&s);
	assert_int_equal(s.count, 2);
	assert_string_equal(envx_kvset_env_string(&s, 0), "E=");
	assert_string_equal(envx_kvset_env_string(&s, 1), "ZED=v2");
	/* the dropped duplicate's value is wiped where its string was */
	assert_memory_equal(arena + 8, "\0\0\0\0\0", 5);
	assert_int_equal(envx_kvset_reserve(&s, 1, ENVX_KVSET_MAX_BYTES, NULL),
	                 ENVX_E_INPUT);
	envx_kvset_release(&s);
	/* released, it is still an environment set */
	assert_int_equal(envx_kvset_add(&s, "A", 1, "b", 1, 0, NULL), 0);
	assert_string_equal(envx_kvset_env_string(&s, 0), "A=b");
	envx_kvset_release(&s);
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "A", 1, "b", 1, 0, NULL), 0);
	assert_null(envx_kvset_env_string(&s, 0));
	envx_kvset_release(&s);
}

static void
test_util_names(void **state)
{
	struct envx_error err;

	(void)state;
	assert_true(envx_name_valid("DATABASE_URL", 12));
	assert_true(envx_name_valid("_x9", 3));
	assert_false(envx_name_valid("9X", 2));
	assert_false(envx_name_valid("A-B", 3));
	assert_false(envx_name_valid("", 0));
	assert_true(envx_env_name_valid("staging"));
	assert_true(envx_env_name_valid("eu-west.1_a"));
	assert_false(envx_env_name_valid("Staging"));
	assert_false(envx_env_name_valid("-x"));
	assert_false(envx_env_name_valid(""));
	assert_non_null(envx_name_refused("LD_PRELOAD", 10));
	assert_non_null(envx_name_refused("DYLD_INSERT_LIBRARIES", 21));
	assert_non_null(envx_name_refused("BASH_FUNC_x%%", 13));
	assert_non_null(envx_name_refused("ENV", 3));
	assert_non_null(envx_name_refused("IFS", 3));
	assert_non_null(envx_name_refused("PERL5OPT", 8));
	assert_non_null(envx_name_refused("GIT_CONFIG_KEY_0", 16));
	assert_non_null(envx_name_refused("GIT_CONFIG", 10));
	assert_non_null(envx_name_refused("npm_config_script_shell", 23));
	assert_non_null(envx_name_refused("PATH", 4));
	assert_string_equal(envx_name_refused("NODE_OPTIONS", 12)->pattern,
	                    "NODE_OPTIONS");
	/* a prefix of a refused name, or a name it is a prefix of, is not */
	assert_null(envx_name_refused("ENVIRONMENT", 11));
	assert_null(envx_name_refused("OLD_PRELOAD", 11));
	assert_null(envx_name_refused("PATHS", 5));
	assert_null(envx_name_refused("PAT", 3));
	assert_null(envx_name_refused("LD", 2));
	assert_null(envx_name_refused("NODE_ENV", 8));
	/* the length is honoured, not the terminator */
	assert_non_null(envx_name_refused("PATHX", 4));
	/* the syntax check never repeats what follows an '=' */
	assert_int_equal(envx_name_check("API_KEY=s3cret", &err), ENVX_E_INPUT);
	assert_null(strstr(err.msg, "s3cret"));
	assert_non_null(strstr(err.msg, "standard input"));
	assert_non_null(strstr(err.msg, "envx set ENV API_KEY"));
	assert_int_equal(envx_name_check("9X=s3cret", &err), ENVX_E_INPUT);
	assert_null(strstr(err.msg, "s3cret"));
	assert_int_equal(envx_name_check("LD_PRELOAD", &err), 0);
	assert_int_equal(envx_name_check("A B", &err), ENVX_E_INPUT);
	assert_int_equal(envx_name_check("API_KEY", &err), 0);
}

static void
test_util_durations(void **state)
{
	int64_t s;
	char out[32];

	(void)state;
	assert_int_equal(envx_duration_parse("90d", &s, NULL), 0);
	assert_int_equal(s, 90 * 86400);
	assert_int_equal(envx_duration_parse("12w", &s, NULL), 0);
	assert_int_equal(s, 12 * 7 * 86400);
	assert_int_equal(envx_duration_parse("36h", &s, NULL), 0);
	assert_int_equal(s, 36 * 3600);
	assert_int_equal(envx_duration_parse("0d", &s, NULL), ENVX_E_INPUT);
	assert_int_equal(envx_duration_parse("90", &s, NULL), ENVX_E_INPUT);
	assert_int_equal(envx_duration_parse("d", &s, NULL), ENVX_E_INPUT);
	assert_int_equal(envx_duration_parse("9dd", &s, NULL), ENVX_E_INPUT);
	assert_int_equal(envx_duration_parse("99999999999d", &s, NULL),
	                 ENVX_E_INPUT);
	envx_duration_format(180 * 86400, out, sizeof(out));
	assert_string_equal(out, "180d");
	envx_duration_format(14 * 86400, out, sizeof(out));
	assert_string_equal(out, "2w");
}

static void
test_util_time_parse(void **state)
{
	int64_t t;
	char out[32];

	(void)state;
	assert_int_equal(envx_time_parse("2026-01-02T03:04:05Z", &t), 0);
	envx_time_format(t, out, sizeof(out));
	assert_string_equal(out, "2026-01-02T03:04:05Z");
	assert_int_equal(envx_time_parse("garbage", &t), -1);
}

static void
test_util_date_parse(void **state)
{
	static const char *const bad[] = {
	        "",
	        "2026",
	        "2026-1-02",
	        "2026-01-2",
	        " 2026-01-02",
	        "2026-01-02 ",
	        "2026-01-02T",
	        "2026-01-02T03:04:05",
	        "2026-01-02T03:04Z",
	        "2026-01-02t03:04:05z",
	        "2026-13-01",
	        "2026-00-01",
	        "2026-01-00",
	        "2026-02-29",
	        "2100-02-29",
	        "2026-04-31",
	        "2026-01-02T24:00:00Z",
	        "2026-01-02T23:60:00Z",
	        "2026-01-02T23:59:60Z",
	        "1969-12-31",
	        "+026-01-02",
	        "1700000000",
	};
	int64_t t;
	char out[32];
	size_t i;

	(void)state;
	assert_int_equal(envx_date_parse("1970-01-01", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(envx_date_parse("2026-01-02", &t), 0);
	assert_int_equal(t, 1767312000);
	assert_int_equal(envx_date_parse("2026-01-02T03:04:05Z", &t), 0);
	assert_int_equal(t, 1767312000 + 3 * 3600 + 4 * 60 + 5);
	assert_int_equal(envx_date_parse("2024-02-29T23:59:59Z", &t), 0);
	envx_time_format(t, out, sizeof(out));
	assert_string_equal(out, "2024-02-29T23:59:59Z");
	assert_int_equal(envx_date_parse("2000-02-29", &t), 0);
	envx_time_format(t, out, sizeof(out));
	assert_string_equal(out, "2000-02-29T00:00:00Z");
	assert_int_equal(envx_date_parse("2024-03-01", &t), 0);
	assert_int_equal(t, 1709251200);
	assert_int_equal(envx_date_parse("9999-12-31T23:59:59Z", &t), 0);
	envx_time_format(t, out, sizeof(out));
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 42;
		if (envx_date_parse(bad[i], &t) != -1) {
			print_error("accepted '%s'\n", bad[i]);
		}
		assert_int_equal(envx_date_parse(bad[i], &t), -1);
		assert_int_equal(t, 42);
	}
}

/* Built with -Dtest_clock=true: $ENVX_NOW moves the clock. */
static void
test_util_now_honours_envx_now_with_test_clock(void **state)
{
	char out[32];

	(void)state;
	if (!have_test_clock) {
		envx_skip("built without -Dtest_clock=true");
	}
	setenv("ENVX_NOW", "2030-01-01", 1);
	envx_time_format(envx_now(), out, sizeof(out));
	unsetenv("ENVX_NOW");
	assert_string_equal(out, "2030-01-01T00:00:00Z");
}

/* Any other build ignores $ENVX_NOW: the clock is the real one. */
static void
test_util_now_ignores_envx_now_without_test_clock(void **state)
{
	int64_t before;
	int64_t now;
	int64_t after;

	(void)state;
	if (have_test_clock) {
		envx_skip("built with -Dtest_clock=true");
	}
	setenv("ENVX_NOW", "2001-01-01T00:00:00Z", 1);
	before = (int64_t)time(NULL);
	now = envx_now();
	after = (int64_t)time(NULL);
	unsetenv("ENVX_NOW");
	assert_true(now >= before && now <= after);
}

static void
test_util_private_file_checks(void **state)
{
	char dir[] = "/tmp/envx-util-XXXXXX";
	char path[256];
	char link[256];
	char fifo[256];
	struct envx_error err;
	struct envx_secbuf sb = {0};
	struct envx_buf b;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(envx_file_write_atomic(path, "abc", 3, 0600, &err), 0);
	assert_int_equal(envx_file_read_private(path, 100, &sb, &err), 0);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.data, "abc", 3);
	envx_secbuf_release(&sb);
	assert_int_equal(envx_file_read_private(path, 2, &sb, &err),
	                 ENVX_E_INPUT);
	assert_null(sb.data);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(envx_file_read_private(path, 100, &sb, &err),
	                 ENVX_E_UNSAFE);
	assert_non_null(strstr(err.msg, "too open"));
	assert_null(sb.data);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(envx_file_read_private(link, 100, &sb, &err),
	                 ENVX_E_UNSAFE);
	assert_non_null(strstr(err.msg, "symbolic link"));
	/* a FIFO with no writer is refused at once, not waited on */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(envx_file_read_private(fifo, 100, &sb, &err),
	                 ENVX_E_UNSAFE);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(envx_file_read_private(dir, 100, &sb, &err),
	                 ENVX_E_UNSAFE);
	snprintf(fifo, sizeof(fifo), "%s/absent", dir);
	assert_int_equal(envx_file_read_private(fifo, 100, &sb, &err),
	                 ENVX_E_NOTFOUND);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(envx_file_write_atomic(link, "x", 1, 0600, &err),
	                 ENVX_E_UNSAFE);
	envx_buf_init(&b, 2);
	assert_int_equal(envx_file_read(path, true, &b, &err), ENVX_E_INPUT);
	envx_buf_release(&b);
	envx_buf_init(&b, 100);
	assert_int_equal(envx_file_read(path, true, &b, &err), 0);
	assert_string_equal(b.data, "abc");
	assert_int_equal(envx_file_read(link, true, &b, &err), ENVX_E_UNSAFE);
	envx_buf_release(&b);
	unlink(fifo);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

/* One encoder call and what it writes (S: a literal and its length, NULs
 * included). */
#define S(lit) lit, sizeof(lit) - 1
struct encode_case {
	int kind; /* 'b' base64, 'a' aligned, '%' percent, 'j' JSON */
	size_t pre;
	const char *marks;
	unsigned flags;
	int rc; /* envx_encode_json's return */
	const char *v;
	size_t len;
	const char *want;
	size_t want_len;
};

static int
encode_run(struct envx_encode *c, const struct encode_case *e)
{
	const unsigned char *v = (const unsigned char *)e->v;
	size_t n;

	switch (e->kind) {
	case 'b':
		/* it returns what it wrote: all of it, from 0 */
		n = envx_encode_base64(c, v, e->len, e->flags);
		assert_int_equal(n, c->n);
		return 0;
	case 'a':
		envx_encode_base64_aligned(c, v, e->len, e->pre, e->flags);
		return 0;
	case '%':
		envx_encode_percent(c, v, e->len, e->marks, e->flags);
		return 0;
	default:
		return envx_encode_json(c, v, e->len, e->flags);
	}
}

/* Runs e once sizing and once writing: both count the same bytes. */
static void
check_encoded(const struct encode_case *e)
{
	unsigned char out[256];
	struct envx_encode sizing = {0};
	struct envx_encode c = {.dst = out};

	assert_int_equal(encode_run(&sizing, e), e->rc);
	assert_int_equal(encode_run(&c, e), e->rc);
	assert_int_equal(sizing.n, e->want_len);
	assert_int_equal(c.n, e->want_len);
	assert_memory_equal(out, e->want, e->want_len);
}

static void
test_util_encode_vectors(void **state)
{
	static const struct encode_case cases[] = {
	        /* RFC 4648 §10 */
	        {'b', 0, NULL, 0, 0, S(""), S("")},
	        {'b', 0, NULL, 0, 0, S("f"), S("Zg==")},
	        {'b', 0, NULL, 0, 0, S("fo"), S("Zm8=")},
	        {'b', 0, NULL, 0, 0, S("foo"), S("Zm9v")},
	        {'b', 0, NULL, 0, 0, S("foob"), S("Zm9vYg==")},
	        {'b', 0, NULL, 0, 0, S("fooba"), S("Zm9vYmE=")},
	        {'b', 0, NULL, 0, 0, S("foobar"), S("Zm9vYmFy")},
	        /* echo foo | base64 */
	        {'b', 0, NULL, ENVX_ENCODE_NEWLINE, 0, S("foo"), S("Zm9vCg==")},
	        /* the characters of the value's bits alone, at each
	         * alignment (the encodings of "foobar", "\0foobar" and
	         * "\0\0foobar" cut to them) */
	        {'a', 0, NULL, 0, 0, S("foobar"), S("Zm9vYmFy")},
	        {'a', 0, NULL, 0, 0, S("foob"), S("Zm9vY")},
	        {'a', 1, NULL, 0, 0, S("foobar"), S("Zvb2Jhc")},
	        {'a', 2, NULL, 0, 0, S("foobar"), S("mb29iYX")},
	        {'a', 0, NULL, 0, 0, S(">>>?"), S("Pj4+P")},
	        {'a', 0, NULL, ENVX_ENCODE_URLSAFE, 0, S(">>>?"), S("Pj4-P")},
	        /* RFC 3986, HTML forms, encodeURIComponent in lower case */
	        {'%', 0, "-._~", 0, 0, S("a b/~*\0"), S("a%20b%2F~%2A%00")},
	        {'%', 0, "-._~", ENVX_ENCODE_PLUS, 0, S("a b/~*"),
	         S("a+b%2F~%2A")},
	        {'%', 0, "-_.!~*'()", ENVX_ENCODE_LOWER, 0, S("a b/~*"),
	         S("a%20b%2f~*")},
	        /* JSON.stringify, PHP's \/, Python's ensure_ascii */
	        {'j', 0, NULL, 0, 0, S("a/\"\\\x01\x7f\xc3\xa4\n"),
	         S("a/\\\"\\\\\\u0001\x7f\xc3\xa4\\n")},
	        {'j', 0, NULL, ENVX_ENCODE_SLASH, 0, S("a/b"), S("a\\/b")},
	        {'j', 0, NULL, ENVX_ENCODE_ASCII, 0,
	         S("\x7f\xc3\xa4\xf0\x9f\x98\x80"),
	         S("\\u007f\\u00e4\\ud83d\\ude00")},
	        /* not UTF-8: no ASCII-only form, nothing written */
	        {'j', 0, NULL, ENVX_ENCODE_ASCII, -1, S("ab\xff"), S("")},
	};
	char a60[60];
	char wrapped[81];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_encoded(&cases[i]);
	}
	/* base64(1) wraps at 76 columns: 60 bytes are 80 characters */
	memset(a60, 'a', sizeof(a60));
	for (i = 0; i < 20; i++) {
		memcpy(wrapped + 4 * i + (i == 19), "YWFh", 4);
	}
	wrapped[76] = '\n';
	check_encoded(&(struct encode_case){'b', 0, NULL, ENVX_ENCODE_WRAP, 0,
	                                    a60, sizeof(a60), wrapped,
	                                    sizeof(wrapped)});
}

/* Untrusted text for a message: printable ASCII kept, the rest '?', cut
 * to fit, NULL as empty. */
static void
test_util_text_safe(void **state)
{
	char out[8];

	(void)state;
	assert_string_equal(envx_text_safe("set", out, sizeof(out)), "set");
	assert_string_equal(envx_text_safe("a\x1b[2Jb", out, sizeof(out)),
	                    "a?[2Jb");
	assert_string_equal(envx_text_safe("caf\xc3\xa9\n", out, sizeof(out)),
	                    "caf???");
	assert_string_equal(envx_text_safe("0123456789", out, sizeof(out)),
	                    "0123456");
	assert_string_equal(envx_text_safe(NULL, out, sizeof(out)), "");
	assert_string_equal(envx_text_safe("x", out, 1), "");
}

/* Forms kept: long enough, within max_forms, unique when asked. */
static void
test_util_encode_keep(void **state)
{
	unsigned char out[64];
	struct envx_form f[3];
	struct envx_encode c = {
	        .dst = out, .forms = f, .max_forms = 3, .min_len = 2};
	struct envx_encode sizing = {.forms = f, .max_forms = 3};

	(void)state;
	envx_encode_bytes(&sizing, (const unsigned char *)"abab", 4);
	envx_encode_keep(&sizing, 1, 0, 2);
	assert_int_equal(sizing.nforms, 0);
	envx_encode_bytes(&c, (const unsigned char *)"ababcabcd", 9);
	envx_encode_keep(&c, 1, 0, 2);
	envx_encode_keep(&c, 2, 2, 2); /* equal, kept: not unique */
	envx_encode_keep(&c, 3, 4, 1); /* too short */
	envx_encode_keep(&c, 4, 4, 3);
	envx_encode_keep(&c, 5, 5, 4); /* past max_forms */
	assert_int_equal(c.nforms, 3);
	assert_int_equal(f[1].encoding, 2);
	assert_int_equal(f[2].encoding, 4);
	assert_int_equal(f[2].off, 4);
	assert_int_equal(f[2].len, 3);
	c.nforms = 0;
	c.unique = true;
	envx_encode_keep(&c, 1, 2, 3);
	envx_encode_keep(&c, 2, 5, 3); /* "abc" again: dropped */
	envx_encode_keep(&c, 3, 5, 4);
	assert_int_equal(c.nforms, 2);
	assert_int_equal(f[1].encoding, 3);
}

/* A stand-in git on PATH that prints its arguments and environment: what
 * every caller's git sees (scan, sync, import, git setup). */
static void
test_util_git_spawn_args_env_and_bounds(void **state)
{
	char dir[] = "/tmp/envx-test-git-XXXXXX";
	char path[256];
	char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	const char *args[] = {"status", "--porcelain", NULL};
	const char *fail[] = {"fail", NULL};
	struct envx_error err;
	struct envx_buf b;
	char line[64];
	FILE *f;
	int status = -1;
	int r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/git", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n[ \"$3\" = fail ] && exit 3\nprintf '%s\\n' \"$@\"\n"
	      "exec /usr/bin/env\n",
	      f);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
	setenv("PATH", dir, 1);
	setenv("ENVX_IDENTITY", "ENVX-SECRET-KEY-1-x", 1);
	setenv("ENVX_PASSPHRASE", "pass", 1);
	setenv("GH_TOKEN", "ghp_x", 1);
	setenv("GITHUB_TOKEN", "ghs_x", 1);
	setenv("ENVX_TEST_KEPT", "kept", 1);

	envx_buf_init(&b, 1 << 20);
	assert_int_equal(envx_git_capture(args, -1, &b, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_non_null(b.data);
	/* no shell: the words arrive as given, after the fsmonitor guard */
	assert_memory_equal(
	        b.data, "-c\ncore.fsmonitor=false\nstatus\n--porcelain\n",
	        strlen("-c\ncore.fsmonitor=false\nstatus\n--porcelain\n"));
	assert_non_null(strstr(b.data, "\nENVX_TEST_KEPT=kept\n"));
	assert_null(strstr(b.data, "ENVX_IDENTITY="));
	assert_null(strstr(b.data, "ENVX_PASSPHRASE="));
	assert_null(strstr(b.data, "GH_TOKEN="));
	assert_null(strstr(b.data, "GITHUB_TOKEN="));
	envx_buf_release(&b);

	/* bounded: past the buffer's max is an error, git's status still set */
	envx_buf_init(&b, 8);
	status = -1;
	assert_int_equal(envx_git_capture(args, -1, &b, &status, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "git's output is too large"));
	assert_int_not_equal(status, -1);
	envx_buf_release(&b);

	assert_int_equal(envx_git_text(args, line, sizeof(line), &status, &err),
	                 ENVX_E_INPUT);
	assert_string_equal(line, "");
	assert_int_equal(envx_git_run(fail, &status, &err), 0);
	assert_int_equal(status, 3);

	/* no git at all (under valgrind, whose posix_spawnp forks and then
	 * fails to exec, the child's 127) */
	setenv("PATH", "/nonexistent", 1);
	status = 0;
	r = envx_git_run(args, &status, &err);
	assert_true(r == ENVX_E_NOTFOUND || (r == 0 && status == 127));

	if (old_path != NULL) {
		setenv("PATH", old_path, 1);
	}
	free(old_path);
	unsetenv("ENVX_IDENTITY");
	unsetenv("ENVX_PASSPHRASE");
	unsetenv("GH_TOKEN");
	unsetenv("GITHUB_TOKEN");
	unsetenv("ENVX_TEST_KEPT");
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_util_buf_refuses_growth_past_max),
	        cmocka_unit_test(test_util_kvset_grows_and_sorts_last_wins),
	        cmocka_unit_test(test_util_kvset_env_form_reserved),
	        cmocka_unit_test(test_util_names),
	        cmocka_unit_test(test_util_durations),
	        cmocka_unit_test(test_util_time_parse),
	        cmocka_unit_test(test_util_date_parse),
	        cmocka_unit_test(
	                test_util_now_honours_envx_now_with_test_clock),
	        cmocka_unit_test(
	                test_util_now_ignores_envx_now_without_test_clock),
	        cmocka_unit_test(test_util_private_file_checks),
	        cmocka_unit_test(test_util_encode_vectors),
	        cmocka_unit_test(test_util_encode_keep),
	        cmocka_unit_test(test_util_text_safe),
	        cmocka_unit_test(test_util_git_spawn_args_env_and_bounds),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
