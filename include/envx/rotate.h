/*
 * Rotation (DESIGN §7): the status rules that turn a secret's schedule,
 * last rotation and state into ok / due / overdue / compromised /
 * unscheduled at a given time, and the generator of new random values
 * that `envx set --generate` and `envx rotate --generate` share. Pure
 * logic: nothing here touches the vault, prints or exits.
 */
#ifndef ENVX_ROTATE_H
#define ENVX_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"
#include "envx/util.h"

enum envx_rotation_status {
	ENVX_ROTATION_OK = 0,
	ENVX_ROTATION_DUE,
	ENVX_ROTATION_OVERDUE,
	ENVX_ROTATION_COMPROMISED,
	ENVX_ROTATION_UNSCHEDULED,
};

/* A secret is due this long before its deadline unless told otherwise. */
#define ENVX_ROTATION_DUE_WITHIN_DEFAULT ((int64_t)14 * 86400)

/*
 * The time by which a value written at rotated_at must be replaced:
 * rotated_at + rotate_every, saturating at INT64_MAX. 0 when unscheduled
 * (rotate_every <= 0).
 */
int64_t envx_rotation_deadline(int64_t rotate_every, int64_t rotated_at);

/* One secret's rotation status at a point in time. */
struct envx_rotation {
	int status;        /* enum envx_rotation_status */
	int64_t deadline;  /* envx_rotation_deadline; 0: unscheduled */
	int64_t age;       /* at - rotated_at (negative if at is earlier) */
	int64_t remaining; /* deadline - at (negative: overdue by); 0 when
	                      unscheduled */
};

/*
 * The rules, in order: a compromised state (enum envx_secret_state) is
 * compromised whatever the schedule; no schedule (rotate_every <= 0) is
 * unscheduled; at at or past the deadline, overdue; at within due_within
 * seconds before it (due_within < 0 counts as 0), due; else ok.
 */
void envx_rotation_eval(int64_t rotate_every, int64_t rotated_at, int state,
                        int64_t at, int64_t due_within,
                        struct envx_rotation *out);
/* "ok", "due", "overdue", "compromised", "unscheduled" ("?" otherwise). */
const char *envx_rotation_status_name(int status);
/* Whether status fails `envx rotation --check` (overdue, compromised). */
bool envx_rotation_failing(int status);
/* A span of seconds for people: whole days ("95d"), else whole hours
 * ("5h"), else "0h"; a negative span is formatted by its magnitude. */
void envx_rotation_span_format(int64_t seconds, char *out, size_t outsz);

/*
 * Parses a point in time given on the command line: YYYY-MM-DD (00:00:00
 * UTC that day) or YYYY-MM-DDTHH:MM:SSZ, strictly (a day that does not
 * exist, such as 2025-02-30, is refused). ENVX_E_USAGE otherwise.
 */
int envx_rotation_date_parse(const char *text, int64_t *t,
                             struct envx_error *err);
/*
 * Parses a hook timeout: a positive number followed by s, m or h ("30s",
 * "5m", "2h"), at most 24h, into milliseconds. ENVX_E_USAGE otherwise.
 */
int envx_timeout_parse(const char *text, int64_t *ms, struct envx_error *err);

/* ---- generated values ---- */

enum envx_charset {
	ENVX_CHARSET_ALNUM = 0, /* A-Z a-z 0-9 (62) */
	ENVX_CHARSET_HEX,       /* 0-9 a-f (16) */
	ENVX_CHARSET_BASE64URL, /* A-Z a-z 0-9 - _ (64) */
	ENVX_CHARSET_PRINTABLE, /* ASCII ! to ~, no space (94) */
};

/* The charset named name ("alnum", "hex", "base64url", "printable") into
 * *charset; ENVX_E_USAGE naming the choices otherwise. */
int envx_charset_parse(const char *name, int *charset, struct envx_error *err);
const char *envx_charset_name(int charset);
/* The charset's characters, NUL-terminated (NULL for an unknown one). */
const char *envx_charset_chars(int charset);

/*
 * len random characters of charset, each drawn uniformly (no modulo bias)
 * from libsodium's CSPRNG, into out (initialized here, capacity len + 1,
 * NUL-terminated; release with envx_secbuf_release). ENVX_E_USAGE for an
 * unknown charset or len 0.
 */
int envx_generate(size_t len, int charset, struct envx_secbuf *out,
                  struct envx_error *err);

#endif
