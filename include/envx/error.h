/*
 * Error codes and the fixed-size error record every library function may fill.
 * A code is the negative of the process exit status it maps to (DESIGN §4), so
 * the CLI turns any library failure into the documented exit code with -code.
 */
#ifndef ENVX_ERROR_H
#define ENVX_ERROR_H

#include <stddef.h>

enum envx_code {
	ENVX_OK = 0,
	ENVX_E_CHECK = -1,     /* a check answered no */
	ENVX_E_USAGE = -2,     /* bad command line */
	ENVX_E_LOCKED = -3,    /* cannot unlock: no key opens this env */
	ENVX_E_INTEGRITY = -4, /* tampered, corrupt, not a vault, newer */
	ENVX_E_REMOTE = -5,    /* GitHub or other remote failure */
	ENVX_E_IO = -6,        /* local I/O failure, vault busy */
	ENVX_E_INPUT = -7,     /* invalid input: syntax, names, limits */
	ENVX_E_UNSAFE = -8,    /* unsafe file permissions or symlink */
	ENVX_E_NOTFOUND = -9,  /* no such environment or secret */
	ENVX_E_INTERNAL = -10, /* a bug, or out of memory */
};

#define ENVX_ERROR_MSG_BYTES 512

/*
 * What failed and why, in the form "<what failed>: <why>", lowercase, never
 * containing a secret value. Caller-owned; no allocation.
 */
struct envx_error {
	int code;
	char msg[ENVX_ERROR_MSG_BYTES];
};

/*
 * Records code and a printf-style message in err (which may be NULL) and
 * returns code, so callers can write `return envx_error_set(err, ...)`.
 * The message is truncated to fit.
 */
int envx_error_set(struct envx_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Appends printf-style text to err's message (truncated to fit); the code
 * is unchanged. err may be NULL. */
void envx_error_append(struct envx_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Resets err (may be NULL) to ENVX_OK with an empty message. */
void envx_error_clear(struct envx_error *err);

/* The process exit status for a library code: 0 for ENVX_OK, -code otherwise
 * (anything out of range maps to 10). */
int envx_error_exit_status(int code);

/* A short fixed description of a code, e.g. "cannot unlock". */
const char *envx_error_name(int code);

#endif
