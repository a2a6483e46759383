/*
 * The command table: the single source of truth for command names, what
 * each needs, its usage line and options. `envx help`, the completion
 * scripts (through `envx __complete`) and the man-page tests all read it.
 */
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

static const char *const none[] = {NULL};
static const char *const opts_init[] = {"--env", NULL};
static const char *const opts_access[] = {"--label", "--role", "--new-key",
                                          "--passphrase", NULL};
static const char *const subs_access[] = {"list", "grant", "revoke", "accept",
                                          NULL};
static const char *const subs_trust[] = {"reset", NULL};
static const char *const opts_identity[] = {"--passphrase", "--output", "-o",
                                            "--force", NULL};
static const char *const subs_identity[] = {"new", "show", NULL};
static const char *const opts_env[] = {"--force", "--remove", NULL};
static const char *const subs_env[] = {"list", "add", "rm", "allow", NULL};
static const char *const opts_set[] = {
        "--rotate-every", "--description", "--generate", "--charset",
        "--raw",          "--allow-empty", NULL};
static const char *const opts_rotation[] = {"--check", "--at", "--due-within",
                                            NULL};
static const char *const opts_rotate[] = {
        "--generate", "--charset", "--raw",    "--allow-empty",
        "--run",      "--timeout", "--reason", NULL};

static const char *const opts_check[] = {"--template", "--strict", "--all",
                                         NULL};
static const char *const opts_exec[] = {"--template",           "--only",
                                        "--keep-existing",      "--redact",
                                        "--refuse-compromised", NULL};
static const char *const opts_export[] = {"--format", NULL};
static const char *const opts_import[] = {"--lenient", NULL};
static const char *const opts_incident[] = {"--reason", "--revoke", NULL};
static const char *const opts_agent[] = {"--ttl", "--foreground", "--stop",
                                         "--status", NULL};
static const char *const opts_sync[] = {
        "--repo",           "--environment", "--prune", "--dry-run",
        "--write-interval", "--max-wait",    NULL};
static const char *const subs_sync[] = {"github", "status", NULL};
static const char *const opts_git[] = {"--hooks", NULL};
static const char *const subs_git[] = {"setup", NULL};
static const char *const opts_scan[] = {"--git-history", "--staged", "--all",
                                        "--env", NULL};
static const char *const opts_audit[] = {"--since", "--name", "--verify", NULL};

static const struct envx_optdoc docs_none[] = {{NULL, NULL, NULL}};
static const struct envx_optdoc docs_init[] = {
        {"--env", "NAME",
         "create this environment (repeat it; default: local, staging, "
         "production)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_identity[] = {
        {"--passphrase", NULL,
         "new: protect the secret key with a passphrase (Argon2id)"},
        {"--output", "FILE", "new: write the identity to FILE"},
        {"-o", "FILE", "the same as --output"},
        {"--force", NULL, "new: overwrite an existing identity file"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_access[] = {
        {"--label", "LABEL",
         "grant: who the key belongs to (unique in the environment)"},
        {"--role", "read|write|admin",
         "grant: what the key may do (default: write for an envxpub2 key, "
         "read for an envxpub1 key); granting a label again changes its "
         "role"},
        {"--new-key", NULL,
         "grant: make a fresh identity (for CI), print its secret text once "
         "on standard output and keep only its public half"},
        {"--passphrase", NULL,
         "grant: add a passphrase recipient (read only), the passphrase "
         "from --passphrase-file, $ENVX_PASSPHRASE or asked twice"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_env[] = {
        {"--force", NULL, "rm: delete an environment that still holds secrets"},
        {"--remove", NULL,
         "allow: withdraw the allowance (the secret stays, exec and export "
         "skip it)"},
        {NULL, NULL, NULL}};
#define DOCS_VALUE                                                             \
	{"--generate", "[=LEN]",                                               \
	 "store LEN (default 32) random characters instead of reading a "      \
	 "value"},                                                             \
	        {"--charset", "alnum|hex|base64url|printable",                 \
	         "with --generate: the characters to draw from (default "      \
	         "alnum)"},                                                    \
	        {"--raw", NULL, "keep a trailing newline of standard input"},  \
	{                                                                      \
		"--allow-empty", NULL,                                         \
		        "store an empty value (refused otherwise)"             \
	}
static const struct envx_optdoc docs_set[] = {
        {"--rotate-every", "DUR",
         "rotation schedule: a number and h, d or w (90d, 12w)"},
        {"--description", "TEXT", "what the secret is for (not secret)"},
        DOCS_VALUE,
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_rotation[] = {
        {"--check", NULL,
         "exit 1 when a secret is overdue or compromised, 3 when an "
         "environment cannot be verified (the CI gate)"},
        {"--at", "YYYY-MM-DD",
         "the status at that date (00:00 UTC) instead of now"},
        {"--due-within", "DUR",
         "how close to its deadline a secret is due (default 14d)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_rotate[] = {
        DOCS_VALUE,
        {"--run", "CMD",
         "first run CMD with /bin/sh -c, ENVX_NEW_VALUE and ENVX_OLD_VALUE "
         "in its environment; record the value only if it exits 0"},
        {"--timeout", "DUR",
         "stop the hook's process group after DUR (30s, 5m, 1h; exit 124)"},
        {"--reason", "TEXT", "why, for the audit log (never a value)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_check[] = {
        {"--template", "FILE",
         "the template to check against (default ./.env.example; - for "
         "standard input)"},
        {"--strict", NULL,
         "a name set but not in the template is an error, not a warning"},
        {"--all", NULL,
         "check every environment and look for values reused across them"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_exec[] = {
        {"--template", "FILE",
         "inject only the template's names; refuse to run when a required "
         "one is missing"},
        {"--only", "NAME,...",
         "inject only these names; exit 1 before running when one is "
         "missing"},
        {"--keep-existing", NULL,
         "variables already set win over vault values"},
        {"--redact", NULL,
         "stay the parent and replace every value in the command's output "
         "with [redacted:NAME]"},
        {"--refuse-compromised", NULL,
         "do not run the command (exit 1) when a secret it would get is "
         "compromised"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_export[] = {
        {"--format", "dotenv|json|shell|github",
         "output format (default dotenv; github appends to $GITHUB_ENV with "
         "masks)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_incident[] = {
        {"--reason", "TEXT",
         "what happened, for the audit log (required; one line)"},
        {"--revoke", "LABEL",
         "also revoke this recipient (repeatable), in the same transaction"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_agent[] = {
        {"--ttl", "DUR",
         "keep each key this long after it was handed over: N then s, m, "
         "h, d or w, at most 7d (default 8h)"},
        {"--foreground", NULL,
         "stay attached, logging to standard error, until Ctrl-C or "
         "--stop"},
        {"--stop", NULL, "stop the running agent; its keys are wiped"},
        {"--status", NULL,
         "print the running agent's pid and how many keys it holds"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_audit[] = {
        {"--since", "DATE",
         "list only events from DATE on (YYYY-MM-DD or "
         "YYYY-MM-DDTHH:MM:SSZ, UTC)"},
        {"--name", "NAME", "list only events about the secret NAME"},
        {"--verify", NULL,
         "check the whole hash chain instead of listing (filters select "
         "nothing); print the event count and the last hash"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_sync[] = {
        {"--repo", "OWNER/REPO",
         "the repository (default: $GITHUB_REPOSITORY, else the git "
         "remote 'origin' of the vault's directory)"},
        {"--environment", "NAME",
         "the GitHub environment (default: ENV's own name)"},
        {"--prune", NULL,
         "github: delete secrets envx pushed earlier that ENV no longer "
         "has (never one envx did not push)"},
        {"--dry-run", NULL, "github: print the plan, send no write"},
        {"--write-interval", "MS",
         "github: pause between writes (default 1000, or "
         "$ENVX_GITHUB_WRITE_INTERVAL_MS)"},
        {"--max-wait", "DUR",
         "github: the most to wait for rate limits in all, e.g. 90s, "
         "15m (default), 1h"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_git[] = {
        {"--hooks", NULL,
         "setup: also install .git/hooks/pre-commit running 'envx scan "
         "--staged' (an existing different hook is left alone: exit 7)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_scan[] = {
        {"--git-history", NULL,
         "scan every blob of every commit reachable from any ref (each "
         "once, named by the oldest commit that added it) instead of the "
         "working tree"},
        {"--staged", NULL,
         "scan what is about to be committed: the index's version of each "
         "staged file (the pre-commit hook)"},
        {"--all", NULL,
         "working tree: every file, also those .gitignore excludes (.git "
         "itself is never scanned)"},
        {"--env", "ENV",
         "look for ENV's values (repeatable; an argument that names an "
         "environment does the same)"},
        {NULL, NULL, NULL}};
static const struct envx_optdoc docs_import[] = {
        {"--lenient", NULL,
         "skip unparseable lines (with a warning) instead of importing "
         "nothing"},
        {NULL, NULL, NULL}};

const struct envx_command envx_commands[] = {
        {"__complete", cmd_complete, ENVX_CMD_HIDDEN, "__complete [WORD...]",
         "Print completion candidates (for shells).", none, none, docs_none,
         "0", "envx __complete exec --"},
        {"__refused", cmd_refused, ENVX_CMD_HIDDEN, "__refused",
         "Print the refused names, one pattern and its reason per line.", none,
         none, docs_none, "0", "envx __refused"},
        {"access", cmd_access, ENVX_CMD_DECRYPTS,
         "access (list ENV | grant ENV (PUBKEY | --new-key | --passphrase) "
         "--label LABEL [--role read|write|admin] | revoke ENV LABEL... | "
         "accept VAULTID ENV ADMINKEY)",
         "Show, grant or revoke (with a rekey) who may read, write and "
         "administer an environment; accept one an admin granted you.",
         opts_access, subs_access, docs_access, "0 2 3 4 6 7 8 9",
         "envx access grant staging envxpub2... --label alice --role write"},
        {"agent", cmd_agent, ENVX_CMD_DECRYPTS,
         "agent [--ttl DUR] [--foreground] | agent --stop | agent --status",
         "Hold unlocked environment keys for a while on a private socket, "
         "so a passphrase is typed once.",
         opts_agent, none, docs_agent, "0 2 6 8 9 10",
         "eval \"$(envx agent --ttl 4h)\""},
        {"audit", cmd_audit, ENVX_CMD_VAULT_RO,
         "audit [ENV] [--since DATE] [--name NAME] [--verify]",
         "Show the audit log (who changed what, when), or verify its hash "
         "chain.",
         opts_audit, none, docs_audit, "0 2 4 6 7 8 9", "envx audit --verify"},
        {"check", cmd_check, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "check (ENV | --all) [--template FILE] [--strict]",
         "Validate environments against .env.example.", opts_check, none,
         docs_check, "0 1 2 3 4 6 7 8 9",
         "envx check staging --template .env.example"},
        {"diff", cmd_diff, 0, "diff FILE",
         "Print a vault's names, versions, recipients, schedules and audit "
         "events as text, never values (git's textconv).",
         none, none, docs_none, "0 2 4 6 8 9", "envx diff envx.vault"},
        {"env", cmd_env, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "env (list | add NAME | rm NAME [--force] | allow ENV [NAME] "
         "[--remove])",
         "List, add or remove environments; allow a refused name in one.",
         opts_env, subs_env, docs_env, "0 2 3 4 6 7 8 9",
         "envx env allow production NODE_OPTIONS"},
        {"exec", cmd_exec, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "exec ENV [--template FILE] [--only NAME,...] [--keep-existing] "
         "[--redact] [--refuse-compromised] -- CMD [ARG...]",
         "Run a command with the environment's secrets.", opts_exec, none,
         docs_exec, "0 1 2 3 4 6 7 8 9 126 127",
         "envx exec staging --redact -- npm run migrate:up"},
        {"export", cmd_export, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "export ENV [--format dotenv|json|shell|github]",
         "Print an environment's values for another tool.", opts_export, none,
         docs_export, "0 2 3 4 6 7 8 9", "envx export staging --format github"},
        {"get", cmd_get, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS, "get ENV NAME",
         "Print one secret's value.", none, none, docs_none, "0 2 3 4 6 7 8 9",
         "envx get staging DATABASE_URL"},
        {"git", cmd_git, 0, "git setup [--hooks]",
         "Make git merge the vault with envx merge-driver and show it with "
         "envx diff; --hooks adds a pre-commit scan.",
         opts_git, subs_git, docs_git, "0 2 6 7 8 9", "envx git setup --hooks"},
        {"help", cmd_help, 0, "help [COMMAND]",
         "Show the commands, or one command's usage.", none, none, docs_none,
         "0 2", "envx help exec"},
        {"history", cmd_history, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "history ENV NAME",
         "Show a secret's versions with dates and authors, never values.", none,
         none, docs_none, "0 2 3 4 6 7 8 9",
         "envx history staging DATABASE_URL"},
        {"identity", cmd_identity, ENVX_CMD_DECRYPTS,
         "identity (new [--passphrase] [-o FILE] [--force] | show)",
         "Create an identity, or print its public key.", opts_identity,
         subs_identity, docs_identity, "0 2 3 6 7 8 9",
         "envx identity new --passphrase"},
        {"import", cmd_import, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "import ENV FILE|- [--lenient]",
         "Read a dotenv file into an environment (values literal).",
         opts_import, none, docs_import, "0 2 3 4 6 7 8 9",
         "envx import local .env"},
        {"incident", cmd_incident, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "incident ENV --reason TEXT [--revoke LABEL]...",
         "Mark every secret of an environment compromised, revoke, rekey, "
         "audit it, and print the rotation checklist.",
         opts_incident, none, docs_incident, "0 2 3 4 6 7 8 9",
         "envx incident production --reason \"laptop lost\" --revoke "
         "alice-laptop"},
        {"init", cmd_init, ENVX_CMD_DECRYPTS, "init [--env NAME]...",
         "Create envx.vault here (and an identity if you have none).",
         opts_init, none, docs_init, "0 2 3 4 6 7 8",
         "envx init --env dev --env prod"},
        {"list", cmd_list, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS, "list ENV",
         "List secret names and metadata, never values.", none, none, docs_none,
         "0 2 3 4 6 7 8 9", "envx list staging"},
        {"merge-driver", cmd_merge_driver, ENVX_CMD_DECRYPTS,
         "merge-driver ANCESTOR OURS THEIRS",
         "Merge two copies of the vault by rows, signed by your identity, "
         "as git's merge driver (%O %A %B); exit 1 on a conflict.",
         none, none, docs_none, "0 1 2 3 4 6 8 9",
         "envx merge-driver %O %A %B"},
        {"rekey", cmd_rekey, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS, "rekey ENV",
         "Draw a new environment key, re-encrypt every version and re-wrap "
         "it for every recipient.",
         none, none, docs_none, "0 2 3 4 6 7 8 9", "envx rekey production"},
        {"rm", cmd_rm, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS, "rm ENV NAME",
         "Delete a secret and all its versions.", none, none, docs_none,
         "0 2 3 4 6 7 8 9", "envx rm staging OLD_TOKEN"},
        {"rollback", cmd_rollback, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "rollback ENV NAME [VERSION]",
         "Write an earlier value (default: the previous one) as a new version.",
         none, none, docs_none, "0 2 3 4 6 7 8 9",
         "envx rollback staging DATABASE_URL"},
        {"rotate", cmd_rotate, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "rotate ENV NAME [--generate[=LEN]] [--charset "
         "alnum|hex|base64url|printable] [--run CMD] [--timeout DUR] "
         "[--reason TEXT]",
         "Write a new value as a rotation, after a hook applied it.",
         opts_rotate, none, docs_rotate, "0 2 3 4 6 7 8 9 124 126 127",
         "envx rotate production DB_PASSWORD --generate --run "
         "./apply-db-password.sh"},
        {"rotation", cmd_rotation, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "rotation [ENV] [--check] [--at YYYY-MM-DD] [--due-within DUR]",
         "Show every secret's rotation status; --check is the CI gate.",
         opts_rotation, none, docs_rotation, "0 1 2 3 4 6 7 8 9",
         "envx rotation --check --at 2025-07-01"},
        {"scan", cmd_scan, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "scan [ENV...] [--] [PATH...] [--git-history | --staged] [--all] "
         "[--env ENV]...",
         "Find the values of environments (current and past, and their "
         "base64, URL and JSON forms) in files or git history; never "
         "prints a value.",
         opts_scan, none, docs_scan, "0 1 2 3 4 6 7 8 9",
         "envx scan --git-history"},
        {"set", cmd_set, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "set ENV NAME [--rotate-every DUR] [--description TEXT] "
         "[--generate[=LEN]] [--charset alnum|hex|base64url|printable] "
         "[--raw] [--allow-empty]",
         "Store a value read from standard input or a prompt.", opts_set, none,
         docs_set, "0 2 3 4 6 7 8 9",
         "printf %s \"$KEY\" | envx set staging API_KEY --rotate-every 90d"},
        {"sync", cmd_sync, ENVX_CMD_DECRYPTS,
         "sync (github | status) ENV [--repo OWNER/REPO] [--environment "
         "NAME] [--prune] [--dry-run] [--write-interval MS] [--max-wait "
         "DUR]",
         "Push an environment's secrets to a GitHub Actions environment, "
         "only what changed; show drift. Token: $GH_TOKEN or "
         "$GITHUB_TOKEN.",
         opts_sync, subs_sync, docs_sync, "0 1 2 3 4 5 6 7 8 9",
         "GH_TOKEN=... envx sync github production --repo acme/api "
         "--dry-run"},
        {"trust", cmd_trust, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "trust reset ENV",
         "Accept, deliberately and audited, an environment state older than "
         "the one this machine verified last.",
         none, subs_trust, docs_none, "0 2 3 4 6 7 8 9",
         "envx trust reset staging"},
        {"upgrade", cmd_upgrade, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "upgrade",
         "Upgrade an older vault to format 5 (signed writers, bucketed "
         "MAC), as an identity that opens every environment.",
         none, none, docs_none, "0 2 3 4 6 7 8", "envx upgrade"},
        {"version", cmd_version, 0, "version", "Print envx's version.", none,
         none, docs_none, "0 2", "envx version"},
};

const size_t envx_ncommands = sizeof(envx_commands) / sizeof(envx_commands[0]);

const struct envx_command *
envx_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < envx_ncommands; i++) {
		if (strcmp(envx_commands[i].name, name) == 0) {
			return &envx_commands[i];
		}
	}
	return NULL;
}
