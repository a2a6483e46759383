/*
 * `envx set ENV NAME`: write a new version of a secret from standard input,
 * a no-echo prompt, or a random generator; never from argv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

enum { OPT_ROTATE = 1, OPT_DESC };

int
cmd_set(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--rotate-every", 1, OPT_ROTATE},
	        {"--description", 1, OPT_DESC},
	        ENVX_VALUE_OPTS,
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_set_opts so = {.kind = "set"};
	struct envx_value_src src = {0};
	struct envx_secbuf value = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	const char *env;
	const char *name;
	uint64_t version = 0;
	int status = 0;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		switch (o) {
		case OPT_ROTATE:
			if (envx_duration_parse(st.arg, &so.rotate_every,
			                        &err) < 0) {
				status = envx_cli_usage(ctx, "%s", err.msg);
				goto done;
			}
			so.flags |= ENVX_SET_ROTATE;
			break;
		case OPT_DESC:
			so.description = st.arg;
			so.flags |= ENVX_SET_DESCRIPTION;
			break;
		default:
			if (envx_value_option(ctx, o, st.arg, &src) == 2) {
				status = 2;
				goto done;
			}
			break;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	status = envx_value_args(ctx, &src, &st, &env, &name);
	if (status != 0) {
		goto done;
	}
	/* refused before a value is asked for */
	ctx->lazy_unlock = true;
	if (envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_env_name_permitted(e, name, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	status = envx_value_read("set", env, name, &src, &value);
	if (status != 0) {
		goto done;
	}
	if (src.generate) {
		so.kind = "generate";
	}
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_set(e, name, value.data, value.len, &so, &version, &err) <
	            0 ||
	    envx_cli_audit_version(ctx, "set", env, name, so.kind, version, "",
	                           &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx, "set %s in %s (version %llu)", name, env,
	              (unsigned long long)version);
	envx_cli_exec_fit_warn(env, name, value.len);
done:
	envx_secbuf_release(&value);
	envx_env_free(e);
	free(st.positional);
	return status;
}
