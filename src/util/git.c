/*
 * Running git, one way for every caller (scan, sync, import, git setup):
 * no shell, no fsmonitor hook, an environment without the secrets envx
 * reads, and output read through one bounded loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "envx/util.h"
#include "util/banned.h"

extern char **environ;

/* What git never needs and a hook, helper or pager it starts must never
 * see: the key envx unlocks with and the tokens sync pushes with. */
static const char *const stripped[] = {"ENVX_IDENTITY", "ENVX_PASSPHRASE",
                                       "GH_TOKEN", "GITHUB_TOKEN"};

static bool
is_stripped(const char *entry)
{
	for (size_t i = 0; i < sizeof(stripped) / sizeof(stripped[0]); i++) {
		size_t n = strlen(stripped[i]);

		if (strncmp(entry, stripped[i], n) == 0 && entry[n] == '=') {
			return true;
		}
	}
	return false;
}

/* environ without the stripped names (and without entries lacking '='):
 * pointers into environ, in a NULL-terminated array the caller frees. */
static char **
child_env(void)
{
	size_t n = 0;
	size_t k = 0;
	char **envp;

	while (environ != NULL && environ[n] != NULL) {
		n++;
	}
	envp = calloc(n + 1, sizeof(*envp));
	if (envp == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strchr(environ[i], '=') != NULL &&
		    !is_stripped(environ[i])) {
			envp[k++] = environ[i];
		}
	}
	return envp;
}

int
envx_git_spawn(const char *const *args, int in_fd, pid_t *pid, int *out_fd,
               struct envx_error *err)
{
	char *argv[ENVX_GIT_ARGS_MAX + 4];
	posix_spawn_file_actions_t fa;
	char **envp = NULL;
	int fds[2] = {-1, -1};
	size_t n = 0;
	int rc;

	argv[n++] = (char *)"git";
	argv[n++] = (char *)"-c";
	/* a repository's fsmonitor hook is a command git would run */
	argv[n++] = (char *)"core.fsmonitor=false";
	for (; *args != NULL; args++) {
		if (n == ENVX_GIT_ARGS_MAX + 3) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "too many git arguments");
		}
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	envp = child_env();
	if (envp == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	if (out_fd != NULL && pipe2(fds, O_CLOEXEC) < 0) {
		free(envp);
		return envx_error_set(err, ENVX_E_IO, "cannot run git: %s",
		                      strerror(errno));
	}
	if (posix_spawn_file_actions_init(&fa) != 0) {
		if (out_fd != NULL) {
			close(fds[0]);
			close(fds[1]);
		}
		free(envp);
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	if (in_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	} else {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
		                                 0);
	}
	if (out_fd != NULL) {
		posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	} else {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
		                                 0);
	}
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(pid, "git", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (out_fd != NULL) {
		close(fds[1]);
	}
	if (rc != 0) {
		if (out_fd != NULL) {
			close(fds[0]);
		}
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "cannot run git: %s", strerror(rc));
	}
	if (out_fd != NULL) {
		*out_fd = fds[0];
	}
	return 0;
}

int
envx_git_wait(pid_t pid)
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
envx_git_capture(const char *const *args, int in_fd, struct envx_buf *out,
                 int *status, struct envx_error *err)
{
	pid_t pid;
	int fd;
	int r;

	r = envx_git_spawn(args, in_fd, &pid, &fd, err);
	if (r < 0) {
		return r;
	}
	r = envx_fd_read(fd, "git's output", out, err);
	/* past the limit, git may still be writing: it gets EPIPE */
	close(fd);
	*status = envx_git_wait(pid);
	return r;
}

int
envx_git_text(const char *const *args, char *out, size_t outsz, int *status,
              struct envx_error *err)
{
	struct envx_buf b;
	size_t len;
	int r;

	envx_buf_init(&b, outsz - 1);
	r = envx_git_capture(args, -1, &b, status, err);
	len = r == 0 ? b.len : 0;
	while (len > 0 &&
	       (b.data[len - 1] == '\n' || b.data[len - 1] == '\r')) {
		len--;
	}
	if (len > 0) {
		memcpy(out, b.data, len);
	}
	out[len] = '\0';
	envx_buf_release(&b);
	return r;
}

int
envx_git_run(const char *const *args, int *status, struct envx_error *err)
{
	pid_t pid;
	int r;

	r = envx_git_spawn(args, -1, &pid, NULL, err);
	if (r == 0) {
		*status = envx_git_wait(pid);
	}
	return r;
}
