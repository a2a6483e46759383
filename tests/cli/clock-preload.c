/*
 * An LD_PRELOAD shim for t0028-git: time() runs $ENVX_CLOCK_SKEW seconds
 * ahead (or behind, when negative) of the real clock. That is a writer
 * whose machine's clock is wrong, or one who dates a value to win a merge.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

time_t
time(time_t *out)
{
	struct timespec ts;
	const char *skew = getenv("ENVX_CLOCK_SKEW");
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + (skew != NULL ? (time_t)strtoll(skew, NULL, 10) : 0);
	if (out != NULL) {
		*out = t;
	}
	return t;
}
