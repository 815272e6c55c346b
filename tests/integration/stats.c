/* stats.c: the JSON record each process writes at exit (SOCKTUNE_STATS): one file per
 * process with %p, one line holding one object, and counts that match what the probe
 * did (sockets seen and tuned, options kept because the program set them, TCP_INFO
 * sums after a transfer of known size). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run.h"

#define MAX_FILES 8

/* Names of the files in DIR, sorted; returns how many. */
static int list_dir(const char *dir, char names[MAX_FILES][256])
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		cr_assert_lt(n, MAX_FILES, "too many files in %s", dir);
		snprintf(names[n++], 256, "%s", e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
	return n;
}

/* Runs the probe with SOCKTUNE_STATS=<tmp>/stats/st.%p.json plus ENV; returns the
 * stats directory (malloc'd). */
static char *run_with_stats(struct it_run *r, const char *env1, const char *env2, const char *const args[])
{
	char *dir = it_path("stats");
	cr_assert_eq(mkdir(dir, 0700), 0);
	char *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_STATS=%s/st.%%p.json", dir), 0);
	it_probe(r, IT_PRELOAD, IT_LIST(env, env1 ? env1 : "UNUSED_=1", env2 ? env2 : "UNUSED_=1"), args);
	it_assert_ran(r);
	free(env);
	return dir;
}

/* The one record written by process PID in DIR, flattened. */
static char *record_of(const char *dir, long pid)
{
	char *path, *why;
	cr_assert_geq(asprintf(&path, "%s/st.%ld.json", dir, pid), 0);
	char *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "bad stats record: %s", why);
	free(path);
	return flat;
}

#define assert_stat(flat, key, want)                                                        \
	do {                                                                                \
		long got_ = it_stat(flat, key), want_ = (want);                             \
		cr_assert_eq(got_, want_, "%s: got %ld, want %ld\n--- record:\n%s", key, got_, \
			     want_, flat);                                                  \
	} while (0)

static void assert_string(const char *flat, const char *key, const char *want)
{
	char line[128];
	snprintf(line, sizeof line, "%s=%s\n", key, want);
	cr_assert_not_null(strstr(flat, line), "want %s=%s\n--- record:\n%s", key, want, flat);
}

Test(stats, one_file_per_process_named_by_pid)
{
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_EMPTY);
	char names[MAX_FILES][256], want[64];
	int n = list_dir(dir, names);
	cr_assert_eq(n, 1, "want one stats file, got %d", n);
	snprintf(want, sizeof want, "st.%ld.json", it_field(r.out, "pid", "pid"));
	cr_assert_str_eq(names[0], want);
	it_run_free(&r);
	free(dir);
}

Test(stats, unix_record_counts_two_tuned_sockets)
{
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_LIST("--family", "unix"));
	long pid = it_field(r.out, "pid", "pid");
	char *flat = record_of(dir, pid);
	assert_string(flat, "socktune", "0.1.0");
	assert_string(flat, "prog", "probe");
	assert_string(flat, "mode", "on");
	assert_stat(flat, "pid", pid);
	long seen = it_stat(flat, "sockets.seen");
	/* client + accepted, and the listener when listen() policy counts it */
	cr_assert(seen == 2 || seen == 3, "sockets.seen = %ld\n%s", seen, flat);
	assert_stat(flat, "sockets.unix", seen);
	assert_stat(flat, "sockets.inet", 0);
	assert_stat(flat, "sockets.inet6", 0);
	assert_stat(flat, "sockets.client", 1);
	assert_stat(flat, "sockets.tuned", 2);
	assert_stat(flat, "tuned.sndbuf", 2);
	assert_stat(flat, "tuned.rcvbuf", 0);
	assert_stat(flat, "tuned.nodelay", 0);
	assert_stat(flat, "kept.sndbuf", 0);
	assert_stat(flat, "failures", 0);
	assert_stat(flat, "tcp.connections", 0);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, user_set_sndbuf_counts_as_kept)
{
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_LIST("--family", "unix", "--user-sndbuf", "65536"));
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	assert_stat(flat, "kept.sndbuf", 1);
	assert_stat(flat, "tuned.sndbuf", 1);
	assert_stat(flat, "sockets.tuned", 1);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, tcp_transfer_counts_bytes_sent)
{
	const long size = 1000000;
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_LIST("--family", "inet", "--send", "1000000"));
	it_assert_field(&r, "sent ", "bytes", size);
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	assert_stat(flat, "tcp.connections", 2);
	long sent = it_stat(flat, "tcp.bytes_sent");
	cr_assert_geq(sent, size, "tcp.bytes_sent = %ld, the probe sent %ld\n%s", sent, size, flat);
	cr_assert_gt(it_stat(flat, "tcp.segs_out"), 0, "no segments out\n%s", flat);
	cr_assert_geq(it_stat(flat, "tcp.total_retrans"), 0, "no total_retrans\n%s", flat);
	cr_assert_geq(it_stat(flat, "sockets.inet"), 2, "%s", flat);
	/* TCP is left to autotuning by default: seen, not tuned. */
	assert_stat(flat, "sockets.tuned", 0);
	assert_stat(flat, "tuned.sndbuf", 0);
	it_run_free(&r);
	free(flat);
	free(dir);
}

/* TCP_INFO must be read before the socket goes, however it goes. */
static void check_tcp_counted_when_closed_by(const char *how)
{
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_LIST("--family", "inet", "--send", "300000", "--close-by", how));
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	assert_stat(flat, "tcp.connections", 2);
	long sent = it_stat(flat, "tcp.bytes_sent");
	cr_assert_geq(sent, 300000, "tcp.bytes_sent = %ld with --close-by %s\n%s", sent, how, flat);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, tcp_counted_when_closed_by_close_range)
{
	check_tcp_counted_when_closed_by("close-range");
}

Test(stats, tcp_counted_when_closed_by_closefrom)
{
	check_tcp_counted_when_closed_by("closefrom");
}

Test(stats, tcp_counted_at_exit_when_left_open)
{
	check_tcp_counted_when_closed_by("none");
}

Test(stats, clamps_are_counted)
{
	if (it_expected_sndbuf(1L << 30) >= 1L << 31)
		cr_skip_test("net.core.wmem_max >= 1G: nothing to clamp");
	struct it_run r;
	char *dir = run_with_stats(&r, "SOCKTUNE_SNDBUF=1G", NULL, IT_LIST("--family", "unix"));
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	cr_assert_geq(it_stat(flat, "clamps"), 1, "%s", flat);
	assert_stat(flat, "failures", 0);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, env_overrides_counted_per_option)
{
	struct it_run r;
	char *dir = run_with_stats(&r, "SOCKTUNE_SNDBUF=1M", "SOCKTUNE_NODELAY=on", IT_LIST("--family", "inet"));
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	assert_stat(flat, "sockets.tuned", 2);
	assert_stat(flat, "tuned.sndbuf", 2);
	assert_stat(flat, "tuned.nodelay", 2);
	assert_stat(flat, "sockets.client", 1);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, observe_counts_but_tunes_nothing)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_EMPTY);
	it_assert_ran(&base);
	char *dir = run_with_stats(&r, "SOCKTUNE=observe", NULL, IT_LIST("--family", "unix"));
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	char *flat = record_of(dir, it_field(r.out, "pid", "pid"));
	assert_string(flat, "mode", "observe");
	cr_assert_geq(it_stat(flat, "sockets.seen"), 2, "%s", flat);
	assert_stat(flat, "sockets.tuned", 0);
	assert_stat(flat, "tuned.sndbuf", 0);
	assert_stat(flat, "tuned.rcvbuf", 0);
	assert_stat(flat, "tuned.nodelay", 0);
	it_run_free(&base);
	it_run_free(&r);
	free(flat);
	free(dir);
}

Test(stats, off_writes_no_record)
{
	struct it_run r;
	char *dir = run_with_stats(&r, "SOCKTUNE=off", NULL, IT_EMPTY);
	char names[MAX_FILES][256];
	cr_assert_eq(list_dir(dir, names), 0, "SOCKTUNE=off wrote %s", names[0]);
	it_run_free(&r);
	free(dir);
}

Test(stats, fork_gives_one_record_per_process)
{
	struct it_run r;
	char *dir = run_with_stats(&r, NULL, NULL, IT_LIST("--fork"));
	long parent = it_field(r.out, "parent ", "pid"), child = it_field(r.out, "pid", "pid");
	cr_assert_neq(parent, child, "%s", r.out);
	char names[MAX_FILES][256];
	int n = list_dir(dir, names);
	cr_assert_eq(n, 2, "want 2 stats files (parent, child), got %d", n);
	char *flat = record_of(dir, child);
	assert_stat(flat, "pid", child);
	assert_stat(flat, "sockets.tuned", 2);
	free(flat);
	flat = record_of(dir, parent);
	assert_stat(flat, "pid", parent);
	/* The child's work is not counted again in the parent. */
	assert_stat(flat, "sockets.tuned", 0);
	free(flat);
	it_run_free(&r);
	free(dir);
}

Test(stats, stderr_destination_prints_one_json_line)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_STATS=stderr"), IT_EMPTY);
	it_assert_ran(&r);
	cr_assert_eq(it_count(r.err, "{\"socktune\""), 1, "want one record on stderr:\n%s", r.err);
	char *path = it_write_file("from-stderr.json", strstr(r.err, "{\"socktune\""));
	char *why, *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "bad record on stderr: %s", why);
	assert_stat(flat, "sockets.tuned", 2);
	free(flat);
	free(path);
	it_run_free(&r);
}

Test(stats, fixed_path_gets_one_line_appended_per_process)
{
	char *path = it_path("all.json"), *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_STATS=%s", path), 0);
	for (int i = 0; i < 2; i++) {
		struct it_run r;
		it_probe(&r, IT_PRELOAD, IT_LIST(env), IT_EMPTY);
		it_assert_ran(&r);
		it_run_free(&r);
	}
	char *text = it_read_file(path);
	cr_assert_eq(it_count(text, "\n"), 2, "want two lines:\n%s", text);
	cr_assert_eq(it_count(text, "{\"socktune\""), 2, "want two records:\n%s", text);
	free(text);
	free(env);
	free(path);
}
