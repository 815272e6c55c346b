/* modes.c: SOCKTUNE=off is a pure pass-through, proved under strace (no sockopt call
 * of its own reaches the kernel, with a positive control that the same trace does show
 * the library's setsockopt when on), and SOCKTUNE=observe sets nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* Runs the probe under strace with the library preloaded into the tracee only, and
 * returns the trace (malloc'd). */
static char *strace_probe(const char *mode, const char *syscalls, const char *const args[])
{
	if (!it_have("strace"))
		cr_skip_test("strace is not installed");
	cr_assert_eq(access(it_lib(), R_OK), 0, "the library %s is missing", it_lib());
	char *trace = it_path("strace.out");
	char *preload, *sysarg, *modeenv;
	preload = it_preload_env();
	cr_assert_geq(asprintf(&sysarg, "trace=%s", syscalls), 0);
	cr_assert_geq(asprintf(&modeenv, "SOCKTUNE=%s", mode), 0);
	const char *argv[24] = { "strace", "-f", "-qq", "-e", sysarg, "-e", "signal=none", "-o", trace,
				 "-E", preload, "-E", modeenv, it_target("probe") };
	size_t n = 14;
	for (size_t i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	struct it_run r;
	it_run(&r, argv, NULL, 0);
	it_assert_ran(&r);
	it_run_free(&r);
	char *text = it_read_file(trace);
	free(preload);
	free(sysarg);
	free(modeenv);
	free(trace);
	return text;
}

Test(modes, off_makes_no_sockopt_syscall)
{
	/* --no-read: the probe itself makes no getsockopt/setsockopt on a unix socket. */
	char *trace = strace_probe("off", "setsockopt,getsockopt", IT_LIST("--family", "unix", "--no-read"));
	cr_assert_null(strstr(trace, "setsockopt("), "SOCKTUNE=off reached the kernel:\n%s", trace);
	cr_assert_null(strstr(trace, "getsockopt("), "SOCKTUNE=off reached the kernel:\n%s", trace);
	free(trace);
}

Test(modes, on_makes_sndbuf_setsockopt_under_the_same_trace)
{
	char *trace = strace_probe("on", "setsockopt,getsockopt", IT_LIST("--family", "unix", "--no-read"));
	cr_assert_not_null(strstr(trace, "setsockopt("), "no setsockopt traced with SOCKTUNE=on:\n%s", trace);
	cr_assert_not_null(strstr(trace, "SO_SNDBUF"), "no SO_SNDBUF traced with SOCKTUNE=on:\n%s", trace);
	free(trace);
}

Test(modes, off_reads_no_config_file)
{
	char *conf = it_write_file("xdg/socktune/socktune.conf", "defaults = { sndbuf = \"1M\"; };\n");
	char *trace = strace_probe("off", "open,openat,stat,newfstatat,access", IT_LIST("--family", "unix"));
	cr_assert_null(strstr(trace, "socktune.conf"), "SOCKTUNE=off looked at a config file:\n%s", trace);
	free(trace);
	free(conf);
}

Test(modes, off_leaves_values_alone_even_with_overrides)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD,
		 IT_LIST("SOCKTUNE=off", "SOCKTUNE_SNDBUF=1M", "SOCKTUNE_RCVBUF=1M", "SOCKTUNE_NODELAY=on",
			 "SOCKTUNE_FORCE=on"),
		 IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "client ", "rcvbuf");
	it_assert_untouched(&r, &base, "client ", "nodelay");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_assert_untouched(&r, &base, "listener ", "rcvbuf");
	it_run_free(&base);
	it_run_free(&r);
}

Test(modes, off_leaves_unix_default_alone)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_EMPTY);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE=off"), IT_EMPTY);
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	cr_assert_str_empty(r.err, "SOCKTUNE=off printed:\n%s", r.err);
	it_run_free(&base);
	it_run_free(&r);
}

Test(modes, observe_sets_nothing)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_EMPTY);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE=observe", "SOCKTUNE_NODELAY=on"), IT_EMPTY);
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&base);
	it_run_free(&r);

	it_probe(&base, 0, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE=observe", "SOCKTUNE_SNDBUF=1M", "SOCKTUNE_NODELAY=on"),
		 IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "client ", "nodelay");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&base);
	it_run_free(&r);
}

Test(modes, observe_makes_no_setsockopt)
{
	char *trace = strace_probe("observe", "setsockopt", IT_LIST("--family", "unix", "--no-read"));
	cr_assert_null(strstr(trace, "setsockopt("), "SOCKTUNE=observe set an option:\n%s", trace);
	free(trace);
}
