/*
 * The rotation status rules (DESIGN §7) and the parsers for the points in
 * time and timeouts the rotation commands take. Pure functions, so the
 * rules are tested without a vault or a clock.
 */
#include <stdio.h>
#include <string.h>

#include "envx/rotate.h"
#include "envx/vault.h"
#include "util/banned.h"

int64_t
envx_rotation_deadline(int64_t rotate_every, int64_t rotated_at)
{
	if (rotate_every <= 0) {
		return 0;
	}
	if (rotated_at > INT64_MAX - rotate_every) {
		return INT64_MAX;
	}
	return rotated_at + rotate_every;
}

/* a - b, saturating */
static int64_t
span(int64_t a, int64_t b)
{
	if (b < 0 && a > INT64_MAX + b) {
		return INT64_MAX;
	}
	if (b > 0 && a < INT64_MIN + b) {
		return INT64_MIN;
	}
	return a - b;
}

void
envx_rotation_eval(int64_t rotate_every, int64_t rotated_at, int state,
                   int64_t at, int64_t due_within, struct envx_rotation *out)
{
	int64_t deadline = envx_rotation_deadline(rotate_every, rotated_at);

	memset(out, 0, sizeof(*out));
	out->deadline = deadline;
	out->age = span(at, rotated_at);
	out->remaining = deadline != 0 ? span(deadline, at) : 0;
	if (due_within < 0) {
		due_within = 0;
	}
	if (state == ENVX_STATE_COMPROMISED) {
		out->status = ENVX_ROTATION_COMPROMISED;
	} else if (deadline == 0) {
		out->status = ENVX_ROTATION_UNSCHEDULED;
	} else if (out->remaining <= 0) {
		out->status = ENVX_ROTATION_OVERDUE;
	} else if (out->remaining <= due_within) {
		out->status = ENVX_ROTATION_DUE;
	} else {
		out->status = ENVX_ROTATION_OK;
	}
}

const char *
envx_rotation_status_name(int status)
{
	switch (status) {
	case ENVX_ROTATION_OK:
		return "ok";
	case ENVX_ROTATION_DUE:
		return "due";
	case ENVX_ROTATION_OVERDUE:
		return "overdue";
	case ENVX_ROTATION_COMPROMISED:
		return "compromised";
	case ENVX_ROTATION_UNSCHEDULED:
		return "unscheduled";
	default:
		return "?";
	}
}

bool
envx_rotation_failing(int status)
{
	return status == ENVX_ROTATION_OVERDUE ||
	       status == ENVX_ROTATION_COMPROMISED;
}

void
envx_rotation_span_format(int64_t seconds, char *out, size_t outsz)
{
	/* by magnitude; INT64_MIN has none in int64_t */
	uint64_t s = seconds < 0 ? (uint64_t)0 - (uint64_t)seconds
	                         : (uint64_t)seconds;

	if (s >= 86400) {
		snprintf(out, outsz, "%llud", (unsigned long long)(s / 86400));
	} else {
		snprintf(out, outsz, "%lluh", (unsigned long long)(s / 3600));
	}
}

/* Reads exactly n digits at *p into *v; advances *p. */
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

static bool
expect(const char **p, char c)
{
	if (**p != c) {
		return false;
	}
	(*p)++;
	return true;
}

static int
month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
	                           31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, by
 * counting from March so the leap day ends the year. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t yy = m <= 2 ? y - 1 : y;
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
envx_rotation_date_parse(const char *text, int64_t *t, struct envx_error *err)
{
	const char *p = text;
	int y;
	int mo;
	int d;
	int h = 0;
	int mi = 0;
	int s = 0;

	if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) ||
	    !expect(&p, '-') || !digits(&p, 2, &d) || y < 1970 || mo < 1 ||
	    mo > 12 || d < 1 || d > month_days(y, mo)) {
		goto bad;
	}
	if (*p == 'T') {
		p++;
		if (!digits(&p, 2, &h) || !expect(&p, ':') ||
		    !digits(&p, 2, &mi) || !expect(&p, ':') ||
		    !digits(&p, 2, &s) || !expect(&p, 'Z') || h > 23 ||
		    mi > 59 || s > 59) {
			goto bad;
		}
	}
	if (*p != '\0') {
		goto bad;
	}
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
bad:
	return envx_error_set(err, ENVX_E_USAGE,
	                      "invalid date '%.40s': expected YYYY-MM-DD or "
	                      "YYYY-MM-DDTHH:MM:SSZ (UTC)",
	                      text);
}

int
envx_timeout_parse(const char *text, int64_t *ms, struct envx_error *err)
{
	static const struct envx_unit units[] = {
	        {'s', 1}, {'m', 60}, {'h', 3600}};
	int64_t seconds;

	if (envx_span_parse(text, units, sizeof(units) / sizeof(units[0]),
	                    86400, 86400, &seconds) == 0) {
		*ms = seconds * 1000;
		return 0;
	}
	return envx_error_set(err, ENVX_E_USAGE,
	                      "invalid timeout '%.32s': expected a positive "
	                      "number followed by s, m or h, at most 24h "
	                      "(e.g. 90s)",
	                      text);
}
