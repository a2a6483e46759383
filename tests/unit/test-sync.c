/*
 * Unit tests for src/sync/plan.c: GitHub's name and URL rules, the retry
 * policy (what the end-to-end tests cannot wait for: a secondary rate
 * limit's minute and its doubling), the record's text both ways, and the
 * plan's decisions, prune safety first.
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

#include "envx/sync.h"

static void
test_sync_names(void **state)
{
	(void)state;
	assert_null(envx_gh_name_problem("DATABASE_URL"));
	assert_null(envx_gh_name_problem("_x1"));
	assert_null(envx_gh_name_problem("GITHUB")); /* no underscore */
	assert_non_null(envx_gh_name_problem("GITHUB_TOKEN"));
	assert_non_null(envx_gh_name_problem("github_x"));
	assert_non_null(envx_gh_name_problem("1ABC"));
	assert_non_null(envx_gh_name_problem("A-B"));
	assert_non_null(envx_gh_name_problem(""));
}

static void
test_sync_repo_urls(void **state)
{
	static const struct {
		const char *url;
		const char *want; /* NULL: refused */
	} cases[] = {
	        {"https://github.com/acme/api.git", "acme/api"},
	        {"https://github.com/acme/api", "acme/api"},
	        {"https://github.com/acme/api/", "acme/api"},
	        {"git@github.com:acme/api.git", "acme/api"},
	        {"ssh://git@github.com/acme/my.repo.git", "acme/my.repo"},
	        {"ssh://git@ghe.example:2222/team-x/svc_1", "team-x/svc_1"},
	        {"https://github.com/acme", NULL},
	        {"https://github.com/a/b/c", NULL},
	        {"/srv/git/api.git", NULL},
	        {"git@github.com:../x", NULL},
	        {"https://github.com/acme/a%20b", NULL},
	};
	char out[ENVX_GH_REPO_MAX_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = envx_gh_repo_from_url(cases[i].url, out, sizeof(out));
		if (cases[i].want == NULL) {
			assert_int_equal(r, -1);
		} else {
			assert_int_equal(r, 0);
			assert_string_equal(out, cases[i].want);
		}
	}
	assert_true(envx_gh_repo_valid("o/r"));
	assert_false(envx_gh_repo_valid("o/.."));
	assert_false(envx_gh_repo_valid("/r"));
	assert_false(envx_gh_repo_valid("o/r/x"));
}

static void
test_sync_api_base(void **state)
{
	static const struct {
		const char *url;
		int ok;
		int http;
	} cases[] = {
	        {"https://api.github.com", 1, 0},
	        {"https://ghe.example/api/v3/", 1, 0},
	        {"http://127.0.0.1:8080", 1, 1},
	        {"http://127.9.9.9:1/x", 1, 1},
	        {"http://[::1]:9", 1, 1},
	        {"http://localhost:9", 1, 1},
	        {"http://127.0.0.1:99999", 0, 1},
	        {"http://127.0.0.1:", 0, 1},
	        {"http://127.0.0.1:8x", 0, 1},
	        {"https://api.github.com:443/", 1, 0},
	        {"http://api.github.com", 0, 1},
	        {"http://127.0.0.1.evil.example", 0, 1},
	        {"http://128.0.0.1", 0, 1},
	        {"http://localhost.evil:80", 0, 1},
	        {"http://user@127.0.0.1", 0, 1},
	        {"https://x@api.github.com", 0, 0},
	        {"ftp://api.github.com", 0, 0},
	        {"https://api.github.com?x=1", 0, 0},
	        {"https://", 0, 0},
	};
	char out[256];
	bool http;
	struct envx_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = envx_gh_api_base_check(cases[i].url, out, sizeof(out),
		                               &http, &err);
		assert_int_equal(r == 0, cases[i].ok);
		if (r < 0) {
			assert_int_equal(r, ENVX_E_USAGE);
		}
	}
	assert_int_equal(envx_gh_api_base_check("https://ghe.example/api/v3/",
	                                        out, sizeof(out), &http, &err),
	                 0);
	assert_string_equal(out, "https://ghe.example/api/v3");
	assert_true(envx_gh_environment_valid("prod env"));
	assert_true(envx_gh_environment_valid("a.b"));
	assert_false(envx_gh_environment_valid("."));
	assert_false(envx_gh_environment_valid(".."));
	assert_false(envx_gh_environment_valid("a/b"));
	assert_true(envx_gh_token_valid("ghp_abc123"));
	assert_false(envx_gh_token_valid("a b"));
	assert_false(envx_gh_token_valid("a\r\nX-Evil: 1"));
	assert_false(envx_gh_token_valid(""));
}

static void
test_sync_retry_rules(void **state)
{
	const char *why = NULL;
	struct envx_gh_answer a = {0};

	(void)state;
	/* retry-after wins */
	a.status = 429;
	a.retry_after = "3";
	assert_int_equal(envx_gh_retry_wait(&a, 0, 1000, &why), 3);
	/* primary: until the reset, plus a second */
	a = (struct envx_gh_answer){
	        .status = 403, .remaining = "0", .reset = "1010"};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 1000, &why), 11);
	assert_int_equal(envx_gh_retry_wait(&a, 0, 2000, &why), 1);
	/* remaining not 0: a permission 403, not retried */
	a.remaining = "10";
	assert_int_equal(envx_gh_retry_wait(&a, 0, 1000, &why), -1);
	/* secondary: a minute, doubling, capped */
	a = (struct envx_gh_answer){
	        .status = 403,
	        .message = "You have exceeded a secondary rate limit. Please "
	                   "wait a few minutes before you try again."};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 1000, &why), 60);
	assert_string_equal(why, "secondary rate limit");
	assert_int_equal(envx_gh_retry_wait(&a, 1, 1000, &why), 120);
	assert_int_equal(envx_gh_retry_wait(&a, 2, 1000, &why), 240);
	assert_int_equal(envx_gh_retry_wait(&a, 9, 1000, &why), 60 * 32);
	/* 429 without headers is a secondary limit too */
	a = (struct envx_gh_answer){.status = 429};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 1000, &why), 60);
	/* 5xx and no answer: 1, 2, 4, then give up */
	a = (struct envx_gh_answer){.status = 502};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 0, &why), 1);
	assert_int_equal(envx_gh_retry_wait(&a, 2, 0, &why), 4);
	assert_int_equal(envx_gh_retry_wait(&a, 3, 0, &why), -1);
	a.status = 0;
	assert_int_equal(envx_gh_retry_wait(&a, 1, 0, &why), 2);
	/* other 4xx: never */
	for (long s = 400; s < 500; s++) {
		if (s == 403 || s == 429) {
			continue;
		}
		a = (struct envx_gh_answer){.status = s, .retry_after = "1"};
		assert_int_equal(envx_gh_retry_wait(&a, 0, 0, &why), -1);
	}
	/* retry-after: 0 still waits a second, so --max-wait bounds it */
	a = (struct envx_gh_answer){.status = 429, .retry_after = "0"};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 0, &why), 1);
	/* remaining 0 with an unreadable reset: a minute, doubling */
	a = (struct envx_gh_answer){.status = 403,
	                            .remaining = "0",
	                            .reset = "99999999999999999999"};
	assert_int_equal(envx_gh_retry_wait(&a, 1, 0, &why), 120);
	/* malformed headers are ignored, not trusted */
	a = (struct envx_gh_answer){.status = 403,
	                            .retry_after = "soon",
	                            .remaining = "1",
	                            .reset = "x"};
	assert_int_equal(envx_gh_retry_wait(&a, 0, 0, &why), -1);
}

static void
test_sync_record_round_trip(void **state)
{
	unsigned char fp1[16];
	unsigned char fp2[16];
	struct envx_sync_entry ents[4];
	struct envx_sync_state s = {0};
	struct envx_error err;
	const struct envx_sync_rec *r;
	char *detail = NULL;

	(void)state;
	memset(fp1, 0xa5, sizeof(fp1));
	memset(fp2, 0x3c, sizeof(fp2));
	ents[0] = (struct envx_sync_entry){"API_KEY", ENVX_SYNC_PUT, 3, fp1,
	                                   "2026-12-07T10:00:00Z"};
	ents[1] = (struct envx_sync_entry){"DB", ENVX_SYNC_PUT, 1, fp2, ""};
	ents[2] = (struct envx_sync_entry){"OLD", ENVX_SYNC_DELETED, 0, NULL,
	                                   NULL};
	ents[3] = (struct envx_sync_entry){"LATER", ENVX_SYNC_FAILED, 0, NULL,
	                                   NULL};
	assert_int_equal(envx_sync_detail("acme/api", "prod env:é",
	                                  "0123456789abcdef", ents, 4, &detail,
	                                  &err),
	                 0);
	assert_non_null(strstr(detail, "environment=prod%20env%3A%C3%A9"));
	/* an earlier push of OLD, then this sync */
	assert_int_equal(
	        envx_sync_state_apply(&s,
	                              "repo=acme/api environment=prod%20env%3A%"
	                              "C3%A9 key=0123456789abcdef "
	                              "put=OLD:2:"
	                              "00112233445566778899aabbccddeeff:-",
	                              "ACME/API", "prod env:é", &err),
	        0);
	assert_non_null(envx_sync_state_find(&s, "old"));
	assert_int_equal(envx_sync_state_apply(&s, detail, "acme/api",
	                                       "PROD ENV:é", &err),
	                 0);
	assert_null(envx_sync_state_find(&s, "OLD"));
	assert_null(envx_sync_state_find(&s, "LATER"));
	r = envx_sync_state_find(&s, "api_key");
	assert_non_null(r);
	assert_int_equal(r->version, 3);
	assert_memory_equal(r->fp, fp1, 16);
	assert_string_equal(r->at, "2026-12-07T10:00:00Z");
	assert_string_equal(r->key, "0123456789abcdef");
	r = envx_sync_state_find(&s, "DB");
	assert_non_null(r);
	assert_string_equal(r->at, "");
	/* another repository's or environment's events change nothing */
	assert_int_equal(envx_sync_state_apply(&s, detail, "acme/other",
	                                       "prod env:é", &err),
	                 0);
	assert_int_equal(
	        envx_sync_state_apply(&s, detail, "acme/api", "staging", &err),
	        0);
	assert_int_equal(s.n, 2);
	free(detail);
	envx_sync_state_release(&s);
}

static void
test_sync_record_malformed(void **state)
{
	static const char *const bad[] = {
	        "",
	        "repo=acme/api",
	        "repo=acme/api environment=x",
	        "environment=x repo=acme/api key=0123456789abcdef",
	        "repo=acme/api environment=x key=0123",
	        "repo=acme/api environment=x key=0123456789ABCDEF",
	        "repo=acme/api environment=%zz key=0123456789abcdef",
	        "repo=acme/api environment=a%00 key=0123456789abcdef",
	        "repo=acme/api environment=x key=0123456789abcdef put=A:1:00:-",
	        "repo=acme/api environment=x key=0123456789abcdef "
	        "put=A:0:00112233445566778899aabbccddeeff:-",
	        "repo=acme/api environment=x key=0123456789abcdef "
	        "put=A:1:00112233445566778899aabbccddeeff:yesterday",
	        "repo=acme/api environment=x key=0123456789abcdef delete=A-B",
	        "repo=acme/api environment=x key=0123456789abcdef zap=A",
	        "repo=acme/api environment=x key=0123456789abcdef  put=",
	};
	struct envx_sync_state s = {0};
	struct envx_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(envx_sync_state_apply(&s, bad[i], "acme/api",
		                                       "x", &err),
		                 ENVX_E_INTEGRITY);
	}
	envx_sync_state_release(&s);
}

/* The op planned for name, or -1. */
static int
op_of(const struct envx_sync_item *it, size_t n, const char *name,
      unsigned *why)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(it[i].name, name) == 0) {
			*why = it[i].why;
			return it[i].op;
		}
	}
	return -1;
}

static void
test_sync_plan(void **state)
{
	const char *tag = "00000000000000aa";
	struct envx_sync_local local[] = {
	        {"SAME", 2, {1}, 0},    {"CHANGED", 3, {9}, 1},
	        {"FRESH", 1, {4}, 2},   {"OUTSIDE", 1, {5}, 3},
	        {"GONE_GH", 1, {6}, 4}, {"ADOPTED", 1, {7}, 5},
	        {"nocase", 1, {8}, 6},
	};
	struct envx_sync_rec recs[] = {
	        {"SAME", 2, {1}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	        {"CHANGED", 2, {2}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	        {"OUTSIDE", 1, {5}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	        {"GONE_GH", 1, {6}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	        {"DROPPED", 4, {3}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	        {"NOCASE", 1, {8}, "00000000000000aa", "2026-01-01T00:00:00Z"},
	};
	struct envx_gh_remote remote[] = {
	        {"SAME", "2026-01-01T00:00:00Z"},
	        {"CHANGED", "2026-01-01T00:00:00Z"},
	        {"OUTSIDE", "2026-02-02T00:00:00Z"},
	        {"DROPPED", "2026-01-01T00:00:00Z"},
	        {"MANUAL", "2025-01-01T00:00:00Z"},
	        {"ADOPTED", "2025-01-01T00:00:00Z"},
	        {"NOCASE", "2026-01-01T00:00:00Z"},
	};
	struct envx_sync_state s = {recs, 6, 6};
	struct envx_sync_item *it = NULL;
	struct envx_error err;
	size_t n = 0;
	unsigned why = 0;

	(void)state;
	assert_int_equal(envx_sync_plan(local, 7, &s, remote, 7, tag, false,
	                                &it, &n, &err),
	                 0);
	assert_int_equal(op_of(it, n, "SAME", &why), ENVX_SYNC_UNCHANGED);
	assert_int_equal(op_of(it, n, "CHANGED", &why), ENVX_SYNC_UPDATE);
	assert_true(why & ENVX_SYNC_CHANGED_LOCAL);
	assert_int_equal(op_of(it, n, "FRESH", &why), ENVX_SYNC_CREATE);
	assert_true(why & ENVX_SYNC_NEW);
	assert_int_equal(op_of(it, n, "OUTSIDE", &why), ENVX_SYNC_UPDATE);
	assert_int_equal(why, ENVX_SYNC_CHANGED_REMOTE);
	assert_int_equal(op_of(it, n, "GONE_GH", &why), ENVX_SYNC_CREATE);
	assert_true(why & ENVX_SYNC_MISSING_REMOTE);
	assert_int_equal(op_of(it, n, "ADOPTED", &why), ENVX_SYNC_UPDATE);
	assert_true(why & ENVX_SYNC_ADOPT);
	assert_int_equal(op_of(it, n, "nocase", &why), ENVX_SYNC_UNCHANGED);
	/* without --prune nothing is deleted; never a name envx did not
	 * push, with or without it */
	assert_int_equal(op_of(it, n, "DROPPED", &why), ENVX_SYNC_KEEP_DELETED);
	assert_int_equal(op_of(it, n, "MANUAL", &why), ENVX_SYNC_REMOTE_ONLY);
	assert_int_equal(n, 9);
	free(it);
	assert_int_equal(envx_sync_plan(local, 7, &s, remote, 7, tag, true, &it,
	                                &n, &err),
	                 0);
	assert_int_equal(op_of(it, n, "DROPPED", &why), ENVX_SYNC_DELETE);
	assert_int_equal(op_of(it, n, "MANUAL", &why), ENVX_SYNC_REMOTE_ONLY);
	for (size_t i = 0; i < n; i++) {
		if (it[i].op == ENVX_SYNC_DELETE) {
			assert_non_null(it[i].rec);
		}
		assert_int_equal(envx_sync_item_drift(&it[i]),
		                 it[i].op != ENVX_SYNC_UNCHANGED &&
		                         it[i].op != ENVX_SYNC_REMOTE_ONLY);
	}
	free(it);
	/* after a rekey the fingerprints cannot be compared: pushed again */
	assert_int_equal(envx_sync_plan(local, 1, &s, remote, 1,
	                                "00000000000000bb", false, &it, &n,
	                                &err),
	                 0);
	assert_int_equal(op_of(it, n, "SAME", &why), ENVX_SYNC_UPDATE);
	assert_true(why & ENVX_SYNC_REKEYED);
	free(it);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sync_names),
	        cmocka_unit_test(test_sync_repo_urls),
	        cmocka_unit_test(test_sync_api_base),
	        cmocka_unit_test(test_sync_retry_rules),
	        cmocka_unit_test(test_sync_record_round_trip),
	        cmocka_unit_test(test_sync_record_malformed),
	        cmocka_unit_test(test_sync_plan),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
