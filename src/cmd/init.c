/*
 * `envx init`: create envx.vault in the current directory (or at --vault /
 * $ENVX_VAULT) with its environments, creating the caller's identity first
 * when they have none; that identity becomes a recipient of every env.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

#define MAX_ENVS 32

/* VF-4.7: an interrupted write leaves this beside the vault; committed,
 * it would make every clone roll the vault back on its first read. */
#define JOURNAL_IGNORE "*.vault-journal"

/* The .gitignore beside the vault at path. */
static void
gitignore_path(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(out, outsz, ".gitignore");
	} else {
		snprintf(out, outsz, "%.*s/.gitignore", (int)(slash - path),
		         path);
	}
}

/* Creates the identity where envx_ctx_identity looked for it. */
static int
create_identity(struct envx_ctx *ctx, struct envx_error *err)
{
	struct envx_identity *id = NULL;
	struct envx_secbuf text = {0};
	char path[4096];
	const char *target = ctx->identity_opt;
	int r;

	if (target == NULL) {
		target = getenv("ENVX_IDENTITY_FILE");
	}
	if (target == NULL || *target == '\0') {
		if (envx_identity_default_path(path, sizeof(path)) < 0) {
			return envx_error_set(err, ENVX_E_USAGE,
			                      "HOME is not set: pass "
			                      "--identity FILE");
		}
		target = path;
	}
	r = envx_identity_generate(&id, err);
	if (r == 0) {
		r = envx_identity_encode(id, NULL, 0, &text, err);
	}
	if (r == 0) {
		r = envx_identity_save(target, &text, false, err);
	}
	if (r == 0) {
		envx_cli_note(ctx,
		              "created identity '%s' (keep it secret; "
		              "back it up)",
		              target);
		ctx->identity = id;
		snprintf(ctx->identity_source, sizeof(ctx->identity_source),
		         "%s", target);
		id = NULL;
	}
	envx_secbuf_release(&text);
	envx_identity_free(id);
	return r;
}

int
cmd_init(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--env", 1, 1}, {NULL, 0, 0}};
	static const char *const defaults[] = {"local", "staging",
	                                       "production"};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	const char *envs[MAX_ENVS];
	size_t nenvs = 0;
	struct envx_identity *id = NULL;
	struct envx_error err;
	char actor[256];
	char pub[ENVX_PUBKEY_TEXT_BYTES];
	char ignore[4096 + 16];
	bool ignored = false;
	const char *path = NULL;
	const char *env_var = getenv("ENVX_VAULT");
	size_t i;
	size_t j;
	int status = 0;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (nenvs == MAX_ENVS) {
			status = envx_cli_usage(ctx, "too many environments");
			goto done;
		}
		if (!envx_env_name_valid(st.arg)) {
			status = envx_cli_error(
			        7,
			        "invalid environment name '%.64s': use "
			        "lowercase letters, digits, '.', '_' and '-'",
			        st.arg);
			goto done;
		}
		for (j = 0; j < nenvs; j++) {
			if (strcmp(envs[j], st.arg) == 0) {
				break;
			}
		}
		if (j == nenvs) {
			envs[nenvs++] = st.arg;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional > 0) {
		status = envx_cli_usage(ctx, "unexpected argument '%s'",
		                        st.positional[0]);
		goto done;
	}
	if (nenvs == 0) {
		for (i = 0; i < 3; i++) {
			envs[nenvs++] = defaults[i];
		}
	}
	path = ctx->vault_opt != NULL                ? ctx->vault_opt
	       : env_var != NULL && *env_var != '\0' ? env_var
	                                             : ENVX_VAULT_FILENAME;
	if (access(path, F_OK) == 0) {
		/* before anything is created, identity included */
		status = envx_cli_error(6,
		                        "cannot create vault '%s': it already "
		                        "exists",
		                        path);
		path = NULL;
		goto done;
	}
	if (envx_ctx_identity(ctx, &id, &err) < 0) {
		const char *text = getenv("ENVX_IDENTITY");

		if (err.code != ENVX_E_NOTFOUND ||
		    (text != NULL && *text != '\0')) {
			status = envx_cli_fail(&err);
			goto done;
		}
		if (create_identity(ctx, &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
		id = ctx->identity;
	}
	if (envx_vault_create(path, &ctx->vault, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_ctx_actor(ctx, actor, sizeof(actor));
	envx_vault_set_actor(ctx->vault, actor);
	if (envx_ctx_bind_trust(ctx, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	for (i = 0; i < nenvs; i++) {
		if (envx_vault_env_add(ctx->vault, envs[i], id->pk, actor,
		                       &err) < 0) {
			envx_vault_rollback(ctx->vault);
			status = envx_cli_fail(&err);
			goto done;
		}
	}
	if (envx_vault_commit(ctx->vault, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	gitignore_path(path, ignore, sizeof(ignore));
	if (envx_file_ensure_line(ignore, JOURNAL_IGNORE, &ignored, &err) < 0) {
		/* the vault is made and sound: a warning, not a failure */
		(void)envx_cli_error(0,
		                     "warning: could not add '%s' to '%s' (add "
		                     "it by hand): %s",
		                     JOURNAL_IGNORE, ignore, err.msg);
	}
	envx_identity_pubtext(id, pub);
	if (ctx->json) {
		printf("{\"vault\": ");
		envx_json_print_string(stdout, path);
		printf(", \"environments\": [");
		for (i = 0; i < nenvs; i++) {
			printf("%s\"%s\"", i ? ", " : "", envs[i]);
		}
		printf("], \"recipient\": ");
		envx_json_print_string(stdout, actor);
		printf(", \"public_key\": \"%s\", \"gitignore\": ", pub);
		envx_json_print_string(stdout, ignore);
		printf(", \"gitignore_added\": %s}\n",
		       ignored ? "true" : "false");
	} else if (!ctx->quiet) {
		printf("created vault '%s' with environments:", path);
		for (i = 0; i < nenvs; i++) {
			printf(" %s", envs[i]);
		}
		printf("\nrecipient of every environment: %s (%s)\n", actor,
		       pub);
		if (ignored) {
			printf("added '%s' to '%s' (a write's transient "
			       "journal; never commit it)\n",
			       JOURNAL_IGNORE, ignore);
		}
	}
done:
	if (status != 0 && ctx->vault != NULL && path != NULL) {
		/* a failed init leaves no half-made vault behind */
		envx_vault_close(ctx->vault);
		ctx->vault = NULL;
		unlink(path);
	}
	free(st.positional);
	return status;
}
