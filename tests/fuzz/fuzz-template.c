/*
 * libFuzzer harness for the template parser: any input must either parse or
 * fail with ENVX_E_INPUT, and a parsed template must survive a check against
 * an environment made of its own values, and both renderings.
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc ...
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/template.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envx_template *t = NULL;
	struct envx_check_secret *secrets = NULL;
	struct envx_check_env env;
	struct envx_findings f;
	struct envx_buf out;
	struct envx_error err;
	int r;

	if (sodium_init() < 0) {
		abort();
	}
	envx_findings_init(&f);
	envx_buf_init(&out, (size_t)1 << 26);
	r = envx_template_parse((const char *)data, size, "fuzz.env", &t, &err);
	if (r != 0 && r != ENVX_E_INPUT) {
		abort();
	}
	if (r != 0) {
		goto out;
	}
	secrets = calloc(t->nvars + 1, sizeof(*secrets));
	if (secrets == NULL) {
		goto out;
	}
	for (size_t i = 0; i < t->nvars; i++) {
		secrets[i].name = t->vars[i].name;
		secrets[i].rotate_every = (int64_t)(i % 3) * 86400;
	}
	env.name = "fuzz";
	env.secrets = secrets;
	env.nsecrets = t->nvars;
	env.values = &t->values;
	if (envx_template_check(t, &env, 1, ENVX_CHECK_ALL, &f, &err) != 0) {
		abort();
	}
	if (envx_findings_render_text(&f, true, &out, &err) != 0 ||
	    envx_findings_render_json(&f, &out, &err) != 0) {
		abort();
	}
out:
	envx_findings_release(&f);
	envx_buf_release(&out);
	free(secrets);
	envx_template_free(t);
	return 0;
}
