/*
 * An LD_PRELOAD shim for t0012-key-files: the first time envx looks at
 * $ENVX_SWAP_PATH (an lstat or an open), $ENVX_SWAP_WITH is renamed over
 * it, right after the lstat or right before the open. That is an attacker
 * winning the race between checking a key file by path and opening it.
 */
/* both the plain and the 64-bit names are defined below, whichever envx
 * was built to call */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int swapped;

/* dlsym's object pointer as a function pointer, without the cast ISO C
 * forbids */
static void *
next(const char *sym)
{
	return dlsym(RTLD_NEXT, sym);
}

static void
maybe_swap(const char *path)
{
	const char *target = getenv("ENVX_SWAP_PATH");
	const char *with = getenv("ENVX_SWAP_WITH");

	if (swapped || target == NULL || with == NULL || path == NULL ||
	    strcmp(path, target) != 0) {
		return;
	}
	swapped = 1;
	if (rename(with, target) != 0) {
		perror("swap-preload: rename");
	}
}

int
lstat(const char *path, struct stat *st)
{
	int (*real)(const char *, struct stat *);
	void *p = next("lstat");
	int r;

	memcpy(&real, &p, sizeof(p));
	r = real(path, st);
	maybe_swap(path);
	return r;
}

int
lstat64(const char *path, struct stat64 *st)
{
	int (*real)(const char *, struct stat64 *);
	void *p = next("lstat64");
	int r;

	memcpy(&real, &p, sizeof(p));
	r = real(path, st);
	maybe_swap(path);
	return r;
}

static int
open_common(const char *sym, const char *path, int flags, va_list ap)
{
	int (*real)(const char *, int, ...);
	void *p = next(sym);
	mode_t mode = 0;

	memcpy(&real, &p, sizeof(p));

	if ((flags & O_CREAT) != 0) {
		mode = (mode_t)va_arg(ap, int);
	}
	maybe_swap(path);
	return real(path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_common("open", path, flags, ap);
	va_end(ap);
	return r;
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_common("open64", path, flags, ap);
	va_end(ap);
	return r;
}
