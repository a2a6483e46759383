/*
 * The template check (DESIGN §6): parse a dotenv template such as
 * .env.example with its annotations, compare it with one or more
 * environments, and render the findings as a table or as JSON. Nothing here
 * prints or exits; findings never contain a value.
 */
#ifndef ENVX_TEMPLATE_H
#define ENVX_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"
#include "envx/util.h"

/* ---- types (@type T) ---- */

enum envx_template_type_kind {
	ENVX_TYPE_STRING = 0, /* anything; the default */
	ENVX_TYPE_INT,        /* [+-]digits, fits in int64 */
	ENVX_TYPE_PORT,       /* digits, 1..65535 */
	ENVX_TYPE_BOOL,       /* true/false/1/0/yes/no/on/off, any case */
	ENVX_TYPE_URL,        /* scheme://[userinfo@]host[:port][/...] */
	ENVX_TYPE_EMAIL,      /* local@domain.tld, no spaces */
	ENVX_TYPE_HOSTNAME,   /* RFC 1123 host name */
	ENVX_TYPE_ENUM,       /* enum(a,b,...): exactly one of the choices */
	ENVX_TYPE_REGEX,      /* regex(ERE): matches the whole value */
};

/*
 * A parsed type. spec is the text as written after @type ("port",
 * "enum(a,b)"), NULL for the implicit string type. choices are the enum's
 * choices; regex is a compiled regex_t (private). Caller-owned storage;
 * release frees the members.
 */
struct envx_template_type {
	enum envx_template_type_kind kind;
	char *spec;
	char **choices;
	size_t nchoices;
	void *regex;
};

/*
 * Parses a type (the text after "@type ") into type, which must be zeroed.
 * Returns 0, or ENVX_E_INPUT with a message (no file or line: the caller adds
 * them) for an unknown type, an empty or malformed enum(), or a regex() that
 * does not compile.
 */
int envx_template_type_parse(const char *text, struct envx_template_type *type,
                             struct envx_error *err);
/* Frees the members and zeroes type; accepts a zeroed type. */
void envx_template_type_release(struct envx_template_type *type);
/*
 * True when value[0..len) is valid for type. value need not be
 * NUL-terminated; a NUL byte makes every type but string fail. Runs in time
 * linear in len (plus the regex engine for regex()).
 */
bool envx_template_type_check(const struct envx_template_type *type,
                              const unsigned char *value, size_t len);
/* "string", "port", "enum(a,b)", ...: the spec, never NULL. */
const char *envx_template_type_name(const struct envx_template_type *type);

/* ---- the template ---- */

/* Why a name is optional: the reason is shown in the report. */
enum envx_template_optional {
	ENVX_TEMPLATE_REQUIRED = 0,
	ENVX_TEMPLATE_OPTIONAL_ANNOTATION, /* @optional */
	ENVX_TEMPLATE_OPTIONAL_INLINE,     /* "# optional" on the NAME= line */
	ENVX_TEMPLATE_OPTIONAL_COMMENTED,  /* "# NAME=" commented out */
};

/* One name of the template. Strings are owned by the template. */
struct envx_template_var {
	char *name;
	unsigned line; /* line of NAME= (or of "# NAME=") */
	enum envx_template_optional optional;
	bool shared;          /* @shared */
	int64_t rotate_every; /* @rotate, in seconds; 0 when none */
	unsigned rotate_line; /* line of the @rotate annotation */
	struct envx_template_type type;
	char *description; /* non-annotation comment text above; NULL if none */
};

/*
 * A parsed template. vars are in file order, one per distinct name; the
 * value written in the template for vars[i] is pair i of values (a
 * sodium_malloc arena: a template value may be a leaked secret). Read-only
 * for callers; free with envx_template_free.
 */
struct envx_template {
	char *path; /* display name used in messages */
	struct envx_template_var *vars;
	size_t nvars;
	struct envx_kvset values;
	size_t *sorted; /* private: indexes of vars sorted by name */
};

/*
 * The leak check compares template values of type string, url or regex that
 * are at least this long (after trimming whitespace) with the real values:
 * shorter placeholders ("true", "info", "3000") are defaults, not secrets.
 */
#define ENVX_TEMPLATE_LEAK_MIN_BYTES 8

/* Largest template file accepted by envx_template_load. */
#define ENVX_TEMPLATE_MAX_BYTES ((size_t)16 * 1024 * 1024)

/*
 * Parses data[0..len) (dotenv syntax, "# NAME=" lines included) into a new
 * template stored in *out. display_name names the file in messages and in
 * the report (it is copied). Returns 0, or ENVX_E_INPUT with a
 * "FILE:LINE: ..." message for a dotenv syntax error, an invalid name, a name
 * assigned twice, an unknown or malformed annotation, or an annotation that
 * is not directly above a name; ENVX_E_INTERNAL when out of memory. *out is
 * NULL on failure.
 */
int envx_template_parse(const char *data, size_t len, const char *display_name,
                        struct envx_template **out, struct envx_error *err);
/*
 * Reads path (following symlinks; "-" is standard input) and parses it as
 * envx_template_parse does, path being the display name. Returns also
 * ENVX_E_NOTFOUND when the file does not exist and ENVX_E_IO when it cannot
 * be read. The file's bytes are wiped from memory after parsing.
 */
int envx_template_load(const char *path, struct envx_template **out,
                       struct envx_error *err);
/* Frees t and wipes its values; accepts NULL. */
void envx_template_free(struct envx_template *t);
/* The var named name, or NULL. O(log n). */
const struct envx_template_var *
envx_template_find(const struct envx_template *t, const char *name);
/* The value written in the template for vars[i] (NUL-terminated), with its
 * length in *len. The pointer is valid until the template is freed. */
const unsigned char *envx_template_value(const struct envx_template *t,
                                         size_t i, size_t *len);
/* True when vars[i] is required (not optional for any reason). */
bool envx_template_required(const struct envx_template *t, size_t i);

/* ---- checking environments ---- */

/* A secret's name and metadata: known without the environment's key. */
struct envx_check_secret {
	const char *name;
	int64_t rotate_every; /* seconds; 0 when unscheduled */
};

/*
 * One environment to check, filled by the caller from the vault. values
 * holds the decrypted values (any order, names matching secrets), or is
 * NULL when the caller cannot unlock the environment: then only name and
 * rotation checks run and an info finding says value checks were skipped.
 */
struct envx_check_env {
	const char *name;
	const struct envx_check_secret *secrets;
	size_t nsecrets;
	const struct envx_kvset *values;
};

enum envx_check_flags {
	/* An extra name is an error, not a warning. */
	ENVX_CHECK_STRICT = 1 << 0,
	/* Several environments: the matrix and the reuse check. */
	ENVX_CHECK_ALL = 1 << 1,
};

enum envx_severity {
	ENVX_SEVERITY_INFO = 0,
	ENVX_SEVERITY_WARNING,
	ENVX_SEVERITY_ERROR,
};

enum envx_finding_kind {
	ENVX_FINDING_MISSING = 0, /* required and not set */
	ENVX_FINDING_EMPTY,       /* required and empty or only whitespace */
	ENVX_FINDING_EXTRA,       /* set in the env, not in the template */
	ENVX_FINDING_TYPE,        /* value does not match @type */
	ENVX_FINDING_ROTATION,    /* schedule missing or not the @rotate one */
	ENVX_FINDING_LEAK,        /* a template value is a real secret value */
	ENVX_FINDING_REUSE,       /* same value for a name in two envs */
	ENVX_FINDING_SKIPPED,     /* env locked: value checks skipped */
};

/*
 * One finding. env and name are copies; line is the template line it
 * concerns (0 for an extra name). other_env names the second environment of
 * a reuse; other_name the secret whose value a leaking template value
 * equals. message is a full sentence fragment that never contains a value.
 */
struct envx_finding {
	enum envx_severity severity;
	enum envx_finding_kind kind;
	char *env;
	char *name; /* NULL for a skipped finding */
	unsigned line;
	char *other_env;
	char *other_name;
	char *message;
};

/* State of one name in one environment, for the matrix. */
enum envx_cell {
	ENVX_CELL_OK = 0,     /* set, and valid as far as checked */
	ENVX_CELL_MISSING,    /* required and not set */
	ENVX_CELL_ABSENT,     /* optional (or extra elsewhere) and not set */
	ENVX_CELL_EMPTY,      /* set, empty or only whitespace */
	ENVX_CELL_BAD_TYPE,   /* set, not of the @type */
	ENVX_CELL_EXTRA,      /* set, not in the template */
	ENVX_CELL_UNVERIFIED, /* set; value not checked (env locked) */
};

struct envx_findings_env {
	char *name;
	bool unlocked;
};

/*
 * The result of a check: findings in report order (environment by
 * environment, template order, then extras, then reuse), counts per
 * severity, and the matrix: rows are the template's names in file order then
 * the extra names sorted, cells[row * nenvs + env]. Caller-owned storage:
 * init before the check, release after.
 */
struct envx_findings {
	char *template_path;
	unsigned flags;
	struct envx_finding *items;
	size_t count;
	size_t cap;
	size_t errors;
	size_t warnings;
	size_t infos;
	struct envx_findings_env *envs;
	size_t nenvs;
	char **rows;
	unsigned *row_lines; /* template line of each row, 0 for extras */
	size_t nrows;
	enum envx_cell *cells;
};

void envx_findings_init(struct envx_findings *f);
/* Frees everything; accepts an initialized or released f. */
void envx_findings_release(struct envx_findings *f);

/*
 * Checks envs[0..nenvs) against t and stores the findings in out (which must
 * be initialized and empty). Returns 0 when the check ran, whatever it found
 * (out->errors > 0 means exit status 1), or ENVX_E_INPUT for an invalid
 * argument (no env, an env name given twice), ENVX_E_INTERNAL when out of
 * memory; out is then released and empty. Time is O(n log n) in the number
 * of names and values; values are compared with sodium_memcmp.
 */
int envx_template_check(const struct envx_template *t,
                        const struct envx_check_env *envs, size_t nenvs,
                        unsigned flags, struct envx_findings *out,
                        struct envx_error *err);

/* Names used in reports and JSON: "error", "missing", "ok", ... */
const char *envx_findings_severity_name(enum envx_severity s);
const char *envx_findings_kind_name(enum envx_finding_kind k);
const char *envx_findings_cell_name(enum envx_cell c);

/*
 * Appends a readable report to out: with ENVX_CHECK_ALL (or several envs) a
 * matrix of name x environment first, then a table of findings and a summary
 * line. colour adds ANSI colours; the caller decides (a TTY and no
 * NO_COLOR). Returns 0 or the envx_buf error (ENVX_E_INPUT past out's max).
 */
int envx_findings_render_text(const struct envx_findings *f, bool colour,
                              struct envx_buf *out, struct envx_error *err);
/*
 * Appends the findings as one JSON object and a newline to out, in the shape
 * documented in envx-check(1). Returns 0, ENVX_E_INTERNAL when out of
 * memory, or the envx_buf error.
 */
int envx_findings_render_json(const struct envx_findings *f,
                              struct envx_buf *out, struct envx_error *err);

#endif
