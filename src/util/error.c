/*
 * The error record: a code and a bounded message, filled without allocation so
 * it works on out-of-memory paths too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "envx/error.h"
#include "util/banned.h"

int
envx_error_set(struct envx_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL) {
		return code;
	}
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
envx_error_append(struct envx_error *err, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (err == NULL) {
		return;
	}
	used = strnlen(err->msg, sizeof(err->msg) - 1);
	va_start(ap, fmt);
	vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	va_end(ap);
}

void
envx_error_clear(struct envx_error *err)
{
	if (err == NULL) {
		return;
	}
	err->code = ENVX_OK;
	err->msg[0] = '\0';
}

int
envx_error_exit_status(int code)
{
	if (code == ENVX_OK) {
		return 0;
	}
	if (code < ENVX_E_INTERNAL || code > 0) {
		return 10;
	}
	return -code;
}

const char *
envx_error_name(int code)
{
	switch (code) {
	case ENVX_OK:
		return "success";
	case ENVX_E_CHECK:
		return "check failed";
	case ENVX_E_USAGE:
		return "usage error";
	case ENVX_E_LOCKED:
		return "cannot unlock";
	case ENVX_E_INTEGRITY:
		return "integrity failure";
	case ENVX_E_REMOTE:
		return "remote failure";
	case ENVX_E_IO:
		return "i/o failure";
	case ENVX_E_INPUT:
		return "invalid input";
	case ENVX_E_UNSAFE:
		return "unsafe file";
	case ENVX_E_NOTFOUND:
		return "not found";
	default:
		return "internal error";
	}
}
