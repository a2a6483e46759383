/*
 * Unit tests for src/rotate: the rotation status rules at the edges of a
 * deadline and of the due window, the strict date and timeout parsers, and
 * the value generator's alphabets.
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

#include "envx/rotate.h"
#include "envx/vault.h"

#define DAY ((int64_t)86400)

static int
status_at(int64_t every, int64_t rotated, int state, int64_t at, int64_t within)
{
	struct envx_rotation r;

	envx_rotation_eval(every, rotated, state, at, within, &r);
	return r.status;
}

static void
test_rotate_status_rules(void **state)
{
	static const struct {
		int64_t every;
		int64_t rotated;
		int state;
		int64_t at;
		int64_t within;
		int want;
	} cases[] = {
	        /* 90 days from day 0: the deadline is day 90 */
	        {90 * DAY, 0, 0, 0, 14 * DAY, ENVX_ROTATION_OK},
	        {90 * DAY, 0, 0, 76 * DAY - 1, 14 * DAY, ENVX_ROTATION_OK},
	        {90 * DAY, 0, 0, 76 * DAY, 14 * DAY, ENVX_ROTATION_DUE},
	        {90 * DAY, 0, 0, 90 * DAY - 1, 14 * DAY, ENVX_ROTATION_DUE},
	        {90 * DAY, 0, 0, 90 * DAY, 14 * DAY, ENVX_ROTATION_OVERDUE},
	        {90 * DAY, 0, 0, 400 * DAY, 14 * DAY, ENVX_ROTATION_OVERDUE},
	        /* the due window is the caller's */
	        {90 * DAY, 0, 0, 60 * DAY, 30 * DAY, ENVX_ROTATION_DUE},
	        {90 * DAY, 0, 0, 89 * DAY, 0, ENVX_ROTATION_OK},
	        {90 * DAY, 0, 0, 89 * DAY, -5, ENVX_ROTATION_OK},
	        /* before the last rotation (an --at in the past) */
	        {90 * DAY, 100 * DAY, 0, 10 * DAY, 14 * DAY, ENVX_ROTATION_OK},
	        /* compromised wins over every schedule, even none */
	        {90 * DAY, 0, ENVX_STATE_COMPROMISED, 1, 14 * DAY,
	         ENVX_ROTATION_COMPROMISED},
	        {0, 0, ENVX_STATE_COMPROMISED, 1, 14 * DAY,
	         ENVX_ROTATION_COMPROMISED},
	        {90 * DAY, 0, ENVX_STATE_COMPROMISED, 400 * DAY, 14 * DAY,
	         ENVX_ROTATION_COMPROMISED},
	        /* no schedule */
	        {0, 0, 0, 400 * DAY, 14 * DAY, ENVX_ROTATION_UNSCHEDULED},
	        {-1, 0, 0, 400 * DAY, 14 * DAY, ENVX_ROTATION_UNSCHEDULED},
	        /* a deadline past the end of time saturates */
	        {INT64_MAX, DAY, 0, 2 * DAY, 14 * DAY, ENVX_ROTATION_OK},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got =
		        status_at(cases[i].every, cases[i].rotated,
		                  cases[i].state, cases[i].at, cases[i].within);
		if (got != cases[i].want) {
			print_error("case %zu: got %s, want %s\n", i,
			            envx_rotation_status_name(got),
			            envx_rotation_status_name(cases[i].want));
		}
		assert_int_equal(got, cases[i].want);
	}
}

static void
test_rotate_deadline_age_remaining(void **state)
{
	struct envx_rotation r;

	(void)state;
	assert_int_equal(envx_rotation_deadline(0, 5), 0);
	assert_int_equal(envx_rotation_deadline(180 * DAY, 10), 180 * DAY + 10);
	assert_true(envx_rotation_deadline(INT64_MAX, 10) == INT64_MAX);
	envx_rotation_eval(90 * DAY, 10 * DAY, 0, 105 * DAY, 14 * DAY, &r);
	assert_int_equal(r.status, ENVX_ROTATION_OVERDUE);
	assert_int_equal(r.deadline, 100 * DAY);
	assert_int_equal(r.age, 95 * DAY);
	assert_int_equal(r.remaining, -5 * DAY);
	envx_rotation_eval(0, 10 * DAY, 0, 12 * DAY, 14 * DAY, &r);
	assert_int_equal(r.deadline, 0);
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.age, 2 * DAY);
	assert_true(envx_rotation_failing(ENVX_ROTATION_OVERDUE));
	assert_true(envx_rotation_failing(ENVX_ROTATION_COMPROMISED));
	assert_false(envx_rotation_failing(ENVX_ROTATION_DUE));
	assert_false(envx_rotation_failing(ENVX_ROTATION_OK));
	assert_false(envx_rotation_failing(ENVX_ROTATION_UNSCHEDULED));
	assert_string_equal(envx_rotation_status_name(42), "?");
}

static void
test_rotate_span_format(void **state)
{
	char out[32];

	(void)state;
	envx_rotation_span_format(95 * DAY + 3600, out, sizeof(out));
	assert_string_equal(out, "95d");
	envx_rotation_span_format(-5 * DAY, out, sizeof(out));
	assert_string_equal(out, "5d");
	envx_rotation_span_format(5 * 3600 + 59, out, sizeof(out));
	assert_string_equal(out, "5h");
	envx_rotation_span_format(INT64_MIN, out, sizeof(out));
	assert_true(out[0] >= '1' && out[0] <= '9');
}

static void
test_rotate_date_parse(void **state)
{
	static const char *const bad[] = {"",
	                                  "2025-1-01",
	                                  "2025-13-01",
	                                  "2025-02-29",
	                                  "2025-02-30",
	                                  "2025-04-31",
	                                  "1969-12-31",
	                                  "2025-01-01x",
	                                  "2025-01-01T00:00:00",
	                                  "2025-01-01T24:00:00Z",
	                                  "1735689600",
	                                  " 2025-01-01",
	                                  "2025/01/01"};
	struct envx_error err;
	int64_t t = -1;
	size_t i;

	(void)state;
	assert_int_equal(envx_rotation_date_parse("1970-01-01", &t, &err), 0);
	assert_int_equal(t, 0);
	assert_int_equal(envx_rotation_date_parse("2025-01-01", &t, &err), 0);
	assert_int_equal(t, 1735689600);
	assert_int_equal(envx_rotation_date_parse("2024-02-29", &t, &err), 0);
	assert_int_equal(t, 1709164800);
	assert_int_equal(envx_rotation_date_parse("2000-03-01", &t, &err), 0);
	assert_int_equal(t, 951868800);
	assert_int_equal(
	        envx_rotation_date_parse("2025-01-01T12:30:15Z", &t, &err), 0);
	assert_int_equal(t, 1735689600 + 12 * 3600 + 30 * 60 + 15);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (envx_rotation_date_parse(bad[i], &t, &err) !=
		    ENVX_E_USAGE) {
			print_error("accepted '%s'\n", bad[i]);
			fail();
		}
		assert_non_null(strstr(err.msg, "invalid date"));
	}
}

static void
test_rotate_timeout_parse(void **state)
{
	static const char *const bad[] = {"",       "0s",  "10",   "5d",
	                                  "s",      "-1s", "1.5s", "25h",
	                                  "86401s", "1s "};
	struct envx_error err;
	int64_t ms = 0;
	size_t i;

	(void)state;
	assert_int_equal(envx_timeout_parse("90s", &ms, &err), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(envx_timeout_parse("5m", &ms, &err), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(envx_timeout_parse("24h", &ms, &err), 0);
	assert_int_equal(ms, 86400000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (envx_timeout_parse(bad[i], &ms, &err) != ENVX_E_USAGE) {
			print_error("accepted '%s'\n", bad[i]);
			fail();
		}
	}
}

static void
test_rotate_generate_charsets(void **state)
{
	static const struct {
		const char *name;
		size_t size;
	} sets[] = {{"alnum", 62},
	            {"hex", 16},
	            {"base64url", 64},
	            {"printable", 94}};
	struct envx_secbuf v = {0};
	struct envx_error err;
	size_t i;
	size_t k;
	int cs;

	(void)state;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		const char *chars;
		bool seen[256] = {false};
		size_t distinct = 0;

		assert_int_equal(envx_charset_parse(sets[i].name, &cs, &err),
		                 0);
		assert_string_equal(envx_charset_name(cs), sets[i].name);
		chars = envx_charset_chars(cs);
		assert_int_equal(strlen(chars), sets[i].size);
		assert_int_equal(envx_generate(4096, cs, &v, &err), 0);
		assert_int_equal(v.len, 4096);
		assert_int_equal(v.data[4096], '\0');
		for (k = 0; k < v.len; k++) {
			assert_non_null(strchr(chars, v.data[k]));
			assert_true(v.data[k] > ' ' && v.data[k] < 0x7f);
			if (!seen[v.data[k]]) {
				seen[v.data[k]] = true;
				distinct++;
			}
		}
		/* 4096 draws miss one of at most 94 characters with
		 * probability below 1e-16 */
		assert_int_equal(distinct, sets[i].size);
		envx_secbuf_release(&v);
	}
	assert_int_equal(envx_charset_parse("ascii", &cs, &err), ENVX_E_USAGE);
	assert_non_null(strstr(err.msg, "base64url"));
	assert_null(envx_charset_name(99));
	assert_int_equal(envx_generate(0, ENVX_CHARSET_HEX, &v, &err),
	                 ENVX_E_USAGE);
	assert_int_equal(envx_generate(8, 99, &v, &err), ENVX_E_USAGE);
	assert_null(v.data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rotate_status_rules),
	        cmocka_unit_test(test_rotate_deadline_age_remaining),
	        cmocka_unit_test(test_rotate_span_format),
	        cmocka_unit_test(test_rotate_date_parse),
	        cmocka_unit_test(test_rotate_timeout_parse),
	        cmocka_unit_test(test_rotate_generate_charsets),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
