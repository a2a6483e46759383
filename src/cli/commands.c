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
static const char *const opts_identity[] = {"--passphrase", "--output", "-o",
                                            "--force", NULL};
static const char *const subs_identity[] = {"new", "show", NULL};
static const char *const opts_env[] = {"--force", "--remove", NULL};
static const char *const subs_env[] = {"list", "add", "rm", "allow", NULL};
static const char *const opts_set[] = {"--rotate-every", "--description",
                                       "--generate",     "--raw",
                                       "--allow-empty",  NULL};

static const char *const opts_check[] = {"--template", "--strict", "--all",
                                         NULL};
static const char *const opts_exec[] = {"--template", "--only",
                                        "--keep-existing", "--redact", NULL};
static const char *const opts_export[] = {"--format", NULL};
static const char *const opts_import[] = {"--lenient", NULL};

const struct envx_command envx_commands[] = {
        {"__complete", cmd_complete, ENVX_CMD_HIDDEN, "__complete [WORD...]",
         "Print completion candidates (for shells).", none, none},
        {"__refused", cmd_refused, ENVX_CMD_HIDDEN, "__refused",
         "Print the refused names, one pattern and its reason per line.", none,
         none},
        {"check", cmd_check, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "check (ENV | --all) [--template FILE] [--strict]",
         "Validate environments against .env.example.", opts_check, none},
        {"env", cmd_env, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "env (list | add NAME | rm NAME [--force] | allow ENV [NAME] "
         "[--remove])",
         "List, add or remove environments; allow a refused name in one.",
         opts_env, subs_env},
        {"exec", cmd_exec, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "exec ENV [--template FILE] [--only NAME,...] [--keep-existing] "
         "[--redact] -- CMD [ARG...]",
         "Run a command with the environment's secrets.", opts_exec, none},
        {"export", cmd_export, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "export ENV [--format dotenv|json|shell|github]",
         "Print an environment's values for another tool.", opts_export, none},
        {"get", cmd_get, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS, "get ENV NAME",
         "Print one secret's value.", none, none},
        {"help", cmd_help, 0, "help [COMMAND]",
         "Show the commands, or one command's usage.", none, none},
        {"history", cmd_history, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS,
         "history ENV NAME",
         "Show a secret's versions with dates and authors, never values.", none,
         none},
        {"identity", cmd_identity, ENVX_CMD_DECRYPTS,
         "identity (new [--passphrase] [-o FILE] [--force] | show)",
         "Create an identity, or print its public key.", opts_identity,
         subs_identity},
        {"import", cmd_import, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "import ENV FILE|- [--lenient]",
         "Read a dotenv file into an environment (values literal).",
         opts_import, none},
        {"init", cmd_init, ENVX_CMD_DECRYPTS, "init [--env NAME]...",
         "Create envx.vault here (and an identity if you have none).",
         opts_init, none},
        {"list", cmd_list, ENVX_CMD_VAULT_RO | ENVX_CMD_DECRYPTS, "list ENV",
         "List secret names and metadata, never values.", none, none},
        {"rm", cmd_rm, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS, "rm ENV NAME",
         "Delete a secret and all its versions.", none, none},
        {"rollback", cmd_rollback, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "rollback ENV NAME [VERSION]",
         "Write an earlier value (default: the previous one) as a new version.",
         none, none},
        {"set", cmd_set, ENVX_CMD_VAULT_RW | ENVX_CMD_DECRYPTS,
         "set ENV NAME [--rotate-every DUR] [--description TEXT] "
         "[--generate[=LEN]] [--raw] [--allow-empty]",
         "Store a value read from standard input or a prompt.", opts_set, none},
        {"version", cmd_version, 0, "version", "Print envx's version.", none,
         none},
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
