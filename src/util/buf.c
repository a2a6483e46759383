/*
 * Bounded buffers: envx_buf for ordinary bytes with a hard maximum, and
 * envx_secbuf for secrets in sodium_malloc memory that never reallocates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/util.h"
#include "util/banned.h"

void
envx_buf_init(struct envx_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int
buf_reserve(struct envx_buf *b, size_t extra, struct envx_error *err)
{
	size_t need;
	size_t ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "input too large: more than %zu bytes",
		                      b->max);
	}
	need = b->len + extra + 1;
	if (need <= b->cap) {
		return 0;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < need) {
		ncap *= 2;
	}
	if (ncap > b->max + 1) {
		ncap = b->max + 1;
	}
	p = malloc(ncap);
	if (p == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	if (b->data != NULL) {
		memcpy(p, b->data, b->len + 1);
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
envx_buf_append(struct envx_buf *b, const void *p, size_t n,
                struct envx_error *err)
{
	int r;

	r = buf_reserve(b, n, err);
	if (r < 0) {
		return r;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
envx_buf_appendf(struct envx_buf *b, struct envx_error *err, const char *fmt,
                 ...)
{
	va_list ap;
	int n;
	int r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return envx_error_set(err, ENVX_E_INTERNAL, "bad format");
	}
	r = buf_reserve(b, (size_t)n, err);
	if (r < 0) {
		return r;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
envx_buf_reset(struct envx_buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->len);
		b->data[0] = '\0';
	}
	b->len = 0;
}

void
envx_buf_release(struct envx_buf *b)
{
	if (b == NULL) {
		return;
	}
	if (b->data != NULL) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int
envx_secbuf_init(struct envx_secbuf *b, size_t cap, struct envx_error *err)
{
	b->len = 0;
	b->cap = 0;
	b->data = sodium_malloc(cap ? cap : 1);
	if (b->data == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "cannot allocate secure memory");
	}
	b->cap = cap;
	return 0;
}

int
envx_secbuf_append(struct envx_secbuf *b, const void *p, size_t n,
                   struct envx_error *err)
{
	if (n > b->cap - b->len) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "value too large: more than %zu bytes",
		                      b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void
envx_secbuf_release(struct envx_secbuf *b)
{
	if (b == NULL) {
		return;
	}
	sodium_free(b->data); /* wipes; accepts NULL */
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
