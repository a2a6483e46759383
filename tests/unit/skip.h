/*
 * envx_skip(REASON): cmocka's skip(), usable under meson's TAP parser.
 * cmocka before 1.1.7 (Debian 12 ships 1.1.5) reports a skipped test as
 * "not ok N # SKIP", which meson counts as a failure; there the test returns
 * early, passing, after a TAP comment that says it was skipped and why.
 * tests/meson.build defines ENVX_CMOCKA_TAP_SKIP for cmocka >= 1.1.7.
 * Include after <cmocka.h>.
 */
#ifndef ENVX_TESTS_UNIT_SKIP_H
#define ENVX_TESTS_UNIT_SKIP_H

#ifdef ENVX_CMOCKA_TAP_SKIP
#define envx_skip(reason) skip()
#else
#define envx_skip(reason)                                                      \
	do {                                                                   \
		print_message("# skipped: %s\n", (reason));                    \
		return;                                                        \
	} while (0)
#endif

#endif
