/*
 * Name rules for secrets and environments, and the list of names that could
 * turn a committed vault into code execution on every developer's machine.
 */
#include <string.h>
#include <strings.h>

#include "envx/util.h"
#include "util/banned.h"

/* Whether c may be byte i of a secret name: a letter or '_', or a digit
 * after the first byte. */
static bool
name_char(char c, size_t i)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (i > 0 && c >= '0' && c <= '9');
}

bool
envx_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > ENVX_NAME_MAX_BYTES) {
		return false;
	}
	for (i = 0; i < len; i++) {
		if (!name_char(name[i], i)) {
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

/*
 * The refused names (DESIGN §5), one list: each makes a loader, a shell, an
 * interpreter or a common tool run code given in the value, or load code
 * or configuration from a path in it. envx(1) lists exactly these (a test
 * compares the two through `envx __refused`). A pattern ending in '*'
 * matches every name that starts with what comes before it.
 */
static const struct envx_refused refused[] = {
        {"LD_*", "the dynamic loader (preloads, library paths, audit)"},
        {"DYLD_*", "the macOS dynamic loader"},
        {"GCONV_PATH", "glibc (loads character-set modules)"},
        {"GLIBC_TUNABLES", "glibc"},
        {"LOCPATH", "glibc (locale files)"},
        {"NLSPATH", "glibc (message catalogs)"},
        {"OPENSSL_CONF", "OpenSSL (loads engines and providers)"},
        {"OPENSSL_ENGINES", "OpenSSL"},
        {"OPENSSL_MODULES", "OpenSSL"},
        {"PATH", "every program that starts another, envx included"},
        {"SHELL", "programs that start $SHELL"},
        {"BASH_ENV", "bash (a file run at start)"},
        {"ENV", "sh and dash (a file run at start)"},
        {"BASH_FUNC_*", "bash (exported functions)"},
        {"BASH_LOADABLES_PATH", "bash"},
        {"SHELLOPTS", "bash"},
        {"BASHOPTS", "bash"},
        {"PS0", "bash (prompts expand commands)"},
        {"PS1", "shells (prompts expand commands)"},
        {"PS2", "shells"},
        {"PS3", "shells"},
        {"PS4", "shells (xtrace expands commands)"},
        {"PROMPT_COMMAND", "bash"},
        {"IFS", "shells (word splitting)"},
        {"ZDOTDIR", "zsh (start-up files)"},
        {"FPATH", "zsh and ksh (autoloaded functions)"},
        {"HOME", "shells, git and most tools (start-up and config files)"},
        {"XDG_CONFIG_HOME", "git and most tools (config files)"},
        {"PERL5OPT", "perl (options, -M runs code)"},
        {"PERL5LIB", "perl (module path)"},
        {"PERLLIB", "perl (module path)"},
        {"PERL5DB", "perl (debugger code)"},
        {"PYTHONSTARTUP", "python (a file run at start)"},
        {"PYTHONPATH", "python (module path)"},
        {"PYTHONHOME", "python (standard library path)"},
        {"PYTHONUSERBASE", "python (site-packages, .pth files run code)"},
        {"PYTHONWARNINGS", "python (imports the category's module)"},
        {"PYTHONBREAKPOINT", "python (imports a callable)"},
        {"NODE_OPTIONS", "node (--require runs code)"},
        {"NODE_PATH", "node (module path)"},
        {"RUBYOPT", "ruby (options, -r runs code)"},
        {"RUBYLIB", "ruby (library path)"},
        {"JAVA_TOOL_OPTIONS", "the JVM (-javaagent runs code)"},
        {"_JAVA_OPTIONS", "the JVM"},
        {"JDK_JAVA_OPTIONS", "the java launcher"},
        {"LUA_INIT*", "lua (code run at start)"},
        {"LUA_PATH*", "lua (module path)"},
        {"LUA_CPATH*", "lua (native module path)"},
        {"PHPRC", "php (php.ini: auto_prepend_file)"},
        {"PHP_INI_SCAN_DIR", "php"},
        {"GIT_CONFIG*", "git (config: core.sshCommand, aliases, hooks)"},
        {"GIT_SSH", "git (the ssh it runs)"},
        {"GIT_SSH_COMMAND", "git (a command it runs)"},
        {"GIT_PROXY_COMMAND", "git (a command it runs)"},
        {"GIT_ASKPASS", "git (a command it runs)"},
        {"GIT_EDITOR", "git (a command it runs)"},
        {"GIT_SEQUENCE_EDITOR", "git (a command it runs)"},
        {"GIT_PAGER", "git (a command it runs)"},
        {"GIT_EXTERNAL_DIFF", "git (a command it runs)"},
        {"GIT_EXEC_PATH", "git (where its commands are)"},
        {"GIT_TEMPLATE_DIR", "git (hooks copied into new repositories)"},
        {"GIT_DIR", "git (a repository's config and hooks)"},
        {"EDITOR", "programs that run it as a command"},
        {"VISUAL", "programs that run it as a command"},
        {"PAGER", "programs that run it as a command"},
        {"MANPAGER", "man (a command it runs)"},
        {"LESSOPEN", "less (a command it runs)"},
        {"LESSCLOSE", "less (a command it runs)"},
        {"BROWSER", "programs that run it as a command"},
        {"SSH_ASKPASS", "ssh (a command it runs)"},
        {"SUDO_ASKPASS", "sudo (a command it runs)"},
        {"MAKEFLAGS", "make (variables such as SHELL, --eval)"},
        {"MFLAGS", "make"},
        {"npm_config_*", "npm (config: script-shell, node-options)"},
        {"NPM_CONFIG_*", "npm (config: script-shell, node-options)"},
        {"LESS", "less (a +! option runs a command)"},
        {"LESSKEY*", "less (key files can set LESSOPEN)"},
        {"LESSKEYIN*", "less (key files can set LESSOPEN)"},
        {"LESSEDIT", "less (a command it runs)"},
        {"MANOPT", "man (options: a pager or preprocessor)"},
        {"SYSTEMD_PAGER", "systemctl and journalctl (a command they run)"},
        {"PSQL_PAGER", "psql (a command it runs)"},
        {"PSQL_EDITOR", "psql (a command it runs)"},
        {"PSQLRC", "psql (a file run at start: it can run commands)"},
        {"MAKEFILES", "make (makefiles read first, $(shell) runs code)"},
        {"GIT_COMMON_DIR", "git (a repository's config and hooks)"},
        {"GIT_ALLOW_PROTOCOL", "git (enables ext:: commands)"},
        {"KSH_ENV", "ksh (a file run at start)"},
        {"CLASSPATH", "the JVM (class path)"},
        {"PYTHONPYCACHEPREFIX", "python (compiled modules loaded from it)"},
        {"GOFLAGS", "go (-toolexec runs a command)"},
        {"DOTNET_STARTUP_HOOKS", ".NET (assemblies run at start)"},
        {"CORECLR_PROFILER*", ".NET (a profiler library loaded)"},
        {"ERL_FLAGS", "erlang (-eval runs code)"},
        {"ERL_AFLAGS", "erlang (-eval runs code)"},
        {"ERL_ZFLAGS", "erlang (-eval runs code)"},
        {"ERL_LIBS", "erlang (code path)"},
        {"GEM_HOME", "ruby (gems loaded from it)"},
        {"GEM_PATH", "ruby (gems loaded from it)"},
        {"BUNDLE_GEMFILE", "bundler (a Gemfile is ruby code)"},
        {"KUBECONFIG", "kubectl (exec credential plugins run commands)"},
        {"DOCKER_CONFIG", "docker (credential helpers run commands)"},
        {"AWS_CONFIG_FILE", "the AWS CLI and SDKs (credential processes)"},
        {"CURL_HOME", "curl (.curlrc options)"},
        {"RUSTC_WRAPPER", "cargo (a command it runs)"},
        {"RUSTC_WORKSPACE_WRAPPER", "cargo (a command it runs)"},
};

const struct envx_refused *
envx_refused_list(size_t *n)
{
	*n = sizeof(refused) / sizeof(refused[0]);
	return refused;
}

const struct envx_refused *
envx_name_refused(const char *name, size_t len)
{
	size_t i;

	if (len == 0) {
		return NULL;
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *pat = refused[i].pattern;
		unsigned char p0 = (unsigned char)pat[0];
		unsigned char n0 = (unsigned char)name[0];
		size_t plen;
		bool nocase;
		bool prefix;
		size_t cmp;

		/* the first byte rules out almost every pattern: exec checks
		 * every name it injects against all of them, so this is one
		 * compare (equal bytes are equal with 0x20 set too) */
		if ((p0 | 0x20) != (n0 | 0x20)) {
			continue;
		}
		/* npm reads npm_config_* in any case (Npm_Config_Script_Shell)
		 */
		nocase = (p0 | 0x20) == 'n' &&
		         strncasecmp(pat, "npm_config_", 11) == 0;
		if (!nocase && p0 != n0) {
			continue;
		}
		plen = strlen(pat);
		prefix = pat[plen - 1] == '*';
		cmp = prefix ? plen - 1 : plen;

		if (prefix ? len < cmp : len != cmp) {
			continue;
		}
		if (nocase ? strncasecmp(name, pat, cmp) == 0
		           : memcmp(name, pat, cmp) == 0) {
			return &refused[i];
		}
	}
	return NULL;
}

int
envx_name_check(const char *name, struct envx_error *err)
{
	size_t len = strlen(name);
	size_t before = strcspn(name, "=");

	if (envx_name_valid(name, len)) {
		return 0;
	}
	if (before < len && envx_name_valid(name, before)) {
		/* NAME=VALUE: the value is never repeated, not even here */
		return envx_error_set(
		        err, ENVX_E_INPUT,
		        "invalid secret name '%.*s=…': values are read from "
		        "standard input, never from the command line (where "
		        "shell history, process lists and CI logs keep them); "
		        "write: printf '%%s' \"$VALUE\" | envx set ENV %.*s",
		        (int)before, name, (int)before, name);
	}
	/* never past the first byte a name cannot hold: what follows ('=',
	 * ':', a tab...) could be a value */
	before = 0;
	while (before < len && before < 64 && name_char(name[before], before)) {
		before++;
	}
	return envx_error_set(err, ENVX_E_INPUT,
	                      "invalid secret name '%.*s%s': names are "
	                      "letters, digits and '_', not starting with a "
	                      "digit",
	                      (int)before, name, before < len ? "…" : "");
}
