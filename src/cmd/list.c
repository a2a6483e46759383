/*
 * `envx list ENV`: names and metadata, never values. It works without the
 * environment's key and then says the names are unverified, because only
 * the environment MAC (which needs the key) proves nobody edited them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

static void
print_json(const char *env, const struct envx_secret_info *s, size_t n,
           bool verified)
{
	char when[32];
	size_t i;

	printf("{\"env\": ");
	envx_json_print_string(stdout, env);
	printf(", \"verified\": %s, \"secrets\": [",
	       verified ? "true" : "false");
	for (i = 0; i < n; i++) {
		envx_time_format(s[i].updated_at, when, sizeof(when));
		printf("%s{\"name\": ", i ? ", " : "");
		envx_json_print_string(stdout, s[i].name);
		printf(", \"version\": %llu, \"updated_at\": \"%s\", "
		       "\"updated_by\": ",
		       (unsigned long long)s[i].version, when);
		envx_json_print_string(stdout, s[i].updated_by);
		printf(", \"rotate_every_seconds\": %lld, \"state\": \"%s\", "
		       "\"description\": ",
		       (long long)s[i].rotate_every,
		       s[i].state == ENVX_STATE_COMPROMISED ? "compromised"
		                                            : "ok");
		envx_json_print_string(stdout, s[i].description);
		printf("}");
	}
	printf("]}\n");
}

static void
print_table(const struct envx_secret_info *s, size_t n)
{
	char when[32];
	char every[32];
	char desc[4 * ENVX_DESCRIPTION_MAX_BYTES + 1];
	size_t i;

	if (n == 0) {
		return;
	}
	printf("%-32s %7s  %-20s  %-8s  %s\n", "NAME", "VERSION", "UPDATED",
	       "ROTATE", "DESCRIPTION");
	for (i = 0; i < n; i++) {
		envx_time_format(s[i].updated_at, when, sizeof(when));
		if (s[i].rotate_every > 0) {
			envx_duration_format(s[i].rotate_every, every,
			                     sizeof(every));
		} else {
			snprintf(every, sizeof(every), "-");
		}
		printf("%-32s %7llu  %-20s  %-8s  %s%s\n", s[i].name,
		       (unsigned long long)s[i].version, when, every,
		       s[i].state == ENVX_STATE_COMPROMISED ? "[compromised] "
		                                            : "",
		       envx_safe_text(s[i].description, desc, sizeof(desc)));
	}
}

int
cmd_list(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_secret_info *secrets = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	size_t n = 0;
	bool verified = false;
	int status = 0;

	status = envx_cmd_args(ctx, argc, argv, &st, 1, 1, "missing ENV");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	if (envx_ctx_open_verified(ctx, st.positional[0], &e, &verified, &err) <
	    0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_env_secrets(e, &secrets, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (ctx->json) {
		print_json(st.positional[0], secrets, n, verified);
	} else {
		print_table(secrets, n);
	}
done:
	free(secrets);
	envx_env_free(e);
	free(st.positional);
	return status;
}
