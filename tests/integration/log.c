/* log.c: every message carries the `socktune[PROG:PID]: LEVEL: ` prefix; by default
 * the library prints nothing on the host's stderr, not even for a clamp or a bad value
 * (live.c shows where those go); asked for warn, a clamp by net.core.wmem_max is warned
 * once per process with the sysctl that fixes it; the socktune command asks for warn;
 * and on a stock kernel cap, socktune check reports it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

#define MiB (1024L * 1024L)
#define GiB (1024L * MiB)

Test(log, debug_lines_carry_prog_and_pid_prefix)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_LOG=debug"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	char prefix[64];
	snprintf(prefix, sizeof prefix, "socktune[probe:%ld]: ", it_field(r.out, "pid", "pid"));
	int lines = 0, debug = 0;
	for (char *save, *line = strtok_r(r.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cr_assert(strncmp(line, prefix, strlen(prefix)) == 0, "line without \"%s\": %s", prefix, line);
		lines++;
		debug += strncmp(line + strlen(prefix), "debug: ", 7) == 0;
	}
	cr_assert_gt(debug, 0, "SOCKTUNE_LOG=debug printed no debug line (%d lines)", lines);
	it_run_free(&r);
}

Test(log, default_level_prints_nothing_for_a_clean_run)
{
	long wmem_max = it_read_long("/proc/sys/net/core/wmem_max");
	if (wmem_max < 2 * MiB)
		cr_skip_test("net.core.wmem_max < 2M: the default 2M is clamped, and warned");
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	cr_assert_str_empty(r.err, "a clean run printed:\n%s", r.err);
	it_run_free(&r);
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M"), IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	cr_assert_str_empty(r.err, "a clean run printed:\n%s", r.err);
	it_run_free(&r);
}

Test(log, clamp_is_warned_once_with_the_sysctl)
{
	if (it_expected_sndbuf(GiB) >= 2 * GiB)
		cr_skip_test("net.core.wmem_max >= 1G: nothing to clamp");
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1G", "SOCKTUNE_LOG=warn"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(GiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(GiB));
	cr_assert_eq(it_count_lines(r.err, "net.core.wmem_max"), 1, "want one clamp warning:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "warning"), "the clamp is not a warning:\n%s", r.err);
	it_run_free(&r);
}

/* A clamp and a bad value, with nothing asked: silence on stderr, and the
 * sizes the kernel and the built-in defaults give.  The two tests around it
 * are the controls: the same runs print when asked. */
Test(log, default_prints_nothing_even_for_a_clamp_or_a_bad_value)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1G", "SOCKTUNE_RCVBUF=lots"),
		 IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(GiB));
	cr_assert_str_empty(r.err, "the library printed on the host's stderr:\n%s", r.err);
	it_run_free(&r);
}

Test(log, bad_env_value_is_reported_and_ignored)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=lots", "SOCKTUNE_LOG=warn"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.err, "socktune[probe:"), "no message for a bad value:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "SOCKTUNE_SNDBUF"), "message does not name the variable:\n%s", r.err);
	/* The built-in auto still applies. */
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

/* Started with the socktune command, the user is there to read: warnings
 * print, unless SOCKTUNE_LOG says otherwise (the control). */
Test(log, the_socktune_command_prints_warnings)
{
	struct it_run r;
	const char *argv[] = {it_bin(), "--", it_target("probe"), "--family", "unix", NULL};
	it_run(&r, argv, IT_LIST("SOCKTUNE_SNDBUF=lots"), 0);
	it_assert_ran(&r);
	cr_assert_eq(it_count_lines(r.err, "SOCKTUNE_SNDBUF"), 1, "want one warning:\n%s", r.err);
	it_run_free(&r);
	it_run(&r, argv, IT_LIST("SOCKTUNE_SNDBUF=lots", "SOCKTUNE_LOG=quiet"), 0);
	it_assert_ran(&r);
	cr_assert_str_empty(r.err, "SOCKTUNE_LOG=quiet printed:\n%s", r.err);
	it_run_free(&r);
}

/* The stock kernel: net.core.wmem_max = 212992 caps the 2 MiB the
 * unix default asks for.  The sysctl is one for the machine (a private
 * network namespace cannot set it), so this runs where the machine has the
 * cap, and skips elsewhere; default_prints_nothing_even_for_a_clamp_or_a_bad_value
 * makes the same clamp on any machine. */
Test(log, stock_cap_prints_nothing_and_check_reports_it)
{
	long wmem_max = it_read_long("/proc/sys/net/core/wmem_max");
	if (wmem_max <= 0 || wmem_max >= 2 * MiB)
		cr_skip_test("net.core.wmem_max is %ld here, not a cap under 2M, and it cannot be set "
			     "in a private network namespace (it is one value for the machine)",
			     wmem_max);
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	cr_assert_str_empty(r.err, "the library printed on the host's stderr:\n%s", r.err);
	it_run_free(&r);
	it_run(&r, IT_LIST(it_bin(), "check"), NULL, 0);
	cr_assert_not_null(strstr(r.out, "net.core.wmem_max"), "check does not report the cap:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "sysctl -w net.core.wmem_max="), "check gives no fix:\n%s", r.out);
	it_run_free(&r);
}
