/*
 * The agent itself: a private socket directory, one listening socket, and
 * a loop that serves one short request per connection to this user only.
 * Keys live in one sodium_malloc block (locked, guard pages, left out of
 * core dumps) and are wiped when their time is up, on --stop and on
 * SIGTERM, SIGINT or SIGHUP (read through a signalfd, so no handler and no
 * file-scope state). Nothing is ever written to disk but the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/internal.h"
#include "envx/agent.h"
#include "util/banned.h"

struct key_slot {
	int64_t expires; /* CLOCK_BOOTTIME ms; 0: free */
	struct envx_env_keyref ref;
	unsigned char key[ENVX_ENV_KEY_BYTES];
};

struct id_slot {
	int64_t expires;
	unsigned char digest[32];
	unsigned char pk[32];
	unsigned char spk[32];
};

/* everything the agent holds, in one sodium_malloc block */
struct store {
	struct key_slot keys[ENVX_AGENT_MAX_KEYS];
	struct id_slot ids[ENVX_AGENT_MAX_IDENTITIES];
	unsigned char frame[ENVX_AGENT_FRAME_MAX_BYTES];
	unsigned char reply[ENVX_AGENT_FRAME_MAX_BYTES];
};

struct agent {
	struct store *s;
	int64_t ttl_ms;
	envx_agent_log_fn log;
	void *log_ctx;
	bool stop;
};

static void logf_(struct agent *a, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
logf_(struct agent *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (a->log != NULL) {
		a->log(a->log_ctx, msg);
	}
}

/* Suspended time counts: a laptop asleep overnight does not keep keys
 * past their time. */
static int64_t
boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
vault_hex8(const unsigned char id[16], char out[17])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 8; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[16] = '\0';
}

static void
purge(struct agent *a, int64_t now)
{
	char hex[17];

	for (size_t i = 0; i < ENVX_AGENT_MAX_KEYS; i++) {
		struct key_slot *k = &a->s->keys[i];

		if (k->expires != 0 && k->expires <= now) {
			vault_hex8(k->ref.vault_id, hex);
			logf_(a,
			      "wiped the key of environment '%s' of vault "
			      "%s…: its time is up",
			      k->ref.env, hex);
			sodium_memzero(k, sizeof(*k));
		}
	}
	for (size_t i = 0; i < ENVX_AGENT_MAX_IDENTITIES; i++) {
		if (a->s->ids[i].expires != 0 && a->s->ids[i].expires <= now) {
			sodium_memzero(&a->s->ids[i], sizeof(a->s->ids[i]));
		}
	}
}

/* Milliseconds until the next entry expires, or -1 for none. */
static int
next_timeout(const struct agent *a, int64_t now)
{
	int64_t next = 0;

	for (size_t i = 0; i < ENVX_AGENT_MAX_KEYS; i++) {
		int64_t x = a->s->keys[i].expires;

		if (x != 0 && (next == 0 || x < next)) {
			next = x;
		}
	}
	for (size_t i = 0; i < ENVX_AGENT_MAX_IDENTITIES; i++) {
		int64_t x = a->s->ids[i].expires;

		if (x != 0 && (next == 0 || x < next)) {
			next = x;
		}
	}
	if (next == 0) {
		return -1;
	}
	return next <= now ? 0 : (int)(next - now);
}

static bool
same_ref(const struct envx_env_keyref *x, const struct envx_env_keyref *y)
{
	return memcmp(x->vault_id, y->vault_id, 16) == 0 &&
	       memcmp(x->commit, y->commit, 32) == 0 &&
	       strcmp(x->env, y->env) == 0;
}

/* The slot for ref: its own, else a free one, else the one expiring
 * first. */
static struct key_slot *
key_slot_for(struct agent *a, const struct envx_env_keyref *ref, bool *found)
{
	struct key_slot *pick = NULL;

	*found = false;
	for (size_t i = 0; i < ENVX_AGENT_MAX_KEYS; i++) {
		struct key_slot *k = &a->s->keys[i];

		if (k->expires != 0 && same_ref(&k->ref, ref)) {
			*found = true;
			return k;
		}
		if (pick == NULL ||
		    (pick->expires != 0 &&
		     (k->expires == 0 || k->expires < pick->expires))) {
			pick = k;
		}
	}
	return pick;
}

static struct id_slot *
id_slot_for(struct agent *a, const unsigned char digest[32], bool *found)
{
	struct id_slot *pick = NULL;

	*found = false;
	for (size_t i = 0; i < ENVX_AGENT_MAX_IDENTITIES; i++) {
		struct id_slot *d = &a->s->ids[i];

		if (d->expires != 0 && memcmp(d->digest, digest, 32) == 0) {
			*found = true;
			return d;
		}
		if (pick == NULL ||
		    (pick->expires != 0 &&
		     (d->expires == 0 || d->expires < pick->expires))) {
			pick = d;
		}
	}
	return pick;
}

static size_t
count_keys(const struct agent *a)
{
	size_t n = 0;

	for (size_t i = 0; i < ENVX_AGENT_MAX_KEYS; i++) {
		n += a->s->keys[i].expires != 0;
	}
	return n;
}

static size_t
count_ids(const struct agent *a)
{
	size_t n = 0;

	for (size_t i = 0; i < ENVX_AGENT_MAX_IDENTITIES; i++) {
		n += a->s->ids[i].expires != 0;
	}
	return n;
}

/* What to answer req with, into reply (whose key may point into the
 * store). */
static void
answer(struct agent *a, const struct envx_agent_msg *req,
       struct envx_agent_msg *reply)
{
	int64_t now = boot_ms();
	struct key_slot *k;
	struct id_slot *d;
	bool found;
	char hex[17];

	purge(a, now);
	memset(reply, 0, sizeof(*reply));
	reply->type = ENVX_AGENT_NONE;
	switch (req->type) {
	case ENVX_AGENT_KEY_GET:
		k = key_slot_for(a, &req->ref, &found);
		if (found) {
			reply->type = ENVX_AGENT_KEY;
			reply->key = k->key;
		}
		break;
	case ENVX_AGENT_KEY_PUT:
		/* VF-3.2: only a key that matches the commitment it is
		 * filed under */
		if (!envx_key_matches(req->key, req->ref.commit)) {
			reply->type = ENVX_AGENT_REFUSED;
			logf_(a,
			      "refused a key for environment '%s': it does "
			      "not match its commitment",
			      req->ref.env);
			break;
		}
		k = key_slot_for(a, &req->ref, &found);
		if (!found && k->expires != 0) {
			logf_(a,
			      "full: dropped the key of environment '%s' "
			      "before its time",
			      k->ref.env);
		}
		sodium_memzero(k, sizeof(*k));
		k->ref = req->ref;
		memcpy(k->key, req->key, ENVX_ENV_KEY_BYTES);
		k->expires = now + a->ttl_ms;
		vault_hex8(k->ref.vault_id, hex);
		logf_(a, "holding the key of environment '%s' of vault %s…",
		      k->ref.env, hex);
		reply->type = ENVX_AGENT_OK;
		break;
	case ENVX_AGENT_ID_GET:
		d = id_slot_for(a, req->digest, &found);
		if (found) {
			reply->type = ENVX_AGENT_ID;
			memcpy(reply->pk, d->pk, 32);
			memcpy(reply->spk, d->spk, 32);
		}
		break;
	case ENVX_AGENT_ID_PUT:
		d = id_slot_for(a, req->digest, &found);
		memcpy(d->digest, req->digest, 32);
		memcpy(d->pk, req->pk, 32);
		memcpy(d->spk, req->spk, 32);
		d->expires = now + a->ttl_ms;
		reply->type = ENVX_AGENT_OK;
		break;
	case ENVX_AGENT_STATUS:
		reply->type = ENVX_AGENT_STATE;
		reply->keys = (uint32_t)count_keys(a);
		reply->identities = (uint32_t)count_ids(a);
		reply->pid = (uint32_t)getpid();
		reply->ttl = (uint64_t)(a->ttl_ms / 1000);
		break;
	case ENVX_AGENT_STOP:
		reply->type = ENVX_AGENT_OK;
		a->stop = true;
		logf_(a, "stopping: asked to by 'envx agent --stop'");
		break;
	default:
		reply->type = ENVX_AGENT_REFUSED;
		break;
	}
}

static void
serve_one(struct agent *a, int c)
{
	int64_t deadline = envx_agent_now_ms() + ENVX_AGENT_TIMEOUT_MS;
	struct envx_agent_msg req;
	struct envx_agent_msg reply;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	const unsigned char *body;
	size_t n;

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    clen != sizeof(cred)) {
		logf_(a, "refused a connection: cannot tell whose it is");
		return;
	}
	if (cred.uid != geteuid()) {
		logf_(a,
		      "refused a connection from uid %u (pid %d): only uid "
		      "%u is served",
		      (unsigned)cred.uid, (int)cred.pid, (unsigned)geteuid());
		return;
	}
	if (envx_agent_recv(c, a->s->frame, &body, &n, deadline) < 0) {
		logf_(a,
		      "dropped a connection (pid %d): no complete request "
		      "within %d ms",
		      (int)cred.pid, ENVX_AGENT_TIMEOUT_MS);
		return;
	}
	if (envx_agent_decode(body, n, &req) < 0 || req.type >= ENVX_AGENT_OK) {
		memset(&reply, 0, sizeof(reply));
		reply.type = ENVX_AGENT_REFUSED;
		logf_(a, "refused a malformed request (pid %d)", (int)cred.pid);
	} else {
		answer(a, &req, &reply);
	}
	if (envx_agent_encode(&reply, a->s->reply, &n) == 0) {
		(void)envx_agent_send(c, a->s->reply, n, deadline);
	}
	sodium_memzero(a->s->frame, sizeof(a->s->frame));
	sodium_memzero(a->s->reply, sizeof(a->s->reply));
}

/* A directory only this user can enter: made (0700) when missing. */
static int
private_dir(const char *dir, struct envx_error *err)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot make socket directory '%s': %s",
		                      dir, strerror(errno));
	}
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
		return envx_error_set(
		        err, ENVX_E_UNSAFE,
		        "socket directory '%s' is a symbolic link", dir);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return envx_error_set(err,
		                      errno == ELOOP || errno == ENOTDIR
		                              ? ENVX_E_UNSAFE
		                              : ENVX_E_IO,
		                      "socket directory '%s' %s", dir,
		                      errno == ELOOP     ? "is a symbolic link"
		                      : errno == ENOTDIR ? "is not a directory"
		                                         : strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot check socket directory '%s': %s",
		                      dir, strerror(errno));
	}
	close(fd);
	if (st.st_uid != geteuid()) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "socket directory '%s' is owned by uid "
		                      "%u, not by you",
		                      dir, (unsigned)st.st_uid);
	}
	if ((st.st_mode & 077) != 0) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "socket directory '%s' is accessible by "
		                      "group or others (mode %04o): it must be "
		                      "private (chmod 700 '%s')",
		                      dir, (unsigned)(st.st_mode & 07777), dir);
	}
	return 0;
}

/* Refuses a path where an agent answers; removes a stale socket of ours. */
static int
clear_path(const char *path, const struct sockaddr_un *sa,
           struct envx_error *err)
{
	struct stat st;
	int fd;
	int r;

	if (lstat(path, &st) < 0) {
		return errno == ENOENT ? 0
		                       : envx_error_set(err, ENVX_E_IO,
		                                        "cannot check '%s': %s",
		                                        path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "'%s' exists and is not a socket of "
		                      "yours: not replaced",
		                      path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot make a socket: %s",
		                      strerror(errno));
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "an agent is already running at '%s' "
		                      "(stop it with 'envx agent --stop')",
		                      path);
	}
	if (unlink(path) < 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot remove the stale socket '%s': %s",
		                      path, strerror(errno));
	}
	return 0;
}

int
envx_agent_listen(const char *path, int *out, struct envx_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	char *slash;
	mode_t old;
	int fd;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path) || *path != '/') {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "agent socket path '%s' must be absolute "
		                      "and shorter than %zu bytes",
		                      path, sizeof(sa.sun_path));
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash == dir) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "agent socket '%s' is not in a private "
		                      "directory",
		                      path);
	}
	*slash = '\0';
	r = private_dir(dir, err);
	if (r == 0) {
		r = clear_path(path, &sa, err);
	}
	if (r < 0) {
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot make a socket: %s",
		                      strerror(errno));
	}
	/* the socket is born 0600: no moment at which others may connect */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot listen on '%s': %s",
		                   path, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

int
envx_agent_serve(int fd, const char *path, int64_t ttl, envx_agent_log_fn log,
                 void *log_ctx, struct envx_error *err)
{
	struct agent a = {.ttl_ms = ttl * 1000, .log = log, .log_ctx = log_ctx};
	struct signalfd_siginfo si;
	struct stat bound;
	struct stat now;
	sigset_t set;
	bool have_bound;
	int sfd;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot watch for signals: %s",
		                      strerror(errno));
	}
	a.s = sodium_malloc(sizeof(*a.s));
	if (a.s == NULL) {
		close(sfd);
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	sodium_memzero(a.s, sizeof(*a.s));
	have_bound = lstat(path, &bound) == 0;
	while (!a.stop) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = sfd, .events = POLLIN}};
		int64_t t = boot_ms();

		purge(&a, t);
		r = poll(p, 2, next_timeout(&a, t));
		if (r < 0 && errno != EINTR) {
			logf_(&a, "stopping: poll failed: %s", strerror(errno));
			break;
		}
		if (r <= 0) {
			continue;
		}
		if (p[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				logf_(&a, "stopping: %s",
				      strsignal((int)si.ssi_signo));
				break;
			}
		}
		if (p[0].revents & POLLIN) {
			int c = accept4(fd, NULL, NULL,
			                SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (c >= 0) {
				serve_one(&a, c);
				close(c);
			}
		}
	}
	logf_(&a, "wiped %zu key%s", count_keys(&a),
	      count_keys(&a) == 1 ? "" : "s");
	sodium_memzero(a.s, sizeof(*a.s));
	sodium_free(a.s);
	close(sfd);
	close(fd);
	/* only the socket this agent bound: a newer agent's stays */
	if (have_bound && lstat(path, &now) == 0 &&
	    now.st_ino == bound.st_ino && now.st_dev == bound.st_dev) {
		unlink(path);
	}
	return 0;
}
