/*
 * `envx import ENV FILE|-`: read a dotenv file (values literal, never
 * expanded) into an environment in one transaction. Unchanged values add no
 * version, so importing the same file twice is a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/dotenv.h"
#include "util/banned.h"

static void
print_diags(struct envx_ctx *ctx, const char *file,
            const struct envx_dotenv_result *res)
{
	size_t i;

	for (i = 0; i < res->ndiags; i++) {
		const struct envx_dotenv_diag *d = &res->diags[i];
		if (!d->is_error && ctx->quiet) {
			continue;
		}
		envx_cli_warn("%s:%u: %s: %s", file, d->line,
		              d->is_error ? "error" : "warning", d->msg);
	}
	if (res->ndiags_dropped > 0) {
		envx_cli_warn("%s: %zu more diagnostics not shown", file,
		              res->ndiags_dropped);
	}
}

/* True when name already holds exactly this value in current. */
static bool
unchanged(const struct envx_kvset *current, const char *name,
          const unsigned char *value, size_t len)
{
	ssize_t j = envx_kvset_bsearch(current, name);
	const unsigned char *cur;
	size_t curlen;

	if (j < 0) {
		return false;
	}
	cur = envx_kvset_value(current, (size_t)j, &curlen);
	return curlen == len &&
	       (len == 0 || sodium_memcmp(cur, value, len) == 0);
}

/* Runs `git -C DIR args... -- FILE` with no output; its exit status, or -1
 * when git cannot be run. */
static int
git_quiet(const char *dir, const char *a1, const char *a2, const char *file)
{
	const char *args[] = {"-C", dir, a1, a2, "--", file, NULL};
	int status;

	return envx_git_run(args, &status, NULL) == 0 ? status : -1;
}

/*
 * After an import from a file inside a git work tree: a plaintext .env
 * that git would commit (or already has) is the leak envx exists to end,
 * so say what to do. Quiet when git is missing or the file is ignored.
 */
static void
advise_plaintext(const struct envx_ctx *ctx, const char *file, const char *env)
{
	char dir[4096];
	const char *slash = strrchr(file, '/');
	const char *base = slash != NULL ? slash + 1 : file;
	int ignored;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == file) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
	}
	ignored = git_quiet(dir, "check-ignore", "-q", base);
	if (ignored != 1) {
		return; /* 0: ignored; 128 or -1: no work tree, or no git */
	}
	if (git_quiet(dir, "ls-files", "--error-unmatch", base) == 0) {
		envx_cli_warn(
		        "warning: '%s' is tracked by git: its values are "
		        "in the repository (and its history once "
		        "committed), so rotate them; then 'git rm --cached "
		        "%s', add it to .gitignore and delete it ('envx "
		        "export %s > %s' recreates it)",
		        file, base, env, base);
		return;
	}
	envx_cli_note(ctx,
	              "'%s' is inside a git work tree and not ignored: now "
	              "that its values are in the vault, delete it ('envx "
	              "export %s > %s' recreates it) and add '%s' to "
	              ".gitignore",
	              file, env, base, base);
}

int
cmd_import(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--lenient", 0, 1},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_dotenv_result res;
	struct envx_kvset current;
	struct envx_secbuf data = {0};
	struct envx_set_opts so = {.kind = "import"};
	struct envx_env *e = NULL;
	struct envx_error err;
	const char *env;
	const char *file;
	const char *shown;
	char detail[128];
	unsigned char *nonces = NULL;
	size_t written = 0;
	size_t i;
	unsigned flags = 0;
	int status = 0;
	int o;

	envx_dotenv_result_init(&res);
	envx_kvset_init(&current);
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		flags |= ENVX_DOTENV_LENIENT;
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional != 2) {
		status = envx_cli_usage(ctx, st.npositional < 2
		                                     ? "missing ENV or FILE"
		                                     : "too many arguments");
		goto done;
	}
	env = st.positional[0];
	file = st.positional[1];
	shown = strcmp(file, "-") == 0 ? "<stdin>" : file;
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (envx_ctx_unlock_all(ctx, env, &e, &current, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_file_read_secure(file, ENVX_DOTENV_MAX_BYTES, &data, &err) <
	    0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_dotenv_parse((const char *)data.data, data.len, flags, &res,
	                      &err) < 0 &&
	    res.nerrors == 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	print_diags(ctx, shown, &res);
	if (res.nerrors > 0) {
		status = envx_cli_error(7,
		                        "import: '%s' has %zu error%s; nothing "
		                        "was imported (fix them, or pass "
		                        "--lenient to skip unparseable lines)",
		                        shown, res.nerrors,
		                        res.nerrors == 1 ? "" : "s");
		goto done;
	}
	envx_kvset_sort(&res.pairs);
	for (i = 0; i < res.pairs.count; i++) {
		if (envx_env_name_permitted(e, envx_kvset_name(&res.pairs, i),
		                            &err) < 0) {
			status = envx_cli_error(7,
			                        "import: %s:%u: %s; nothing "
			                        "was imported",
			                        shown, res.pairs.items[i].line,
			                        err.msg);
			goto done;
		}
	}
	/* every line's nonce in one draw (unchanged lines leave theirs) */
	nonces = malloc(res.pairs.count * ENVX_SET_NONCE_BYTES + 1);
	if (nonces == NULL) {
		status = envx_cli_error(10, "out of memory");
		goto done;
	}
	randombytes_buf(nonces, res.pairs.count * ENVX_SET_NONCE_BYTES);
	if (envx_vault_begin(ctx->vault, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	for (i = 0; i < res.pairs.count; i++) {
		size_t len;
		const char *name = envx_kvset_name(&res.pairs, i);
		const unsigned char *value =
		        envx_kvset_value(&res.pairs, i, &len);

		if (unchanged(&current, name, value, len)) {
			continue;
		}
		uint64_t version = 0;

		so.nonce = nonces + i * ENVX_SET_NONCE_BYTES;
		if (envx_env_set(e, name, value, len, &so, &version, &err) <
		            0 ||
		    envx_cli_audit_version(ctx, "import", env, name, "import",
		                           version, "", &err) < 0) {
			envx_vault_rollback(ctx->vault);
			status = envx_cli_fail(&err);
			goto done;
		}
		written++;
	}
	snprintf(detail, sizeof(detail), "%zu of %zu from %.64s", written,
	         res.pairs.count, shown);
	if (written == 0) {
		/* nothing to write: the vault stays byte for byte as it was
		 * (an event alone would not be covered by a signed state) */
		envx_vault_rollback(ctx->vault);
	} else if (envx_vault_audit(ctx->vault, "import", env, "", detail,
	                            &err) < 0 ||
	           envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx, "imported %zu secret%s into %s (%zu unchanged)",
	              written, written == 1 ? "" : "s", env,
	              res.pairs.count - written);
	for (i = 0; i < res.pairs.count; i++) {
		envx_cli_exec_fit_warn(env, envx_kvset_name(&res.pairs, i),
		                       res.pairs.items[i].value_len);
	}
	if (strcmp(file, "-") != 0) {
		advise_plaintext(ctx, file, env);
	}
done:
	free(nonces);
	envx_kvset_release(&current);
	envx_dotenv_result_release(&res);
	envx_secbuf_release(&data);
	envx_env_free(e);
	free(st.positional);
	return status;
}
