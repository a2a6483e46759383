/*
 * `envx agent [--ttl DUR] [--foreground]`, `envx agent --stop`, `envx agent
 * --status`: start the unlock agent (detached, or in the foreground with
 * its log on stderr), stop it, or ask what it holds. The agent's work is
 * in src/agent; this file parses, prints and forks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/agent.h"
#include "util/banned.h"

enum { OPT_TTL = 1, OPT_FOREGROUND, OPT_STOP, OPT_STATUS };

/* s, m, h, d or w: an agent's keys live minutes to days */
static int
parse_ttl(const char *text, int64_t *seconds)
{
	static const struct envx_unit units[] = {{'s', 1},
	                                         {'m', 60},
	                                         {'h', 3600},
	                                         {'d', 86400},
	                                         {'w', 7 * 86400}};

	return envx_span_parse(text, units, sizeof(units) / sizeof(units[0]),
	                       ENVX_AGENT_TTL_MAX, ENVX_AGENT_TTL_MAX, seconds);
}

static void
log_stderr(void *ctx, const char *msg)
{
	(void)ctx;
	envx_cli_warn("agent: %s", msg);
}

/* The line for `eval "$(envx agent)"`, the path in single quotes. */
static void
print_export(const char *path)
{
	fputs("ENVX_AGENT_SOCK='", stdout);
	for (const char *p = path; *p != '\0'; p++) {
		if (*p == '\'') {
			fputs("'\\''", stdout);
		} else {
			putchar(*p);
		}
	}
	fputs("'; export ENVX_AGENT_SOCK;\n", stdout);
	fflush(stdout);
}

static int
stop_or_status(struct envx_ctx *ctx, const char *path, bool stop)
{
	struct envx_agent_msg req = {.type = stop ? ENVX_AGENT_STOP
	                                          : ENVX_AGENT_STATUS};
	struct envx_agent_msg reply;
	struct envx_error err;
	unsigned char *buf = sodium_malloc(4 + ENVX_AGENT_BODY_MAX_BYTES);
	char ttl[32];
	int status = 0;

	if (buf == NULL) {
		return envx_cli_error(10, "cannot allocate secure memory");
	}
	if (envx_agent_call(path, &req, &reply, buf, &err) < 0) {
		status = envx_cli_fail(&err);
	} else if (stop && reply.type == ENVX_AGENT_OK) {
		envx_cli_note(ctx, "agent at '%s' stopped; its keys are wiped",
		              path);
	} else if (!stop && reply.type == ENVX_AGENT_STATE) {
		envx_duration_format((int64_t)reply.ttl, ttl, sizeof(ttl));
		if (reply.ttl % 3600 != 0) {
			snprintf(ttl, sizeof(ttl), "%llus",
			         (unsigned long long)reply.ttl);
		}
		if (ctx->json) {
			printf("{\"socket\": ");
			envx_json_print_string(stdout, path);
			printf(", \"pid\": %u, \"keys\": %u, \"identities\": "
			       "%u, \"ttl_seconds\": %llu}\n",
			       reply.pid, reply.keys, reply.identities,
			       (unsigned long long)reply.ttl);
		} else {
			printf("agent at %s (pid %u): %u key%s, %u "
			       "identit%s, each kept %s\n",
			       path, reply.pid, reply.keys,
			       reply.keys == 1 ? "" : "s", reply.identities,
			       reply.identities == 1 ? "y" : "ies", ttl);
		}
	} else {
		status = envx_cli_error(6,
		                        "the agent at '%s' did not do what was "
		                        "asked",
		                        path);
	}
	sodium_free(buf);
	return status;
}

/* Closes every descriptor from lo to hi (inclusive). */
static void
close_fds(unsigned lo, unsigned hi)
{
	long max;

	if (lo > hi || close_range(lo, hi, 0) == 0) {
		return;
	}
	/* a kernel without close_range: as far as the limit goes */
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536) {
		max = 65536;
	}
	for (long fd = lo; fd <= (long)hi && fd < max; fd++) {
		(void)close((int)fd);
	}
}

/*
 * Detaches: the parent returns once the child runs on its own. The child
 * keeps only keep (the listening socket) and 0, 1 and 2 on /dev/null:
 * whatever else its starter left open (a file, the write end of a pipe
 * someone reads to its end) is closed, so the agent holds nothing but its
 * socket for as long as it runs.
 */
static int
detach(int keep)
{
	pid_t pid = fork();
	int null;

	if (pid != 0) {
		return pid < 0 ? -1 : (int)pid;
	}
	(void)setsid();
	if (chdir("/") != 0) {
		_exit(6);
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0) {
		_exit(6);
	}
	if (keep > STDERR_FILENO) {
		close_fds(STDERR_FILENO + 1, (unsigned)keep - 1);
	}
	close_fds((unsigned)keep + 1, ~0U);
	return 0;
}

int
cmd_agent(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--ttl", 1, OPT_TTL},
	        {"--foreground", 0, OPT_FOREGROUND},
	        {"--stop", 0, OPT_STOP},
	        {"--status", 0, OPT_STATUS},
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_error err;
	char path[108];
	char ttltext[32] = "8h";
	int64_t ttl = ENVX_AGENT_TTL_DEFAULT;
	bool foreground = false;
	bool stop = false;
	bool status_only = false;
	bool chosen;
	int fd = -1;
	int o;
	int status = 0;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_TTL) {
			if (parse_ttl(st.arg, &ttl) < 0) {
				status = envx_cli_usage(
				        ctx,
				        "invalid --ttl '%.32s': expected a "
				        "positive number followed by s, m, h, "
				        "d or w, at most 7d (e.g. 30m, 8h)",
				        st.arg);
				goto done;
			}
			snprintf(ttltext, sizeof(ttltext), "%s", st.arg);
		} else if (o == OPT_FOREGROUND) {
			foreground = true;
		} else if (o == OPT_STOP) {
			stop = true;
		} else {
			status_only = true;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional > 0) {
		status = envx_cli_usage(ctx, "unexpected argument '%.64s'",
		                        st.positional[0]);
		goto done;
	}
	if ((stop || status_only) && (stop == status_only || foreground ||
	                              ttl != ENVX_AGENT_TTL_DEFAULT)) {
		status =
		        envx_cli_usage(ctx, "--stop and --status take no other "
		                            "option");
		goto done;
	}
	if (envx_agent_path(path, sizeof(path), &chosen) < 0) {
		status = envx_cli_usage(
		        ctx,
		        "no socket path: set XDG_RUNTIME_DIR, or "
		        "ENVX_AGENT_SOCK to an absolute path of "
		        "at most %zu bytes",
		        sizeof(path) - 1);
		goto done;
	}
	if (stop || status_only) {
		status = stop_or_status(ctx, path, stop);
		goto done;
	}
	if (envx_agent_listen(path, &fd, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (!foreground) {
		int pid = detach(fd);

		if (pid < 0) {
			status = envx_cli_error(6, "cannot start the agent: %s",
			                        strerror(errno));
			goto done;
		}
		if (pid > 0) {
			/* the child listens on fd; the parent only reports */
			close(fd);
			fd = -1;
			print_export(path);
			envx_cli_note(
			        ctx,
			        "agent started (pid %d) on '%s': each key "
			        "is kept %s; stop it with 'envx agent "
			        "--stop'",
			        pid, path, ttltext);
			goto done;
		}
	} else {
		print_export(path);
		envx_cli_note(ctx,
		              "agent listening on '%s' (pid %d): each key is "
		              "kept %s; stop it with Ctrl-C or 'envx agent "
		              "--stop'",
		              path, (int)getpid(), ttltext);
	}
	if (envx_agent_serve(fd, path, ttl, foreground ? log_stderr : NULL,
	                     NULL, &err) < 0) {
		status = foreground ? envx_cli_fail(&err) : 10;
	}
	fd = -1;
done:
	if (fd >= 0) {
		close(fd);
	}
	free(st.positional);
	return status;
}
