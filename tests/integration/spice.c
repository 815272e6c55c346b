/* spice.c: seed 004's real program, briefly. bench/spice runs QEMU's spice-server over
 * TLS to spice-gtk's spicy-stats, socktune preloaded into QEMU only, with tls_merge =
 * 1024 and then with cork = auto as well, and the test fails when either session
 * stalls: a lazy receiver (spice-gtk reads a record at a time and never asks OpenSSL
 * what it holds) left waiting on an empty socket, or held bytes stranded behind the
 * program's own TCP_CORK.
 *
 * The control: after the first session's measured window its client is stopped
 * (SIGSTOP) for 3 s, and the same stall detector must fire then, and see progress
 * again once the client continues. A detector that cannot see a stopped client would
 * pass a deadlocked one too.
 *
 * It needs qemu-system-x86_64, spicy-stats, busybox, cpio and openssl (CI installs them
 * with `make bench-deps`, which also downloads the guest kernel into build/spice-guest)
 * and skips, saying what is missing, without them. bench/spice is found as
 * SOCKTUNE_SPICE or bench/spice under the current directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* A boot of the guest (about 10 s under TCG here) and two sessions of SESSION_S, the
 * first with its 3 s pause and 2 s to resume: about 30 s; the rest is room for a slow
 * machine. */
#define SESSION_S "6"
#define HARD_TIMEOUT_S 150
/* bench/spice's stall threshold (--stall 2): the longest the client's progress may stop. */
#define STALL_MS 2000
/* At about 1 MB/s of display stream here, a session moves several MB in 6 s; a stalled
 * one stopped below 100 KB. */
#define MIN_DISPLAY_BYTES 256000L

static const char *spice_script(void)
{
	const char *s = getenv("SOCKTUNE_SPICE");
	char *abs = realpath(s && *s ? s : "bench/spice", NULL);
	return abs && access(abs, R_OK) == 0 ? abs : NULL;
}

/* Runs ARGV with the runner's PATH and TMPDIR, a HOME of its own and no LD_PRELOAD (the
 * script preloads QEMU itself), at most HARD_TIMEOUT_S: then its process group gets
 * SIGTERM, so the script stops QEMU and removes its files, and SIGKILL 5 s later. */
static int run_long(struct it_run *r, const char *const argv[])
{
	char *out = it_path("spice.out"), *err = it_path("spice.err"), *home = it_path("home");
	char *env[8];
	int n = 0;
	const char *keep[] = { "PATH", "TMPDIR", "SOCKTUNE_SPICE_CACHE", "SOCKTUNE_SPICE_KERNEL",
			       "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (getenv(keep[i]) && asprintf(&env[n], "%s=%s", keep[i], getenv(keep[i])) >= 0)
			n++;
	if (asprintf(&env[n], "HOME=%s", home) >= 0)
		n++;
	env[n] = NULL;

	pid_t pid = it_spawn(argv, (const char *const *)env, out, err);
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	setpgid(pid, pid);
	int status = 0, waited = 0;
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (waited == HARD_TIMEOUT_S * 20)
			kill(-pid, SIGTERM);
		if (waited == (HARD_TIMEOUT_S + 5) * 20)
			kill(-pid, SIGKILL);
		nanosleep(&tick, NULL);
		waited++;
	}
	r->status = waited >= HARD_TIMEOUT_S * 20  ? -1
		    : WIFEXITED(status)            ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status);
	r->out = it_read_file(out);
	r->err = it_read_file(err);
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(out);
	free(err);
	free(home);
	return r->status;
}

static void skip_without(const char *program)
{
	if (!it_have(program))
		cr_skip_test("%s is not installed: no real Spice session (make bench-deps installs it)",
			     program);
}

static void assert_clean(const struct it_run *r, const char *arm)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, "arm %s ", arm);
	long display = it_field(r->out, prefix, "display");
	cr_assert_eq(it_field(r->out, prefix, "broken"), 0, "%s: broken\n--- stdout:\n%s--- stderr:\n%s",
		     arm, r->out, r->err);
	cr_assert_eq(it_field(r->out, prefix, "stalled"), 0,
		     "%s: the client made no progress for %ld ms (more than %d)\n--- stdout:\n%s--- stderr:\n%s",
		     arm, it_field(r->out, prefix, "gap_ms"), STALL_MS, r->out, r->err);
	cr_assert_geq(display, MIN_DISPLAY_BYTES,
		      "%s: the client read only %ld display bytes in " SESSION_S " s\n--- stdout:\n%s--- stderr:\n%s",
		      arm, display, r->out, r->err);
	/* The merge held something, or this test proves nothing about it. */
	cr_assert_gt(it_field(r->out, prefix, "held"), 0, "%s: socktune held no SSL_write\n%s", arm, r->out);
}

Test(spice, tls_merge_sessions_run_clean, .timeout = HARD_TIMEOUT_S + 30)
{
	const char *script = spice_script();
	if (!script)
		cr_skip_test("bench/spice not found (run from the source tree, or set SOCKTUNE_SPICE)");
	skip_without("qemu-system-x86_64");
	skip_without("spicy-stats");
	skip_without("busybox");
	skip_without("cpio");
	skip_without("openssl");
	skip_without("ss");
	skip_without("bash");

	const char *first = getenv("SOCKTUNE_TESTPRELOAD_FIRST");
	struct it_run r;
	run_long(&r, IT_LIST("/bin/sh", "-c",
			     "exec bash \"$0\" --raw --no-fetch --seconds " SESSION_S
			     " --stall 2 --control-pause 3 --arms merge,merge+cork ${1:+--preload-first \"$1\"} \"$2\"",
			     script, first ? first : "", it_lib()));
	if (r.status == 77) {
		const char *why = strstr(r.err, "skipped: ");
		cr_skip_test("%s", why ? why + strlen("skipped: ") : r.err);
	}
	cr_assert_neq(r.status, -1, "bench/spice ran longer than %d s\n--- stdout:\n%s--- stderr:\n%s",
		      HARD_TIMEOUT_S, r.out, r.err);
	cr_assert_eq(r.status, 0, "bench/spice: exit status %d\n--- stdout:\n%s--- stderr:\n%s", r.status,
		     r.out, r.err);

	assert_clean(&r, "merge");
	assert_clean(&r, "merge+cork");

	/* The control, after the first session: the stopped client must read as a stall,
	 * and the client that continues as progress. */
	long gap = it_field(r.out, "arm merge ", "control_gap_ms");
	cr_assert_gt(gap, STALL_MS,
		     "control: the stall detector saw only %ld ms without progress while the client "
		     "was stopped for 3 s\n%s",
		     gap, r.out);
	cr_assert_eq(it_field(r.out, "arm merge ", "control_resumed"), 1,
		     "control: no progress after the client continued\n%s", r.out);
	it_run_free(&r);
}
