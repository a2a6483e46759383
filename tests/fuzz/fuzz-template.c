/*
 * libFuzzer harness for the template parser and check (DESIGN §6): any input
 * must either parse or fail with ENVX_E_INPUT; a parsed template must find
 * each of its names, and survive a check against three environments built
 * from it (one holding its own values, one holding them too plus an extra
 * name, so that leak, reuse and extra findings come up, and one locked) and
 * a strict check of one, with every rendering of the findings.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz;
 * run: build-fuzz/tests/fuzz-template tests/fuzz/corpus/template.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/template.h"
#include "util/banned.h"

#define EXTRA_NAME "FUZZ_EXTRA_NAME"

/* Checks envs against t and renders the findings every way. */
static void
check(const struct envx_template *t, const struct envx_check_env *envs,
      size_t nenvs, unsigned flags)
{
	struct envx_findings f;
	struct envx_buf out;
	struct envx_error err;

	envx_findings_init(&f);
	envx_buf_init(&out, (size_t)1 << 26);
	if (envx_template_check(t, envs, nenvs, flags, &f, &err) != 0 ||
	    envx_findings_render_text(&f, true, &out, &err) != 0 ||
	    envx_findings_render_text(&f, false, &out, &err) != 0 ||
	    envx_findings_render_json(&f, &out, &err) != 0) {
		abort();
	}
	envx_findings_release(&f);
	envx_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envx_template *t = NULL;
	struct envx_check_secret *all = NULL;
	struct envx_check_secret *some = NULL;
	struct envx_kvset copy;
	struct envx_check_env envs[3];
	struct envx_error err;
	size_t nsome = 0;
	int r;

	if (sodium_init() < 0) {
		abort();
	}
	envx_kvset_init(&copy);
	r = envx_template_parse((const char *)data, size, "fuzz.env", &t, &err);
	if (r != 0 && r != ENVX_E_INPUT) {
		abort();
	}
	if (r != 0) {
		goto out;
	}
	all = calloc(t->nvars + 1, sizeof(*all));
	some = calloc(t->nvars + 1, sizeof(*some));
	if (all == NULL || some == NULL) {
		goto out;
	}
	for (size_t i = 0; i < t->nvars; i++) {
		const struct envx_template_var *var = &t->vars[i];
		const unsigned char *v;
		size_t len;

		if (envx_template_find(t, var->name) != var) {
			abort();
		}
		(void)envx_template_required(t, i);
		/* half the schedules match @rotate, half do not */
		all[i].name = var->name;
		all[i].rotate_every = i % 2 == 0 ? var->rotate_every
		                                 : (int64_t)(i % 3) * 86400;
		if (i % 2 == 1) {
			continue;
		}
		some[nsome++] = all[i];
		v = envx_template_value(t, i, &len);
		if (envx_kvset_add(&copy, var->name, strlen(var->name), v, len,
		                   0, NULL) < 0) {
			goto out;
		}
	}
	some[nsome].name = EXTRA_NAME;
	if (envx_kvset_add(&copy, EXTRA_NAME, strlen(EXTRA_NAME), "x", 1, 0,
	                   NULL) < 0) {
		goto out;
	}
	envs[0] = (struct envx_check_env){"dev", all, t->nvars, &t->values};
	envs[1] = (struct envx_check_env){"prod", some, nsome + 1, &copy};
	envs[2] = (struct envx_check_env){"ci", all, t->nvars, NULL};
	check(t, envs, 3, ENVX_CHECK_ALL);
	check(t, &envs[1], 1, ENVX_CHECK_STRICT);
out:
	envx_kvset_release(&copy);
	free(all);
	free(some);
	envx_template_free(t);
	return 0;
}
