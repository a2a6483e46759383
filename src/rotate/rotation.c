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

int
envx_rotation_date_parse(const char *text, int64_t *t, struct envx_error *err)
{
	if (envx_date_parse(text, t) == 0) {
		return 0;
	}
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
