/*
 * Process hardening for anything that decrypts: no core dumps, no ptrace
 * attach by same-user processes. The core rlimit is restored for exec'd
 * children so envx does not silently change their behaviour.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "envx/util.h"
#include "util/banned.h"

static struct rlimit saved_core;
static bool saved_core_valid;

void
envx_harden_process(void)
{
	struct rlimit zero = {0, 0};

	if (!saved_core_valid && getrlimit(RLIMIT_CORE, &saved_core) == 0) {
		saved_core_valid = true;
	}
	/* Lowering the soft limit only: the hard limit stays for the child. */
	zero.rlim_max = saved_core_valid ? saved_core.rlim_max : 0;
	(void)setrlimit(RLIMIT_CORE, &zero);
#ifndef __SANITIZE_ADDRESS__
	/* LeakSanitizer needs to ptrace its own process at exit, which a
	 * non-dumpable process forbids; sanitizer builds keep only the
	 * core-size limit. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

void
envx_harden_restore_for_child(void)
{
	if (saved_core_valid) {
		(void)setrlimit(RLIMIT_CORE, &saved_core);
	}
}
