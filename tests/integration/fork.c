/* fork.c: sockets made in a fork child are tuned like the parent's (the library's
 * state survives fork through its atfork handlers). */
#include <criterion/criterion.h>

#include "run.h"

#define MiB (1024L * 1024L)

Test(fork, child_unix_sockets_get_2M_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--fork", "--family", "unix"));
	it_assert_ran(&r);
	cr_assert_neq(it_field(r.out, "parent ", "pid"), it_field(r.out, "pid", "pid"), "%s", r.out);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(fork, child_tcp_sockets_follow_env_overrides)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M", "SOCKTUNE_NODELAY=on"),
		 IT_LIST("--fork", "--family", "inet", "--nonblock", "--accept4", "cloexec"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "client ", "nodelay", 1);
	it_assert_field(&r, "server ", "cloexec", 1);
	it_run_free(&r);
}

Test(fork, child_keeps_user_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--fork", "--family", "unix", "--user-sndbuf", "65536"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", 131072);
	it_run_free(&r);
}
