/*
 * Running git for `envx scan` (listing the working tree, the index and the
 * history, reading blobs) and parsing its raw, NUL-separated listings. git
 * runs without a shell and never sees the key that opened the vault.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "envx/exec.h"
#include "envx/scan.h"
#include "envx/util.h"
#include "util/banned.h"

extern char **environ;

#define GIT_ARGS_MAX 32

int
envx_scan_git_spawn(const char *const *args, int in_fd, pid_t *pid, int *out_fd,
                    struct envx_error *err)
{
	char *argv[GIT_ARGS_MAX + 4];
	posix_spawn_file_actions_t fa;
	struct envx_exec_env ee;
	int fds[2] = {-1, -1};
	size_t n = 0;
	int rc;

	argv[n++] = (char *)"git";
	argv[n++] = (char *)"-c";
	/* a repository's fsmonitor hook is a command git would run */
	argv[n++] = (char *)"core.fsmonitor=false";
	for (; *args != NULL; args++) {
		if (n == GIT_ARGS_MAX + 3) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "too many git arguments");
		}
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	envx_exec_env_init(&ee);
	if (envx_exec_env_build(&ee, environ, NULL, NULL, 0, err) < 0) {
		return err != NULL ? err->code : ENVX_E_INTERNAL;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		envx_exec_env_release(&ee);
		return envx_error_set(err, ENVX_E_IO, "cannot run git: %s",
		                      strerror(errno));
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(fds[0]);
		close(fds[1]);
		envx_exec_env_release(&ee);
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	if (in_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	} else {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
		                                 0);
	}
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(pid, "git", &fa, NULL, argv, ee.envp);
	posix_spawn_file_actions_destroy(&fa);
	envx_exec_env_release(&ee);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "cannot run git: %s", strerror(rc));
	}
	*out_fd = fds[0];
	return 0;
}

int
envx_scan_git_wait(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			return 128;
		}
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

int
envx_scan_git_capture(const char *const *args, int in_fd, struct envx_buf *out,
                      int *status, struct envx_error *err)
{
	char chunk[65536];
	pid_t pid;
	int fd;
	int r;

	r = envx_scan_git_spawn(args, in_fd, &pid, &fd, err);
	if (r < 0) {
		return r;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot read git's output: %s",
			                   strerror(errno));
			break;
		}
		if (n == 0) {
			break;
		}
		r = envx_buf_append(out, chunk, (size_t)n, err);
		if (r < 0) {
			break;
		}
	}
	close(fd);
	*status = envx_scan_git_wait(pid);
	return r;
}

static bool
is_oid(const char *s, size_t n)
{
	size_t i;

	if (n != 40 && n != 64) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

int
envx_scan_git_raw_parse(char *buf, size_t len,
                        int (*fn)(void *ctx, const struct envx_scan_blob *b),
                        void *ctx, struct envx_error *err)
{
	const char *commit = "";
	bool bad = false;
	size_t i = 0;

	while (i < len) {
		char *tok = buf + i;
		char *end = memchr(tok, '\0', len - i);
		size_t tlen;

		if (end == NULL) {
			end = buf + len;
		}
		*end = '\0';
		tlen = (size_t)(end - tok);
		i += tlen + 1;
		while (*tok == '\n') {
			tok++;
			tlen--;
		}
		if (tlen == 0) {
			continue;
		}
		if (strncmp(tok, "commit ", 7) == 0) {
			if (!is_oid(tok + 7, tlen - 7)) {
				bad = true;
				break;
			}
			commit = tok + 7;
			continue;
		}
		/* ":OLDMODE NEWMODE OLDOID NEWOID STATUS", then the path */
		{
			char *f[5];
			char *p = tok + 1;
			size_t k;
			struct envx_scan_blob b;
			char *path;
			int r;

			if (tok[0] != ':') {
				bad = true;
				break;
			}
			for (k = 0; k < 5; k++) {
				f[k] = p;
				p = strchr(p, ' ');
				if (p == NULL && k < 4) {
					break;
				}
				if (p != NULL) {
					*p++ = '\0';
				}
			}
			if (k < 5 || i >= len || !is_oid(f[3], strlen(f[3]))) {
				bad = true;
				break;
			}
			path = buf + i;
			end = memchr(path, '\0', len - i);
			if (end == NULL) {
				bad = true;
				break;
			}
			i += (size_t)(end - path) + 1;
			/* a deletion has no new blob; 160000 is a submodule */
			if (f[4][0] == 'D' || strcmp(f[1], "160000") == 0 ||
			    strspn(f[3], "0") == strlen(f[3])) {
				continue;
			}
			b.oid = f[3];
			b.commit = commit;
			b.path = path;
			r = fn(ctx, &b);
			if (r != 0) {
				return r;
			}
		}
	}
	if (bad) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "unexpected output from git");
	}
	return 0;
}
