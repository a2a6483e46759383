/*
 * Unit tests for src/exec: the child environment (precedence, reserved and
 * dangerous names, duplicates, scale), exec in place, and the redacted run
 * (exit statuses, exec failures, redaction of both streams, signals). Runs
 * capture fds 1 and 2 into temporary files while the library writes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "envx/exec.h"

/* argv and envp arrays are char *const []: literals need a cast. */
#define S(x) ((char *)(x))

static void
add(struct envx_kvset *s, const char *name, const char *value)
{
	assert_int_equal(envx_kvset_add(s, name, strlen(name), value,
	                                strlen(value), 0, NULL),
	                 0);
}

static void
assert_envp(const struct envx_exec_env *e, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_true(i < e->count);
		assert_string_equal(e->envp[i], want[i]);
	}
	assert_int_equal(e->count, i);
	assert_null(e->envp[i]);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- environment ---- */

static void
test_exec_env_secrets_override_inherited(void **state)
{
	char *parent[] = {S("A=1"), S("DB_URL=old"), S("PATH=/bin"), NULL};
	const char *want[] = {
	        S("A=1"),     S("DB_URL=new"), S("PATH=/bin"),
	        S("NEW=x=y"), S("EMPTY="),     S("ENVX_ENV=staging"),
	        NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init(&s);
	add(&s, "DB_URL", "new");
	add(&s, "NEW", "x=y");
	add(&s, "EMPTY", "");
	assert_int_equal(
	        envx_exec_env_build(&e, parent, &s, "staging", 0, NULL), 0);
	assert_envp(&e, want);
	assert_int_equal(e.nskipped, 0);
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
}

/* With a set made by envx_kvset_init_env the child's environment points at
 * the set's own "NAME=value" strings: no second locked copy of a value. */
static void
test_exec_env_points_at_env_form_set(void **state)
{
	char *parent[] = {S("A=1"), S("DB_URL=old"), NULL};
	const char *want[] = {S("A=1"), S("DB_URL=new"), S("NEW=x=y"),
	                      S("ENVX_ENV=staging"), NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init_env(&s);
	add(&s, "DB_URL", "new");
	add(&s, "NEW", "x=y");
	assert_int_equal(
	        envx_exec_env_build(&e, parent, &s, "staging", 0, NULL), 0);
	assert_envp(&e, want);
	assert_ptr_equal(e.envp[1], envx_kvset_env_string(&s, 0));
	assert_ptr_equal(e.envp[2], envx_kvset_env_string(&s, 1));
	/* the arena holds only what is not in the set */
	assert_int_equal(e.arena_size, 1 + strlen("A=1") + 1 +
	                                       strlen("ENVX_ENV=staging") + 1);
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
}

static void
test_exec_env_keep_existing(void **state)
{
	char *parent[] = {S("DB_URL=mine"), S("HOME=/h"), NULL};
	const char *want[] = {S("DB_URL=mine"), S("HOME=/h"), S("API_KEY=k"),
	                      S("ENVX_ENV=local"), NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init(&s);
	add(&s, "DB_URL", "vault");
	add(&s, "API_KEY", "k");
	assert_int_equal(envx_exec_env_build(&e, parent, &s, "local",
	                                     ENVX_EXEC_KEEP_EXISTING, NULL),
	                 0);
	assert_envp(&e, want);
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
}

static void
test_exec_env_sets_envx_env(void **state)
{
	char *parent[] = {S("X=1"), S("ENVX_ENV=outer"), S("Y=2"), NULL};
	const char *want[] = {S("X=1"), S("ENVX_ENV=production"), S("Y=2"),
	                      NULL};
	const char *want_none[] = {S("X=1"), S("ENVX_ENV=outer"), S("Y=2"),
	                           NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init(&s);
	/* Reserved: the vault cannot lie about which env is running, and
	 * keep-existing does not keep an outer envx's value. */
	add(&s, "ENVX_ENV", "fake");
	assert_int_equal(envx_exec_env_build(&e, parent, &s, "production",
	                                     ENVX_EXEC_KEEP_EXISTING, NULL),
	                 0);
	assert_envp(&e, want);
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
	assert_int_equal(envx_exec_env_build(&e, parent, NULL, NULL, 0, NULL),
	                 0);
	assert_envp(&e, want_none);
	envx_exec_env_release(&e);
}

static void
test_exec_env_removes_identity_and_passphrase(void **state)
{
	char *parent[] = {S("ENVX_IDENTITY=ENVX-SECRET-KEY-1XYZ"),
	                  S("HOME=/h"),
	                  S("ENVX_PASSPHRASE=pw"),
	                  S("ENVX_IDENTITY=again"),
	                  S("ENVX_IDENTITY_FILE=/k"),
	                  NULL};
	const char *want[] = {S("HOME=/h"), S("ENVX_IDENTITY_FILE=/k"),
	                      S("ENVX_ENV=ci"), NULL};
	struct envx_exec_env e;

	(void)state;
	assert_int_equal(envx_exec_env_build(&e, parent, NULL, "ci", 0, NULL),
	                 0);
	assert_envp(&e, want);
	envx_exec_env_release(&e);
}

static void
test_exec_env_collapses_duplicate_names(void **state)
{
	char *parent[] = {S("A=first"),  S("B=1"),      S("A=second"),
	                  S("noequals"), S("=novalue"), S("A=third"),
	                  NULL};
	const char *want[] = {S("A=vault-last"), S("B=1"), S("C=c2"), NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init(&s);
	add(&s, "C", "c1");
	add(&s, "A", "vault-first");
	add(&s, "C", "c2");
	add(&s, "A", "vault-last");
	assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL, 0, NULL), 0);
	assert_envp(&e, want);
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
	{
		const char *want_keep[] = {S("A=first"), S("B=1"), S("C=c2"),
		                           NULL};

		envx_kvset_init(&s);
		add(&s, "A", "vault");
		add(&s, "C", "c2");
		assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL,
		                                     ENVX_EXEC_KEEP_EXISTING,
		                                     NULL),
		                 0);
		assert_envp(&e, want_keep);
		envx_exec_env_release(&e);
		envx_kvset_release(&s);
	}
}

/* MAX_ARG_STRLEN: "NAME=value" with its NUL fits in 131072 bytes, or the
 * build fails naming the secret (never the value); an inherited variable or
 * a secret that is not injected is not checked. */
static void
test_exec_env_string_limit(void **state)
{
	char *parent[] = {S("KEEP=mine"), NULL};
	size_t max = ENVX_EXEC_STRING_MAX;
	char *v = malloc(max);
	struct envx_kvset s;
	struct envx_exec_env e;
	struct envx_error err;

	(void)state;
	assert_non_null(v);
	assert_true(envx_exec_fits(1, max - 3));
	assert_false(envx_exec_fits(1, max - 2));
	assert_false(envx_exec_fits(max, 0));
	assert_false(envx_exec_fits(SIZE_MAX - 1, SIZE_MAX - 1));
	memset(v, 'v', max);
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "OK", 2, v, max - 4, 0, NULL), 0);
	assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL, 0, NULL), 0);
	assert_int_equal(strlen(e.envp[1]) + 1, max);
	envx_exec_env_release(&e);
	assert_int_equal(envx_kvset_add(&s, "KEEP", 4, v, max, 0, NULL), 0);
	/* KEEP is inherited and kept: its long vault value is never passed */
	assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL,
	                                     ENVX_EXEC_KEEP_EXISTING, NULL),
	                 0);
	envx_exec_env_release(&e);
	assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL, 0, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "'KEEP'"));
	assert_non_null(strstr(err.msg, "131072"));
	assert_null(strstr(err.msg, "vvvv"));
	envx_kvset_release(&s);
	free(v);
}

static void
test_exec_env_dangerous_names_not_injected(void **state)
{
	char *parent[] = {S("LD_LIBRARY_PATH=/mine"), S("PATH=/bin"), NULL};
	const char *want[] = {S("LD_LIBRARY_PATH=/mine"), S("PATH=/bin"),
	                      S("OK=1"), NULL};
	struct envx_kvset s;
	struct envx_exec_env e;

	(void)state;
	envx_kvset_init(&s);
	add(&s, "LD_PRELOAD", "/tmp/evil.so");
	add(&s, "OK", "1");
	add(&s, "BASH_ENV", "/tmp/evil.sh");
	add(&s, "LD_LIBRARY_PATH", "/evil");
	add(&s, "IFS", "x");
	assert_int_equal(envx_exec_env_build(&e, parent, &s, NULL, 0, NULL), 0);
	assert_envp(&e, want);
	assert_int_equal(e.nskipped, 4);
	assert_string_equal(envx_kvset_name(&s, e.skipped[0]), "LD_PRELOAD");
	assert_string_equal(envx_kvset_name(&s, e.skipped[1]), "BASH_ENV");
	assert_string_equal(envx_kvset_name(&s, e.skipped[2]),
	                    "LD_LIBRARY_PATH");
	assert_string_equal(envx_kvset_name(&s, e.skipped[3]), "IFS");
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
}

static void
test_exec_env_refuses_nul_and_bad_names(void **state)
{
	struct envx_kvset s;
	struct envx_exec_env e;
	struct envx_error err;

	(void)state;
	envx_kvset_init(&s);
	assert_int_equal(envx_kvset_add(&s, "TOKEN", 5, "ab\0cd", 5, 0, NULL),
	                 0);
	assert_int_equal(envx_exec_env_build(&e, NULL, &s, "x", 0, &err),
	                 ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "'TOKEN'"));
	assert_null(strstr(err.msg, "ab"));
	assert_null(e.envp);
	envx_kvset_release(&s);
	envx_kvset_init(&s);
	add(&s, "A=B", "v");
	assert_int_equal(envx_exec_env_build(&e, NULL, &s, "x", 0, &err),
	                 ENVX_E_INPUT);
	envx_kvset_release(&s);
}

static void
test_exec_env_strings_live_in_secure_arena(void **state)
{
	char *parent[] = {S("HOME=/h"), NULL};
	struct envx_kvset s;
	struct envx_exec_env e;
	size_t i;

	(void)state;
	envx_kvset_init(&s);
	add(&s, "TOKEN", "s3cr3t-value");
	assert_int_equal(envx_exec_env_build(&e, parent, &s, "dev", 0, NULL),
	                 0);
	for (i = 0; i < e.count; i++) {
		const unsigned char *p = (const unsigned char *)e.envp[i];

		assert_true(p >= e.arena && p < e.arena + e.arena_size);
	}
	envx_exec_env_release(&e);
	assert_null(e.envp);
	envx_exec_env_release(&e); /* twice is fine */
	envx_kvset_release(&s);
}

static void
test_exec_env_scales_to_ten_thousand(void **state)
{
	const size_t n = 10000;
	char **parent = calloc(n + 1, sizeof(*parent));
	struct envx_kvset s;
	struct envx_exec_env e;
	char name[32];
	char value[64];
	size_t i;
	double t;

	(void)state;
	assert_non_null(parent);
	envx_kvset_init(&s);
	for (i = 0; i < n; i++) {
		parent[i] = malloc(48);
		assert_non_null(parent[i]);
		/* Half the parent's names collide with secrets. */
		snprintf(parent[i], 48, "%s_%zu=parent",
		         i % 2 ? "SECRET" : "OTHER", i);
		snprintf(name, sizeof(name), "SECRET_%zu", i);
		snprintf(value, sizeof(value), "value-%zu", i);
		add(&s, name, value);
	}
	t = now();
	assert_int_equal(envx_exec_env_build(&e, parent, &s, "prod", 0, NULL),
	                 0);
	t = now() - t;
	print_message("# 10,000 secrets x 10,000 inherited: %.2f ms\n",
	              t * 1e3);
	/* Generous: a nested loop would take seconds, sanitizers slow it. */
	assert_true(t < 1.0);
	assert_int_equal(e.count, n / 2 + n + 1);
	assert_string_equal(e.envp[1], "SECRET_1=value-1");
	assert_string_equal(e.envp[n], "SECRET_0=value-0");
	envx_exec_env_release(&e);
	envx_kvset_release(&s);
	for (i = 0; i < n; i++) {
		free(parent[i]);
	}
	free(parent);
}

/* ---- exec in place ---- */

static char tmpdir[] = "/tmp/envx-test-exec-XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup_tmp(void **state)
{
	char path[256];

	(void)state;
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	snprintf(path, sizeof(path), "%s/envx-exit5", tmpdir);
	write_file(path, "#!/bin/sh\nexit 5\n", 0755);
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	write_file(path, "#!/bin/sh\nexit 0\n", 0644);
	return 0;
}

static int
teardown_tmp(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/envx-exit5", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static void
test_exec_replace_missing_command_is_127(void **state)
{
	char *argv[] = {S("envx-no-such-command"), NULL};
	char *envp[] = {S("PATH=/nonexistent:/also-not"), NULL};
	char *argv2[] = {S("/nonexistent/cmd"), NULL};
	struct envx_error err;
	int status = 0;

	(void)state;
	assert_int_equal(envx_exec_replace(argv, envp, &status, &err),
	                 ENVX_E_NOTFOUND);
	assert_int_equal(status, 127);
	assert_string_equal(err.msg, "cannot run 'envx-no-such-command': "
	                             "command not found");
	assert_int_equal(envx_exec_replace(argv2, envp, &status, &err),
	                 ENVX_E_NOTFOUND);
	assert_int_equal(status, 127);
	assert_non_null(strstr(err.msg, "no such file"));
}

static void
test_exec_replace_not_executable_is_126(void **state)
{
	char path[256];
	char *argv[] = {path, NULL};
	char *argv2[] = {S("noexec"), NULL};
	char pathvar[300];
	char *envp[] = {pathvar, NULL};
	struct envx_error err;
	int status = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	snprintf(pathvar, sizeof(pathvar), "PATH=/nonexistent:%s", tmpdir);
	/* execve needs an x bit even for root. */
	assert_int_equal(envx_exec_replace(argv, envp, &status, &err),
	                 ENVX_E_IO);
	assert_int_equal(status, 126);
	assert_non_null(strstr(err.msg, "permission denied"));
	/* Found through PATH but not executable: 126 too, as in sh. */
	assert_int_equal(envx_exec_replace(argv2, envp, &status, &err),
	                 ENVX_E_IO);
	assert_int_equal(status, 126);
	argv[0] = tmpdir;
	assert_int_equal(envx_exec_replace(argv, envp, &status, &err),
	                 ENVX_E_IO);
	assert_int_equal(status, 126);
	assert_non_null(strstr(err.msg, "is a directory"));
}

static void
test_exec_replace_uses_child_path(void **state)
{
	char pathvar[300];
	char *envp[] = {pathvar, NULL};
	char *argv[] = {S("envx-exit5"), NULL};
	pid_t pid;
	int ws;

	(void)state;
	/* The command is only on the PATH given to the child. */
	snprintf(pathvar, sizeof(pathvar), "PATH=/nonexistent::%s:/bin",
	         tmpdir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int status = 0;

		(void)envx_exec_replace(argv, envp, &status, NULL);
		_exit(100 + status);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 5);
}

static void
test_exec_replace_passes_environment(void **state)
{
	char *envp[] = {S("PATH=/usr/bin:/bin"), S("ENVX_T=hello"), NULL};
	char *argv[] = {S("sh"), S("-c"),
	                S("test \"$ENVX_T\" = hello && exit 7"), NULL};
	pid_t pid;
	int ws;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int status = 0;

		(void)envx_exec_replace(argv, envp, &status, NULL);
		_exit(100 + status);
	}
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 7);
}

/* ---- redacted run ---- */

struct capture {
	int saved[2];
	char path[2][64];
	int fd[2];
	char *text[2];
};

static void
capture_start(struct capture *c)
{
	int i;

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 2; i++) {
		snprintf(c->path[i], sizeof(c->path[i]),
		         "/tmp/envx-test-capture-XXXXXX");
		c->fd[i] = mkostemp(c->path[i], O_CLOEXEC);
		assert_true(c->fd[i] >= 0);
		/* close-on-exec: children must not hold the real stdout */
		c->saved[i] = fcntl(i + 1, F_DUPFD_CLOEXEC, 3);
		assert_true(c->saved[i] >= 0);
		assert_int_equal(dup2(c->fd[i], i + 1), i + 1);
	}
}

static void
capture_end(struct capture *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		off_t len;
		ssize_t n;

		assert_int_equal(dup2(c->saved[i], i + 1), i + 1);
		close(c->saved[i]);
		len = lseek(c->fd[i], 0, SEEK_END);
		assert_true(len >= 0);
		c->text[i] = calloc(1, (size_t)len + 1);
		assert_non_null(c->text[i]);
		n = pread(c->fd[i], c->text[i], (size_t)len, 0);
		assert_int_equal(n, len);
		close(c->fd[i]);
		unlink(c->path[i]);
	}
}

static void
capture_release(struct capture *c)
{
	free(c->text[0]);
	free(c->text[1]);
}

static char *base_envp[] = {S("PATH=/usr/bin:/bin"), S("TOKEN=hunter22-token"),
                            S("PASS=correct horse"), S("PIN=123"), NULL};

static void
secrets_init(struct envx_kvset *s)
{
	envx_kvset_init(s);
	add(s, "TOKEN", "hunter22-token");
	add(s, "PASS", "correct horse");
	add(s, "PIN", "123");
}

static int
run_sh_opts(const char *script, struct envx_run_opts *opts, int *status,
            struct envx_error *err, struct capture *cap)
{
	char *argv[] = {S("sh"), S("-c"), (char *)script, NULL};
	struct envx_kvset s;
	int r;

	secrets_init(&s);
	capture_start(cap);
	r = envx_exec_redacted_opts(argv, base_envp, &s, opts, status, err);
	capture_end(cap);
	envx_kvset_release(&s);
	return r;
}

static int
run_sh(const char *script, int *status, struct envx_error *err,
       struct capture *cap)
{
	return run_sh_opts(script, NULL, status, err, cap);
}

static void
test_exec_redacted_timeout_kills_the_group(void **state)
{
	struct envx_run_opts o = {.own_group = true,
	                          .null_stdin = true,
	                          .timeout_ms = 200,
	                          .grace_ms = 200};
	struct capture cap;
	struct envx_error err;
	int status = -1;

	(void)state;
	/* in time: not fired; stdin is /dev/null; its own group */
	assert_int_equal(
	        run_sh_opts("read x || echo eof; "
	                    "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ]"
	                    " && echo leader",
	                    &o, &status, &err, &cap),
	        0);
	assert_int_equal(status, 0);
	assert_false(o.timed_out);
	assert_string_equal(cap.text[0], "eof\nleader\n");
	capture_release(&cap);
	/* the whole group gets SIGTERM: the grandchild sleep too, so the
	 * output pipe closes at once */
	assert_int_equal(
	        run_sh_opts("sleep 30; echo late", &o, &status, &err, &cap), 0);
	assert_true(o.timed_out);
	assert_int_equal(status, 128 + SIGTERM);
	assert_string_equal(cap.text[0], "");
	capture_release(&cap);
	/* SIGKILL a grace later when SIGTERM is ignored */
	assert_int_equal(run_sh_opts("trap '' TERM; sleep 30 & wait; wait", &o,
	                             &status, &err, &cap),
	                 0);
	assert_true(o.timed_out);
	assert_int_equal(status, 128 + SIGKILL);
	capture_release(&cap);
}

static void
test_exec_redacted_exit_status_passthrough(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;

	(void)state;
	assert_int_equal(run_sh("exit 3", &status, &err, &cap), 0);
	assert_int_equal(status, 3);
	capture_release(&cap);
	assert_int_equal(run_sh("true", &status, &err, &cap), 0);
	assert_int_equal(status, 0);
	capture_release(&cap);
}

static void
test_exec_redacted_killed_by_signal_is_128_plus_n(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;

	(void)state;
	assert_int_equal(run_sh("kill -KILL $$", &status, &err, &cap), 0);
	assert_int_equal(status, 128 + SIGKILL);
	capture_release(&cap);
	assert_int_equal(run_sh("kill -TERM $$", &status, &err, &cap), 0);
	assert_int_equal(status, 128 + SIGTERM);
	capture_release(&cap);
}

static void
test_exec_redacted_missing_command_is_127(void **state)
{
	char *argv[] = {S("envx-no-such-command"), S("arg"), NULL};
	struct envx_kvset s;
	struct envx_error err;
	struct capture cap;
	int status = -1;

	(void)state;
	secrets_init(&s);
	capture_start(&cap);
	assert_int_equal(envx_exec_redacted(argv, base_envp, &s, &status, &err),
	                 ENVX_E_NOTFOUND);
	capture_end(&cap);
	assert_int_equal(status, 127);
	assert_string_equal(err.msg, "cannot run 'envx-no-such-command': "
	                             "command not found");
	assert_string_equal(cap.text[0], "");
	assert_string_equal(cap.text[1], "");
	capture_release(&cap);
	envx_kvset_release(&s);
}

static void
test_exec_redacted_not_executable_is_126(void **state)
{
	char path[256];
	char *argv[] = {path, NULL};
	struct envx_kvset s;
	struct envx_error err;
	struct capture cap;
	int status = -1;

	(void)state;
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	secrets_init(&s);
	capture_start(&cap);
	assert_int_equal(envx_exec_redacted(argv, base_envp, &s, &status, &err),
	                 ENVX_E_IO);
	capture_end(&cap);
	assert_int_equal(status, 126);
	assert_non_null(strstr(err.msg, "permission denied"));
	assert_non_null(strstr(err.msg, "noexec"));
	capture_release(&cap);
	envx_kvset_release(&s);
}

static void
test_exec_redacted_redacts_stdout_and_stderr_separately(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;

	(void)state;
	/* Each stream has its own state: a prefix on stdout must not pair
	 * with a suffix on stderr. PIN is too short to redact. */
	assert_int_equal(
	        run_sh("printf 'token=%s pin=%s\\n' \"$TOKEN\" \"$PIN\"; "
	               "printf 'pass=%s\\n' \"$PASS\" >&2; "
	               "printf 'hunter22'; printf '%s' -token >&2; "
	               "printf 'correct'; printf ' horse\\n'; "
	               "printf 'end'; exit 4",
	               &status, &err, &cap),
	        0);
	assert_int_equal(status, 4);
	assert_string_equal(cap.text[0], "token=[redacted:TOKEN] pin=123\n"
	                                 "hunter22[redacted:PASS]\nend");
	assert_string_equal(cap.text[1], "pass=[redacted:PASS]\n-token");
	capture_release(&cap);
}

static void
test_exec_redacted_large_output(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;
	const char *line = "[redacted:TOKEN] and [redacted:PASS]\n";
	size_t ll = strlen(line);
	size_t i;

	(void)state;
	assert_int_equal(run_sh("yes \"$TOKEN and $PASS\" | head -n 50000",
	                        &status, &err, &cap),
	                 0);
	assert_int_equal(status, 0);
	assert_int_equal(strlen(cap.text[0]), 50000 * ll);
	for (i = 0; i < 50000; i++) {
		assert_memory_equal(cap.text[0] + i * ll, line, ll);
	}
	capture_release(&cap);
}

static void
test_exec_redacted_forwards_sigterm(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;
	struct sigaction sa;

	(void)state;
	/* The trap is set before a separate process (not the child itself,
	 * whose signals to envx are not echoed back) signals envx. */
	assert_int_equal(run_sh("trap 'echo got TERM; exit 42' TERM; "
	                        "sh -c 'kill -TERM \"$0\"' $PPID; "
	                        "i=0; while [ $i -lt 200 ]; do sleep 0.05; "
	                        "i=$((i+1)); done; exit 1",
	                        &status, &err, &cap),
	                 0);
	assert_int_equal(status, 42);
	assert_string_equal(cap.text[0], "got TERM\n");
	capture_release(&cap);
	/* The caller's dispositions are back. */
	assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
}

static void
test_exec_redacted_closed_stdout_gives_child_sigpipe(void **state)
{
	char *argv[] = {S("yes"), NULL};
	struct envx_kvset s;
	struct envx_error err;
	int p[2];
	int saved;
	int status = -1;
	int r;

	(void)state;
	secrets_init(&s);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	fflush(stdout);
	saved = fcntl(1, F_DUPFD_CLOEXEC, 3);
	assert_int_equal(dup2(p[1], 1), 1);
	close(p[1]);
	r = envx_exec_redacted(argv, base_envp, &s, &status, &err);
	assert_int_equal(dup2(saved, 1), 1);
	close(saved);
	assert_int_equal(r, 0);
	/* As with `yes | true`: the writer dies of SIGPIPE. */
	assert_int_equal(status, 128 + SIGPIPE);
	envx_kvset_release(&s);
}

static void
test_exec_redacted_background_holder_does_not_block(void **state)
{
	struct capture cap;
	struct envx_error err;
	int status = -1;
	double t = now();

	(void)state;
	/* The grandchild keeps the output pipes open for 3 s. */
	assert_int_equal(run_sh("sleep 3 & echo \"$TOKEN\"; exit 6", &status,
	                        &err, &cap),
	                 0);
	t = now() - t;
	assert_int_equal(status, 6);
	assert_string_equal(cap.text[0], "[redacted:TOKEN]\n");
	assert_true(t < 2.5);
	capture_release(&cap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_exec_env_secrets_override_inherited),
	        cmocka_unit_test(test_exec_env_points_at_env_form_set),
	        cmocka_unit_test(test_exec_env_keep_existing),
	        cmocka_unit_test(test_exec_env_sets_envx_env),
	        cmocka_unit_test(test_exec_env_removes_identity_and_passphrase),
	        cmocka_unit_test(test_exec_env_collapses_duplicate_names),
	        cmocka_unit_test(test_exec_env_string_limit),
	        cmocka_unit_test(test_exec_env_dangerous_names_not_injected),
	        cmocka_unit_test(test_exec_env_refuses_nul_and_bad_names),
	        cmocka_unit_test(test_exec_env_strings_live_in_secure_arena),
	        cmocka_unit_test(test_exec_env_scales_to_ten_thousand),
	        cmocka_unit_test(test_exec_replace_missing_command_is_127),
	        cmocka_unit_test(test_exec_replace_not_executable_is_126),
	        cmocka_unit_test(test_exec_replace_uses_child_path),
	        cmocka_unit_test(test_exec_replace_passes_environment),
	        cmocka_unit_test(test_exec_redacted_exit_status_passthrough),
	        cmocka_unit_test(
	                test_exec_redacted_killed_by_signal_is_128_plus_n),
	        cmocka_unit_test(test_exec_redacted_timeout_kills_the_group),
	        cmocka_unit_test(test_exec_redacted_missing_command_is_127),
	        cmocka_unit_test(test_exec_redacted_not_executable_is_126),
	        cmocka_unit_test(
	                test_exec_redacted_redacts_stdout_and_stderr_separately),
	        cmocka_unit_test(test_exec_redacted_large_output),
	        cmocka_unit_test(test_exec_redacted_forwards_sigterm),
	        cmocka_unit_test(
	                test_exec_redacted_closed_stdout_gives_child_sigpipe),
	        cmocka_unit_test(
	                test_exec_redacted_background_holder_does_not_block),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
