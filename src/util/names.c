/*
 * Name rules for secrets and environments, and the list of names that could
 * turn a committed vault into code execution on every developer's machine.
 */
#include <string.h>

#include "envx/util.h"
#include "util/banned.h"

bool
envx_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > ENVX_NAME_MAX_BYTES) {
		return false;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		             c == '_';
		bool digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && i > 0)) {
			return false;
		}
	}
	return true;
}

bool
envx_env_name_valid(const char *name)
{
	size_t i;
	size_t len = strlen(name);

	if (len == 0 || len > ENVX_ENV_NAME_MAX_BYTES) {
		return false;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool base = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!base && !(i > 0 && (c == '.' || c == '_' || c == '-'))) {
			return false;
		}
	}
	return true;
}

static bool
has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(name, prefix, n) == 0;
}

static bool
is(const char *name, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(name, word, len) == 0;
}

bool
envx_name_dangerous(const char *name, size_t len)
{
	return has_prefix(name, len, "LD_") || has_prefix(name, len, "DYLD_") ||
	       has_prefix(name, len, "BASH_FUNC_") ||
	       is(name, len, "BASH_ENV") || is(name, len, "ENV") ||
	       is(name, len, "SHELLOPTS") || is(name, len, "BASHOPTS") ||
	       is(name, len, "PS4") || is(name, len, "IFS");
}

int
envx_name_check(const char *name, struct envx_error *err)
{
	size_t len = strlen(name);

	if (!envx_name_valid(name, len)) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "invalid secret name '%.*s': names are "
		                      "letters, digits and '_', not starting "
		                      "with a digit",
		                      (int)(len > 64 ? 64 : len), name);
	}
	if (envx_name_dangerous(name, len)) {
		return envx_error_set(
		        err, ENVX_E_INPUT,
		        "refusing secret name '%s': it can hijack "
		        "a loader or shell",
		        name);
	}
	return 0;
}
