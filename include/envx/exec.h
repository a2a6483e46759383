/*
 * Running a command with an environment's secrets (DESIGN §5): building the
 * child's environment array, replacing envx with the command, or keeping envx
 * as the parent to redact the command's output and forward signals.
 */
#ifndef ENVX_EXEC_H
#define ENVX_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "envx/error.h"
#include "envx/util.h"

/* Exit statuses for a command that could not be run (as sh does). */
#define ENVX_EXEC_STATUS_NOT_EXECUTABLE 126
#define ENVX_EXEC_STATUS_NOT_FOUND      127

/* The longest "NAME=value" string, NUL included, that Linux passes to a
 * program (MAX_ARG_STRLEN: 32 pages); execve fails with E2BIG past it. */
#define ENVX_EXEC_STRING_MAX ((size_t)131072)

/* Whether a secret with a name_len-byte name and a value_len-byte value fits
 * in one environment string (ENVX_EXEC_STRING_MAX). */
bool envx_exec_fits(size_t name_len, size_t value_len);

enum envx_exec_flags {
	/* Variables already set in the parent win over vault values. */
	ENVX_EXEC_KEEP_EXISTING = 1 << 0,
};

/*
 * A child's environment. envp is a NULL-terminated array of count
 * "NAME=value" strings, all stored in sodium_malloc memory: one arena
 * (inherited variables too: they may hold secrets of their own), or the
 * secrets set itself (envx_kvset_init_env). skipped lists, in set
 * order, the indices in the secrets set of dangerous names that were not
 * injected (the caller reports them; DESIGN §5 makes that an error).
 * Caller-owned; init before build, release after.
 */
struct envx_exec_env {
	char **envp;
	size_t count;
	unsigned char *arena;
	size_t arena_size;
	size_t *skipped;
	size_t nskipped;
};

void envx_exec_env_init(struct envx_exec_env *e);

/*
 * Builds e from parent (a NULL-terminated "NAME=value" array such as environ;
 * NULL means empty; only read during the call) and secrets (NULL means none):
 * - one entry per name: of duplicate parent entries the first is kept (as
 *   getenv finds it), of duplicate secret names the last (as envx_kvset_sort);
 *   parent entries without '=' are dropped;
 * - secrets override inherited variables in place, unless flags has
 *   ENVX_EXEC_KEEP_EXISTING; new names follow the inherited ones, in set
 *   order;
 * - inherited ENVX_IDENTITY and ENVX_PASSPHRASE are removed (a secret stored
 *   under one of those names is still injected: the user put it there);
 * - ENVX_ENV=env_name is always set and wins over any other ENVX_ENV
 *   (env_name NULL: ENVX_ENV is left as inherited);
 * - refused names (envx_name_refused) from secrets are never injected and
 *   are listed in e->skipped; an inherited one is left alone.
 * O((parent + secrets) log(parent + secrets)). Returns 0, ENVX_E_INPUT for an
 * invalid secret name, a value containing NUL or an injected secret that does
 * not fit in one environment string (envx_exec_fits; naming the secret, never
 * the value), or ENVX_E_INTERNAL; e is left released on failure. err may be
 * NULL. When secrets was made with envx_kvset_init_env, e->envp points at its
 * "NAME=value" strings instead of copying them: secrets must then outlive e
 * (and not be added to).
 */
int envx_exec_env_build(struct envx_exec_env *e, char *const *parent,
                        const struct envx_kvset *secrets, const char *env_name,
                        unsigned flags, struct envx_error *err);

/* As envx_exec_env_build, but the refused names in allowed[0..nallowed)
 * (an environment's allowances, envx env allow) are injected too. */
int envx_exec_env_build_allowing(struct envx_exec_env *e, char *const *parent,
                                 const struct envx_kvset *secrets,
                                 const char *env_name, unsigned flags,
                                 const char *const *allowed, size_t nallowed,
                                 struct envx_error *err);

/* Wipes the arena and frees everything; accepts an initialized, built or
 * released e. */
void envx_exec_env_release(struct envx_exec_env *e);

/*
 * Replaces the process with argv[0] (argv NULL-terminated) and environment
 * envp, after restoring the core-dump limit the user had
 * (envx_harden_restore_for_child). A name without '/' is searched in the PATH
 * of envp, the environment the command will see, as `env NAME=... cmd` does;
 * when envp has no PATH, "/bin:/usr/bin" (glibc's default). As in execvp,
 * directories where the file is missing are skipped and a permission error is
 * reported only if no directory has the command. A file without a "#!" line
 * is not retried through /bin/sh (children are started without a shell).
 *
 * Returns only on failure: ENVX_E_NOTFOUND with *status 127 when the command
 * does not exist, ENVX_E_IO with *status 126 when it cannot be executed
 * (permission, directory, format, argument list too long), ENVX_E_USAGE with
 * *status 2 for an empty argv. The message names the command, never the
 * environment. status and err may be NULL.
 */
int envx_exec_replace(char *const argv[], char *const envp[], int *status,
                      struct envx_error *err);

/*
 * Runs argv with environment envp as a child while envx stays the parent,
 * resolving the command as envx_exec_replace does. The child's stdin is
 * inherited; its stdout and stderr are pipes whose contents are written to
 * envx's fds 1 and 2 through independent redaction streams over every value
 * of secrets (see envx/redact.h; NULL means nothing to redact).
 *
 * Signals: SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
 * SIGWINCH, SIGCONT, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGPWR and the
 * real-time signals are caught and forwarded to the child when another
 * process sent them (kill, systemd, a CI runner). Signals the kernel
 * generated, chiefly the terminal's ^C, ^\ and window-size changes, are not
 * forwarded: the child shares envx's process group, so the terminal already
 * delivered them to it, and forwarding would deliver them twice. Likewise a
 * signal sent to the whole process group reaches the child directly (and is
 * forwarded once more, which cannot be told apart). SIGTSTP, SIGTTIN and
 * SIGTTOU keep their default action, so ^Z stops envx and the child together
 * and `fg` resumes both. SIGPIPE is ignored while the child runs; when envx's
 * own stdout or stderr is closed (`| head`), envx closes the child's pipe so
 * the child gets SIGPIPE as if it were writing there directly. The caller's
 * signal dispositions and mask are restored before returning, and the child
 * starts with them.
 *
 * When the child exits, output still in the pipes is drained, held bytes are
 * flushed (a dangling prefix of a value unchanged), and *status is its exit
 * status, or 128+N when signal N killed it. Output written later by
 * background processes that inherited the pipes is not waited for.
 *
 * Returns 0 when the child ran (whatever its status). When the command cannot
 * be started, returns as envx_exec_replace does (the child reports the
 * execve error through a close-on-exec pipe). When the child ran but writing
 * its output failed other than by a closed reader, returns ENVX_E_IO with
 * *status still the child's status. Other failures (pipes, fork) return
 * ENVX_E_IO or ENVX_E_INTERNAL with *status set to the matching envx exit
 * code. Not reentrant (one run at a time per process: it owns the signal
 * handlers while running). status and err may be NULL.
 */
int envx_exec_redacted(char *const argv[], char *const envp[],
                       const struct envx_kvset *secrets, int *status,
                       struct envx_error *err);

/* How envx_exec_redacted_opts runs the child, beyond envx_exec_redacted. */
struct envx_run_opts {
	/* The child leads a process group of its own, so a timeout can kill
	 * everything it started; every forwarded signal, the terminal's
	 * included (the terminal no longer reaches the child), goes to that
	 * whole group. */
	bool own_group;
	/* The child's standard input is /dev/null, not envx's. */
	bool null_stdin;
	/* When > 0: after this many milliseconds the child's group (or the
	 * child) gets SIGTERM, and SIGKILL grace_ms later (default 5000) if
	 * the child is still running. */
	int64_t timeout_ms;
	int64_t grace_ms;
	/* Out: whether the timeout fired (then *status is still what the
	 * child's end was, typically 128+15 or 128+9). */
	bool timed_out;
};

/* envx_exec_redacted with opts (NULL: as envx_exec_redacted). */
int envx_exec_redacted_opts(char *const argv[], char *const envp[],
                            const struct envx_kvset *secrets,
                            struct envx_run_opts *opts, int *status,
                            struct envx_error *err);

#endif
