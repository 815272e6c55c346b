/* stale.c: no per-fd state outlives its socket. A socket that carried the program's
 * own SO_SNDBUF goes away (close, close_range, closefrom, a close behind libc's back,
 * dup2/dup3 over it) and a new socket that gets the same number must be tuned like
 * any other; a duplicate of it (dup, F_DUPFD) must keep the program's value. The unix
 * default (2M sndbuf) is the witness: a stale "program set it" flag leaves the kernel
 * default instead. */
#include <criterion/criterion.h>

#include "run.h"

#define MiB (1024L * 1024L)
#define USER_READ 131072L /* the probe's stale SO_SNDBUF of 65536, as Linux reports it */

static void check_tuned_args(const char *const args[])
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, args);
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

static void check_tuned(const char *flag)
{
	check_tuned_args(IT_LIST("--family", "unix", flag));
}

static void check_kept(const char *flag)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "unix", flag));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", USER_READ);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(stale, new_socket_on_closed_number_is_tuned)
{
	check_tuned("--reuse");
}

Test(stale, new_socket_after_close_behind_libc_is_tuned)
{
	check_tuned("--raw-close");
}

Test(stale, dup2_over_user_socket_is_tuned)
{
	check_tuned("--dup2");
}

Test(stale, dup3_over_user_socket_is_tuned)
{
	check_tuned("--dup3");
}

Test(stale, new_socket_after_close_range_is_tuned)
{
	check_tuned("--close-range");
}

Test(stale, new_socket_after_closefrom_is_tuned)
{
	check_tuned("--closefrom");
}

Test(stale, accepted_socket_on_stale_number_is_tuned)
{
	check_tuned("--stale-accept");
}

/* The new socket is made with syscall(SYS_socket): the library sees neither its
 * creation nor, with --raw-close, the close before it, and must notice on its own that
 * the number names another socket now. */
Test(stale, unseen_socket_on_closed_number_is_tuned)
{
	check_tuned_args(IT_LIST("--family", "unix", "--reuse", "--raw-socket"));
}

Test(stale, unseen_socket_after_unseen_close_is_tuned)
{
	check_tuned_args(IT_LIST("--family", "unix", "--raw-close", "--raw-socket"));
}

Test(stale, unseen_socket_after_close_range_is_tuned)
{
	check_tuned_args(IT_LIST("--family", "unix", "--close-range", "--raw-socket"));
}

Test(stale, unseen_socket_after_dup2_is_tuned)
{
	check_tuned_args(IT_LIST("--family", "unix", "--dup2", "--raw-socket"));
}

Test(stale, dup_keeps_user_sndbuf)
{
	check_kept("--dup");
}

Test(stale, fcntl_dupfd_keeps_user_sndbuf)
{
	check_kept("--fcntl-dupfd");
}

Test(stale, tcp_reuse_gets_env_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M"), IT_LIST("--family", "inet", "--reuse"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}
