/*
 * The value types a template can require with "@type T": parsing the
 * annotation's argument and checking a value against it. Checks look at
 * bytes only and never copy a value into ordinary memory.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/template.h"
#include "util/banned.h"

static const struct {
	const char *name;
	enum envx_template_type_kind kind;
} simple_types[] = {
        {"bool", ENVX_TYPE_BOOL},         {"email", ENVX_TYPE_EMAIL},
        {"hostname", ENVX_TYPE_HOSTNAME}, {"int", ENVX_TYPE_INT},
        {"port", ENVX_TYPE_PORT},         {"string", ENVX_TYPE_STRING},
        {"url", ENVX_TYPE_URL},
};

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool
is_xdigit(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char *
dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL) {
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The text between "name(" and a final ")", or NULL when text is not of
 * that form. */
static const char *
call_arg(const char *text, const char *name, size_t *arglen)
{
	size_t nlen = strlen(name);
	size_t len = strlen(text);

	if (len < nlen + 2 || strncmp(text, name, nlen) != 0 ||
	    text[nlen] != '(' || text[len - 1] != ')') {
		return NULL;
	}
	*arglen = len - nlen - 2;
	return text + nlen + 1;
}

static int
parse_enum(const char *arg, size_t len, struct envx_template_type *type,
           struct envx_error *err)
{
	size_t i = 0;
	size_t n = 1;
	int r = ENVX_E_INTERNAL;

	for (size_t k = 0; k < len; k++) {
		if (arg[k] == ',') {
			n++;
		}
	}
	type->choices = calloc(n, sizeof(*type->choices));
	if (type->choices == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	while (type->nchoices < n) {
		size_t start = i;
		size_t end;

		while (i < len && arg[i] != ',') {
			i++;
		}
		end = i;
		while (start < end && is_space((unsigned char)arg[start])) {
			start++;
		}
		while (end > start && is_space((unsigned char)arg[end - 1])) {
			end--;
		}
		if (start == end) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "empty choice in enum(): expected "
			                   "enum(a,b,...)");
			goto out;
		}
		type->choices[type->nchoices] =
		        dup_range(arg + start, end - start);
		if (type->choices[type->nchoices] == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
		type->nchoices++;
		i++; /* the comma */
	}
	r = 0;
out:
	return r;
}

static int
parse_regex(const char *arg, size_t len, struct envx_template_type *type,
            struct envx_error *err)
{
	regex_t *re = NULL;
	char *pattern = NULL;
	int rc;
	int r = ENVX_E_INTERNAL;

	if (len == 0) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "empty regex(): expected regex(PATTERN)");
		goto out;
	}
	pattern = dup_range(arg, len);
	re = calloc(1, sizeof(*re));
	if (pattern == NULL || re == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	/* No REG_NOSUB: the match offsets tell whether the whole value
	 * matched, so the pattern is used as written, never rewritten. */
	rc = regcomp(re, pattern, REG_EXTENDED);
	if (rc != 0) {
		char why[128];

		regerror(rc, re, why, sizeof(why));
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "invalid regex() in @type: %s", why);
		free(re);
		re = NULL;
		goto out;
	}
	type->regex = re;
	re = NULL;
	r = 0;
out:
	free(re);
	free(pattern);
	return r;
}

int
envx_template_type_parse(const char *text, struct envx_template_type *type,
                         struct envx_error *err)
{
	const char *arg;
	size_t arglen = 0;
	int r = ENVX_E_INTERNAL;

	memset(type, 0, sizeof(*type));
	type->spec = dup_range(text, strlen(text));
	if (type->spec == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sizeof(simple_types) / sizeof(simple_types[0]);
	     i++) {
		if (strcmp(text, simple_types[i].name) == 0) {
			type->kind = simple_types[i].kind;
			r = 0;
			goto out;
		}
	}
	arg = call_arg(text, "enum", &arglen);
	if (arg != NULL) {
		type->kind = ENVX_TYPE_ENUM;
		r = parse_enum(arg, arglen, type, err);
		goto out;
	}
	arg = call_arg(text, "regex", &arglen);
	if (arg != NULL) {
		type->kind = ENVX_TYPE_REGEX;
		r = parse_regex(arg, arglen, type, err);
		goto out;
	}
	if (text[0] == '\0') {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "@type needs a type (string, int, port, "
		                   "bool, url, email, hostname, enum(...), "
		                   "regex(...))");
	} else {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "unknown type '%.64s' in @type (known: "
		                   "string, int, port, bool, url, email, "
		                   "hostname, enum(...), regex(...))",
		                   text);
	}
out:
	if (r < 0) {
		envx_template_type_release(type);
	}
	return r;
}

void
envx_template_type_release(struct envx_template_type *type)
{
	if (type == NULL) {
		return;
	}
	for (size_t i = 0; i < type->nchoices; i++) {
		free(type->choices[i]);
	}
	free(type->choices);
	if (type->regex != NULL) {
		regfree(type->regex);
		free(type->regex);
	}
	free(type->spec);
	memset(type, 0, sizeof(*type));
}

const char *
envx_template_type_name(const struct envx_template_type *type)
{
	return type->spec != NULL ? type->spec : "string";
}

/* [+-]?[0-9]+ within int64. */
static bool
check_int(const unsigned char *v, size_t len)
{
	size_t i = 0;
	bool neg = false;
	uint64_t n = 0;
	uint64_t limit;

	if (i < len && (v[i] == '+' || v[i] == '-')) {
		neg = v[i] == '-';
		i++;
	}
	if (i == len) {
		return false;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (!is_digit(v[i])) {
			return false;
		}
		if (n > (limit - (uint64_t)(v[i] - '0')) / 10) {
			return false;
		}
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	return true;
}

/* Digits only, 1..65535; returns false past 5 significant digits. */
static bool
check_port(const unsigned char *v, size_t len)
{
	unsigned long n = 0;

	if (len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(v[i])) {
			return false;
		}
		n = n * 10 + (unsigned long)(v[i] - '0');
		if (n > 65535) {
			return false;
		}
	}
	return n >= 1;
}

static bool
equal_nocase(const unsigned char *v, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len && word[i] != '\0'; i++) {
		unsigned char c = v[i];

		if (c >= 'A' && c <= 'Z') {
			c = (unsigned char)(c - 'A' + 'a');
		}
		if (c != (unsigned char)word[i]) {
			return false;
		}
	}
	return i == len && word[i] == '\0';
}

static bool
check_bool(const unsigned char *v, size_t len)
{
	static const char *const words[] = {"true", "false", "1",  "0",
	                                    "yes",  "no",    "on", "off"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (equal_nocase(v, len, words[i])) {
			return true;
		}
	}
	return false;
}

/* RFC 1123 host name: dot-separated labels of 1-63 letters, digits and
 * hyphens, not starting or ending with a hyphen; at most 253 bytes, one
 * trailing dot allowed. Counts the labels in *nlabels. */
static bool
check_hostname_n(const unsigned char *v, size_t len, size_t *nlabels)
{
	size_t i = 0;

	*nlabels = 0;
	if (len > 0 && v[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len > 253) {
		return false;
	}
	while (i <= len) {
		size_t start = i;

		while (i < len && v[i] != '.') {
			if (!is_alnum(v[i]) && v[i] != '-') {
				return false;
			}
			i++;
		}
		if (i == start || i - start > 63 || v[start] == '-' ||
		    v[i - 1] == '-') {
			return false;
		}
		(*nlabels)++;
		i++; /* the dot, or past the end */
	}
	return true;
}

static bool
check_hostname(const unsigned char *v, size_t len)
{
	size_t n;

	return check_hostname_n(v, len, &n);
}

/* Pragmatic address: one '@', a dot-atom local part of at most 64 bytes,
 * a host name with at least two labels and a non-numeric last one. */
static bool
check_email(const unsigned char *v, size_t len)
{
	static const char specials[] = "!#$%&'*+/=?^_`{|}~.-";
	const unsigned char *at = NULL;
	size_t local;
	size_t nlabels;
	size_t last;
	bool alpha = false;

	if (len > 254) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '@') {
			if (at != NULL) {
				return false;
			}
			at = v + i;
		}
	}
	if (at == NULL) {
		return false;
	}
	local = (size_t)(at - v);
	if (local == 0 || local > 64 || v[0] == '.' || v[local - 1] == '.') {
		return false;
	}
	for (size_t i = 0; i < local; i++) {
		if (!is_alnum(v[i]) &&
		    (v[i] == '\0' || strchr(specials, v[i]) == NULL)) {
			return false;
		}
		if (v[i] == '.' && v[i + 1] == '.') {
			return false;
		}
	}
	if (!check_hostname_n(at + 1, len - local - 1, &nlabels) ||
	    nlabels < 2 || v[len - 1] == '.') {
		return false;
	}
	last = len;
	while (last > local + 1 && v[last - 1] != '.') {
		last--;
	}
	for (size_t i = last; i < len; i++) {
		alpha = alpha || is_alpha(v[i]);
	}
	return alpha;
}

static bool
url_host_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~%!$&'()*+,;=", c));
}

/* scheme "://" [userinfo "@"] host [":" port] [path, query, fragment]; a
 * host is required, so file:///x is not a url. */
static bool
check_url(const unsigned char *v, size_t len)
{
	size_t i = 0;
	size_t auth;
	size_t end;
	size_t host;
	size_t host_end;

	for (size_t k = 0; k < len; k++) {
		if (v[k] <= 0x20 || v[k] == 0x7f) {
			return false;
		}
	}
	if (len == 0 || !is_alpha(v[0])) {
		return false;
	}
	while (i < len &&
	       (is_alnum(v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.')) {
		i++;
	}
	if (len - i < 3 || memcmp(v + i, "://", 3) != 0) {
		return false;
	}
	auth = i + 3;
	end = auth;
	while (end < len && v[end] != '/' && v[end] != '?' && v[end] != '#') {
		end++;
	}
	host = auth;
	for (size_t k = auth; k < end; k++) {
		if (v[k] == '@') {
			host = k + 1; /* the last '@' ends the userinfo */
		}
	}
	for (size_t k = auth; k + 1 < host; k++) {
		if (v[k] >= 0x80) {
			return false;
		}
	}
	if (host < end && v[host] == '[') {
		host_end = host + 1;
		while (host_end < end && v[host_end] != ']') {
			if (!is_xdigit(v[host_end]) && v[host_end] != ':' &&
			    v[host_end] != '.') {
				return false;
			}
			host_end++;
		}
		if (host_end == end || host_end == host + 1) {
			return false;
		}
		host_end++;
	} else {
		host_end = host;
		while (host_end < end && v[host_end] != ':') {
			if (!url_host_char(v[host_end])) {
				return false;
			}
			host_end++;
		}
		if (host_end == host) {
			return false;
		}
	}
	if (host_end < end) {
		if (v[host_end] != ':' ||
		    !check_port(v + host_end + 1, end - host_end - 1)) {
			return false;
		}
	}
	return true;
}

static bool
check_enum(const struct envx_template_type *type, const unsigned char *v,
           size_t len)
{
	for (size_t i = 0; i < type->nchoices; i++) {
		const char *c = type->choices[i];

		if (strlen(c) == len && memcmp(c, v, len) == 0) {
			return true;
		}
	}
	return false;
}

static bool
check_regex(const struct envx_template_type *type, const unsigned char *v,
            size_t len)
{
	regmatch_t m[1];
	bool ok = false;

#ifdef REG_STARTEND
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	ok = regexec(type->regex, (const char *)v, 1, m, REG_STARTEND) == 0 &&
	     m[0].rm_so == 0 && (size_t)m[0].rm_eo == len;
#else
	/* Without REG_STARTEND regexec needs a terminated copy; keep it in
	 * sodium_malloc memory since the value is a secret. */
	char *copy = sodium_malloc(len + 1);

	if (copy == NULL) {
		return false;
	}
	memcpy(copy, v, len);
	copy[len] = '\0';
	ok = regexec(type->regex, copy, 1, m, 0) == 0 && m[0].rm_so == 0 &&
	     (size_t)m[0].rm_eo == len;
	sodium_free(copy);
#endif
	return ok;
}

bool
envx_template_type_check(const struct envx_template_type *type,
                         const unsigned char *value, size_t len)
{
	if (type->kind == ENVX_TYPE_STRING) {
		return true;
	}
	if (memchr(value, '\0', len) != NULL) {
		return false;
	}
	switch (type->kind) {
	case ENVX_TYPE_STRING:
		return true;
	case ENVX_TYPE_INT:
		return check_int(value, len);
	case ENVX_TYPE_PORT:
		return check_port(value, len);
	case ENVX_TYPE_BOOL:
		return check_bool(value, len);
	case ENVX_TYPE_URL:
		return check_url(value, len);
	case ENVX_TYPE_EMAIL:
		return check_email(value, len);
	case ENVX_TYPE_HOSTNAME:
		return check_hostname(value, len);
	case ENVX_TYPE_ENUM:
		return check_enum(type, value, len);
	case ENVX_TYPE_REGEX:
		return check_regex(type, value, len);
	}
	return false;
}
