/*
 * Starting the command: PATH resolution against the child's environment,
 * exec in place, and the redacted run where envx stays the parent, pumps the
 * child's stdout and stderr through the redaction filter and forwards
 * signals (DESIGN §5; the rules are in envx/exec.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "envx/exec.h"
#include "envx/redact.h"
#include "util/banned.h"

#define DEFAULT_PATH     "/bin:/usr/bin"
#define READ_BYTES       ((size_t)64 * 1024)
#define GRACE_DEFAULT_MS 5000
/* Output drained after the child exits, per stream: a background process
 * that keeps writing must not keep envx alive forever. */
#define DRAIN_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* Candidate paths for one command, in search order. */
struct cands {
	char **path; /* NULL-terminated */
	char *buf;
	size_t n;
	bool searched; /* found through PATH */
};

static void
cands_release(struct cands *c)
{
	free(c->path);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static const char *
env_lookup(char *const envp[], const char *name)
{
	size_t len = strlen(name);
	size_t i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') {
			return envp[i] + len + 1;
		}
	}
	return NULL;
}

static int
resolve(const char *file, char *const envp[], struct cands *c,
        struct envx_error *err)
{
	const char *path;
	const char *p;
	size_t flen = strlen(file);
	size_t n = 1;
	size_t used = 0;
	int r = ENVX_E_INTERNAL;

	memset(c, 0, sizeof(*c));
	if (strchr(file, '/') != NULL) {
		c->path = calloc(2, sizeof(*c->path));
		c->buf = malloc(flen + 1);
		if (c->path == NULL || c->buf == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		memcpy(c->buf, file, flen + 1);
		c->path[0] = c->buf;
		c->n = 1;
		r = 0;
		goto out;
	}
	c->searched = true;
	path = env_lookup(envp, "PATH");
	if (path == NULL) {
		path = DEFAULT_PATH;
	}
	for (p = path; *p != '\0'; p++) {
		n += *p == ':';
	}
	c->path = calloc(n + 1, sizeof(*c->path));
	/* Each element plus '/' + file + NUL; an empty element is ".". */
	c->buf = malloc(strlen(path) + n * (flen + 3) + 1);
	if (c->path == NULL || c->buf == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	p = path;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t dlen = end != NULL ? (size_t)(end - p) : strlen(p);
		char *dst = c->buf + used;

		if (dlen == 0) {
			dst[0] = '.';
			dlen = 1;
		} else {
			memcpy(dst, p, dlen);
		}
		dst[dlen] = '/';
		memcpy(dst + dlen + 1, file, flen + 1);
		if (dlen + 1 + flen < PATH_MAX) {
			c->path[c->n++] = dst;
			used += dlen + flen + 2;
		}
		if (end == NULL) {
			break;
		}
		p = end + 1;
	}
	r = 0;
out:
	if (r < 0) {
		cands_release(c);
	}
	return r;
}

/*
 * Tries each candidate as execvp does and returns the errno that decides the
 * outcome. Only execve is called: safe between fork and exec.
 */
static int
try_exec(const struct cands *c, char *const argv[], char *const envp[])
{
	bool saw_eacces = false;
	int last = ENOENT;
	size_t i;

	for (i = 0; i < c->n; i++) {
		execve(c->path[i], argv, envp);
		last = errno;
		if (!c->searched) {
			return last;
		}
		switch (last) {
		case EACCES:
			saw_eacces = true;
			break;
		case ENOENT:
		case ENOTDIR:
		case ENAMETOOLONG:
		case ELOOP:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			break;
		default:
			return last;
		}
	}
	return saw_eacces ? EACCES : (c->searched ? ENOENT : last);
}

/*
 * E2BIG: how big argv and envp are against the system's limit, and which
 * environment string is the largest (by name, never its value).
 */
static int
too_big(const char *cmd, char *const argv[], char *const envp[],
        struct envx_error *err)
{
	size_t total = 0;
	size_t n = 0;
	size_t big = 0;
	size_t biglen = 0;
	size_t i;
	long max = sysconf(_SC_ARG_MAX);

	for (i = 0; argv[i] != NULL; i++, n++) {
		total += strlen(argv[i]) + 1 + sizeof(char *);
	}
	for (i = 0; envp[i] != NULL; i++, n++) {
		size_t len = strlen(envp[i]) + 1;

		total += len + sizeof(char *);
		if (len > biglen) {
			biglen = len;
			big = i;
		}
	}
	return envx_error_set(
	        err, ENVX_E_IO,
	        "cannot run '%s': argument list and environment too long "
	        "(%zu strings, %zu bytes; this system allows %ld in all "
	        "(ARG_MAX) and %zu per string); the largest is %.*s (%zu "
	        "bytes)",
	        cmd, n, total, max, ENVX_EXEC_STRING_MAX,
	        biglen > 0 ? (int)strcspn(envp[big], "=") : 0,
	        biglen > 0 ? envp[big] : "", biglen);
}

static int
exec_failure(char *const argv[], char *const envp[], const struct cands *c,
             int e, int *status, struct envx_error *err)
{
	/* a word like NAME=value (env(1) style) is cut at the '=': what
	 * follows could be a secret */
	size_t shown = strcspn(argv[0], "=");
	char disp[256];
	const char *cmd = disp;
	struct stat st;
	const char *why;

	snprintf(disp, sizeof(disp), "%.*s%s", (int)(shown > 200 ? 200 : shown),
	         argv[0], argv[0][shown] == '=' ? "=…" : "");

	if (e == ENOENT) {
		if (status != NULL) {
			*status = ENVX_EXEC_STATUS_NOT_FOUND;
		}
		return envx_error_set(
		        err, ENVX_E_NOTFOUND, "cannot run '%s': %s", cmd,
		        c->searched ? "command not found"
		                    : "no such file or directory");
	}
	if (status != NULL) {
		*status = ENVX_EXEC_STATUS_NOT_EXECUTABLE;
	}
	if (e == E2BIG) {
		return too_big(cmd, argv, envp, err);
	}
	switch (e) {
	case EACCES:
		why = "permission denied";
		if (!c->searched && stat(argv[0], &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			why = "is a directory";
		}
		break;
	case ENOEXEC:
		why = "exec format error (a script needs a '#!' line)";
		break;
	case ENOTDIR:
		why = "not a directory";
		break;
	case ETXTBSY:
		why = "text file busy";
		break;
	case ENOMEM:
		why = "out of memory";
		break;
	default:
		why = NULL;
		break;
	}
	if (why != NULL) {
		return envx_error_set(err, ENVX_E_IO, "cannot run '%s': %s",
		                      cmd, why);
	}
	return envx_error_set(err, ENVX_E_IO,
	                      "cannot run '%s': exec failed (errno %d)", cmd,
	                      e);
}

static int
no_command(int *status, struct envx_error *err)
{
	if (status != NULL) {
		*status = envx_error_exit_status(ENVX_E_USAGE);
	}
	return envx_error_set(err, ENVX_E_USAGE, "no command to run");
}

int
envx_exec_replace(char *const argv[], char *const envp[], int *status,
                  struct envx_error *err)
{
	struct cands c;
	int r = ENVX_E_INTERNAL;
	int e;

	memset(&c, 0, sizeof(c));
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		r = no_command(status, err);
		goto out;
	}
	r = resolve(argv[0], envp, &c, err);
	if (r < 0) {
		if (status != NULL) {
			*status = envx_error_exit_status(r);
		}
		goto out;
	}
	/* The process stays non-dumpable (envx_harden_process) if execve
	 * fails, so restoring the rlimit early cannot leak a core. */
	envx_harden_restore_for_child();
	e = try_exec(&c, argv, envp);
	r = exec_failure(argv, envp, &c, e, status, err);
out:
	cands_release(&c);
	return r;
}

/* ---- redacted run ---- */

struct sigrec {
	int signo;
	int code;
	pid_t pid;
};

static volatile sig_atomic_t got_sigchld;
static int sig_wfd = -1;

static void
on_signal(int signo, siginfo_t *si, void *uctx)
{
	int saved = errno;
	struct sigrec rec;
	ssize_t n;

	(void)uctx;
	rec.signo = signo;
	rec.code = si != NULL ? si->si_code : SI_USER;
	rec.pid = si != NULL ? si->si_pid : 0;
	if (signo == SIGCHLD) {
		got_sigchld = 1;
	}
	/* Nonblocking: if the pipe is full, the loop is awake anyway. */
	n = write(sig_wfd, &rec, sizeof(rec));
	(void)n;
	errno = saved;
}

static const int forwarded[] = {
        SIGHUP,   SIGINT,  SIGQUIT,   SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
        SIGWINCH, SIGCONT, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ,
#ifdef SIGPWR
        SIGPWR,
#endif
};

#define MAX_HANDLED 128

struct run;

struct sink {
	struct run *run;
	int fd;
	bool dead; /* our end is gone: stop writing, close the child's pipe */
	int error; /* errno of a write failure other than EPIPE */
};

struct run {
	pid_t pid;
	pid_t target; /* what signals go to: the child, or -its group */
	bool own_group;
	bool null_stdin;
	bool reaped;
	int wstatus;
	int sig_r;
	int nsig;
	int signo[MAX_HANDLED];
	struct sigaction old[MAX_HANDLED];
	sigset_t oldmask;
	bool masked;
};

static void
forward(struct run *run)
{
	struct sigrec recs[64];
	ssize_t n;
	ssize_t i;

	for (;;) {
		n = read(run->sig_r, recs, sizeof(recs));
		if (n <= 0) {
			return;
		}
		for (i = 0; i < n / (ssize_t)sizeof(recs[0]); i++) {
			const struct sigrec *s = &recs[i];

			if (s->signo == SIGCHLD || run->reaped) {
				continue;
			}
			/* si_code > 0: generated by the kernel (the terminal),
			 * which signalled the child's process group too,
			 * unless the child has a group of its own. */
			if ((s->code > 0 && !run->own_group) ||
			    s->pid == run->pid) {
				continue;
			}
			(void)kill(run->target, s->signo);
		}
	}
}

/* Writes everything, retrying on EINTR and on a nonblocking fd. */
static int
sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	const unsigned char *b = p;

	while (n > 0 && !s->dead) {
		ssize_t w = write(s->fd, b, n);

		if (w < 0) {
			if (errno == EINTR) {
				/* A signal interrupted a blocked write: pass it
				 * on now rather than after the reader wakes. */
				forward(s->run);
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = {s->fd, POLLOUT, 0};

				(void)poll(&pfd, 1, -1);
				continue;
			}
			s->dead = true;
			if (errno != EPIPE) {
				s->error = errno;
			}
			break;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cloexec_pipe(int fds[2])
{
	int raw[2];
	int i;

	if (pipe(raw) < 0) {
		return -1;
	}
	/* Above 2, so dup2 onto 1 and 2 in the child cannot clobber them. */
	for (i = 0; i < 2; i++) {
		fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0) {
			int e = errno;

			if (i == 1) {
				close(fds[0]);
			}
			close(raw[0]);
			close(raw[1]);
			errno = e;
			return -1;
		}
	}
	close(raw[0]);
	close(raw[1]);
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int
install_handlers(struct run *run, struct envx_error *err)
{
	struct sigaction sa;
	sigset_t all;
	int i;
	int n = 0;

	for (i = 0; i < (int)(sizeof(forwarded) / sizeof(forwarded[0])); i++) {
		run->signo[n++] = forwarded[i];
	}
#ifdef SIGRTMIN
	for (i = SIGRTMIN; i <= SIGRTMAX && n < MAX_HANDLED - 2; i++) {
		run->signo[n++] = i;
	}
#endif
	run->signo[n++] = SIGCHLD;
	run->signo[n++] = SIGPIPE;
	run->nsig = n;
	/* Blocked until the child's pid is known and the child has reset
	 * its own dispositions; unblocked (restored) by the caller. */
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &run->oldmask) < 0) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot block signals: %s",
		                      strerror(errno));
	}
	run->masked = true;
	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	run->nsig = 0;
	for (i = 0; i < n; i++) {
		struct sigaction *use = &sa;
		struct sigaction ign;

		if (run->signo[i] == SIGPIPE) {
			memset(&ign, 0, sizeof(ign));
			ign.sa_handler = SIG_IGN;
			use = &ign;
		} else {
			/* No SA_RESTART: a blocked write returns EINTR so a
			 * signal is forwarded without waiting for it. */
			sa.sa_sigaction = on_signal;
			sa.sa_flags =
			        SA_SIGINFO |
			        (run->signo[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
		}
		/* installed handlers are compacted to the front, so restore
		 * only touches what was changed */
		run->signo[run->nsig] = run->signo[i];
		if (sigaction(run->signo[i], use, &run->old[run->nsig]) < 0) {
			if (errno == EINVAL && run->signo[i] != SIGCHLD &&
			    run->signo[i] != SIGPIPE) {
				/* a signal this process may not catch (a
				 * debugger or valgrind reserves some real-time
				 * ones): it is not forwarded */
				continue;
			}
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "cannot install signal handler: "
			                      "%s",
			                      strerror(errno));
		}
		run->nsig++;
	}
	return 0;
}

static void
restore_handlers(struct run *run)
{
	sigset_t all;
	int i;

	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, NULL);
	for (i = 0; i < run->nsig; i++) {
		(void)sigaction(run->signo[i], &run->old[i], NULL);
	}
	run->nsig = 0;
}

/* In the child: never returns. Only async-signal-safe calls. */
static void
child(struct run *run, const struct cands *c, char *const argv[],
      char *const envp[], int out_w, int err_w, int status_w)
{
	int i;
	int e;
	ssize_t n;

	for (i = 0; i < run->nsig; i++) {
		(void)sigaction(run->signo[i], &run->old[i], NULL);
	}
	(void)sigprocmask(SIG_SETMASK, &run->oldmask, NULL);
	if (run->own_group) {
		(void)setpgid(0, 0);
	}
	if (run->null_stdin) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
			e = errno;
			n = write(status_w, &e, sizeof(e));
			(void)n;
			_exit(ENVX_EXEC_STATUS_NOT_FOUND);
		}
		if (fd != STDIN_FILENO) {
			close(fd);
		}
	}
	if (dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0) {
		e = errno;
	} else {
		envx_harden_restore_for_child();
		e = try_exec(c, argv, envp);
	}
	n = write(status_w, &e, sizeof(e));
	(void)n;
	_exit(ENVX_EXEC_STATUS_NOT_FOUND);
}

struct chan {
	int fd;
	struct sink sink;
	struct envx_redact_stream *st;
};

/* Reads once from ch; on EOF or a dead destination, finishes and closes. */
static int
pump(const struct envx_redact *rd, struct chan *ch, unsigned char *buf,
     size_t *got)
{
	ssize_t n;
	int r;

	*got = 0;
	n = read(ch->fd, buf, READ_BYTES);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
			return 0;
		}
		n = 0; /* treat a read error as the end of the stream */
	}
	if (n > 0) {
		r = envx_redact_feed(rd, ch->st, buf, (size_t)n, sink_write,
		                     &ch->sink);
		sodium_memzero(buf, (size_t)n);
		if (r < 0) {
			return r;
		}
		*got = (size_t)n;
	}
	if (n == 0) {
		r = envx_redact_finish(rd, ch->st, sink_write, &ch->sink);
		close_fd(&ch->fd);
		if (r < 0) {
			return r;
		}
	}
	if (ch->sink.dead) {
		/* The child now gets SIGPIPE/EPIPE, as if writing there. */
		close_fd(&ch->fd);
	}
	return 0;
}

static void
drain(const struct envx_redact *rd, struct chan *ch, unsigned char *buf)
{
	size_t total = 0;
	size_t got;
	int fl;

	if (ch->fd < 0) {
		return;
	}
	fl = fcntl(ch->fd, F_GETFL);
	if (fl >= 0) {
		(void)fcntl(ch->fd, F_SETFL, fl | O_NONBLOCK);
	}
	while (ch->fd >= 0 && total < DRAIN_MAX_BYTES) {
		if (pump(rd, ch, buf, &got) < 0 || got == 0) {
			break;
		}
		total += got;
	}
	if (ch->fd >= 0) {
		(void)envx_redact_finish(rd, ch->st, sink_write, &ch->sink);
		close_fd(&ch->fd);
	}
}

static void
reap(struct run *run, int flags)
{
	pid_t w;

	do {
		w = waitpid(run->pid, &run->wstatus, flags);
	} while (w < 0 && errno == EINTR);
	if (w == run->pid || (w < 0 && errno == ECHILD)) {
		run->reaped = true;
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The poll timeout until the next step of a timeout (-1: none), taking the
 * step when it is due: SIGTERM at the deadline, SIGKILL a grace later.
 */
static int
timeout_step(struct run *run, struct envx_run_opts *o, int64_t *deadline,
             bool *killed)
{
	int64_t left;

	if (o == NULL || o->timeout_ms <= 0 || *killed) {
		return -1;
	}
	left = *deadline - now_ms();
	if (left > 0) {
		return left > INT32_MAX ? INT32_MAX : (int)left;
	}
	if (!o->timed_out) {
		o->timed_out = true;
		(void)kill(run->target, SIGTERM);
		*deadline = now_ms() +
		            (o->grace_ms > 0 ? o->grace_ms : GRACE_DEFAULT_MS);
		return timeout_step(run, o, deadline, killed);
	}
	(void)kill(run->target, SIGKILL);
	*killed = true;
	return -1;
}

int
envx_exec_redacted(char *const argv[], char *const envp[],
                   const struct envx_kvset *secrets, int *status,
                   struct envx_error *err)
{
	return envx_exec_redacted_opts(argv, envp, secrets, NULL, status, err);
}

int
envx_exec_redacted_opts(char *const argv[], char *const envp[],
                        const struct envx_kvset *secrets,
                        struct envx_run_opts *opts, int *status,
                        struct envx_error *err)
{
	struct run run;
	struct cands c;
	struct envx_redact *rd = NULL;
	struct chan ch[2];
	unsigned char *buf = NULL;
	int out_p[2] = {-1, -1};
	int err_p[2] = {-1, -1};
	int st_p[2] = {-1, -1};
	int sig_p[2] = {-1, -1};
	int child_errno = 0;
	int64_t deadline = 0;
	bool killed = false;
	bool status_done = false; /* *status already holds the outcome */
	int r = ENVX_E_INTERNAL;
	int i;
	int fl;
	ssize_t n;

	memset(&run, 0, sizeof(run));
	memset(&c, 0, sizeof(c));
	memset(ch, 0, sizeof(ch));
	run.pid = -1;
	run.sig_r = -1;
	if (opts != NULL) {
		opts->timed_out = false;
		run.own_group = opts->own_group;
		run.null_stdin = opts->null_stdin;
	}
	ch[0].fd = ch[1].fd = -1;
	ch[0].sink.fd = STDOUT_FILENO;
	ch[1].sink.fd = STDERR_FILENO;
	ch[0].sink.run = &run;
	ch[1].sink.run = &run;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		r = no_command(status, err);
		status_done = true;
		goto out;
	}
	r = resolve(argv[0], envp, &c, err);
	if (r < 0) {
		goto out;
	}
	r = envx_redact_new(&rd, secrets, err);
	if (r < 0) {
		goto out;
	}
	for (i = 0; i < 2; i++) {
		r = envx_redact_stream_new(&ch[i].st, rd, err);
		if (r < 0) {
			goto out;
		}
	}
	buf = sodium_malloc(READ_BYTES);
	if (buf == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "cannot allocate secure memory");
		goto out;
	}
	if (cloexec_pipe(out_p) < 0 || cloexec_pipe(err_p) < 0 ||
	    cloexec_pipe(st_p) < 0 || cloexec_pipe(sig_p) < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot create pipe: %s",
		                   strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++) {
		fl = fcntl(sig_p[i], F_GETFL);
		if (fl < 0 || fcntl(sig_p[i], F_SETFL, fl | O_NONBLOCK) < 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot set up signal pipe: %s",
			                   strerror(errno));
			goto out;
		}
	}
	got_sigchld = 0;
	sig_wfd = sig_p[1];
	run.sig_r = sig_p[0];
	r = install_handlers(&run, err);
	if (r < 0) {
		goto out;
	}
	run.pid = fork();
	if (run.pid < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot start '%.200s': %s",
		                   argv[0], strerror(errno));
		goto out;
	}
	if (run.pid == 0) {
		child(&run, &c, argv, envp, out_p[1], err_p[1], st_p[1]);
	}
	run.target = run.pid;
	if (run.own_group) {
		/* also here, so no signal can be sent to a group that does
		 * not exist yet (fails harmlessly once the child has
		 * exec'd) */
		(void)setpgid(run.pid, run.pid);
		run.target = -run.pid;
	}
	if (opts != NULL && opts->timeout_ms > 0) {
		deadline = now_ms() + opts->timeout_ms;
	}
	close_fd(&out_p[1]);
	close_fd(&err_p[1]);
	close_fd(&st_p[1]);
	(void)sigprocmask(SIG_SETMASK, &run.oldmask, NULL);

	/* EOF: execve succeeded and closed the pipe; else the child's errno. */
	do {
		n = read(st_p[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_errno)) {
		reap(&run, 0);
		r = exec_failure(argv, envp, &c, child_errno, status, err);
		status_done = true;
		goto out;
	}

	ch[0].fd = out_p[0];
	ch[1].fd = err_p[0];
	out_p[0] = err_p[0] = -1;
	while (!run.reaped) {
		struct pollfd pfd[3];
		size_t got;

		if (got_sigchld) {
			got_sigchld = 0;
			reap(&run, WNOHANG);
			continue;
		}
		pfd[0].fd = run.sig_r;
		pfd[1].fd = ch[0].fd;
		pfd[2].fd = ch[1].fd;
		for (i = 0; i < 3; i++) {
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 3, timeout_step(&run, opts, &deadline, &killed)) <
		    0) {
			if (errno == EINTR) {
				continue;
			}
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "cannot wait for the command: %s",
			                   strerror(errno));
			(void)kill(run.pid, SIGKILL);
			reap(&run, 0);
			goto out;
		}
		if (pfd[0].revents != 0) {
			forward(&run);
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i + 1].revents != 0 && ch[i].fd >= 0) {
				(void)pump(rd, &ch[i], buf, &got);
			}
		}
	}
	for (i = 0; i < 2; i++) {
		drain(rd, &ch[i], buf);
	}
	if (status != NULL) {
		if (WIFEXITED(run.wstatus)) {
			*status = WEXITSTATUS(run.wstatus);
		} else if (WIFSIGNALED(run.wstatus)) {
			*status = 128 + WTERMSIG(run.wstatus);
		} else {
			*status = envx_error_exit_status(ENVX_E_INTERNAL);
		}
	}
	status_done = true;
	r = 0;
	for (i = 0; i < 2; i++) {
		if (ch[i].sink.error != 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot write the command's %s: %s",
			                   i == 0 ? "output" : "error output",
			                   strerror(ch[i].sink.error));
			break;
		}
	}
out:
	if (r < 0 && !status_done && status != NULL) {
		*status = envx_error_exit_status(r);
	}
	if (run.masked) {
		/* Handlers go before the pipe they write to. */
		restore_handlers(&run);
		sig_wfd = -1;
		(void)sigprocmask(SIG_SETMASK, &run.oldmask, NULL);
	}
	for (i = 0; i < 2; i++) {
		close_fd(&ch[i].fd);
		envx_redact_stream_free(ch[i].st);
		close_fd(&out_p[i]);
		close_fd(&err_p[i]);
		close_fd(&st_p[i]);
		close_fd(&sig_p[i]);
	}
	if (buf != NULL) {
		sodium_free(buf);
	}
	envx_redact_free(rd);
	cands_release(&c);
	return r;
}
