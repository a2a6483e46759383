/*
 * Shared internals of the agent module: I/O with a deadline on
 * non-blocking sockets, for the client and the server alike.
 */
#ifndef ENVX_AGENT_INTERNAL_H
#define ENVX_AGENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define ENVX_AGENT_FRAME_MAX_BYTES (4 + ENVX_AGENT_BODY_MAX_BYTES)

/* CLOCK_MONOTONIC in milliseconds. */
int64_t envx_agent_now_ms(void);
/* Sends all n bytes before deadline (envx_agent_now_ms), retrying after
 * EINTR and partial writes, never raising SIGPIPE: 0, or -1. */
int envx_agent_send(int fd, const unsigned char *p, size_t n, int64_t deadline);
/*
 * Reads one frame into buf (ENVX_AGENT_FRAME_MAX_BYTES) before deadline,
 * retrying after EINTR and partial reads; *body and *n are its body. -1
 * on a timeout, an error or a connection closed early; -2 for a length
 * out of bounds (nothing more is read then).
 */
int envx_agent_recv(int fd, unsigned char *buf, const unsigned char **body,
                    size_t *n, int64_t deadline);

#endif
