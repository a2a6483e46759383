/*
 * `envx merge-driver %O %A %B`: git's merge driver for the vault. The
 * result (SPEC §9) is built in a temporary copy of ours beside it and
 * renamed over %A only when the merge is clean; on a conflict %A is left
 * as it was and git keeps its conflict.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

static void
report(void *ctx, bool is_conflict, const char *env, const char *name,
       const char *text)
{
	(void)ctx;
	(void)env;
	(void)name;
	if (is_conflict) {
		envx_cli_warn("merge conflict: %s", text);
	} else {
		envx_cli_warn("merge: %s/%s: %s", env, name, text);
	}
}

/* Copies ours into a new temporary file in its directory (mode of ours,
 * without group or other write). */
static int
copy_ours(const char *ours, char *tmp, size_t tmpsz, struct envx_error *err)
{
	char dir[4096];
	char buf[65536];
	struct stat sb;
	int in = -1;
	int out = -1;
	ssize_t n;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s", ours);
	if ((size_t)snprintf(tmp, tmpsz, "%s/.envx-merge-XXXXXX",
	                     dirname(dir)) >= tmpsz) {
		return envx_error_set(err, ENVX_E_INPUT, "path too long: '%s'",
		                      ours);
	}
	in = open(ours, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb) != 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot read '%s': %s", ours,
		                   strerror(errno));
		goto out;
	}
	out = mkstemp(tmp);
	if (out < 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "cannot create a temporary file beside "
		                   "'%s': %s",
		                   ours, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	if (n < 0 || fchmod(out, sb.st_mode & 0755) != 0 || fsync(out) != 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot copy '%s': %s", ours,
		                   strerror(errno));
	}
out:
	if (in >= 0) {
		close(in);
	}
	if (out >= 0) {
		close(out);
	}
	return r;
}

static int
open_input(const char *path, const struct envx_trust *t,
           const struct envx_identity *id, struct envx_vault **out,
           struct envx_error *err)
{
	int r = envx_vault_open(path, false, out, err);

	if (r == 0) {
		envx_vault_set_trust(*out, t);
		envx_vault_set_signer(*out, id);
	}
	return r;
}

int
cmd_merge_driver(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_identity *id = NULL;
	struct envx_vault *in[3] = {NULL, NULL, NULL};
	struct envx_vault *res = NULL;
	struct envx_unlock how = {0};
	struct envx_merge m = {0};
	struct envx_trust t;
	struct envx_error err;
	char tmp[4200] = "";
	char actor[256];
	int status;
	int i;

	/* the three files git names are the whole input: no vault is looked
	 * for (git runs this at the top of the work tree, which need not
	 * hold one) */
	status = envx_cmd_positional(
	        ctx, argc, argv, &st, 3, 3,
	        "missing ANCESTOR, OURS or THEIRS (git passes "
	        "%O %A %B)");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	if (envx_ctx_identity(ctx, &id, &err) < 0) {
		envx_error_append(&err,
		                  "; merging the vault signs the result, "
		                  "so it needs your identity: '%s' is "
		                  "left as ours and git keeps the "
		                  "conflict",
		                  st.positional[1]);
		status = envx_cli_fail(&err);
		goto done;
	}
	/* VF-9.2: the merger's trust, without the rollback record: the
	 * ancestor and theirs are older states by nature */
	t = ctx->trust;
	t.seen_path = NULL;
	t.min_generation = NULL;
	t.accept_older = false;
	t.accept_unsigned = false;
	for (i = 0; i < 3; i++) {
		if (open_input(st.positional[i], &t, id, &in[i], &err) < 0) {
			envx_error_append(&err, " (%s)",
			                  i == 0   ? "the ancestor, %O"
			                  : i == 1 ? "ours, %A"
			                           : "theirs, %B");
			status = envx_cli_fail(&err);
			goto done;
		}
	}
	if (copy_ours(st.positional[1], tmp, sizeof(tmp), &err) < 0 ||
	    envx_vault_open(tmp, true, &res, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_ctx_actor(ctx, actor, sizeof(actor));
	envx_vault_set_actor(res, actor);
	envx_vault_set_trust(res, &t);
	envx_vault_set_signer(res, id);
	how.identity = id;
	how.ask = envx_ctx_env_passphrase;
	how.ask_ctx = ctx;
	how.identity_label = ctx->identity_source;
	m.base = in[0];
	m.ours = in[1];
	m.theirs = in[2];
	m.how = &how;
	m.report = report;
	if (envx_vault_merge(res, &m, &err) < 0) {
		if (m.conflicts > 0) {
			envx_cli_warn("merge-driver: %s; '%s' is left as ours "
			              "and git keeps the conflict",
			              err.msg, st.positional[1]);
			status = envx_error_exit_status(err.code);
		} else {
			status = envx_cli_fail(&err);
		}
		goto done;
	}
	envx_vault_close(res);
	res = NULL;
	if (rename(tmp, st.positional[1]) != 0) {
		status = envx_cli_error(6, "cannot replace '%s': %s",
		                        st.positional[1], strerror(errno));
		goto done;
	}
	tmp[0] = '\0';
	envx_cli_note(ctx, "merged '%s' (theirs) into '%s' (ours)",
	              st.positional[2], st.positional[1]);
	status = 0;
done:
	envx_vault_close(res);
	for (i = 0; i < 3; i++) {
		envx_vault_close(in[i]);
	}
	if (tmp[0] != '\0') {
		char journal[4300];

		unlink(tmp);
		snprintf(journal, sizeof(journal), "%s-journal", tmp);
		unlink(journal);
	}
	free(st.positional);
	return status;
}
