/* log.c: every message carries the `socktune[PROG:PID]: LEVEL: ` prefix, the default
 * level is quiet when nothing is wrong, and a clamp by net.core.wmem_max is warned
 * once per process with the sysctl that fixes it. */
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
	FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
	long wmem_max = 0;
	if (f) {
		if (fscanf(f, "%ld", &wmem_max) != 1)
			wmem_max = 0;
		fclose(f);
	}
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
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1G"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(GiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(GiB));
	cr_assert_eq(it_count_lines(r.err, "net.core.wmem_max"), 1, "want one clamp warning:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "warning"), "the clamp is not a warning:\n%s", r.err);
	it_run_free(&r);
}

Test(log, bad_env_value_is_reported_and_ignored)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=lots"), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.err, "socktune[probe:"), "no message for a bad value:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "SOCKTUNE_SNDBUF"), "message does not name the variable:\n%s", r.err);
	/* The built-in auto still applies. */
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}
