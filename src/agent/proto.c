/*
 * The agent's wire protocol (envx-agent(1), PROTOCOL), encoded and decoded
 * in this one place, and the socket I/O both sides share: every length is
 * bounded, reads and writes resume after EINTR and partial transfers, and
 * nothing waits past its deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "agent/internal.h"
#include "envx/agent.h"
#include "envx/util.h"
#include "util/banned.h"

/* body: version, type, then the type's fields */
#define HEAD_BYTES 2
#define REF_BYTES  (16 + 32 + 1) /* vault id, commitment, env length */

static void
put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static uint32_t
get_u32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--) {
		v = (v << 8) | p[i];
	}
	return v;
}

static void
put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static uint64_t
get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--) {
		v = (v << 8) | p[i];
	}
	return v;
}

/* vault id, commitment, env length and env at p; returns the bytes used,
 * 0 when the name cannot be sent */
static size_t
put_ref(unsigned char *p, const struct envx_env_keyref *ref)
{
	size_t n = strlen(ref->env);

	if (!envx_env_name_valid(ref->env)) {
		return 0;
	}
	memcpy(p, ref->vault_id, 16);
	memcpy(p + 16, ref->commit, 32);
	p[48] = (unsigned char)n;
	memcpy(p + REF_BYTES, ref->env, n);
	return REF_BYTES + n;
}

/* the reference at the start of f (n bytes); returns the bytes it takes,
 * 0 when it is malformed */
static size_t
get_ref(const unsigned char *f, size_t n, struct envx_env_keyref *ref)
{
	size_t envlen;

	if (n < REF_BYTES) {
		return 0;
	}
	envlen = f[48];
	/* a NUL inside would file the key under the name before it */
	if (envlen == 0 || envlen > ENVX_ENV_NAME_MAX_BYTES ||
	    n < REF_BYTES + envlen ||
	    memchr(f + REF_BYTES, '\0', envlen) != NULL) {
		return 0;
	}
	memcpy(ref->vault_id, f, 16);
	memcpy(ref->commit, f + 16, 32);
	memcpy(ref->env, f + REF_BYTES, envlen);
	ref->env[envlen] = '\0';
	return envx_env_name_valid(ref->env) ? REF_BYTES + envlen : 0;
}

int
envx_agent_encode(const struct envx_agent_msg *m, unsigned char *out,
                  size_t *len)
{
	unsigned char *b = out + 4;
	size_t n = HEAD_BYTES;
	size_t used;

	b[0] = ENVX_AGENT_PROTOCOL;
	b[1] = (unsigned char)m->type;
	switch (m->type) {
	case ENVX_AGENT_KEY_GET:
	case ENVX_AGENT_KEY_PUT:
		used = put_ref(b + n, &m->ref);
		if (used == 0) {
			return -1;
		}
		n += used;
		if (m->type == ENVX_AGENT_KEY_PUT) {
			memcpy(b + n, m->key, ENVX_ENV_KEY_BYTES);
			n += ENVX_ENV_KEY_BYTES;
		}
		break;
	case ENVX_AGENT_ID_GET:
	case ENVX_AGENT_ID_PUT:
		memcpy(b + n, m->digest, 32);
		n += 32;
		if (m->type == ENVX_AGENT_ID_PUT) {
			memcpy(b + n, m->pk, 32);
			memcpy(b + n + 32, m->spk, 32);
			n += 64;
		}
		break;
	case ENVX_AGENT_KEY:
		memcpy(b + n, m->key, ENVX_ENV_KEY_BYTES);
		n += ENVX_ENV_KEY_BYTES;
		break;
	case ENVX_AGENT_ID:
		memcpy(b + n, m->pk, 32);
		memcpy(b + n + 32, m->spk, 32);
		n += 64;
		break;
	case ENVX_AGENT_STATE:
		put_u32(b + n, m->keys);
		put_u32(b + n + 4, m->identities);
		put_u32(b + n + 8, m->pid);
		put_u64(b + n + 12, m->ttl);
		n += 20;
		break;
	case ENVX_AGENT_STATUS:
	case ENVX_AGENT_STOP:
	case ENVX_AGENT_OK:
	case ENVX_AGENT_NONE:
	case ENVX_AGENT_REFUSED:
		break;
	default:
		return -1;
	}
	put_u32(out, (uint32_t)n);
	*len = 4 + n;
	return 0;
}

int
envx_agent_decode(const unsigned char *body, size_t n, struct envx_agent_msg *m)
{
	const unsigned char *f = body + HEAD_BYTES;
	size_t fn;
	size_t used;

	memset(m, 0, sizeof(*m));
	if (n < HEAD_BYTES || body[0] != ENVX_AGENT_PROTOCOL) {
		return -1;
	}
	m->type = body[1];
	fn = n - HEAD_BYTES;
	switch (m->type) {
	case ENVX_AGENT_KEY_GET:
	case ENVX_AGENT_KEY_PUT:
		used = get_ref(f, fn, &m->ref);
		if (used == 0) {
			return -1;
		}
		if (m->type == ENVX_AGENT_KEY_GET) {
			return used == fn ? 0 : -1;
		}
		m->key = f + used;
		return used + ENVX_ENV_KEY_BYTES == fn ? 0 : -1;
	case ENVX_AGENT_ID_GET:
		if (fn != 32) {
			return -1;
		}
		memcpy(m->digest, f, 32);
		return 0;
	case ENVX_AGENT_ID_PUT:
		if (fn != 96) {
			return -1;
		}
		memcpy(m->digest, f, 32);
		memcpy(m->pk, f + 32, 32);
		memcpy(m->spk, f + 64, 32);
		return 0;
	case ENVX_AGENT_KEY:
		m->key = f;
		return fn == ENVX_ENV_KEY_BYTES ? 0 : -1;
	case ENVX_AGENT_ID:
		if (fn != 64) {
			return -1;
		}
		memcpy(m->pk, f, 32);
		memcpy(m->spk, f + 32, 32);
		return 0;
	case ENVX_AGENT_STATE:
		if (fn != 20) {
			return -1;
		}
		m->keys = get_u32(f);
		m->identities = get_u32(f + 4);
		m->pid = get_u32(f + 8);
		m->ttl = get_u64(f + 12);
		return 0;
	case ENVX_AGENT_STATUS:
	case ENVX_AGENT_STOP:
	case ENVX_AGENT_OK:
	case ENVX_AGENT_NONE:
	case ENVX_AGENT_REFUSED:
		return fn == 0 ? 0 : -1;
	default:
		return -1;
	}
}

int
envx_agent_path(char *out, size_t outsz, bool *chosen)
{
	const char *sock = getenv("ENVX_AGENT_SOCK");
	const char *run = getenv("XDG_RUNTIME_DIR");
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path);
	int n;

	*chosen = sock != NULL && *sock != '\0';
	if (*chosen) {
		n = snprintf(out, outsz, "%s", sock);
	} else if (run != NULL && *run == '/') {
		n = snprintf(out, outsz, "%s/envx/agent.sock", run);
	} else {
		return -1;
	}
	if (n <= 0 || (size_t)n >= outsz || (size_t)n >= max || *out != '/') {
		return -1;
	}
	return 0;
}

int64_t
envx_agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 0, or -1. */
static int
wait_ready(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - envx_agent_now_ms();
		int r;

		if (left <= 0) {
			return -1;
		}
		r = poll(&p, 1, (int)left);
		if (r > 0) {
			return 0;
		}
		if (r == 0 || errno != EINTR) {
			return -1;
		}
	}
}

int
envx_agent_send(int fd, const unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_ready(fd, POLLOUT, deadline) < 0) {
				return -1;
			}
		} else {
			return -1;
		}
	}
	return 0;
}

static int
recv_all(int fd, unsigned char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			return -1; /* closed before the end */
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_ready(fd, POLLIN, deadline) < 0) {
				return -1;
			}
		} else {
			return -1;
		}
	}
	return 0;
}

int
envx_agent_recv(int fd, unsigned char *buf, const unsigned char **body,
                size_t *n, int64_t deadline)
{
	uint32_t len;

	if (recv_all(fd, buf, 4, deadline) < 0) {
		return -1;
	}
	len = get_u32(buf);
	if (len < HEAD_BYTES || len > ENVX_AGENT_BODY_MAX_BYTES) {
		return -2;
	}
	if (recv_all(fd, buf + 4, len, deadline) < 0) {
		return -1;
	}
	*body = buf + 4;
	*n = len;
	return 0;
}
