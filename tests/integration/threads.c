/* threads.c: connections made from several threads at once while the main thread
 * forks, the shape of socket_wrapper's fork/thread deadlock test. A lock held across
 * fork hangs a child (the run then times out); a race in the fd table shows up as a
 * socket that was not tuned. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "run.h"

#define MiB (1024L * 1024L)

Test(threads, concurrent_connections_and_forks_are_all_tuned)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--threads", "4", "--rounds", "100"));
	it_assert_ran(&r);
	long want = it_expected_sndbuf(2 * MiB);
	it_assert_field(&r, "threads ", "sndbuf_min", want);
	it_assert_field(&r, "threads ", "sndbuf_max", want);
	it_assert_field(&r, "threads ", "connections", 4 * 100 + 1 + 100);
	it_run_free(&r);
}

Test(threads, concurrent_connections_with_stats_and_debug_log)
{
	char *dir = it_path(""), *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_STATS=%sst.%%p.json", dir), 0);
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST(env, "SOCKTUNE_LOG=debug"), IT_LIST("--threads", "3", "--rounds", "30"));
	it_assert_ran(&r);
	char *path, *why;
	cr_assert_geq(asprintf(&path, "%sst.%ld.json", dir, it_field(r.out, "pid", "pid")), 0);
	char *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "%s", why);
	/* The parent's own connections: 3 threads x 30 and one before the forks. */
	cr_assert_eq(it_stat(flat, "sockets.client"), 3 * 30 + 1, "%s", flat);
	cr_assert_eq(it_stat(flat, "tuned.sndbuf"), 2 * (3 * 30 + 1), "%s", flat);
	free(flat);
	free(path);
	free(env);
	free(dir);
	it_run_free(&r);
}
