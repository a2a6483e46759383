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

enum { OPT_ROTATE = 1, OPT_DESC, OPT_GEN, OPT_RAW, OPT_EMPTY };

#define GENERATE_DEFAULT 32
#define GENERATE_MAX     4096

/* Parses --generate's optional LEN. Returns 0 or prints and returns 2. */
static int
parse_length(struct envx_ctx *ctx, const char *arg, size_t *len)
{
	char *end;
	unsigned long v;

	if (arg == NULL) {
		*len = GENERATE_DEFAULT;
		return 0;
	}
	v = strtoul(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < 8 || v > GENERATE_MAX) {
		return envx_cli_usage(ctx,
		                      "--generate length must be a number from "
		                      "8 to %d",
		                      GENERATE_MAX);
	}
	*len = (size_t)v;
	return 0;
}

int
cmd_set(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--rotate-every", 1, OPT_ROTATE},
	        {"--description", 1, OPT_DESC},
	        {"--generate", 2, OPT_GEN},
	        {"--raw", 0, OPT_RAW},
	        {"--allow-empty", 0, OPT_EMPTY},
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_set_opts so = {.kind = "set"};
	struct envx_secbuf value = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	const char *env;
	const char *name;
	char prompt[512];
	size_t genlen = 0;
	bool generate = false;
	bool raw = false;
	bool allow_empty = false;
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
		case OPT_GEN:
			generate = true;
			status = parse_length(ctx, st.arg, &genlen);
			if (status != 0) {
				goto done;
			}
			break;
		case OPT_EMPTY:
			allow_empty = true;
			break;
		default:
			raw = true;
			break;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (generate && raw) {
		status = envx_cli_usage(ctx, "--raw has no effect with "
		                             "--generate");
		goto done;
	}
	if (generate && st.npositional == 3) {
		status = envx_cli_usage(ctx,
		                        "to give --generate a length, "
		                        "write --generate=%s",
		                        st.positional[2]);
		goto done;
	}
	if (st.npositional != 2) {
		status = envx_cli_usage(
		        ctx, st.npositional < 2 ? "missing ENV or NAME"
		                                : "too many arguments (a "
		                                  "value is read from "
		                                  "standard input, never "
		                                  "from the command line)");
		goto done;
	}
	env = st.positional[0];
	name = st.positional[1];
	if (envx_name_check(name, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	/* refused before a value is asked for */
	if (envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_env_name_permitted(e, name, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (generate) {
		so.kind = "generate";
		if (envx_cli_generate(genlen, &value, &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
	} else {
		snprintf(prompt, sizeof(prompt), "value for %s in %s", name,
		         env);
		if (envx_cli_read_value(prompt, raw, &value, &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
		if (value.len == 0 && !allow_empty) {
			/* an empty stdin is far more often a mistake (a job
			 * with no input) than a wish to blank a secret */
			status = envx_cli_error(
			        7,
			        "refusing to store an empty "
			        "value for %s in %s: pipe the "
			        "value in (printf '%%s' \"$VAR\" "
			        "| envx set %s %s), or pass "
			        "--generate for a random one, or "
			        "--allow-empty to store an empty "
			        "one",
			        name, env, env, name);
			goto done;
		}
	}
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_set(e, name, value.data, value.len, &so, &version, &err) <
	            0 ||
	    envx_vault_audit(ctx->vault, "set", env, name, so.kind, &err) < 0 ||
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
