/*
 * `envx get ENV NAME`: print one secret's value, exactly, with a newline
 * added only when standard output is a terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

int
cmd_get(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_secbuf value = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	int status = 0;

	status = envx_cmd_args(ctx, argc, argv, &st, 2, 2,
	                       "missing ENV or NAME");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	ctx->lazy_unlock = true;
	if (envx_ctx_unlock(ctx, st.positional[0], &e, &err) < 0 ||
	    envx_env_get(e, st.positional[1], &value, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_out_secret(value.data, value.len) < 0 ||
	    (isatty(STDOUT_FILENO) && envx_out_secret("\n", 1) < 0)) {
		status = envx_cli_error(6, "cannot write to standard output");
	}
done:
	envx_secbuf_release(&value);
	envx_env_free(e);
	free(st.positional);
	return status;
}
