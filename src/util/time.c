/*
 * Durations ("90d") and UTC timestamps. In a build configured with
 * -Dtest_clock=true (ENVX_TEST_CLOCK), $ENVX_NOW lets tests move the clock:
 * rotation deadlines depend on it, and waiting 90 days is not a test. Every
 * other build ignores $ENVX_NOW: the times envx records (versions, rotation
 * dates, audit events) are evidence, and must not be backdated by whoever
 * can set an environment variable.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envx/util.h"
#include "util/banned.h"

int
envx_span_parse(const char *text, const struct envx_unit *units, size_t n,
                int64_t max_count, int64_t max_seconds, int64_t *seconds)
{
	const char *p = text;
	int64_t count = 0;
	size_t i;

	if (*p < '0' || *p > '9') {
		return -1;
	}
	while (*p >= '0' && *p <= '9') {
		count = count * 10 + (*p - '0');
		if (count > max_count) {
			return -1;
		}
		p++;
	}
	if (count == 0 || *p == '\0' || p[1] != '\0') {
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (*p == units[i].suffix &&
		    count <= max_seconds / units[i].seconds) {
			*seconds = count * units[i].seconds;
			return 0;
		}
	}
	return -1;
}

int
envx_duration_parse(const char *text, int64_t *seconds, struct envx_error *err)
{
	static const struct envx_unit units[] = {
	        {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};

	if (envx_span_parse(text, units, sizeof(units) / sizeof(units[0]),
	                    100000, INT64_MAX, seconds) == 0) {
		return 0;
	}
	return envx_error_set(err, ENVX_E_INPUT,
	                      "invalid duration '%.32s': expected a positive "
	                      "number followed by h, d or w (e.g. 90d)",
	                      text);
}

void
envx_duration_format(int64_t seconds, char *out, size_t outsz)
{
	if (seconds > 0 && seconds % (7 * 86400) == 0) {
		snprintf(out, outsz, "%lldw",
		         (long long)(seconds / (7 * 86400)));
	} else if (seconds > 0 && seconds % 86400 == 0) {
		snprintf(out, outsz, "%lldd", (long long)(seconds / 86400));
	} else if (seconds > 0 && seconds % 3600 == 0) {
		snprintf(out, outsz, "%lldh", (long long)(seconds / 3600));
	} else {
		snprintf(out, outsz, "%llds", (long long)seconds);
	}
}

int
envx_time_parse(const char *text, int64_t *t)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end != NULL && *end == '\0') {
		*t = (int64_t)timegm(&tm);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%d", &tm);
	if (end != NULL && *end == '\0') {
		*t = (int64_t)timegm(&tm);
		return 0;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == 0 && end != text && *end == '\0' && v >= 0) {
		*t = (int64_t)v;
		return 0;
	}
	return -1;
}

/* Reads exactly n decimal digits at *p into *v, advancing *p. */
static bool
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9') {
			return false;
		}
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar:
 * whole 400-year eras from year 0 (starting in March, so that the leap
 * day ends a year), then the years and days of the era. */
static int64_t
days_from_epoch(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t era = yy / 400; /* y >= 1970 here: no negative years */
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
envx_date_parse(const char *text, int64_t *t)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};
	const char *p = text;
	int y;
	int mo;
	int d;
	int h = 0;
	int mi = 0;
	int sec = 0;
	bool leap;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d)) {
		return -1;
	}
	if (*p == 'T') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) ||
		    *p++ != ':' || !digits(&p, 2, &sec) || *p++ != 'Z') {
			return -1;
		}
	}
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
	    sec > 59) {
		return -1;
	}
	*t = days_from_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

int64_t
envx_now(void)
{
#ifdef ENVX_TEST_CLOCK
	const char *fake = getenv("ENVX_NOW");
	int64_t t;

	if (fake != NULL && *fake != '\0' && envx_time_parse(fake, &t) == 0) {
		return t;
	}
#endif
	return (int64_t)time(NULL);
}

void
envx_time_format(int64_t t, char *out, size_t outsz)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(out, outsz, "%lld", (long long)t);
	}
}
