/*
 * git integration: `envx git setup` records the vault's merge driver and
 * textconv in the repository that holds it (.gitattributes, .git/config)
 * and, on request, a pre-commit hook that runs `envx scan --staged`.
 */
#ifndef ENVX_GIT_H
#define ENVX_GIT_H

#include <stdbool.h>

#include "envx/error.h"

/* The pre-commit hook `envx git setup --hooks` installs, byte for byte. */
extern const char envx_git_hook_text[];

/* Called once per change made (what: one line, e.g. "set merge.envx.name =
 * envx vault merge"), or with changed false for each thing already set. */
typedef void (*envx_git_change_fn)(void *ctx, bool changed, const char *what);

/*
 * Sets up the repository that contains vault_path: appends
 * "REL merge=envx diff=envx" to the repository root's .gitattributes
 * (REL: the vault's path from the root; existing lines kept), sets
 * merge.envx.name, merge.envx.driver and diff.envx.textconv with
 * `git config --local` where they differ, and with hooks installs the
 * pre-commit hook (mode 0755) unless a different one exists
 * (ENVX_E_INPUT, nothing of the hook changed). Idempotent. The commands
 * are found on PATH ("envx", "git"). ENVX_E_NOTFOUND when vault_path is
 * not inside a git work tree; ENVX_E_IO when git fails.
 */
int envx_git_setup(const char *vault_path, bool hooks, envx_git_change_fn fn,
                   void *ctx, struct envx_error *err);

#endif
