/*
 * The new value of a write command (`envx set`, `envx rotate`): read from
 * standard input or a no-echo prompt, or generated at random; never from
 * argv. One set of options (--generate[=LEN], --charset, --raw,
 * --allow-empty) and one set of rules for both commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/rotate.h"
#include "util/banned.h"

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
envx_value_option(struct envx_ctx *ctx, int o, const char *arg,
                  struct envx_value_src *src)
{
	struct envx_error err;

	switch (o) {
	case ENVX_VALUE_OPT_GENERATE:
		src->generate = true;
		return parse_length(ctx, arg, &src->genlen) == 0 ? 1 : 2;
	case ENVX_VALUE_OPT_CHARSET:
		src->charset_given = true;
		if (envx_charset_parse(arg, &src->charset, &err) < 0) {
			return envx_cli_usage(ctx, "%s", err.msg);
		}
		return 1;
	case ENVX_VALUE_OPT_RAW:
		src->raw = true;
		return 1;
	case ENVX_VALUE_OPT_EMPTY:
		src->allow_empty = true;
		return 1;
	default:
		return 0;
	}
}

static int
check_args(struct envx_ctx *ctx, const struct envx_value_src *src,
           const struct envx_optstate *st, int npos)
{
	if (src->generate && src->raw) {
		return envx_cli_usage(ctx, "--raw has no effect with "
		                           "--generate");
	}
	if (src->charset_given && !src->generate) {
		return envx_cli_usage(ctx, "--charset needs --generate");
	}
	if (src->generate && st->npositional == npos + 1) {
		return envx_cli_usage(ctx,
		                      "to give --generate a length, "
		                      "write --generate=%s",
		                      st->positional[npos]);
	}
	if (st->npositional != npos) {
		return envx_cli_usage(ctx, st->npositional < npos
		                                   ? "missing ENV or NAME"
		                                   : "too many arguments (a "
		                                     "value is read from "
		                                     "standard input, never "
		                                     "from the command line)");
	}
	return 0;
}

int
envx_value_args(struct envx_ctx *ctx, const struct envx_value_src *src,
                const struct envx_optstate *st, const char **env,
                const char **name)
{
	struct envx_error err;
	int status = check_args(ctx, src, st, 2);

	if (status != 0) {
		return status;
	}
	*env = st->positional[0];
	*name = st->positional[1];
	if (envx_name_check(*name, &err) < 0) {
		return envx_cli_fail(&err);
	}
	return envx_cmd_vault(ctx);
}

int
envx_value_read(const char *cmd, const char *env, const char *name,
                const struct envx_value_src *src, struct envx_secbuf *out)
{
	struct envx_error err;
	char prompt[512];

	if (src->generate) {
		if (envx_generate(src->genlen, src->charset, out, &err) < 0) {
			return envx_cli_fail(&err);
		}
		return 0;
	}
	snprintf(prompt, sizeof(prompt), "%svalue for %s in %s",
	         strcmp(cmd, "rotate") == 0 ? "new " : "", name, env);
	if (envx_cli_read_value(prompt, src->raw, out, &err) < 0) {
		return envx_cli_fail(&err);
	}
	if (out->len == 0 && !src->allow_empty) {
		/* an empty stdin is far more often a mistake (a job with no
		 * input) than a wish to blank a secret */
		return envx_cli_error(7,
		                      "refusing to store an empty value for %s "
		                      "in %s: pipe the value in (printf '%%s' "
		                      "\"$VAR\" | envx %s %s %s), or pass "
		                      "--generate for a random one, or "
		                      "--allow-empty to store an empty one",
		                      name, env, cmd, env, name);
	}
	return 0;
}
