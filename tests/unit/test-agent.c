/*
 * Unit tests for src/agent: the wire protocol's encoding round-trips and
 * refuses every body that is not exactly a type's length, another version
 * or an invalid environment name; frames are read whole across partial
 * writes, and a length past the bound is refused without reading on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "agent/internal.h"
#include "envx/agent.h"

static void
sample_ref(struct envx_env_keyref *ref, const char *env)
{
	memset(ref, 0, sizeof(*ref));
	for (int i = 0; i < 16; i++) {
		ref->vault_id[i] = (unsigned char)(0xa0 + i);
	}
	for (int i = 0; i < 32; i++) {
		ref->commit[i] = (unsigned char)i;
	}
	snprintf(ref->env, sizeof(ref->env), "%s", env);
}

static void
test_agent_roundtrip(void **state)
{
	unsigned char key[32];
	unsigned char frame[ENVX_AGENT_FRAME_MAX_BYTES];
	struct envx_agent_msg m = {.type = ENVX_AGENT_KEY_PUT, .key = key};
	struct envx_agent_msg d;
	size_t len;

	(void)state;
	memset(key, 0x5a, sizeof(key));
	sample_ref(&m.ref, "staging");
	assert_int_equal(envx_agent_encode(&m, frame, &len), 0);
	/* u32le length, version, type, 16 + 32 + 1 + 7, key */
	assert_int_equal(len, 4 + 2 + 49 + 7 + 32);
	assert_int_equal(frame[0], len - 4);
	assert_int_equal(frame[1] | frame[2] | frame[3], 0);
	assert_int_equal(frame[4], ENVX_AGENT_PROTOCOL);
	assert_int_equal(frame[5], ENVX_AGENT_KEY_PUT);
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), 0);
	assert_int_equal(d.type, ENVX_AGENT_KEY_PUT);
	assert_string_equal(d.ref.env, "staging");
	assert_memory_equal(d.ref.vault_id, m.ref.vault_id, 16);
	assert_memory_equal(d.ref.commit, m.ref.commit, 32);
	assert_memory_equal(d.key, key, 32);

	m = (struct envx_agent_msg){.type = ENVX_AGENT_STATE,
	                            .keys = 3,
	                            .identities = 1,
	                            .pid = 4242,
	                            .ttl = 28800};
	assert_int_equal(envx_agent_encode(&m, frame, &len), 0);
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), 0);
	assert_int_equal(d.keys, 3);
	assert_int_equal(d.identities, 1);
	assert_int_equal(d.pid, 4242);
	assert_int_equal(d.ttl, 28800);
}

static void
test_agent_refuses_malformed(void **state)
{
	unsigned char frame[ENVX_AGENT_FRAME_MAX_BYTES];
	struct envx_agent_msg m = {.type = ENVX_AGENT_KEY_GET};
	struct envx_agent_msg d;
	size_t len;

	(void)state;
	sample_ref(&m.ref, "production");
	assert_int_equal(envx_agent_encode(&m, frame, &len), 0);
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), 0);
	/* one byte short, one byte long */
	assert_int_equal(envx_agent_decode(frame + 4, len - 5, &d), -1);
	assert_int_equal(envx_agent_decode(frame + 4, len - 3, &d), -1);
	/* another protocol version */
	frame[4] = ENVX_AGENT_PROTOCOL + 1;
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), -1);
	frame[4] = ENVX_AGENT_PROTOCOL;
	/* an environment name that is not one */
	frame[4 + 2 + 48 + 1] = 'P';
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), -1);
	/* an env length of 0 or past the limit */
	frame[4 + 2 + 48] = 0;
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), -1);
	frame[4 + 2 + 48] = 65;
	assert_int_equal(envx_agent_decode(frame + 4, len - 4, &d), -1);
	/* an unknown type, and a body too short for any */
	frame[5] = 0x42;
	assert_int_equal(envx_agent_decode(frame + 4, 2, &d), -1);
	assert_int_equal(envx_agent_decode(frame + 4, 1, &d), -1);
	/* a name that is not one is never sent */
	sample_ref(&m.ref, "../x");
	assert_int_equal(envx_agent_encode(&m, frame, &len), -1);
	/* fixed-size replies */
	frame[4] = ENVX_AGENT_PROTOCOL;
	frame[5] = ENVX_AGENT_KEY;
	assert_int_equal(envx_agent_decode(frame + 4, 2 + 31, &d), -1);
	assert_int_equal(envx_agent_decode(frame + 4, 2 + 32, &d), 0);
	frame[5] = ENVX_AGENT_OK;
	assert_int_equal(envx_agent_decode(frame + 4, 3, &d), -1);
}

static void
test_agent_frames_partial_and_bounded(void **state)
{
	unsigned char frame[ENVX_AGENT_FRAME_MAX_BYTES];
	unsigned char buf[ENVX_AGENT_FRAME_MAX_BYTES];
	struct envx_agent_msg m = {.type = ENVX_AGENT_ID_GET};
	const unsigned char *body;
	size_t len;
	size_t n;
	int sv[2];

	(void)state;
	memset(m.digest, 7, sizeof(m.digest));
	assert_int_equal(envx_agent_encode(&m, frame, &len), 0);
	assert_int_equal(
	        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	/* byte by byte: the reader resumes after each partial read */
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(write(sv[0], frame + i, 1), 1);
	}
	assert_int_equal(envx_agent_recv(sv[1], buf, &body, &n,
	                                 envx_agent_now_ms() + 1000),
	                 0);
	assert_int_equal(n, len - 4);
	assert_memory_equal(body, frame + 4, n);
	/* a length past the bound is refused at once */
	buf[0] = 0xff;
	buf[1] = 0xff;
	buf[2] = 0;
	buf[3] = 0;
	assert_int_equal(write(sv[0], buf, 4), 4);
	assert_int_equal(envx_agent_recv(sv[1], buf, &body, &n,
	                                 envx_agent_now_ms() + 1000),
	                 -2);
	/* a frame cut short times out instead of blocking */
	assert_int_equal(write(sv[0], frame, 6), 6);
	assert_int_equal(envx_agent_recv(sv[1], buf, &body, &n,
	                                 envx_agent_now_ms() + 100),
	                 -1);
	/* a closed peer is an error, not a wait */
	close(sv[0]);
	assert_int_equal(envx_agent_recv(sv[1], buf, &body, &n,
	                                 envx_agent_now_ms() + 1000),
	                 -1);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_agent_roundtrip),
	        cmocka_unit_test(test_agent_refuses_malformed),
	        cmocka_unit_test(test_agent_frames_partial_and_bounded),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
