/* values.c: the option values a socket carries after connect and accept, per family,
 * role and way of connecting, with the built-in defaults and the SOCKTUNE_SNDBUF /
 * SOCKTUNE_RCVBUF / SOCKTUNE_NODELAY overrides. Each run is compared with the kernel's
 * own value (a run without the library) or with the clamped value Linux reports. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "run.h"

#define MiB (1024L * 1024L)
#define KiB 1024L

/* unix stream sockets get 2M sndbuf by default, both roles */
static void check_unix_default(const char *const args[])
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, args);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, NULL, args);
	it_assert_ran(&r);
	long want = it_expected_sndbuf(2 * MiB);
	it_assert_field(&r, "client ", "sndbuf", want);
	it_assert_field(&r, "server ", "sndbuf", want);
	/* Linux: SO_RCVBUF does nothing for a unix stream, so auto leaves it alone. */
	it_assert_untouched(&r, &base, "client ", "rcvbuf");
	it_assert_untouched(&r, &base, "server ", "rcvbuf");
	it_run_free(&base);
	it_run_free(&r);
}

Test(values, unix_stream_gets_2M_sndbuf_both_roles)
{
	check_unix_default(IT_LIST("--family", "unix"));
}

Test(values, unix_stream_nonblocking_connect_is_tuned)
{
	check_unix_default(IT_LIST("--family", "unix", "--nonblock"));
}

Test(values, unix_stream_accept4_is_tuned)
{
	check_unix_default(IT_LIST("--family", "unix", "--accept4", "0"));
}

Test(values, accept4_flags_survive_the_hook)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "unix", "--accept4", "nonblock,cloexec"));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "nonblock", 1);
	it_assert_field(&r, "server ", "cloexec", 1);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "inet", "--accept4", "0"));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "nonblock", 0);
	it_assert_field(&r, "server ", "cloexec", 0);
	it_run_free(&r);
}

Test(values, plain_accept_gives_blocking_socket)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "nonblock", 0);
	it_assert_field(&r, "server ", "cloexec", 0);
	it_run_free(&r);
}

Test(values, unix_seqpacket_and_dgram_left_alone)
{
	static const char *const types[] = { "seqpacket", "dgram" };
	for (size_t i = 0; i < 2; i++) {
		struct it_run base, r;
		const char *const *args = IT_LIST("--family", "unix", "--type", types[i]);
		it_probe(&base, 0, NULL, args);
		it_assert_ran(&base);
		it_probe(&r, IT_PRELOAD, NULL, args);
		it_assert_ran(&r);
		it_assert_untouched(&r, &base, "client ", "sndbuf");
		it_assert_untouched(&r, &base, "server ", "sndbuf");
		it_run_free(&base);
		it_run_free(&r);
	}
}

/* TCP is left to the kernel's autotuning unless told otherwise. */
static void check_tcp_left_alone(const char *const args[])
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, args);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, NULL, args);
	it_assert_ran(&r);
	static const char *const roles[] = { "client ", "server " };
	static const char *const keys[] = { "sndbuf", "rcvbuf", "nodelay" };
	for (size_t i = 0; i < 2; i++)
		for (size_t k = 0; k < 3; k++)
			it_assert_untouched(&r, &base, roles[i], keys[k]);
	it_assert_untouched(&r, &base, "listener ", "sndbuf");
	it_assert_untouched(&r, &base, "listener ", "rcvbuf");
	it_run_free(&base);
	it_run_free(&r);
}

Test(values, tcp_left_alone_by_default)
{
	check_tcp_left_alone(IT_LIST("--family", "inet"));
}

Test(values, tcp_nonblocking_connect_left_alone_by_default)
{
	check_tcp_left_alone(IT_LIST("--family", "inet", "--nonblock", "--accept4", "nonblock"));
}

Test(values, tcp6_left_alone_by_default)
{
	if (!it_have_ipv6())
		cr_skip_test("::1 is not available");
	check_tcp_left_alone(IT_LIST("--family", "inet6"));
}

static void check_tcp_sndbuf(const char *size, long bytes, const char *const args[])
{
	char env[64];
	snprintf(env, sizeof env, "SOCKTUNE_SNDBUF=%s", size);
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST(env), args);
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(bytes));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(bytes));
	it_run_free(&r);
}

Test(values, env_sndbuf_1M_tunes_tcp_both_roles)
{
	check_tcp_sndbuf("1M", MiB, IT_LIST("--family", "inet"));
}

Test(values, env_sndbuf_1M_tunes_tcp6_both_roles)
{
	if (!it_have_ipv6())
		cr_skip_test("::1 is not available");
	check_tcp_sndbuf("1M", MiB, IT_LIST("--family", "inet6"));
}

Test(values, env_sndbuf_tunes_nonblocking_connect)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M"), IT_LIST("--family", "inet", "--nonblock"));
	it_assert_ran(&r);
	cr_assert_neq(it_field(r.out, "connect ", "einprogress"), -1L, "no connect line:\n%s", r.out);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(values, env_sndbuf_tunes_accept4_socket)
{
	check_tcp_sndbuf("1M", MiB, IT_LIST("--family", "inet", "--accept4", "nonblock,cloexec"));
}

Test(values, env_sndbuf_accepts_suffixes_and_bytes)
{
	check_tcp_sndbuf("512KiB", 512 * KiB, IT_LIST("--family", "inet"));
	check_tcp_sndbuf("768k", 768 * KiB, IT_LIST("--family", "inet"));
	check_tcp_sndbuf("1048576", MiB, IT_LIST("--family", "inet"));
}

Test(values, env_sndbuf_overrides_unix_auto)
{
	check_tcp_sndbuf("1M", MiB, IT_LIST("--family", "unix"));
}

Test(values, env_sndbuf_default_leaves_unix_alone)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_EMPTY);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=default"), IT_EMPTY);
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&base);
	it_run_free(&r);
}

Test(values, env_rcvbuf_512K_set_on_tcp_listener_and_inherited)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_RCVBUF=512K"), IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	long want = it_expected_rcvbuf(512 * KiB);
	it_assert_field(&r, "listener ", "rcvbuf", want);
	it_assert_field(&r, "server ", "rcvbuf", want);
	it_assert_field(&r, "client ", "rcvbuf", want);
	it_run_free(&r);
}

Test(values, env_nodelay_on_sets_tcp_nodelay_both_roles)
{
	static const char *const spellings[] = { "SOCKTUNE_NODELAY=on", "SOCKTUNE_NODELAY=yes",
						 "SOCKTUNE_NODELAY=1" };
	for (size_t i = 0; i < 3; i++) {
		struct it_run r;
		it_probe(&r, IT_PRELOAD, IT_LIST(spellings[i]), IT_LIST("--family", "inet"));
		it_assert_ran(&r);
		it_assert_field(&r, "client ", "nodelay", 1);
		it_assert_field(&r, "server ", "nodelay", 1);
		it_run_free(&r);
	}
}

Test(values, env_nodelay_on_is_harmless_on_unix)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_NODELAY=on"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

/* Issue 13, case I: a bad address must come back from connect as the kernel's
 * EFAULT, as without socktune, not as a SIGSEGV inside the hook. */
Test(values, connect_with_a_bad_address_fails_with_efault_as_without)
{
	struct it_run base, r;
	it_run(&base, IT_LIST(it_target("badaddr")), NULL, 0);
	it_assert_ran(&base);
	cr_assert_eq(it_count_lines(base.out, "errno=14"), 4, "the reference did not get EFAULT 4 times:\n%s",
		     base.out);
	it_run(&r, IT_LIST(it_target("badaddr")), NULL, IT_PRELOAD);
	it_assert_ran(&r);
	cr_assert_str_eq(r.out, base.out, "with socktune:\n%s\nwithout:\n%s", r.out, base.out);
	it_run_free(&r);
	it_run_free(&base);
}
