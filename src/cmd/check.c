/*
 * `envx check ENV|--all`: validate environments against .env.example with
 * the template module, unlocking what the caller can and checking names
 * only for the rest. Also the gate `envx exec --template` runs first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/template.h"
#include "util/banned.h"

#define DEFAULT_TEMPLATE ".env.example"
#define REPORT_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* One environment's inputs to the check, owned here. */
struct env_input {
	struct envx_env *e;
	struct envx_secret_info *info;
	struct envx_check_secret *secrets;
	size_t n;
	struct envx_kvset values;
	bool unlocked;
};

static void
input_release(struct env_input *in)
{
	free(in->secrets);
	free(in->info);
	envx_kvset_release(&in->values);
	envx_env_free(in->e);
	memset(in, 0, sizeof(*in));
}

/* The check's view of an environment's metadata (names borrowed from
 * info, which must outlive the result); free() it. NULL when out of
 * memory. */
static struct envx_check_secret *
check_secrets(const struct envx_secret_info *info, size_t n)
{
	struct envx_check_secret *out = calloc(n ? n : 1, sizeof(*out));
	size_t i;

	for (i = 0; out != NULL && i < n; i++) {
		out[i].name = info[i].name;
		out[i].rotate_every = info[i].rotate_every;
	}
	return out;
}

/* Unlocks env if the caller can, and gathers names, metadata and values. */
static int
input_load(struct envx_ctx *ctx, const char *env, struct env_input *in,
           struct envx_error *err)
{
	int r;

	envx_kvset_init(&in->values);
	r = envx_ctx_unlock_all(ctx, env, &in->e, &in->values, err);
	if (r == 0) {
		in->unlocked = true;
	} else if (r == ENVX_E_LOCKED) {
		r = envx_env_open(ctx->vault, env, &in->e, err);
	}
	if (r == 0) {
		r = envx_env_secrets(in->e, &in->info, &in->n, err);
	}
	if (r < 0) {
		return r;
	}
	in->secrets = check_secrets(in->info, in->n);
	if (in->secrets == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	return 0;
}

static int
print_report(struct envx_ctx *ctx, const struct envx_findings *f, bool to_err)
{
	struct envx_buf out;
	struct envx_error err;
	bool colour;
	int r;

	colour = isatty(to_err ? STDERR_FILENO : STDOUT_FILENO) &&
	         getenv("NO_COLOR") == NULL;
	envx_buf_init(&out, REPORT_MAX_BYTES);
	r = ctx->json && !to_err
	            ? envx_findings_render_json(f, &out, &err)
	            : envx_findings_render_text(f, colour, &out, &err);
	if (r < 0) {
		envx_buf_release(&out);
		return envx_cli_fail(&err);
	}
	fwrite(out.data, 1, out.len, to_err ? stderr : stdout);
	envx_buf_release(&out);
	return 0;
}

int
envx_check_gate(struct envx_ctx *ctx, const char *template_path,
                struct envx_env *e, const struct envx_kvset *values,
                struct envx_template **out)
{
	struct envx_template *t = NULL;
	struct envx_secret_info *info = NULL;
	struct envx_check_secret *secrets = NULL;
	struct envx_findings f;
	struct envx_check_env ce;
	struct envx_error err;
	size_t n = 0;
	int status = 0;

	envx_findings_init(&f);
	if (envx_template_load(template_path, &t, &err) < 0 ||
	    envx_env_secrets(e, &info, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	secrets = check_secrets(info, n);
	if (secrets == NULL) {
		status = envx_cli_error(10, "out of memory");
		goto done;
	}
	ce.name = envx_env_name(e);
	ce.secrets = secrets;
	ce.nsecrets = n;
	ce.values = values;
	if (envx_template_check(t, &ce, 1, 0, &f, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (f.errors > 0) {
		print_report(ctx, &f, true);
		status =
		        envx_cli_error(1,
		                       "exec: '%s' has %zu problem%s with "
		                       "template '%s'; the command was not "
		                       "run",
		                       envx_env_name(e), f.errors,
		                       f.errors == 1 ? "" : "s", template_path);
		goto done;
	}
	*out = t;
	t = NULL;
done:
	envx_findings_release(&f);
	free(secrets);
	free(info);
	envx_template_free(t);
	return status;
}

int
cmd_check(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--template", 1, 1},
	                                       {"--strict", 0, 2},
	                                       {"--all", 0, 3},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	const char *template_path = DEFAULT_TEMPLATE;
	struct envx_template *t = NULL;
	struct envx_env_info *list = NULL;
	struct env_input *inputs = NULL;
	struct envx_check_env *envs = NULL;
	struct envx_findings f;
	struct envx_error err;
	unsigned flags = 0;
	size_t nenvs = 0;
	size_t i;
	int status = 0;
	int o;

	envx_findings_init(&f);
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == 1) {
			template_path = st.arg;
		} else if (o == 2) {
			flags |= ENVX_CHECK_STRICT;
		} else {
			flags |= ENVX_CHECK_ALL;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if ((flags & ENVX_CHECK_ALL) ? st.npositional != 0
	                             : st.npositional != 1) {
		status =
		        envx_cli_usage(ctx, (flags & ENVX_CHECK_ALL)
		                                    ? "--all takes no ENV"
		                                    : "missing ENV (or --all)");
		goto done;
	}
	if (envx_template_load(template_path, &t, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (flags & ENVX_CHECK_ALL) {
		if (envx_vault_env_list(ctx->vault, &list, &nenvs, &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
	} else {
		nenvs = 1;
	}
	inputs = calloc(nenvs ? nenvs : 1, sizeof(*inputs));
	envs = calloc(nenvs ? nenvs : 1, sizeof(*envs));
	if (inputs == NULL || envs == NULL) {
		status = envx_cli_error(10, "out of memory");
		goto done;
	}
	for (i = 0; i < nenvs; i++) {
		const char *name =
		        list != NULL ? list[i].name : st.positional[0];
		if (input_load(ctx, name, &inputs[i], &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
		envs[i].name = name;
		envs[i].secrets = inputs[i].secrets;
		envs[i].nsecrets = inputs[i].n;
		envs[i].values = inputs[i].unlocked ? &inputs[i].values : NULL;
	}
	if (envx_template_check(t, envs, nenvs, flags, &f, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	status = print_report(ctx, &f, false);
	if (status == 0 && f.errors > 0) {
		status = 1;
	}
done:
	for (i = 0; inputs != NULL && i < nenvs; i++) {
		input_release(&inputs[i]);
	}
	free(inputs);
	free(envs);
	free(list);
	envx_findings_release(&f);
	envx_template_free(t);
	free(st.positional);
	return status;
}
