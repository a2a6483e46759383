/*
 * `envx export ENV [--format dotenv|json|shell|github]`: print an
 * environment's values in the format a tool wants. Output goes through a
 * secure buffer straight to write(2); `github` appends heredoc blocks to
 * $GITHUB_ENV and prints only ::add-mask:: lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/dotenv.h"
#include "util/banned.h"

enum format { FMT_DOTENV, FMT_JSON, FMT_SHELL, FMT_GITHUB };

static int
parse_format(const char *s, enum format *f)
{
	static const char *const names[] = {"dotenv", "json", "shell",
	                                    "github"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*f = (enum format)i;
			return 0;
		}
	}
	return -1;
}

static int
write_github(const struct envx_kvset *set, struct envx_error *err)
{
	const char *path = getenv("GITHUB_ENV");
	struct envx_secout env_out = {.fd = -1};
	struct envx_secout mask_out = {.fd = -1};
	int fd;
	int r;

	if (path == NULL || *path == '\0') {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "export --format github: GITHUB_ENV is "
		                      "not set (this format is for GitHub "
		                      "Actions steps)");
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		return envx_error_set(
		        err, errno == ELOOP ? ENVX_E_UNSAFE : ENVX_E_IO,
		        "cannot open GITHUB_ENV file '%s': %s", path,
		        strerror(errno));
	}
	r = envx_secout_init(&env_out, fd, err);
	if (r == 0) {
		r = envx_secout_init(&mask_out, STDOUT_FILENO, err);
	}
	if (r == 0) {
		/* masks first: GitHub must know a value before any log line
		 * could show it */
		r = envx_github_write(set, envx_secout_emit, &env_out,
		                      envx_secout_emit, &mask_out, err);
	}
	if (r < 0) {
		/* nothing half-written reaches $GITHUB_ENV or the log */
		env_out.buf.len = 0;
		mask_out.buf.len = 0;
	}
	if (envx_secout_finish(&mask_out) < 0 && r == 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "cannot write to standard output");
	}
	if (envx_secout_finish(&env_out) < 0 && r == 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot write '%s'", path);
	}
	if (fsync(fd) < 0 && r == 0 && errno != EINVAL) {
		r = envx_error_set(err, ENVX_E_IO, "cannot sync '%s': %s", path,
		                   strerror(errno));
	}
	close(fd);
	return r;
}

/*
 * DESIGN §5: a refused name the environment does not allow is left out of
 * every format (the `github` one would hand it to every later step of the
 * job), each with an error; *skipped counts them. Copies the rest of all
 * into out.
 */
static int
drop_refused(const struct envx_env *e, const struct envx_kvset *all,
             struct envx_kvset *out, size_t *skipped, struct envx_error *err)
{
	size_t i;

	*skipped = 0;
	for (i = 0; i < all->count; i++) {
		const char *name = envx_kvset_name(all, i);
		size_t len;
		const unsigned char *v = envx_kvset_value(all, i, &len);
		int r;

		if (envx_name_refused(name, strlen(name)) != NULL &&
		    !envx_env_name_allowed(e, name)) {
			envx_cli_refused_skip("export: leaving out",
			                      envx_env_name(e), name);
			(*skipped)++;
			continue;
		}
		r = envx_kvset_add(out, name, strlen(name), v, len, 0, err);
		if (r < 0) {
			return r;
		}
	}
	envx_kvset_sort(out);
	return 0;
}

int
cmd_export(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--format", 1, 1},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_kvset all;
	struct envx_kvset set;
	struct envx_secout out = {.fd = -1};
	struct envx_env *e = NULL;
	struct envx_error err;
	enum format fmt = FMT_DOTENV;
	bool format_given = false;
	size_t skipped = 0;
	int status = 0;
	int r;
	int o;

	envx_kvset_init(&all);
	envx_kvset_init(&set);
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		format_given = true;
		if (parse_format(st.arg, &fmt) < 0) {
			status = envx_cli_usage(ctx,
			                        "unknown format '%.32s' (use "
			                        "dotenv, json, shell or "
			                        "github)",
			                        st.arg);
			goto done;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	/* --json, before or after the command, without --format */
	if (ctx->json && !format_given) {
		fmt = FMT_JSON;
	}
	if (st.npositional != 1) {
		status = envx_cli_usage(ctx, st.npositional < 1
		                                     ? "missing ENV"
		                                     : "too many arguments");
		goto done;
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (envx_ctx_unlock_all(ctx, st.positional[0], &e, &all, &err) < 0 ||
	    drop_refused(e, &all, &set, &skipped, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (fmt == FMT_GITHUB) {
		r = write_github(&set, &err);
	} else {
		r = envx_secout_init(&out, STDOUT_FILENO, &err);
		if (r == 0 && fmt == FMT_DOTENV) {
			r = envx_dotenv_write(&set, envx_secout_emit, &out,
			                      &err);
		} else if (r == 0 && fmt == FMT_JSON) {
			r = envx_json_write(&set, envx_secout_emit, &out, &err);
		} else if (r == 0) {
			r = envx_shell_write(&set, envx_secout_emit, &out,
			                     &err);
		}
		if (r < 0) {
			out.buf.len = 0; /* print nothing more on failure */
		}
		if (envx_secout_finish(&out) < 0 && r == 0) {
			r = envx_error_set(&err, ENVX_E_IO,
			                   "cannot write to standard output");
		}
	}
	if (r < 0) {
		status = envx_cli_fail(&err);
	} else if (skipped > 0) {
		/* the rest was written; a script must still notice */
		status = envx_cli_error(7,
		                        "export: %zu refused name%s left out "
		                        "of %s",
		                        skipped, skipped == 1 ? "" : "s",
		                        st.positional[0]);
	}
done:
	envx_kvset_release(&all);
	envx_kvset_release(&set);
	envx_env_free(e);
	free(st.positional);
	return status;
}
