/*
 * Parsing git's raw, NUL-separated listings of the index and the history
 * for `envx scan` (git itself runs through envx_git_spawn, envx/util.h).
 */
#include <stdbool.h>
#include <string.h>

#include "envx/scan.h"
#include "envx/util.h"
#include "util/banned.h"

static bool
is_oid(const char *s, size_t n)
{
	size_t i;

	if (n != 40 && n != 64) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

int
envx_scan_git_raw_parse(char *buf, size_t len,
                        int (*fn)(void *ctx, const struct envx_scan_blob *b),
                        void *ctx, struct envx_error *err)
{
	const char *commit = "";
	bool bad = false;
	size_t i = 0;

	while (i < len) {
		char *tok = buf + i;
		char *end = memchr(tok, '\0', len - i);
		size_t tlen;

		if (end == NULL) {
			end = buf + len;
		}
		*end = '\0';
		tlen = (size_t)(end - tok);
		i += tlen + 1;
		while (*tok == '\n') {
			tok++;
			tlen--;
		}
		if (tlen == 0) {
			continue;
		}
		if (strncmp(tok, "commit ", 7) == 0) {
			if (!is_oid(tok + 7, tlen - 7)) {
				bad = true;
				break;
			}
			commit = tok + 7;
			continue;
		}
		/* ":OLDMODE NEWMODE OLDOID NEWOID STATUS", then the path */
		{
			char *f[5];
			char *p = tok + 1;
			size_t k;
			struct envx_scan_blob b;
			char *path;
			int r;

			if (tok[0] != ':') {
				bad = true;
				break;
			}
			for (k = 0; k < 5; k++) {
				f[k] = p;
				p = strchr(p, ' ');
				if (p == NULL && k < 4) {
					break;
				}
				if (p != NULL) {
					*p++ = '\0';
				}
			}
			if (k < 5 || i >= len || !is_oid(f[3], strlen(f[3]))) {
				bad = true;
				break;
			}
			path = buf + i;
			end = memchr(path, '\0', len - i);
			if (end == NULL) {
				bad = true;
				break;
			}
			i += (size_t)(end - path) + 1;
			/* a deletion has no new blob; 160000 is a submodule */
			if (f[4][0] == 'D' || strcmp(f[1], "160000") == 0 ||
			    strspn(f[3], "0") == strlen(f[3])) {
				continue;
			}
			b.oid = f[3];
			b.commit = commit;
			b.path = path;
			r = fn(ctx, &b);
			if (r != 0) {
				return r;
			}
		}
	}
	if (bad) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "unexpected output from git");
	}
	return 0;
}
