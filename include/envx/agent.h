/*
 * The unlock agent (envx-agent(1)): a process that holds unlocked
 * environment keys, never values, in locked memory for a time limit and
 * hands them to the same user's envx commands over a private Unix socket.
 * The wire protocol is defined in docs/envx-agent.1.scd, PROTOCOL; this
 * module encodes it (one definition), serves it and asks it.
 */
#ifndef ENVX_AGENT_H
#define ENVX_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"
#include "envx/vault.h"

#define ENVX_AGENT_PROTOCOL 1
/* The largest frame body either side sends or accepts. */
#define ENVX_AGENT_BODY_MAX_BYTES 256
/* A client gives up on an agent after this long (connect, send, answer). */
#define ENVX_AGENT_TIMEOUT_MS 1000
/* How long the agent keeps a key, by default: a working day. */
#define ENVX_AGENT_TTL_DEFAULT (8 * 3600)
#define ENVX_AGENT_TTL_MAX     (7 * 86400)
/* What the agent holds at most; the oldest entry makes room past it. */
#define ENVX_AGENT_MAX_KEYS       256
#define ENVX_AGENT_MAX_IDENTITIES 32

enum envx_agent_type {
	/* requests */
	ENVX_AGENT_KEY_GET = 0x01,
	ENVX_AGENT_KEY_PUT = 0x02,
	ENVX_AGENT_ID_GET = 0x03,
	ENVX_AGENT_ID_PUT = 0x04,
	ENVX_AGENT_STATUS = 0x05,
	ENVX_AGENT_STOP = 0x06,
	/* replies */
	ENVX_AGENT_OK = 0x80,
	ENVX_AGENT_NONE = 0x81,
	ENVX_AGENT_KEY = 0x82,
	ENVX_AGENT_ID = 0x83,
	ENVX_AGENT_STATE = 0x84,
	ENVX_AGENT_REFUSED = 0xff,
};

/* A decoded frame body. Which fields are set depends on type; key points
 * into the frame's (secure) buffer. */
struct envx_agent_msg {
	int type;
	struct envx_env_keyref ref;     /* KEY_GET, KEY_PUT */
	const unsigned char *key;       /* KEY_PUT, KEY: 32 bytes */
	unsigned char digest[32];       /* ID_GET, ID_PUT */
	unsigned char pk[32];           /* ID_PUT, ID */
	unsigned char spk[32];          /* ID_PUT, ID */
	uint32_t keys, identities, pid; /* STATE */
	uint64_t ttl;                   /* STATE: seconds */
};

/*
 * Encodes m as a frame (u32le length, then the body) into out, which has
 * room for 4 + ENVX_AGENT_BODY_MAX_BYTES bytes (secure memory when m holds
 * a key); *len receives the frame's length. -1 for a type or field that
 * cannot be encoded.
 */
int envx_agent_encode(const struct envx_agent_msg *m, unsigned char *out,
                      size_t *len);
/* Decodes one frame body (without its length) of n bytes into m: -1 for
 * another protocol version, an unknown type, or a body whose length is not
 * exactly the type's (every field has a fixed or bounded size). */
int envx_agent_decode(const unsigned char *body, size_t n,
                      struct envx_agent_msg *m);

/*
 * The socket path into out: $ENVX_AGENT_SOCK when set and not empty (then
 * *chosen is true), else $XDG_RUNTIME_DIR/envx/agent.sock. -1 when neither
 * gives an absolute path that fits a Unix socket address.
 */
int envx_agent_path(char *out, size_t outsz, bool *chosen);

/*
 * One request and its answer over a new connection to the agent at path,
 * within ENVX_AGENT_TIMEOUT_MS in all. The agent must run as this user
 * (SO_PEERCRED): anything else is ENVX_E_UNSAFE and nothing is sent.
 * reply->key (KEY) points into buf, 4 + ENVX_AGENT_BODY_MAX_BYTES bytes of
 * secure memory the caller owns. ENVX_E_NOTFOUND when nothing listens
 * (no socket, or a stale one), ENVX_E_IO for a timeout, a closed
 * connection or an answer that is not a frame of this protocol.
 */
int envx_agent_call(const char *path, const struct envx_agent_msg *req,
                    struct envx_agent_msg *reply, unsigned char *buf,
                    struct envx_error *err);

/* What the agent reports to the one who runs it. */
typedef void (*envx_agent_log_fn)(void *ctx, const char *msg);

/*
 * Makes the socket's directory if it is missing (0700, one level) and
 * refuses one that is not private (ENVX_E_UNSAFE: a symbolic link, not a
 * directory, owned by another user, or accessible by group or others);
 * refuses a path where an agent answers (ENVX_E_IO) and replaces a stale
 * socket; then binds and listens (socket mode 0600). *fd is the listening
 * socket.
 */
int envx_agent_listen(const char *path, int *fd, struct envx_error *err);

/*
 * Serves fd until `envx agent --stop`, SIGTERM, SIGINT or SIGHUP: keys
 * held ttl seconds each in sodium_malloc memory, only to connections from
 * this user (others are closed and logged). Every key is wiped before it
 * returns, and the socket at path removed if it is still the one bound.
 */
int envx_agent_serve(int fd, const char *path, int64_t ttl,
                     envx_agent_log_fn log, void *log_ctx,
                     struct envx_error *err);

#endif
