/* live.c: the live figures (shim/live.c) read by `socktune stats` while a
 * preloaded server runs: counts that rise as it serves, JSON that parses,
 * counts kept across exec and not shared with a fork's child, the file gone
 * at exit and removed for a process that was killed; and the messages the
 * library no longer prints by default kept there instead.  Each test has its
 * own live directory (SOCKTUNE_LIVE_DIR), so other tests' processes never
 * show. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

struct server {
	pid_t pid;
	char *sock, *dir, *out, *err;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits until livesrv has said "ready" N times: once per program image. */
static void server_ready(struct server *s, int n)
{
	for (int i = 0; i < 500; i++) {
		char *out = it_read_file(s->out);
		int ready = it_count(out, "ready");
		free(out);
		if (ready >= n)
			return;
		sleep_ms(10);
	}
	cr_assert_fail("livesrv did not start:\n%s", it_read_file(s->err));
}

/* Starts livesrv preloaded, with its own live directory and ENV1, ENV2
 * (either may be NULL), and waits until it listens. */
static void server_start(struct server *s, const char *env1, const char *env2)
{
	s->sock = it_path("srv.sock");
	s->dir = it_path("live");
	s->out = it_path("srv.out");
	s->err = it_path("srv.err");
	char *live, *home;
	cr_assert_geq(asprintf(&live, "SOCKTUNE_LIVE_DIR=%s", s->dir), 0);
	cr_assert_geq(asprintf(&home, "HOME=%s", it_tmpdir()), 0);
	const char *env[8] = {it_preload_env(), live, home, "PATH=/usr/bin:/bin"};
	int n = 4;
	if (env1)
		env[n++] = env1;
	if (env2)
		env[n++] = env2;
	cr_assert_eq(mkdir(s->dir, 0700), 0);
	s->pid = it_spawn(IT_LIST(it_target("livesrv"), s->sock), env, s->out, s->err);
	cr_assert_gt(s->pid, 0);
	server_ready(s, 1);
}

/* Sends CMD as a client (the runner: not preloaded) and returns the reply. */
static char *ask(struct server *s, const char *cmd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", s->sock);
	int fd = -1;
	for (int i = 0; i < 500; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert_geq(fd, 0);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		close(fd);
		fd = -1;
		sleep_ms(10);
	}
	cr_assert_geq(fd, 0, "cannot connect to livesrv: %s", strerror(errno));
	cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	char buf[128];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 0, "no reply to %s", cmd);
	buf[n] = '\0';
	return strdup(buf);
}

static int server_stop(struct server *s)
{
	free(ask(s, "quit"));
	int status;
	cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "livesrv failed:\n%s",
		  it_read_file(s->err));
	return status;
}

/* socktune stats --dir DIR ARGS... */
static int stats(struct it_run *r, struct server *s, const char *a1, const char *a2,
		 const char *a3)
{
	const char *argv[8] = {it_bin(), "stats", "--dir", s->dir};
	int n = 4;
	for (const char *a[] = {a1, a2, a3}, **p = a; p < a + 3; p++)
		if (*p)
			argv[n++] = *p;
	return it_run(r, argv, NULL, 0);
}

/* The sum's counters, flattened ("counters.sockets.seen=4"), through a JSON
 * parser: the test fails when the output is not one JSON object. */
static char *stats_flat(struct server *s)
{
	struct it_run r;
	cr_assert_eq(stats(&r, s, "--json", "--all", NULL), 0, "socktune stats failed:\n%s", r.err);
	char *path = it_write_file("stats.json", r.out);
	char *why;
	char *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "--json did not parse: %s", why);
	it_run_free(&r);
	return flat;
}

/* The live file of PID in the server's directory (malloc'd). */
static char *live_file(struct server *s, pid_t pid)
{
	char *file;
	cr_assert_geq(asprintf(&file, "%s/socktune-%lu/%ld", s->dir, (unsigned long)geteuid(),
			       (long)pid), 0);
	return file;
}

/* A server that connected once and was then killed; returns the file it
 * left, which must be there. */
static char *server_killed(struct server *s)
{
	server_start(s, NULL, NULL);
	free(ask(s, "pair 1"));
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	char *file = live_file(s, s->pid);
	cr_assert_eq(access(file, F_OK), 0, "SIGKILL left no file: nothing to remove");
	return file;
}

static char *pid_text(pid_t pid)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%ld", (long)pid), 0);
	return p;
}

Test(live, counters_rise_while_it_serves_and_the_entry_goes_at_exit)
{
	struct server s;
	server_start(&s, NULL, NULL);
	free(ask(&s, "pair 2"));
	char *flat = stats_flat(&s);
	long processes = it_stat(flat, "processes"), seen = it_stat(flat, "counters.sockets.seen");
	long tuned = it_stat(flat, "counters.sockets.tuned");
	cr_assert_eq(processes, 1, "want the one server:\n%s", flat);
	cr_assert_geq(seen, 4, "2 pairs and the accepted sockets:\n%s", flat);
	cr_assert_gt(tuned, 0, "nothing tuned:\n%s", flat);

	free(ask(&s, "pair 5"));
	char *flat2 = stats_flat(&s);
	cr_assert_geq(it_stat(flat2, "counters.sockets.seen"), seen + 10, "did not rise:\n%s\nthen:\n%s",
		      flat2, flat);
	cr_assert_gt(it_stat(flat2, "counters.sockets.tuned"), tuned, "did not rise:\n%s", flat2);

	/* The one process, by pid, in words: the settings in force too. */
	struct it_run r;
	char *pid = pid_text(s.pid);
	cr_assert_eq(stats(&r, &s, pid, NULL, NULL), 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "livesrv"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "tls_merge=1K"), "no settings:\n%s", r.out);
	it_run_free(&r);

	server_stop(&s);
	char *file = live_file(&s, s.pid);
	cr_assert_neq(access(file, F_OK), 0, "%s is still there after the exit", file);
	cr_assert_eq(stats(&r, &s, pid, NULL, NULL), 1, "an exited pid is still listed:\n%s", r.out);
	cr_assert_not_null(strstr(r.err, "no live figures"), "%s", r.err);
	it_run_free(&r);
}

/* The control: with live off the same server is not listed, so the test
 * above cannot pass without the figures. */
Test(live, off_lists_nothing)
{
	struct server s;
	server_start(&s, "SOCKTUNE_LIVE=off", NULL);
	free(ask(&s, "pair 2"));
	struct it_run r;
	char *pid = pid_text(s.pid);
	cr_assert_eq(stats(&r, &s, pid, NULL, NULL), 1, "listed with live off:\n%s", r.out);
	it_run_free(&r);
	server_stop(&s);
}

Test(live, counts_go_on_across_exec)
{
	struct server s;
	server_start(&s, NULL, NULL);
	free(ask(&s, "pair 3"));
	long before = it_stat(stats_flat(&s), "counters.sockets.seen");
	cr_assert_geq(before, 6);
	free(ask(&s, "exec"));
	/* Not before the new image listens: the old listener goes at exec. */
	server_ready(&s, 2);
	free(ask(&s, "pair 1"));
	char *flat = stats_flat(&s);
	cr_assert_eq(it_stat(flat, "processes"), 1, "%s", flat);
	cr_assert_geq(it_stat(flat, "counters.sockets.seen"), before + 2, "reset by exec:\n%s", flat);
	struct it_run r;
	cr_assert_eq(stats(&r, &s, pid_text(s.pid), NULL, NULL), 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "counting across exec"), "%s", r.out);
	it_run_free(&r);
	server_stop(&s);
}

Test(live, a_fork_child_counts_in_its_own_entry)
{
	struct server s;
	server_start(&s, NULL, NULL);
	free(ask(&s, "pair 1"));
	char *reply = ask(&s, "fork 7");
	long child = strtol(reply + strlen("child "), NULL, 10);
	cr_assert_gt(child, 0, "%s", reply);
	char *childs = pid_text((pid_t)child);
	struct it_run r;
	long seen = -1;
	/* The child makes its 7 pairs after the reply. */
	for (int i = 0; i < 200 && seen < 14; i++) {
		cr_assert_eq(stats(&r, &s, "--json", "--all", childs), 0, "the child is not listed:\n%s",
			     r.err);
		char *path = it_write_file("child.json", r.out);
		char *why, *flat = it_stats_flat(path, &why);
		cr_assert_not_null(flat, "%s", why);
		seen = it_stat(flat, "counters.sockets.seen");
		it_run_free(&r);
		if (seen < 14)
			sleep_ms(10);
	}
	cr_assert_eq(seen, 14, "the child's own 7 pairs, and none of the parent's");
	char *flat = NULL;
	cr_assert_eq(stats(&r, &s, "--json", "--all", pid_text(s.pid)), 0, "%s", r.err);
	char *why;
	flat = it_stats_flat(it_write_file("parent.json", r.out), &why);
	cr_assert_not_null(flat, "%s", why);
	/* The parent's 1 pair, its accepted sockets; not the child's 14. */
	cr_assert_lt(it_stat(flat, "counters.sockets.seen"), 14, "the child counted in the parent's:\n%s",
		     flat);
	it_run_free(&r);
	kill((pid_t)child, SIGTERM);
	server_stop(&s);
}

Test(live, a_killed_process_entry_is_removed)
{
	struct server s;
	char *file = server_killed(&s);
	struct it_run r;
	stats(&r, &s, NULL, NULL, NULL);
	cr_assert_not_null(strstr(r.out, "no running process"), "a killed process listed:\n%s", r.out);
	cr_assert_neq(access(file, F_OK), 0, "%s not removed", file);
	it_run_free(&r);
}

/* Quiet by default: a clamp and a bad value print nothing on the host's
 * stderr, and both are kept in the live figures. */
Test(live, messages_go_to_the_figures_not_to_stderr)
{
	struct server s;
	server_start(&s, "SOCKTUNE_SNDBUF=1G", "SOCKTUNE_RCVBUF=lots");
	free(ask(&s, "pair 1"));
	struct it_run r;
	cr_assert_eq(stats(&r, &s, pid_text(s.pid), NULL, NULL), 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "SOCKTUNE_RCVBUF"), "no message for the bad value:\n%s", r.out);
	if (it_expected_sndbuf(1L << 30) < (2L << 30))
		cr_assert_not_null(strstr(r.out, "wmem_max"), "no message for the clamp:\n%s", r.out);
	it_run_free(&r);
	server_stop(&s);
	char *err = it_read_file(s.err);
	cr_assert_str_empty(err, "the library printed on the host's stderr:\n%s", err);
}

/* A full tmpfs: the file is made (sparse), but its pages cannot be.
 * Without them allocated up front, the first count is a SIGBUS in the
 * host; with them, one warning and the program runs without the figures.
 * Needs root for a tmpfs of its own in a private mount namespace. */
Test(live, a_full_tmpfs_is_a_warning_not_a_crash)
{
	if (geteuid() != 0 || !it_have("unshare"))
		cr_skip_test("needs root and unshare(1) to mount a small tmpfs privately");
	char *dir = it_path("tiny");
	cr_assert_eq(mkdir(dir, 0700), 0);
	char *live;
	cr_assert_geq(asprintf(&live, "SOCKTUNE_LIVE_DIR=%s", dir), 0);
	static const char script[] =
		"mount -t tmpfs -o size=4k,mode=0755 tmpfs \"$1\" || exit 99\n"
		"mkdir -m 0700 \"$1/socktune-$(id -u)\" || exit 99\n"
		"head -c 65536 /dev/zero > \"$1/fill\" 2>/dev/null\n"
		"shift; exec env \"$@\"\n";
	const char *argv[] = {"unshare", "-m", "sh", "-c", script, "sh", dir, it_preload_env(), live,
			      "SOCKTUNE_LOG=warn", it_target("probe"), "--family", "unix", NULL};
	struct it_run r;
	it_run(&r, argv, NULL, IT_INHERIT_ENV);
	if (r.status == 99)
		cr_skip_test("cannot mount a tmpfs here: %s", r.err);
	cr_assert_eq(r.status, 0, "the host did not survive a full tmpfs (status %d):\n%s", r.status,
		     r.err);
	cr_assert_not_null(strstr(r.err, "cannot size its file"), "no warning:\n%s", r.err);
	it_run_free(&r);
}

/* A killed process leaves its file; the next process of the user to make
 * one removes it, so a service that crashes and restarts cannot fill the
 * tmpfs while nobody runs socktune stats. */
Test(live, the_next_process_removes_the_file_a_killed_one_left)
{
	struct server s;
	char *file = server_killed(&s);
	/* The next: a probe in the same live directory, one connection. */
	char *live;
	cr_assert_geq(asprintf(&live, "SOCKTUNE_LIVE_DIR=%s", s.dir), 0);
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST(live), IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_run_free(&r);
	cr_assert_neq(access(file, F_OK), 0, "%s is still there after the next process started", file);
}
