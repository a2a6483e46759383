/*
 * Unit tests of the template check: parsing annotations and the
 * compatibility conventions, refusing malformed templates with file and
 * line, every finding kind, the matrix, both renderings, and a 500-name run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envx/template.h"
#include "util/banned.h"

#define SECRET_DB  "postgres://app:Zx9-prod-Pw@db.internal:5432/app"
#define SECRET_KEY "sk_live_4f9a8b7c6d5e4f3a2b1c"

/* ---- helpers ---- */

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL) {
		fail_msg("expected '%s' in:\n%s", needle, haystack);
	}
}

static struct envx_template *
parse_ok(const char *text)
{
	struct envx_template *t = NULL;
	struct envx_error err;
	int r;

	envx_error_clear(&err);
	r = envx_template_parse(text, strlen(text), ".env.example", &t, &err);
	if (r != 0) {
		fail_msg("parse failed: %s", err.msg);
	}
	assert_non_null(t);
	return t;
}

/* Parses text expecting ENVX_E_INPUT whose message starts with prefix. */
static void
parse_bad(const char *text, const char *prefix, const char *part)
{
	struct envx_template *t = NULL;
	struct envx_error err;
	int r;

	envx_error_clear(&err);
	r = envx_template_parse(text, strlen(text), ".env.example", &t, &err);
	if (r != ENVX_E_INPUT) {
		fail_msg("expected ENVX_E_INPUT for:\n%s\ngot %d", text, r);
	}
	assert_null(t);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0) {
		fail_msg("message '%s' does not start with '%s'", err.msg,
		         prefix);
	}
	if (part != NULL && strstr(err.msg, part) == NULL) {
		fail_msg("message '%s' does not contain '%s'", err.msg, part);
	}
}

static const struct envx_template_var *
var(const struct envx_template *t, const char *name)
{
	const struct envx_template_var *v = envx_template_find(t, name);

	if (v == NULL) {
		fail_msg("no var %s", name);
		abort();
	}
	return v;
}

/* An environment under construction: names, schedules and values. */
struct fake_env {
	const char *name;
	struct envx_check_secret secrets[2048];
	char *names[2048];
	size_t n;
	struct envx_kvset values;
	bool locked;
};

static struct fake_env *
fake_new(const char *name)
{
	struct fake_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->name = name;
	envx_kvset_init(&e->values);
	return e;
}

static void
fake_set(struct fake_env *e, const char *name, const char *value,
         int64_t rotate)
{
	struct envx_error err;

	assert_true(e->n < 2048);
	e->names[e->n] = strdup(name);
	assert_non_null(e->names[e->n]);
	e->secrets[e->n].name = e->names[e->n];
	e->secrets[e->n].rotate_every = rotate;
	e->n++;
	assert_int_equal(envx_kvset_add(&e->values, name, strlen(name), value,
	                                strlen(value), 0, &err),
	                 0);
}

static struct envx_check_env
fake_env(const struct fake_env *e)
{
	struct envx_check_env c;

	c.name = e->name;
	c.secrets = e->secrets;
	c.nsecrets = e->n;
	c.values = e->locked ? NULL : &e->values;
	return c;
}

static void
fake_free(struct fake_env *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->names[i]);
	}
	envx_kvset_release(&e->values);
	free(e);
}

static void
check(const struct envx_template *t, struct fake_env **fe, size_t n,
      unsigned flags, struct envx_findings *f)
{
	struct envx_check_env envs[8];
	struct envx_error err;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		envs[i] = fake_env(fe[i]);
	}
	envx_findings_init(f);
	envx_error_clear(&err);
	if (envx_template_check(t, envs, n, flags, f, &err) != 0) {
		fail_msg("check failed: %s", err.msg);
	}
}

/* The number of findings of kind for (env, name); env or name NULL
 * matches any. */
static size_t
count(const struct envx_findings *f, enum envx_finding_kind kind,
      const char *env, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++) {
		const struct envx_finding *x = &f->items[i];

		if (x->kind == kind &&
		    (env == NULL || strcmp(x->env, env) == 0) &&
		    (name == NULL ||
		     (x->name != NULL && strcmp(x->name, name) == 0))) {
			n++;
		}
	}
	return n;
}

static const struct envx_finding *
first(const struct envx_findings *f, enum envx_finding_kind kind,
      const char *name)
{
	if (f->items == NULL) {
		fail_msg("no findings at all");
		abort();
	}
	for (size_t i = 0; i < f->count; i++) {
		if (f->items[i].kind == kind &&
		    (name == NULL || (f->items[i].name != NULL &&
		                      strcmp(f->items[i].name, name) == 0))) {
			return &f->items[i];
		}
	}
	fail_msg("no %s finding for %s", envx_findings_kind_name(kind),
	         name != NULL ? name : "(any)");
	return NULL;
}

static enum envx_cell
cell_of(const struct envx_findings *f, const char *row, const char *env)
{
	for (size_t i = 0; i < f->nrows; i++) {
		if (strcmp(f->rows[i], row) != 0) {
			continue;
		}
		for (size_t e = 0; e < f->nenvs; e++) {
			if (strcmp(f->envs[e].name, env) == 0) {
				return f->cells[i * f->nenvs + e];
			}
		}
	}
	fail_msg("no cell %s/%s", row, env);
	return ENVX_CELL_OK;
}

/* No finding message, and neither rendering, contains any of the values. */
static void
assert_no_values(const struct envx_findings *f, const char *const *values)
{
	struct envx_buf text;
	struct envx_buf json;
	struct envx_error err;

	envx_buf_init(&text, 1 << 24);
	envx_buf_init(&json, 1 << 24);
	assert_int_equal(envx_findings_render_text(f, true, &text, &err), 0);
	assert_int_equal(envx_findings_render_json(f, &json, &err), 0);
	for (size_t k = 0; values[k] != NULL; k++) {
		for (size_t i = 0; i < f->count; i++) {
			assert_null(strstr(f->items[i].message, values[k]));
		}
		assert_null(strstr(text.data, values[k]));
		assert_null(strstr(json.data, values[k]));
	}
	envx_buf_release(&text);
	envx_buf_release(&json);
}

/* ---- parsing ---- */

static const char design_example[] =
        "# Postgres connection string for the app.\n"
        "# @type url\n"
        "# @rotate 180d\n"
        "DATABASE_URL=postgres://user:pass@localhost:5432/app\n"
        "\n"
        "# @optional\n"
        "# @type enum(debug,info,warn,error)\n"
        "LOG_LEVEL=info\n";

static void
test_template_parses_annotations(void **state)
{
	struct envx_template *t = parse_ok(design_example);
	const struct envx_template_var *db = var(t, "DATABASE_URL");
	const struct envx_template_var *log = var(t, "LOG_LEVEL");
	const unsigned char *value;
	size_t len;

	assert_int_equal(t->nvars, 2);
	assert_string_equal(t->vars[0].name, "DATABASE_URL");
	assert_int_equal(db->line, 4);
	assert_int_equal(db->optional, ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(db->type.kind, ENVX_TYPE_URL);
	assert_int_equal(db->rotate_every, 180 * 86400);
	assert_int_equal(db->rotate_line, 3);
	assert_false(db->shared);
	assert_string_equal(db->description,
	                    "Postgres connection string for the app.");
	assert_int_equal(log->optional, ENVX_TEMPLATE_OPTIONAL_ANNOTATION);
	assert_int_equal(log->type.kind, ENVX_TYPE_ENUM);
	assert_int_equal(log->type.nchoices, 4);
	assert_string_equal(log->type.choices[3], "error");
	assert_string_equal(envx_template_type_name(&log->type),
	                    "enum(debug,info,warn,error)");
	assert_null(log->description);
	value = envx_template_value(t, 1, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(value, "info", 4);
	assert_true(envx_template_required(t, 0));
	assert_false(envx_template_required(t, 1));
	assert_null(envx_template_find(t, "NOPE"));
	envx_template_free(t);
}

static void
test_template_shared_and_multiline_description(void **state)
{
	struct envx_template *t = parse_ok("# Stripe key.\n"
	                                   "# Used by billing only.\n"
	                                   "# @shared\n"
	                                   "#\n"
	                                   "STRIPE_KEY=\n");
	const struct envx_template_var *v = var(t, "STRIPE_KEY");

	assert_true(v->shared);
	assert_int_equal(v->optional, ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(v->type.kind, ENVX_TYPE_STRING);
	assert_string_equal(envx_template_type_name(&v->type), "string");
	assert_string_equal(v->description,
	                    "Stripe key.\nUsed by billing only.");
	envx_template_free(t);
}

static void
test_template_inline_optional(void **state)
{
	struct envx_template *t =
	        parse_ok("SENTRY_DSN= # optional\n"
	                 "FEATURE_X=on # (Optional) feature flag\n"
	                 "REDIS_URL=redis://localhost:6379 # optional, "
	                 "defaults to memory\n"
	                 "API_KEY=\n"
	                 "# optional\n"
	                 "NEXT=\n"
	                 "STRICT_ONE= # non-optional\n"
	                 "OPTIONALS_FOO= # optionally set\n");

	assert_int_equal(var(t, "SENTRY_DSN")->optional,
	                 ENVX_TEMPLATE_OPTIONAL_INLINE);
	assert_int_equal(var(t, "REDIS_URL")->optional,
	                 ENVX_TEMPLATE_OPTIONAL_INLINE);
	assert_int_equal(var(t, "FEATURE_X")->optional,
	                 ENVX_TEMPLATE_OPTIONAL_INLINE);
	/* a comment on the next line belongs to the next name */
	assert_int_equal(var(t, "API_KEY")->optional, ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(var(t, "NEXT")->optional, ENVX_TEMPLATE_REQUIRED);
	assert_string_equal(var(t, "NEXT")->description, "optional");
	assert_int_equal(var(t, "STRICT_ONE")->optional,
	                 ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(var(t, "OPTIONALS_FOO")->optional,
	                 ENVX_TEMPLATE_REQUIRED);
	envx_template_free(t);
}

static void
test_template_commented_out_is_optional(void **state)
{
	struct envx_template *t = parse_ok("# Error reporting.\n"
	                                   "# @type url\n"
	                                   "# SENTRY_DSN=\n"
	                                   "API_KEY=\n"
	                                   "\n"
	                                   "# DATABASE_URL=postgres://a/b\n"
	                                   "DATABASE_URL=\n");
	const struct envx_template_var *s = var(t, "SENTRY_DSN");
	const struct envx_template_var *a = var(t, "API_KEY");
	const struct envx_template_var *d = var(t, "DATABASE_URL");

	assert_int_equal(s->optional, ENVX_TEMPLATE_OPTIONAL_COMMENTED);
	assert_int_equal(s->line, 3);
	assert_int_equal(s->type.kind, ENVX_TYPE_URL);
	/* what documents SENTRY_DSN does not leak onto API_KEY */
	assert_int_equal(a->optional, ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(a->type.kind, ENVX_TYPE_STRING);
	assert_null(a->description);
	/* a commented-out alternative beside the real assignment */
	assert_int_equal(d->optional, ENVX_TEMPLATE_REQUIRED);
	assert_int_equal(d->line, 7);
	assert_int_equal(t->nvars, 3);
	envx_template_free(t);
}

static void
test_template_malformed_reported_with_line(void **state)
{
	static const struct {
		const char *text;
		const char *prefix;
		const char *part;
	} cases[] = {
	        {"# @secret\nA=\n",
	         ".env.example:1: ", "unknown annotation '@secret'"},
	        {"A=\n\n# @opt\nB=\n",
	         ".env.example:3: ", "unknown annotation"},
	        {"# @type uuid\nA=\n",
	         ".env.example:1: ", "unknown type 'uuid'"},
	        {"# @type\nA=\n", ".env.example:1: ", "@type needs a type"},
	        {"# @type enum()\nA=\n", ".env.example:1: ", "empty choice"},
	        {"# @type enum(a,,b)\nA=\n",
	         ".env.example:1: ", "empty choice"},
	        {"# @type enum(a,b\nA=\n", ".env.example:1: ", "unknown type"},
	        {"# @type regex([a-)\nA=\n",
	         ".env.example:1: ", "invalid regex()"},
	        {"# @type regex()\nA=\n", ".env.example:1: ", "empty regex()"},
	        {"# x\n# @rotate 90x\nA=\n",
	         ".env.example:2: ", "@rotate needs a duration"},
	        {"# @rotate\nA=\n",
	         ".env.example:1: ", "@rotate needs a duration"},
	        {"# @rotate 0d\nA=\n",
	         ".env.example:1: ", "@rotate needs a duration"},
	        {"# @optional yes\nA=\n",
	         ".env.example:1: ", "@optional takes no argument"},
	        {"# @shared please\nA=\n",
	         ".env.example:1: ", "@shared takes no argument"},
	        {"# @type int\n# @type port\nA=\n",
	         ".env.example:2: ", "duplicate @type"},
	        {"# @optional\n# @optional\nA=\n",
	         ".env.example:2: ", "duplicate @optional"},
	        {"# @rotate 9d\n# @rotate 9d\nA=\n",
	         ".env.example:2: ", "duplicate @rotate"},
	        {"# @\nA=\n", ".env.example:1: ", "empty annotation"},
	        {"# @type:int\nA=\n",
	         ".env.example:1: ", "malformed annotation"},
	        {"A=\n# @optional\n\nB=\n",
	         ".env.example:2: ", "not directly above a name"},
	        {"A=\n# @optional\n",
	         ".env.example:2: ", "not directly above a name"},
	        {"A=1\nB=2\nA=3\n",
	         ".env.example:3: ", "'A' is assigned twice (first on line 1)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_bad(cases[i].text, cases[i].prefix, cases[i].part);
	}
}

static void
test_template_dotenv_syntax_error_has_file_and_line(void **state)
{
	parse_bad("A=1\nthis is not dotenv\n", ".env.example:2: ", NULL);
}

static void
test_template_load_file(void **state)
{
	const char *dir = getenv("ENVX_TEST_DATA");
	char path[4096];
	struct envx_template *t = NULL;
	struct envx_error err;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/template/example.env", dir);
	envx_error_clear(&err);
	assert_int_equal(envx_template_load(path, &t, &err), 0);
	assert_non_null(t);
	assert_string_equal(t->path, path);
	assert_int_equal(var(t, "PORT")->type.kind, ENVX_TYPE_PORT);
	assert_int_equal(var(t, "SENTRY_DSN")->optional,
	                 ENVX_TEMPLATE_OPTIONAL_COMMENTED);
	envx_template_free(t);

	snprintf(path, sizeof(path), "%s/template/bad-annotation.env", dir);
	assert_int_equal(envx_template_load(path, &t, &err), ENVX_E_INPUT);
	assert_null(t);
	assert_non_null(strstr(err.msg, "bad-annotation.env:4: "));

	snprintf(path, sizeof(path), "%s/template/does-not-exist.env", dir);
	assert_int_equal(envx_template_load(path, &t, &err), ENVX_E_NOTFOUND);
	assert_null(t);
}

/* ---- types ---- */

static void
test_template_type_checks(void **state)
{
	static const struct {
		const char *type;
		const char *value;
		bool ok;
	} cases[] = {
	        {"string", "", true},
	        {"string", "anything at all", true},
	        {"int", "0", true},
	        {"int", "-42", true},
	        {"int", "+7", true},
	        {"int", "9223372036854775807", true},
	        {"int", "-9223372036854775808", true},
	        {"int", "9223372036854775808", false},
	        {"int", "12a", false},
	        {"int", "-", false},
	        {"int", " 1", false},
	        {"int", "1.5", false},
	        {"port", "1", true},
	        {"port", "5432", true},
	        {"port", "65535", true},
	        {"port", "0", false},
	        {"port", "65536", false},
	        {"port", "-1", false},
	        {"port", "80x", false},
	        {"port", "99999999999999999999", false},
	        {"bool", "true", true},
	        {"bool", "FALSE", true},
	        {"bool", "Yes", true},
	        {"bool", "off", true},
	        {"bool", "1", true},
	        {"bool", "0", true},
	        {"bool", "2", false},
	        {"bool", "truth", false},
	        {"bool", "", false},
	        {"url", "postgres://user:pass@host:5432/db", true},
	        {"url", "https://example.com", true},
	        {"url", "https://example.com/path?q=1#frag", true},
	        {"url", "redis://localhost:6379/0", true},
	        {"url", "redis://:secret@cache", true},
	        {"url", "amqp+ssl://guest@mq.internal", true},
	        {"url", "http://[::1]:8080/", true},
	        {"url", "file:///etc/passwd", false},
	        {"url", "example.com", false},
	        {"url", "https://", false},
	        {"url", "https://host:/x", false},
	        {"url", "https://host:99999", false},
	        {"url", "https://exa mple.com", false},
	        {"url", "://host", false},
	        {"url", "1http://host", false},
	        {"email", "ops@example.com", true},
	        {"email", "first.last+tag@sub.example.co.uk", true},
	        {"email", "ops@localhost", false},
	        {"email", "@example.com", false},
	        {"email", "a@b@example.com", false},
	        {"email", "a b@example.com", false},
	        {"email", ".a@example.com", false},
	        {"email", "a..b@example.com", false},
	        {"email", "a@example.123", false},
	        {"hostname", "localhost", true},
	        {"hostname", "db.internal", true},
	        {"hostname", "a-b.example.com.", true},
	        {"hostname", "10.0.0.1", true},
	        {"hostname", "-bad.example.com", false},
	        {"hostname", "bad-.example.com", false},
	        {"hostname", "under_score.com", false},
	        {"hostname", "a..b", false},
	        {"hostname", "", false},
	        {"enum(debug,info, warn ,error)", "warn", true},
	        {"enum(debug,info, warn ,error)", "info", true},
	        {"enum(debug,info, warn ,error)", "INFO", false},
	        {"enum(debug,info, warn ,error)", " warn", false},
	        {"enum(debug,info, warn ,error)", "inf", false},
	        {"regex(sk_(live|test)_[a-z0-9]+)", "sk_live_abc123", true},
	        {"regex(sk_(live|test)_[a-z0-9]+)", "xsk_live_abc123", false},
	        {"regex(sk_(live|test)_[a-z0-9]+)", "sk_live_abc123!", false},
	        {"regex(a|ab)", "ab", true},
	        {"regex([0-9]{3})", "123", true},
	        {"regex([0-9]{3})", "1234", false},
	        {"regex(^x$)", "x", true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envx_template_type type;
		struct envx_error err;
		bool ok;

		memset(&type, 0, sizeof(type));
		if (envx_template_type_parse(cases[i].type, &type, &err) != 0) {
			fail_msg("type %s: %s", cases[i].type, err.msg);
		}
		ok = envx_template_type_check(
		        &type, (const unsigned char *)cases[i].value,
		        strlen(cases[i].value));
		if (ok != cases[i].ok) {
			fail_msg("@type %s, value '%s': expected %s",
			         cases[i].type, cases[i].value,
			         cases[i].ok ? "valid" : "invalid");
		}
		envx_template_type_release(&type);
	}
}

static void
test_template_type_rejects_nul(void **state)
{
	static const char *const types[] = {"int",     "port",      "bool",
	                                    "url",     "email",     "hostname",
	                                    "enum(a)", "regex(a.*)"};
	static const unsigned char v[] = {'a', 0, 'b'};
	struct envx_template_type type;
	struct envx_error err;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(&type, 0, sizeof(type));
		assert_int_equal(
		        envx_template_type_parse(types[i], &type, &err), 0);
		assert_false(envx_template_type_check(&type, v, sizeof(v)));
		envx_template_type_release(&type);
	}
	memset(&type, 0, sizeof(type));
	assert_int_equal(envx_template_type_parse("string", &type, &err), 0);
	assert_true(envx_template_type_check(&type, v, sizeof(v)));
	envx_template_type_release(&type);
}

/* ---- findings ---- */

static void
test_template_missing_and_empty(void **state)
{
	struct envx_template *t = parse_ok("A=\nB=\nC=\nD=\n"
	                                   "E= # optional\n"
	                                   "# F=\n");
	struct fake_env *env = fake_new("staging");
	struct envx_findings f;
	const struct envx_finding *x;

	fake_set(env, "A", "value-a", 0);
	fake_set(env, "B", "", 0);
	fake_set(env, "C", " \t\n", 0);
	fake_set(env, "E", "", 0);
	check(t, &env, 1, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_MISSING, NULL, NULL), 1);
	x = first(&f, ENVX_FINDING_MISSING, "D");
	assert_int_equal(x->severity, ENVX_SEVERITY_ERROR);
	assert_string_equal(x->env, "staging");
	assert_int_equal(x->line, 4);
	assert_non_null(strstr(x->message, "staging"));
	assert_int_equal(count(&f, ENVX_FINDING_EMPTY, NULL, NULL), 2);
	assert_int_equal(first(&f, ENVX_FINDING_EMPTY, "B")->line, 2);
	assert_int_equal(first(&f, ENVX_FINDING_EMPTY, "C")->severity,
	                 ENVX_SEVERITY_ERROR);
	/* optional names may be absent or empty */
	assert_int_equal(count(&f, ENVX_FINDING_EMPTY, NULL, "E"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_MISSING, NULL, "F"), 0);
	assert_int_equal(f.errors, 3);
	assert_int_equal(f.warnings, 0);
	assert_int_equal(cell_of(&f, "A", "staging"), ENVX_CELL_OK);
	assert_int_equal(cell_of(&f, "B", "staging"), ENVX_CELL_EMPTY);
	assert_int_equal(cell_of(&f, "D", "staging"), ENVX_CELL_MISSING);
	assert_int_equal(cell_of(&f, "E", "staging"), ENVX_CELL_EMPTY);
	assert_int_equal(cell_of(&f, "F", "staging"), ENVX_CELL_ABSENT);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_extra_warning_or_strict_error(void **state)
{
	struct envx_template *t = parse_ok("A=\n# B=\n");
	struct fake_env *env = fake_new("production");
	struct envx_findings f;
	const struct envx_finding *x;

	fake_set(env, "A", "1", 0);
	fake_set(env, "B", "2", 0);
	fake_set(env, "ZED", "3", 0);
	fake_set(env, "OLD", "4", 0);
	check(t, &env, 1, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_EXTRA, NULL, NULL), 2);
	x = first(&f, ENVX_FINDING_EXTRA, "OLD");
	assert_int_equal(x->severity, ENVX_SEVERITY_WARNING);
	assert_int_equal(x->line, 0);
	/* sorted: OLD before ZED */
	assert_true(x < first(&f, ENVX_FINDING_EXTRA, "ZED"));
	assert_int_equal(f.errors, 0);
	assert_int_equal(f.warnings, 2);
	assert_int_equal(cell_of(&f, "ZED", "production"), ENVX_CELL_EXTRA);
	envx_findings_release(&f);

	check(t, &env, 1, ENVX_CHECK_STRICT, &f);
	assert_int_equal(first(&f, ENVX_FINDING_EXTRA, "ZED")->severity,
	                 ENVX_SEVERITY_ERROR);
	assert_int_equal(f.errors, 2);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_type_mismatch_names_type_not_value(void **state)
{
	struct envx_template *t = parse_ok("# @type port\nPORT=3000\n"
	                                   "# @type url\nDATABASE_URL=\n"
	                                   "# @type regex(sk_[a-z0-9]+)\n"
	                                   "KEY=\n"
	                                   "# @type bool\nDEBUG=\n");
	struct fake_env *env = fake_new("local");
	struct envx_findings f;
	const struct envx_finding *x;
	static const char *const values[] = {"99999", "not-a-url-Zq7",
	                                     "SK-BAD-Xq3", NULL};

	fake_set(env, "PORT", "99999", 0);
	fake_set(env, "DATABASE_URL", "not-a-url-Zq7", 0);
	fake_set(env, "KEY", "SK-BAD-Xq3", 0);
	fake_set(env, "DEBUG", "yes", 0);
	check(t, &env, 1, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_TYPE, NULL, NULL), 3);
	x = first(&f, ENVX_FINDING_TYPE, "PORT");
	assert_int_equal(x->severity, ENVX_SEVERITY_ERROR);
	assert_int_equal(x->line, 2);
	assert_non_null(strstr(x->message, "@type port"));
	assert_non_null(strstr(first(&f, ENVX_FINDING_TYPE, "KEY")->message,
	                       "regex(sk_[a-z0-9]+)"));
	assert_int_equal(cell_of(&f, "PORT", "local"), ENVX_CELL_BAD_TYPE);
	assert_int_equal(cell_of(&f, "DEBUG", "local"), ENVX_CELL_OK);
	assert_no_values(&f, values);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_rotation_schedule(void **state)
{
	struct envx_template *t = parse_ok("# @rotate 180d\nA=\n"
	                                   "# @rotate 90d\nB=\n"
	                                   "# @rotate 12w\nC=\n"
	                                   "# @rotate 30d\nD=\n"
	                                   "E=\n");
	struct fake_env *env = fake_new("production");
	struct envx_findings f;
	const struct envx_finding *x;

	fake_set(env, "A", "a", 0);
	fake_set(env, "B", "b", 30 * 86400);
	fake_set(env, "C", "c", 84 * 86400);
	fake_set(env, "E", "e", 90 * 86400);
	check(t, &env, 1, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_ROTATION, NULL, NULL), 2);
	x = first(&f, ENVX_FINDING_ROTATION, "A");
	assert_int_equal(x->severity, ENVX_SEVERITY_ERROR);
	assert_int_equal(x->line, 1);
	assert_non_null(strstr(x->message, "no rotation schedule"));
	assert_non_null(strstr(x->message, "@rotate 180d"));
	x = first(&f, ENVX_FINDING_ROTATION, "B");
	assert_non_null(strstr(x->message, "is 30d"));
	assert_non_null(strstr(x->message, "@rotate 90d"));
	/* absent: only "missing", no rotation finding */
	assert_int_equal(count(&f, ENVX_FINDING_ROTATION, NULL, "D"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_MISSING, NULL, "D"), 1);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_leak_of_real_value(void **state)
{
	struct envx_template *t = parse_ok("DATABASE_URL=" SECRET_DB "\n"
	                                   "# @type regex(sk_[a-z_0-9]+)\n"
	                                   "OTHER_KEY=\"  " SECRET_KEY " \"\n"
	                                   "LOG_LEVEL=info\n"
	                                   "# @type enum(production,staging)\n"
	                                   "APP_ENV=production\n"
	                                   "HOST=localhost:3000\n");
	struct fake_env *env = fake_new("production");
	struct envx_findings f;
	const struct envx_finding *x;
	static const char *const values[] = {SECRET_DB, SECRET_KEY, NULL};

	fake_set(env, "DATABASE_URL", SECRET_DB, 0);
	fake_set(env, "STRIPE_KEY", SECRET_KEY, 0);
	fake_set(env, "OTHER_KEY", "sk_other_value", 0);
	fake_set(env, "LOG_LEVEL", "info", 0);
	fake_set(env, "APP_ENV", "production", 0);
	fake_set(env, "HOST", "localhost:3001", 0);
	check(t, &env, 1, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_LEAK, NULL, NULL), 2);
	x = first(&f, ENVX_FINDING_LEAK, "DATABASE_URL");
	assert_int_equal(x->severity, ENVX_SEVERITY_ERROR);
	assert_int_equal(x->line, 1);
	assert_string_equal(x->other_name, "DATABASE_URL");
	/* another name's value, found after trimming the template's */
	x = first(&f, ENVX_FINDING_LEAK, "OTHER_KEY");
	assert_string_equal(x->other_name, "STRIPE_KEY");
	assert_non_null(strstr(x->message, "STRIPE_KEY"));
	assert_non_null(strstr(x->message, "production"));
	/* short defaults and values of non-secret types are not leaks */
	assert_int_equal(count(&f, ENVX_FINDING_LEAK, NULL, "LOG_LEVEL"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_LEAK, NULL, "APP_ENV"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_LEAK, NULL, "HOST"), 0);
	assert_no_values(&f, values);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_reuse_across_environments(void **state)
{
	struct envx_template *t = parse_ok("DATABASE_URL=\n"
	                                   "# @shared\nSENTRY_DSN=\n"
	                                   "# @type port\nPORT=\n"
	                                   "# @type hostname\nDB_HOST=\n");
	struct fake_env *fe[3];
	struct envx_findings f;
	const struct envx_finding *x;
	static const char *const values[] = {SECRET_DB, "https://k@sentry.io/1",
	                                     "db.shared.internal", NULL};

	fe[0] = fake_new("local");
	fe[1] = fake_new("staging");
	fe[2] = fake_new("production");
	fake_set(fe[0], "DATABASE_URL", "postgres://localhost/dev", 0);
	fake_set(fe[1], "DATABASE_URL", SECRET_DB, 0);
	fake_set(fe[2], "DATABASE_URL", SECRET_DB, 0);
	for (size_t i = 0; i < 3; i++) {
		fake_set(fe[i], "SENTRY_DSN", "https://k@sentry.io/1", 0);
		fake_set(fe[i], "PORT", "5432", 0);
		fake_set(fe[i], "EXTRA_TOKEN", "same-token-everywhere", 0);
	}
	fake_set(fe[1], "DB_HOST", "db.shared.internal", 0);
	fake_set(fe[2], "DB_HOST", "db.shared.internal", 0);
	fake_set(fe[0], "DB_HOST", "", 0);
	fake_set(fe[1], "BLANK", "", 0);
	fake_set(fe[2], "BLANK", "", 0);

	/* without --all there is no reuse check */
	check(t, fe, 3, 0, &f);
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, NULL), 0);
	envx_findings_release(&f);

	check(t, fe, 3, ENVX_CHECK_ALL, &f);
	x = first(&f, ENVX_FINDING_REUSE, "DATABASE_URL");
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "DATABASE_URL"),
	                 1);
	assert_int_equal(x->severity, ENVX_SEVERITY_ERROR);
	assert_string_equal(x->env, "staging");
	assert_string_equal(x->other_env, "production");
	assert_int_equal(x->line, 1);
	assert_non_null(strstr(x->message, "staging"));
	assert_non_null(strstr(x->message, "production"));
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "SENTRY_DSN"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "PORT"), 0);
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "DB_HOST"), 1);
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "BLANK"), 0);
	/* an extra name cannot be @shared: three pairs of environments */
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, "EXTRA_TOKEN"), 3);
	assert_int_equal(first(&f, ENVX_FINDING_REUSE, "EXTRA_TOKEN")->line, 0);
	assert_no_values(&f, values);
	envx_findings_release(&f);
	for (size_t i = 0; i < 3; i++) {
		fake_free(fe[i]);
	}
	envx_template_free(t);
}

static void
test_template_locked_env_checks_names_only(void **state)
{
	struct envx_template *t = parse_ok("# @type port\n# @rotate 90d\n"
	                                   "PORT=\n"
	                                   "API_KEY=\n"
	                                   "TOKEN=\n");
	struct fake_env *fe[2];
	struct envx_findings f;
	const struct envx_finding *x;

	fe[0] = fake_new("staging");
	fe[1] = fake_new("production");
	fe[1]->locked = true;
	for (size_t i = 0; i < 2; i++) {
		fake_set(fe[i], "PORT", "not-a-port", 0);
		fake_set(fe[i], "TOKEN", "", 0);
		fake_set(fe[i], "LEFTOVER", "same-leftover-value", 0);
	}
	check(t, fe, 2, ENVX_CHECK_ALL, &f);
	assert_true(f.envs[0].unlocked);
	assert_false(f.envs[1].unlocked);
	x = first(&f, ENVX_FINDING_SKIPPED, NULL);
	assert_int_equal(x->severity, ENVX_SEVERITY_INFO);
	assert_string_equal(x->env, "production");
	assert_null(x->name);
	assert_non_null(strstr(x->message, "skipped"));
	assert_int_equal(count(&f, ENVX_FINDING_SKIPPED, NULL, NULL), 1);
	assert_int_equal(f.infos, 1);
	/* names and schedules still checked in the locked env */
	assert_int_equal(
	        count(&f, ENVX_FINDING_MISSING, "production", "API_KEY"), 1);
	assert_int_equal(
	        count(&f, ENVX_FINDING_EXTRA, "production", "LEFTOVER"), 1);
	assert_int_equal(count(&f, ENVX_FINDING_ROTATION, "production", "PORT"),
	                 1);
	/* values only where unlocked */
	assert_int_equal(count(&f, ENVX_FINDING_TYPE, "staging", "PORT"), 1);
	assert_int_equal(count(&f, ENVX_FINDING_TYPE, "production", NULL), 0);
	assert_int_equal(count(&f, ENVX_FINDING_EMPTY, "staging", "TOKEN"), 1);
	assert_int_equal(count(&f, ENVX_FINDING_EMPTY, "production", NULL), 0);
	assert_int_equal(count(&f, ENVX_FINDING_REUSE, NULL, NULL), 0);
	assert_int_equal(cell_of(&f, "PORT", "production"),
	                 ENVX_CELL_UNVERIFIED);
	assert_int_equal(cell_of(&f, "API_KEY", "production"),
	                 ENVX_CELL_MISSING);
	assert_int_equal(cell_of(&f, "LEFTOVER", "production"),
	                 ENVX_CELL_EXTRA);
	envx_findings_release(&f);
	fake_free(fe[0]);
	fake_free(fe[1]);
	envx_template_free(t);
}

static void
test_template_clean_check_has_no_findings(void **state)
{
	struct envx_template *t = parse_ok(design_example);
	struct fake_env *env = fake_new("staging");
	struct envx_findings f;
	struct envx_buf out;
	struct envx_error err;

	fake_set(env, "DATABASE_URL", SECRET_DB, 180 * 86400);
	check(t, &env, 1, ENVX_CHECK_STRICT, &f);
	assert_int_equal(f.count, 0);
	assert_int_equal(f.errors + f.warnings + f.infos, 0);
	envx_buf_init(&out, 1 << 20);
	assert_int_equal(envx_findings_render_text(&f, false, &out, &err), 0);
	assert_string_equal(out.data,
	                    "staging against .env.example: ok (2 names)\n");
	envx_buf_release(&out);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

static void
test_template_bad_arguments(void **state)
{
	struct envx_template *t = parse_ok("A=\n");
	struct fake_env *env = fake_new("staging");
	struct envx_check_env envs[2];
	struct envx_findings f;
	struct envx_error err;

	envs[0] = fake_env(env);
	envs[1] = fake_env(env);
	envx_findings_init(&f);
	assert_int_equal(envx_template_check(t, envs, 0, 0, &f, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_template_check(t, envs, 2, 0, &f, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "'staging' given twice"));
	assert_int_equal(f.count, 0);
	envx_findings_release(&f);
	fake_free(env);
	envx_template_free(t);
}

/* ---- rendering ---- */

static void
test_template_render_text_matrix_and_colour(void **state)
{
	struct envx_template *t =
	        parse_ok("A=\n# @type int\nB=\nC= # optional\n");
	struct fake_env *fe[2];
	struct envx_findings f;
	struct envx_buf out;
	struct envx_error err;

	fe[0] = fake_new("staging");
	fe[1] = fake_new("production");
	fe[1]->locked = true;
	fake_set(fe[0], "A", "x", 0);
	fake_set(fe[0], "B", "nope", 0);
	fake_set(fe[1], "A", "y", 0);
	fake_set(fe[1], "Z", "z", 0);
	check(t, fe, 2, ENVX_CHECK_ALL, &f);
	envx_buf_init(&out, 1 << 20);
	assert_int_equal(envx_findings_render_text(&f, false, &out, &err), 0);
	assert_null(strchr(out.data, '\033'));
	assert_contains(out.data, "NAME   LINE  staging     production\n");
	assert_contains(out.data, "(locked)");
	assert_contains(out.data, "B         3  type        missing\n");
	assert_contains(out.data, "C         4  -           -\n");
	assert_contains(out.data, "Z         -  -           extra\n");
	assert_contains(out.data, "A         1  ok          unverified\n");
	assert_contains(out.data, "SEVERITY  ENV");
	assert_contains(
	        out.data,
	        "error     staging     B         3  type      value in staging is not of @type int\n");
	assert_contains(
	        out.data,
	        "info      production  -         -  skipped   cannot unlock production");
	assert_contains(out.data,
	                "2 environments against .env.example: 2 errors, "
	                "1 warning\n");
	envx_buf_reset(&out);
	assert_int_equal(envx_findings_render_text(&f, true, &out, &err), 0);
	assert_contains(out.data, "\033[31merror\033[0m");
	assert_contains(out.data, "\033[32mok\033[0m");
	envx_buf_release(&out);
	envx_findings_release(&f);
	fake_free(fe[0]);
	fake_free(fe[1]);
	envx_template_free(t);
}

static void
test_template_render_json_shape(void **state)
{
	struct envx_template *t = parse_ok("A=\n# @type port\nPORT=\n");
	struct fake_env *fe[2];
	struct envx_findings f;
	struct envx_buf out;
	struct envx_error err;
	json_error_t jerr;
	json_t *root;
	json_t *x;
	json_t *names;

	fe[0] = fake_new("staging");
	fe[1] = fake_new("production");
	fe[1]->locked = true;
	fake_set(fe[0], "PORT", "http", 0);
	fake_set(fe[0], "EXTRA", "1", 0);
	check(t, fe, 2, ENVX_CHECK_ALL | ENVX_CHECK_STRICT, &f);
	envx_buf_init(&out, 1 << 20);
	assert_int_equal(envx_findings_render_json(&f, &out, &err), 0);
	root = json_loads(out.data, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(
	        json_string_value(json_object_get(root, "template")),
	        ".env.example");
	assert_true(json_is_true(json_object_get(root, "strict")));
	x = json_array_get(json_object_get(root, "environments"), 1);
	assert_string_equal(json_string_value(json_object_get(x, "name")),
	                    "production");
	assert_true(json_is_false(json_object_get(x, "unlocked")));
	names = json_object_get(root, "names");
	assert_int_equal(json_array_size(names), 3);
	x = json_array_get(names, 1);
	assert_string_equal(json_string_value(json_object_get(x, "name")),
	                    "PORT");
	assert_int_equal(json_integer_value(json_object_get(x, "line")), 3);
	assert_true(json_is_true(json_object_get(x, "in_template")));
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(x, "cells"), "staging")),
	                    "type");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(x, "cells"), "production")),
	                    "missing");
	x = json_array_get(names, 2);
	assert_true(json_is_null(json_object_get(x, "line")));
	assert_true(json_is_false(json_object_get(x, "in_template")));
	assert_int_equal(json_array_size(json_object_get(root, "findings")),
	                 f.count);
	for (size_t i = 0; i < f.count; i++) {
		json_t *jf =
		        json_array_get(json_object_get(root, "findings"), i);

		assert_int_equal(json_object_size(jf), 8);
		assert_string_equal(
		        json_string_value(json_object_get(jf, "severity")),
		        envx_findings_severity_name(f.items[i].severity));
		assert_string_equal(
		        json_string_value(json_object_get(jf, "kind")),
		        envx_findings_kind_name(f.items[i].kind));
		assert_non_null(json_object_get(jf, "other_env"));
		assert_non_null(json_object_get(jf, "other_name"));
		assert_non_null(json_object_get(jf, "message"));
	}
	x = json_array_get(json_object_get(root, "findings"), 0);
	assert_string_equal(json_string_value(json_object_get(x, "kind")),
	                    "missing");
	assert_string_equal(json_string_value(json_object_get(x, "name")), "A");
	assert_int_equal(json_integer_value(json_object_get(x, "line")), 1);
	assert_true(json_is_null(json_object_get(x, "other_env")));
	assert_int_equal(json_integer_value(json_object_get(root, "errors")),
	                 f.errors);
	assert_int_equal(json_integer_value(json_object_get(root, "warnings")),
	                 0);
	assert_int_equal(json_integer_value(json_object_get(root, "infos")), 1);
	json_decref(root);
	envx_buf_release(&out);
	envx_findings_release(&f);
	fake_free(fe[0]);
	fake_free(fe[1]);
	envx_template_free(t);
}

/* ---- scale ---- */

static void
test_template_500_names_three_envs(void **state)
{
	struct envx_buf text;
	struct envx_buf json;
	struct envx_template *t;
	struct fake_env *fe[3];
	struct envx_findings f;
	struct envx_error err;
	static const char *const envnames[] = {"local", "staging",
	                                       "production"};

	envx_buf_init(&text, (size_t)1 << 24);
	for (size_t i = 0; i < 500; i++) {
		assert_int_equal(
		        envx_buf_appendf(&text, &err,
		                         "# Setting number %zu.\n"
		                         "# @type %s\n"
		                         "# @rotate 90d\n"
		                         "NAME_%04zu=placeholder-%zu\n\n",
		                         i, i % 2 ? "url" : "string", i, i),
		        0);
	}
	assert_int_equal(
	        envx_template_parse(text.data, text.len, "big.env", &t, &err),
	        0);
	assert_int_equal(t->nvars, 500);
	for (size_t e = 0; e < 3; e++) {
		fe[e] = fake_new(envnames[e]);
		for (size_t i = 0; i < 500; i++) {
			char name[32];
			char value[96];

			snprintf(name, sizeof(name), "NAME_%04zu", i);
			snprintf(value, sizeof(value),
			         "https://u:%s-%zu-secret@h%zu.example/db",
			         envnames[e], i, i);
			fake_set(fe[e], name, value, 90 * 86400);
		}
	}
	check(t, fe, 3, ENVX_CHECK_ALL | ENVX_CHECK_STRICT, &f);
	/* the even names are strings, so their url values are fine too */
	assert_int_equal(f.errors, 0);
	assert_int_equal(f.nrows, 500);
	envx_buf_init(&json, (size_t)1 << 24);
	envx_buf_reset(&text);
	assert_int_equal(envx_findings_render_text(&f, false, &text, &err), 0);
	assert_int_equal(envx_findings_render_json(&f, &json, &err), 0);
	envx_buf_release(&json);
	envx_buf_release(&text);
	envx_findings_release(&f);
	for (size_t e = 0; e < 3; e++) {
		fake_free(fe[e]);
	}
	envx_template_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_template_parses_annotations),
	        cmocka_unit_test(
	                test_template_shared_and_multiline_description),
	        cmocka_unit_test(test_template_inline_optional),
	        cmocka_unit_test(test_template_commented_out_is_optional),
	        cmocka_unit_test(test_template_malformed_reported_with_line),
	        cmocka_unit_test(
	                test_template_dotenv_syntax_error_has_file_and_line),
	        cmocka_unit_test(test_template_load_file),
	        cmocka_unit_test(test_template_type_checks),
	        cmocka_unit_test(test_template_type_rejects_nul),
	        cmocka_unit_test(test_template_missing_and_empty),
	        cmocka_unit_test(test_template_extra_warning_or_strict_error),
	        cmocka_unit_test(
	                test_template_type_mismatch_names_type_not_value),
	        cmocka_unit_test(test_template_rotation_schedule),
	        cmocka_unit_test(test_template_leak_of_real_value),
	        cmocka_unit_test(test_template_reuse_across_environments),
	        cmocka_unit_test(test_template_locked_env_checks_names_only),
	        cmocka_unit_test(test_template_clean_check_has_no_findings),
	        cmocka_unit_test(test_template_bad_arguments),
	        cmocka_unit_test(test_template_render_text_matrix_and_colour),
	        cmocka_unit_test(test_template_render_json_shape),
	        cmocka_unit_test(test_template_500_names_three_envs),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
