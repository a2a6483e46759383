/*
 * `envx git setup`: the attributes, config entries and hook that make git
 * merge the vault with `envx merge-driver` and show it with `envx diff`.
 * git itself is run (no shell) for everything about the repository, so its
 * own rules (worktrees, $GIT_DIR, core.hooksPath) apply.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envx/git.h"
#include "envx/util.h"
#include "util/banned.h"

const char envx_git_hook_text[] =
        "#!/bin/sh\n"
        "# envx: refuse a commit that contains a value of the vault.\n"
        "# Installed by 'envx git setup --hooks'; see envx-git(1).\n"
        "exec envx scan --staged\n";

#define GIT_OUT_BYTES 8192

/* Runs git -C dir ARGS... (envx_git_text: no shell, no secrets in its
 * environment) and collects its standard output, trailing newlines
 * removed; *status is its exit status. */
static int
run_git(const char *dir, const char *const *args, char *out, size_t outsz,
        int *status, struct envx_error *err)
{
	const char *argv[16];
	size_t i = 0;

	argv[i++] = "-C";
	argv[i++] = dir;
	while (*args != NULL && i < 15) {
		argv[i++] = *args++;
	}
	argv[i] = NULL;
	return envx_git_text(argv, out, outsz, status, err);
}

/* The config entries envx git setup writes. The commands are looked up on
 * PATH when git runs them, so a committed setup works on every machine. */
static const char *const config[][2] = {
        {"merge.envx.name", "envx vault merge"},
        {"merge.envx.driver", "envx merge-driver %O %A %B"},
        {"diff.envx.textconv", "envx diff"},
};

static int
set_config(const char *dir, envx_git_change_fn fn, void *ctx,
           struct envx_error *err)
{
	char out[GIT_OUT_BYTES];
	char what[512];
	size_t i;
	int status;
	int r;

	for (i = 0; i < sizeof(config) / sizeof(config[0]); i++) {
		const char *get[] = {"config", "--local", "--get", config[i][0],
		                     NULL};
		const char *set[] = {"config", "--local", config[i][0],
		                     config[i][1], NULL};

		r = run_git(dir, get, out, sizeof(out), &status, err);
		if (r < 0) {
			return r;
		}
		snprintf(what, sizeof(what), "%s = %s", config[i][0],
		         config[i][1]);
		if (status == 0 && strcmp(out, config[i][1]) == 0) {
			fn(ctx, false, what);
			continue;
		}
		r = run_git(dir, set, out, sizeof(out), &status, err);
		if (r < 0) {
			return r;
		}
		if (status != 0) {
			return envx_error_set(err, ENVX_E_IO,
			                      "git config %s failed (exit %d)",
			                      config[i][0], status);
		}
		fn(ctx, true, what);
	}
	return 0;
}

/* A path git's attribute patterns take literally (no quoting needed). */
static bool
plain_pattern(const char *rel)
{
	const char *p;

	for (p = rel; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr("*?[]\\\"#!", *p) != NULL) {
			return false;
		}
	}
	return *rel != '\0';
}

static int
install_hook(const char *dir, envx_git_change_fn fn, void *ctx,
             struct envx_error *err)
{
	const char *args[] = {"rev-parse", "--git-path", "hooks/pre-commit",
	                      NULL};
	char out[GIT_OUT_BYTES];
	char path[PATH_MAX + GIT_OUT_BYTES];
	char what[sizeof(path) + 64];
	struct envx_buf cur;
	int status;
	int r;

	r = run_git(dir, args, out, sizeof(out), &status, err);
	if (r < 0) {
		return r;
	}
	if (status != 0 || out[0] == '\0') {
		return envx_error_set(err, ENVX_E_IO,
		                      "git rev-parse --git-path failed");
	}
	if (out[0] == '/') {
		snprintf(path, sizeof(path), "%s", out);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, out);
	}
	snprintf(what, sizeof(what),
	         "pre-commit hook '%s' runs 'envx scan "
	         "--staged'",
	         path);
	envx_buf_init(&cur, ENVX_LIST_FILE_MAX_BYTES);
	r = envx_file_read(path, true, &cur, err);
	if (r == 0) {
		bool same = cur.len == strlen(envx_git_hook_text) &&
		            memcmp(cur.data, envx_git_hook_text, cur.len) == 0;
		envx_buf_release(&cur);
		if (!same) {
			return envx_error_set(
			        err, ENVX_E_INPUT,
			        "'%s' exists and is not envx's hook: left as "
			        "it is; add the line 'envx scan --staged' to "
			        "it yourself, or remove it and run 'envx git "
			        "setup --hooks' again",
			        path);
		}
		fn(ctx, false, what);
		return 0;
	}
	envx_buf_release(&cur);
	if (r != ENVX_E_NOTFOUND) {
		return r;
	}
	r = envx_file_make_parents(path, err);
	if (r == 0) {
		r = envx_file_write_atomic(path, envx_git_hook_text,
		                           strlen(envx_git_hook_text), 0755,
		                           err);
	}
	if (r == 0) {
		fn(ctx, true, what);
	}
	return r;
}

int
envx_git_setup(const char *vault_path, bool hooks, envx_git_change_fn fn,
               void *ctx, struct envx_error *err)
{
	const char *top_args[] = {"rev-parse", "--show-toplevel", NULL};
	char vault[PATH_MAX];
	char dir[PATH_MAX];
	char top[GIT_OUT_BYTES];
	char toplevel[PATH_MAX];
	char attrs[PATH_MAX + 32];
	char line[PATH_MAX + 32];
	char what[sizeof(line) + sizeof(attrs) + 16];
	const char *rel;
	size_t tl;
	bool added = false;
	int status;
	int r;

	if (realpath(vault_path, vault) == NULL) {
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "cannot find vault '%s': %s", vault_path,
		                      strerror(errno));
	}
	snprintf(dir, sizeof(dir), "%s", vault);
	*strrchr(dir, '/') = '\0';
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/");
	}
	r = run_git(dir, top_args, top, sizeof(top), &status, err);
	if (r < 0) {
		return r;
	}
	if (status != 0 || realpath(top, toplevel) == NULL) {
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "vault '%s' is not in a git work tree "
		                      "(run 'git init' first)",
		                      vault_path);
	}
	tl = strlen(toplevel);
	if (strncmp(vault, toplevel, tl) != 0 || vault[tl] != '/') {
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "vault '%s' is not inside the work tree "
		                      "'%s'",
		                      vault_path, toplevel);
	}
	rel = vault + tl + 1;
	if (!plain_pattern(rel)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "vault path '%s' has a space or a "
		                      "pattern character; add the line to "
		                      ".gitattributes yourself (quoted)",
		                      rel);
	}
	snprintf(attrs, sizeof(attrs), "%s/.gitattributes", toplevel);
	snprintf(line, sizeof(line), "%s merge=envx diff=envx", rel);
	r = envx_file_ensure_line(attrs, line, &added, err);
	if (r < 0) {
		return r;
	}
	snprintf(what, sizeof(what), "'%s' in %s", line, attrs);
	fn(ctx, added, what);
	r = set_config(toplevel, fn, ctx, err);
	if (r == 0 && hooks) {
		r = install_hook(toplevel, fn, ctx, err);
	}
	return r;
}
