/*
 * Asking the agent: one request per connection, the agent's own uid
 * checked before anything is sent (a socket another user made must never
 * receive a key), and every step inside one deadline so that a slow or
 * stopped agent costs a command at most ENVX_AGENT_TIMEOUT_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/internal.h"
#include "envx/agent.h"
#include "util/banned.h"

static int
connect_agent(const char *path, int *out, struct envx_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		return envx_error_set(err, ENVX_E_IO,
		                      "agent socket path '%s' is too long",
		                      path);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot make a socket: %s",
		                      strerror(errno));
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR) {
			continue;
		}
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED) {
			return envx_error_set(
			        err, ENVX_E_NOTFOUND, "no agent at '%s'%s",
			        path,
			        e == ECONNREFUSED ? " (a stale socket)" : "");
		}
		return envx_error_set(
		        err, ENVX_E_IO, "cannot reach the agent at '%s': %s",
		        path,
		        e == EAGAIN ? "it is not accepting" : strerror(e));
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    clen != sizeof(cred)) {
		close(fd);
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot tell who runs the agent at '%s'",
		                      path);
	}
	if (cred.uid != geteuid()) {
		close(fd);
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "the agent at '%s' runs as uid %u, not "
		                      "as you: not used",
		                      path, (unsigned)cred.uid);
	}
	*out = fd;
	return 0;
}

int
envx_agent_call(const char *path, const struct envx_agent_msg *req,
                struct envx_agent_msg *reply, unsigned char *buf,
                struct envx_error *err)
{
	int64_t deadline = envx_agent_now_ms() + ENVX_AGENT_TIMEOUT_MS;
	const unsigned char *body;
	size_t len;
	int fd = -1;
	int r;

	if (envx_agent_encode(req, buf, &len) < 0) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot encode an agent request");
	}
	r = connect_agent(path, &fd, err);
	if (r < 0) {
		goto out;
	}
	if (envx_agent_send(fd, buf, len, deadline) < 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "the agent at '%s' did not take the request",
		                   path);
		goto out;
	}
	r = envx_agent_recv(fd, buf, &body, &len, deadline);
	if (r == -2) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "the agent at '%s' answered a frame longer "
		                   "than the protocol allows (%d bytes)",
		                   path, ENVX_AGENT_BODY_MAX_BYTES);
		goto out;
	}
	if (r < 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "no answer from the agent at '%s' (it "
		                   "closed the connection, or said nothing "
		                   "within %d ms)",
		                   path, ENVX_AGENT_TIMEOUT_MS);
		goto out;
	}
	if (envx_agent_decode(body, len, reply) < 0 ||
	    reply->type < ENVX_AGENT_OK) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "the agent at '%s' answered something that "
		                   "is not envx agent protocol %d",
		                   path, ENVX_AGENT_PROTOCOL);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	return r;
}
