/* cork.c: corking (issue 4): cork = off | auto | on, SOCKTUNE_CORK.
 *
 * Every test runs tlscork (tests/targets/tlscork/) twice over: as the program under
 * test, preloaded with the library and SOCKTUNE_CORK set explicitly (and a stats file),
 * and as its peer, never preloaded (tls_bg_start), which hashes what reached it and
 * notes when.  Every test checks that the peer received exactly the bytes the program
 * wrote (SHA-256 on both ends).  The certificate, the background peers and the
 * listening sockets are tls_common.c's.
 *
 * Suites:
 *   cork         segments: a burst workload (2000 bursts of 10 writes of 20..200 bytes,
 *                TCP_NODELAY, each burst followed by a nanosleep) sends at most half
 *                the segments (TCP_INFO tcpi_segs_out on the sender) with auto as
 *                without, every write held and one push per burst;
 *                a writer that never waits still delivers within hold_max (20 ms:
 *                < 100 ms after its last write, where the kernel's own timer takes
 *                ~200 ms), pushed by the bound's thread;
 *                a program that corks itself (TCP_CORK, or MSG_MORE) is left alone
 *                (strace: no TCP_CORK and no MSG_MORE but its own; cork.yielded 1);
 *                cork=on: TCP_CORK reads 1 right after connect and after accept, one
 *                setsockopt(TCP_CORK, 1) and never a push; auto makes no TCP_CORK
 *                call when nothing is held (strace), one when a burst is;
 *                unix stream sockets are never corked (strace: no MSG_MORE).
 *   cork_wait    each kind of wait pushes what the thread holds, once per burst.
 *   cork_end     so do the other push points: close (of one of two fds of the
 *                connection), shutdown, thread exit, exec (the bytes arrive < 100 ms
 *                after, not at the kernel's ~200 ms), and fork, in the parent only
 *                (strace).
 *   cork_rr      request/response with auto, 200 round trips, over TCP, over TLS with
 *                tls_merge 0 (only corking acts) and over TLS with the default
 *                tls_merge, in four kinds of program: an epoll event loop server (one
 *                read per readiness, so epoll_wait is where a reply must leave), a
 *                poll loop server (reads until EAGAIN), a blocking thread-per-
 *                connection server (these three with 2 connections of 100 round
 *                trips: one after the other for the loops, at once for the threads)
 *                and a client that sleeps (nanosleep 2 ms) after each request, before
 *                reading the reply (the reply must be readable by then in most
 *                rounds).  No round trip may reach 150 ms: only a cork stall (the
 *                kernel holds a corked partial segment ~200 ms) takes that long, and
 *                the first one ends the run.  The controls: the same programs with
 *                cork=on, corked for life and never pushed, stall (some round trip
 *                >= 150 ms), so the bound can fail.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "run.h"
#include "tls_common.h"

#define MS 1000000LL
#define RR_BOUND_US 150000L /* a round trip this long is a cork stall */
/* hold_max's default is 20 ms; the kernel's own cork timer, ~200 ms, fails this. */
#define NEVER_WAIT_BOUND_MS 100

/* One run: the program under test and its peer. */
struct cork_run {
	struct it_run r;    /* tlscork, preloaded */
	struct bg peer;     /* tlscork, never preloaded */
	const char *prefix; /* the summary line of the program under test: "burst ", ... */
	char *stats_dir;
	char *trace; /* the strace output, or NULL */
};

/* Both ends' status and output (and the start of the trace), for assertion messages. */
static char *dump(const struct cork_run *x)
{
	const char *t = x->trace ? x->trace : "";
	return tls_xfmt("--- program under test (status %d) stdout:\n%s--- its stderr:\n%s"
			"--- peer (status %d) stdout:\n%s--- peer stderr:\n%s%s%.6000s",
			x->r.status, x->r.out ? x->r.out : "", x->r.err ? x->r.err : "", x->peer.status,
			x->peer.out ? x->peer.out : "", x->peer.err ? x->peer.err : "",
			x->trace ? "--- strace (start):\n" : "", t);
}

/* tlscork with ARGS as the peer, LISTEN_FD (>= 0) as its fd 3. */
static void start_peer(struct cork_run *x, const char *const args[], int listen_fd)
{
	tls_bg_start(&x->peer, tls_cat_args(IT_LIST(it_target("tlscork")), args), listen_fd, false);
}

/* tlscork with ARGS as the program under test: the library preloaded (under strace
 * -e trace=STRACE_CALLS when not NULL, preloaded into the tracee only),
 * SOCKTUNE_CORK=CORK, SOCKTUNE_TLS_MERGE=TLS_MERGE (unset, so the default, when
 * NULL), a stats file of its own.  Then waits for the peer. */
static void run_under_test(struct cork_run *x, const char *const args[], const char *cork,
			   const char *tls_merge, const char *strace_calls)
{
	static unsigned seq;
	x->stats_dir = it_path(tls_xfmt("stats%u", seq));
	cr_assert_eq(mkdir(x->stats_dir, 0700), 0);
	const char *const env[] = { tls_xfmt("SOCKTUNE_CORK=%s", cork),
				    tls_xfmt("SOCKTUNE_STATS=%s/st.%%p.json", x->stats_dir),
				    tls_merge ? tls_xfmt("SOCKTUNE_TLS_MERGE=%s", tls_merge) : "SOCKTUNE_TLS_MERGE",
				    NULL };
	const char *const *argv = tls_cat_args(IT_LIST(it_target("tlscork")), args);
	unsigned flags = IT_PRELOAD;
	char *trace_path = NULL;
	if (strace_calls) {
		if (!it_have("strace"))
			cr_skip_test("strace is not installed");
		cr_assert_eq(access(it_lib(), R_OK), 0, "the library %s is missing", it_lib());
		trace_path = it_path(tls_xfmt("strace%u.out", seq));
		argv = tls_cat_args(IT_LIST("strace", "-f", "-qq", "-s", "8", "-e", tls_xfmt("trace=%s", strace_calls),
					    "-e", "signal=none", "-o", trace_path, "-E",
					    it_preload_env(),
					    "--"),
				    argv);
		flags = 0;
	}
	seq++;
	it_run(&x->r, argv, env, flags);
	if (trace_path)
		x->trace = it_read_file(trace_path);
	/* A program that failed may never have connected: do not wait long for the peer. */
	tls_bg_wait(&x->peer, x->r.status == 0 ? BG_TIMEOUT_MS : 3000);
}

static void assert_both_ran(const struct cork_run *x)
{
	char *d = dump(x);
	cr_assert_eq(x->r.status, 0, "the program under test failed\n%s", d);
	cr_assert_eq(x->peer.status, 0, "the peer failed\n%s", d);
	free(d);
}

/* The stats record of the program under test, flattened. */
static char *stats_of(const struct cork_run *x)
{
	char *d = dump(x);
	long pid = it_field(x->r.out, x->prefix, "pid");
	cr_assert_gt(pid, 0, "no pid printed\n%s", d);
	char *why, *flat = it_stats_flat(tls_xfmt("%s/st.%ld.json", x->stats_dir, pid), &why);
	cr_assert_not_null(flat, "bad stats record: %s\n%s", why, d);
	cr_assert_neq(it_stat(flat, "cork.held"), -1, "the stats have no cork.held:\n%s\n%s", flat, d);
	free(d);
	return flat;
}

#define assert_stat(flat, x, key, want)                                                            \
	do {                                                                                       \
		long got_ = it_stat(flat, key), want_ = (want);                                    \
		char *d_ = dump(x);                                                                \
		cr_assert_eq(got_, want_, "%s: got %ld, want %ld\n--- stats:\n%s%s", key, got_, want_, flat, \
			     d_);                                                                  \
		free(d_);                                                                          \
	} while (0)

/* The bytes (BYTES_KEY) and digest (HASH_KEY) on SENDER's PREFIX line equal those on
 * RECEIVER's line. */
static void assert_same(const struct cork_run *x, const char *what, const char *sender, const char *sprefix,
			const char *sbytes, const char *shash, const char *receiver, const char *rprefix,
			const char *rbytes, const char *rhash)
{
	char *d = dump(x);
	long sb = it_field(sender, sprefix, sbytes), rb = it_field(receiver, rprefix, rbytes);
	char *sh = it_field_str(sender, sprefix, shash), *rh = it_field_str(receiver, rprefix, rhash);
	cr_assert(sb >= 0 && sh && rh, "%s: no byte count or digest printed\n%s", what, d);
	cr_assert_eq(rb, sb, "%s: %ld bytes received, %ld sent\n%s", what, rb, sb, d);
	cr_assert_str_eq(rh, sh, "%s: the bytes received differ from those sent\n%s", what, d);
	free(sh);
	free(rh);
	free(d);
}

/* ---- burst: tlscork burst against tlscork sink ---- */

/* tlscork burst ARGS, connected to a sink on 127.0.0.1 (with --expect EXPECT when > 0). */
static void burst_run(struct cork_run *x, const char *const args[], const char *cork, const char *strace_calls,
		      long expect)
{
	int port;
	int lfd = tls_make_listener(&port);
	start_peer(x, IT_LIST("sink", "--listen-fd", "3", "--expect", tls_xfmt("%ld", expect)), lfd);
	close(lfd);
	x->prefix = "burst ";
	run_under_test(x, tls_cat_args(IT_LIST("burst", "--port", tls_xfmt("%d", port)), args), cork, NULL,
		       strace_calls);
}

static void burst_checks(const struct cork_run *x)
{
	assert_both_ran(x);
	assert_same(x, "burst -> sink", x->r.out, "burst ", "bytes", "hash", x->peer.out, "sink ", "bytes", "hash");
}

static long burst_field(const struct cork_run *x, const char *key)
{
	char *d = dump(x);
	long v = it_field(x->r.out, "burst ", key);
	cr_assert_neq(v, -1, "no %s printed\n%s", key, d);
	free(d);
	return v;
}

/* Lines of the trace that contain NEEDLE. */
static int traced(const struct cork_run *x, const char *needle)
{
	return it_count_lines(x->trace ? x->trace : "", needle);
}

#define BURST_ARGS                                                                                 \
	"--bursts", "2000", "--writes", "10", "--min", "20", "--max", "200", "--api", "mix", "--wait", \
		"nanosleep", "--wait-us", "100", "--nodelay"

Test(cork, segments_halved_or_better_with_auto_bytes_exact)
{
	struct cork_run off = { 0 }, on = { 0 };
	burst_run(&off, IT_LIST(BURST_ARGS), "off", NULL, 0);
	burst_checks(&off);
	burst_run(&on, IT_LIST(BURST_ARGS), "auto", NULL, 0);
	burst_checks(&on);
	long s_off = burst_field(&off, "segs_out"), s_auto = burst_field(&on, "segs_out");
	cr_log_info("burst workload: %ld segments without corking, %ld with cork=auto (%.2fx)", s_off, s_auto,
		    (double)s_auto / (double)(s_off ? s_off : 1));
	char *d = dump(&on);
	cr_assert_gt(s_off, 0, "no segments counted\n%s", d);
	cr_assert_leq(2 * s_auto, s_off, "cork=auto sent %ld segments, without corking %ld: not <= 0.5x\n%s", s_auto,
		      s_off, d);
	free(d);

	char *flat = stats_of(&off);
	assert_stat(flat, &off, "cork.held", 0);
	assert_stat(flat, &off, "cork.pushes", 0);
	free(flat);
	flat = stats_of(&on);
	/* Every write goes with MSG_MORE; each burst ends in a wait: one push each. */
	assert_stat(flat, &on, "cork.held", burst_field(&on, "writes"));
	assert_stat(flat, &on, "cork.pushes", 2000);
	assert_stat(flat, &on, "cork.corked", 0);
	assert_stat(flat, &on, "cork.yielded", 0);
	free(flat);
}

Test(cork, never_waiting_writer_delivers_within_hold_max)
{
	struct cork_run x = { 0 };
	burst_run(&x,
		  IT_LIST("--bursts", "1", "--writes", "3", "--min", "100", "--max", "100", "--wait", "none", "--spin-ms",
			  "1000", "--nodelay"),
		  "auto", NULL, 300);
	burst_checks(&x);
	char *d = dump(&x);
	long long written = it_field(x.r.out, "burst ", "written_ns"), full = it_field(x.peer.out, "sink ", "full_ns");
	cr_assert(written > 0 && full > 0, "no times printed\n%s", d);
	cr_log_info("never waits: the bytes arrived %lld ms after the last write", (full - written) / MS);
	cr_assert_lt(full - written, NEVER_WAIT_BOUND_MS * MS,
		     "the bytes arrived %lld ms after the last write of a thread that never waits (bound %d ms)\n%s",
		     (full - written) / MS, NEVER_WAIT_BOUND_MS, d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.held", 3);
	/* The bound's push, and at most one more at exit. */
	assert_stat(flat, &x, "cork.late", 1);
	d = dump(&x);
	cr_assert_leq(it_stat(flat, "cork.pushes"), 2, "%s\n%s", flat, d);
	free(d);
	free(flat);
}

Test(cork, own_tcp_cork_left_alone)
{
	struct cork_run x = { 0 };
	burst_run(&x,
		  IT_LIST("--manage", "cork", "--bursts", "20", "--writes", "5", "--api", "mix", "--wait", "nanosleep",
			  "--nodelay"),
		  "auto", "setsockopt,sendto,sendmsg,write,writev", 0);
	burst_checks(&x);
	long own = burst_field(&x, "own_cork");
	char *d = dump(&x);
	cr_assert_eq(own, 42, "the program made %ld TCP_CORK calls, not 42\n%s", own, d);
	cr_assert_eq(traced(&x, "TCP_CORK"), own,
		     "%d setsockopt(TCP_CORK) calls reached the kernel, the program made %ld itself\n%s",
		     traced(&x, "TCP_CORK"), own, d);
	cr_assert_eq(traced(&x, "MSG_MORE"), 0, "socktune sent with MSG_MORE on a socket the program corks\n%s", d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.yielded", 1);
	assert_stat(flat, &x, "cork.held", 0);
	assert_stat(flat, &x, "cork.pushes", 0);
	free(flat);
}

Test(cork, own_msg_more_left_alone)
{
	struct cork_run x = { 0 };
	burst_run(&x,
		  IT_LIST("--manage", "more", "--bursts", "20", "--writes", "5", "--api", "mix", "--wait", "nanosleep",
			  "--nodelay"),
		  "auto", "setsockopt,sendto,sendmsg,write,writev", 0);
	burst_checks(&x);
	long own = burst_field(&x, "own_more");
	char *d = dump(&x);
	cr_assert_eq(own, 80, "the program sent %ld times with MSG_MORE, not 80\n%s", own, d);
	cr_assert_eq(traced(&x, "MSG_MORE"), own, "%d sends with MSG_MORE reached the kernel, the program made %ld\n%s",
		     traced(&x, "MSG_MORE"), own, d);
	cr_assert_eq(traced(&x, "TCP_CORK"), 0, "socktune set TCP_CORK on a socket the program corks\n%s", d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.yielded", 1);
	assert_stat(flat, &x, "cork.held", 0);
	assert_stat(flat, &x, "cork.pushes", 0);
	free(flat);
}

#define SMALL_BURSTS "--bursts", "3", "--writes", "3", "--wait", "nanosleep", "--nodelay"

Test(cork, on_corks_right_after_connect_and_never_pushes)
{
	struct cork_run x = { 0 }, off = { 0 }, au = { 0 };
	burst_run(&x, IT_LIST(SMALL_BURSTS), "on", "setsockopt", 0);
	burst_checks(&x);
	char *d = dump(&x);
	cr_assert_eq(burst_field(&x, "cork_at_start"), 1, "TCP_CORK does not read 1 after connect with cork=on\n%s", d);
	cr_assert_eq(traced(&x, "TCP_CORK, [1]"), 1, "not one setsockopt(TCP_CORK, 1)\n%s", d);
	cr_assert_eq(traced(&x, "TCP_CORK, [0]"), 0, "cork=on pushed\n%s", d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.corked", 1);
	assert_stat(flat, &x, "cork.held", 0);
	assert_stat(flat, &x, "cork.pushes", 0);
	free(flat);

	/* The controls: getsockopt reads the truth, 0, without cork=on. */
	burst_run(&off, IT_LIST(SMALL_BURSTS), "off", NULL, 0);
	burst_checks(&off);
	burst_run(&au, IT_LIST(SMALL_BURSTS), "auto", NULL, 0);
	burst_checks(&au);
	d = dump(&off);
	cr_assert_eq(burst_field(&off, "cork_at_start"), 0, "TCP_CORK reads 1 with cork=off\n%s", d);
	free(d);
	d = dump(&au);
	cr_assert_eq(burst_field(&au, "cork_at_start"), 0, "TCP_CORK reads 1 after connect with cork=auto\n%s", d);
	free(d);
	flat = stats_of(&au);
	assert_stat(flat, &au, "cork.corked", 0);
	free(flat);
}

Test(cork, on_corks_right_after_accept)
{
	struct cork_run x = { 0 };
	char *pf = it_path("port");
	start_peer(&x, IT_LIST("sink", "--port-file", pf), -1);
	x.prefix = "burst ";
	run_under_test(&x, IT_LIST("burst", "--port-file", pf, SMALL_BURSTS), "on", NULL, NULL);
	burst_checks(&x);
	char *d = dump(&x);
	cr_assert_eq(burst_field(&x, "cork_at_start"), 1, "TCP_CORK does not read 1 after accept with cork=on\n%s", d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.corked", 1);
	assert_stat(flat, &x, "cork.pushes", 0);
	free(flat);
}

Test(cork, auto_pushes_only_when_something_is_held)
{
	/* Waits of every kind, twice over, without a byte written: no TCP_CORK at all. */
	struct cork_run idle = { 0 }, once = { 0 };
	burst_run(&idle, IT_LIST("--bursts", "1", "--writes", "0", "--wait", "nanosleep", "--extra-waits", "20", "--nodelay"),
		  "auto", "setsockopt", 0);
	burst_checks(&idle);
	char *d = dump(&idle);
	cr_assert_eq(traced(&idle, "TCP_CORK"), 0, "cork=auto pushed with nothing held\n%s", d);
	free(d);
	char *flat = stats_of(&idle);
	assert_stat(flat, &idle, "cork.held", 0);
	assert_stat(flat, &idle, "cork.pushes", 0);
	free(flat);

	/* One burst, then the same waits: one push, at the first. */
	burst_run(&once, IT_LIST("--bursts", "1", "--writes", "3", "--wait", "nanosleep", "--extra-waits", "20", "--nodelay"),
		  "auto", "setsockopt", 0);
	burst_checks(&once);
	d = dump(&once);
	cr_assert_eq(traced(&once, "TCP_CORK"), 1, "not one TCP_CORK call for one burst and 21 waits\n%s", d);
	cr_assert_eq(traced(&once, "TCP_CORK, [0]"), 1, "the one TCP_CORK call is not a push (0)\n%s", d);
	free(d);
	flat = stats_of(&once);
	assert_stat(flat, &once, "cork.held", 3);
	assert_stat(flat, &once, "cork.pushes", 1);
	free(flat);
}

Test(cork, unix_stream_never_corked)
{
	struct cork_run x = { 0 };
	char *path = it_path("sink.sock");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(path), sizeof a.sun_path, "socket path too long: %s", path);
	strcpy(a.sun_path, path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	start_peer(&x, IT_LIST("sink", "--listen-fd", "3"), lfd);
	close(lfd);
	x.prefix = "burst ";
	run_under_test(&x,
		       IT_LIST("burst", "--unix", path, "--bursts", "20", "--writes", "5", "--api", "mix", "--wait",
			       "nanosleep"),
		       "auto", NULL, "setsockopt,sendto,sendmsg,write,writev");
	burst_checks(&x);
	char *d = dump(&x);
	cr_assert_eq(traced(&x, "MSG_MORE"), 0, "a unix stream socket was sent to with MSG_MORE\n%s", d);
	cr_assert_eq(traced(&x, "TCP_CORK"), 0, "TCP_CORK on a unix stream socket\n%s", d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.held", 0);
	assert_stat(flat, &x, "cork.pushes", 0);
	assert_stat(flat, &x, "cork.corked", 0);
	free(flat);
}

/* ---- cork_wait: every kind of wait pushes, once per burst ---- */

static void wait_kind_pushes(const char *kind)
{
	struct cork_run x = { 0 };
	burst_run(&x, IT_LIST("--bursts", "5", "--writes", "3", "--wait", kind, "--wait-us", "2000", "--nodelay"), "auto",
		  NULL, 0);
	burst_checks(&x);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.held", 15);
	assert_stat(flat, &x, "cork.pushes", 5);
	free(flat);
}

#define WAIT_KIND(kind) \
	Test(cork_wait, kind) { wait_kind_pushes(#kind); }

WAIT_KIND(nanosleep)
WAIT_KIND(usleep)
WAIT_KIND(poll)
WAIT_KIND(ppoll)
WAIT_KIND(select)
WAIT_KIND(epoll)
WAIT_KIND(recv)
WAIT_KIND(read)
WAIT_KIND(cond)
WAIT_KIND(sem)

/* ---- cork_end: the ends that push: close, shutdown, fork, exec, thread exit ---- */

/* One burst of 3 x 100 bytes, held, then --end END and a 500 ms busy loop: the bytes
 * must arrive right after the end (a push is immediate; without one the kernel holds
 * them ~200 ms). */
static void end_case(struct cork_run *x, const char *end, const char *strace_calls)
{
	burst_run(x,
		  IT_LIST("--bursts", "1", "--writes", "3", "--min", "100", "--max", "100", "--wait", "none", "--end", end,
			  "--spin-ms", "500", "--nodelay"),
		  "auto", strace_calls, 300);
	burst_checks(x);
	char *d = dump(x);
	long long at = it_field(x->r.out, "burst ", "end_ns"), full = it_field(x->peer.out, "sink ", "full_ns");
	cr_assert(at > 0 && full > 0, "no times printed\n%s", d);
	cr_log_info("--end %s: the held bytes arrived %lld ms after it", end, (full - at) / MS);
	cr_assert_lt(full - at, 100 * MS,
		     "the held bytes arrived %lld ms after the %s (a push sends them at once; the kernel's timer "
		     "after ~200 ms)\n%s",
		     (full - at) / MS, end, d);
	free(d);
}

Test(cork_end, close_of_a_dup_pushes)
{
	struct cork_run x = { 0 };
	end_case(&x, "close", NULL);
}

Test(cork_end, shutdown_pushes)
{
	struct cork_run x = { 0 };
	end_case(&x, "shutdown", NULL);
}

Test(cork_end, thread_exit_pushes)
{
	struct cork_run x = { 0 };
	end_case(&x, "thread-exit", NULL);
}

Test(cork_end, exec_pushes)
{
	struct cork_run x = { 0 };
	end_case(&x, "exec", NULL);
}

/* The program corks the socket itself after socktune held its writes with
 * MSG_MORE: they leave first, as they would have left at once without
 * socktune, not when the program uncorks or the kernel's timer runs out. */
Test(cork_end, own_cork_after_held_writes_pushes_them)
{
	struct cork_run x = { 0 };
	end_case(&x, "cork", NULL);
}

/* Fork is a push point of the forking thread: the parent pushes, before the fork,
 * and the child never pushes the parent's socket. */
Test(cork_end, fork_pushes_in_the_parent_only)
{
	struct cork_run x = { 0 };
	end_case(&x, "fork", "setsockopt");
	char *d = dump(&x);
	long parent = it_field(x.r.out, "burst ", "pid"), child = it_field(x.r.out, "burst ", "child");
	cr_assert(parent > 0 && child > 0, "no pids printed\n%s", d);
	int child_corks = 0, parent_corks = 0;
	for (const char *line = x.trace; line && *line;) {
		const char *eol = strchr(line, '\n');
		char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
		/* strace -f: "PID<spaces>call(...)", the PID padded to a width. */
		char *rest;
		long pid = strtol(l, &rest, 10);
		while (*rest == ' ')
			rest++;
		if (!strncmp(rest, "setsockopt(", 11) && strstr(rest, "TCP_CORK")) {
			child_corks += pid == child;
			parent_corks += pid == parent;
		}
		free(l);
		line = eol ? eol + 1 : NULL;
	}
	cr_assert_eq(child_corks, 0, "the fork's child (pid %ld) pushed the parent's socket %d time(s)\n%s", child,
		     child_corks, d);
	cr_assert_eq(parent_corks, 1, "the parent (pid %ld) pushed %d times, want once, at the fork\n%s", parent,
		     parent_corks, d);
	free(d);
}

/* ---- cork_rr: request/response ---- */

/* KIND: epoll, poll, thread (the server is under test, the peer is a client of CONNS
 * connections of ROUNDS round trips each) or sleep (the client is under test, one
 * connection, against a thread-per-connection server). */
static void rr_run(struct cork_run *x, const char *kind, bool tls, const char *cork, const char *tls_merge,
		   long conns, long rounds)
{
	/* With auto, the first stalled round trip ends the run: it fails at once. */
	const char *const *stop = !strcmp(cork, "auto") ? IT_LIST("--stop-us", tls_xfmt("%ld", RR_BOUND_US)) : NULL;
	/* Copies (tls_cat_args): a compound literal would end with the if block. */
	const char *const *srv_tls = tls_cat_args(NULL, NULL), *const *cli_tls = srv_tls;
	if (tls) {
		tls_make_cert();
		srv_tls = tls_cat_args(IT_LIST("--tls", "--cert", tls_cert_pem, "--key", tls_key_pem), NULL);
		cli_tls = tls_cat_args(IT_LIST("--tls"), NULL);
	}
	if (!strcmp(kind, "sleep")) {
		int port;
		int lfd = tls_make_listener(&port);
		start_peer(x,
			   tls_cat_args(IT_LIST("serve", "--kind", "thread", "--listen-fd", "3", "--conns", "1", "--nodelay"),
					srv_tls),
			   lfd);
		close(lfd);
		x->prefix = "client ";
		run_under_test(x,
			       tls_cat_args(tls_cat_args(IT_LIST("client", "--port", tls_xfmt("%d", port), "--rounds",
								 tls_xfmt("%ld", rounds), "--think-ms", "2", "--nodelay"),
							 stop),
					    cli_tls),
			       cork, tls_merge, NULL);
	} else {
		static unsigned seq;
		char *pf = it_path(tls_xfmt("port%u", seq++));
		/* The event loops' connections take turns: with two at once, the read of one
		 * would push the other's reply, and a loop that never pushed in its own wait
		 * would pass.  The threads, each with its own holds, run at once. */
		start_peer(x,
			   tls_cat_args(tls_cat_args(IT_LIST("client", "--port-file", pf, "--conns", tls_xfmt("%ld", conns),
							     "--rounds", tls_xfmt("%ld", rounds), "--nodelay"),
						     strcmp(kind, "thread") ? IT_LIST("--serial") : NULL),
					tls_cat_args(stop, cli_tls)),
			   -1);
		x->prefix = "server ";
		run_under_test(x,
			       tls_cat_args(IT_LIST("serve", "--kind", kind, "--port-file", pf, "--conns",
						    tls_xfmt("%ld", conns), "--nodelay"),
					    srv_tls),
			       cork, tls_merge, NULL);
	}
}

/* Both ran, and each direction's bytes are exact; returns the client's output. */
static const char *rr_checks(const struct cork_run *x)
{
	assert_both_ran(x);
	bool client_tested = !strcmp(x->prefix, "client ");
	const char *cli = client_tested ? x->r.out : x->peer.out, *srv = client_tested ? x->peer.out : x->r.out;
	assert_same(x, "client -> server", cli, "client ", "sent", "sent_hash", srv, "server ", "recv", "recv_hash");
	assert_same(x, "server -> client", srv, "server ", "sent", "sent_hash", cli, "client ", "recv", "recv_hash");
	return cli;
}

static void rr_rounds(const struct cork_run *x, long want)
{
	bool client_tested = !strcmp(x->prefix, "client ");
	const char *cli = client_tested ? x->r.out : x->peer.out, *srv = client_tested ? x->peer.out : x->r.out;
	char *d = dump(x);
	cr_assert_eq(it_field(cli, "client ", "rounds"), want, "not %ld round trips\n%s", want, d);
	cr_assert_eq(it_field(srv, "server ", "requests"), want, "not %ld requests answered\n%s", want, d);
	free(d);
}

#define RR_ROUNDS 200

static void rr_auto(const char *kind, bool tls, const char *tls_merge)
{
	struct cork_run x = { 0 };
	bool sleeper = !strcmp(kind, "sleep");
	long conns = sleeper ? 1 : 2;
	rr_run(&x, kind, tls, "auto", tls_merge, conns, RR_ROUNDS / conns);
	const char *cli = rr_checks(&x);
	char *d = dump(&x);
	long max = it_field(cli, "client ", "max_us");
	cr_log_info("%s%s%s: round trips median %ld us, max %ld us", kind, tls ? " TLS tls_merge=" : " TCP",
		    tls ? (tls_merge ? tls_merge : "default") : "", it_field(cli, "client ", "median_us"), max);
	cr_assert(max >= 0 && max < RR_BOUND_US,
		  "a round trip took %ld ms with cork=auto: a cork stall (the client stopped there, after %ld)\n%s",
		  max / 1000, it_field(cli, "client ", "rounds"), d);
	rr_rounds(&x, RR_ROUNDS);
	if (sleeper) {
		/* The nanosleep after the request is the push: the reply is there before the read. */
		long early = it_field(cli, "client ", "early");
		cr_assert_geq(early, RR_ROUNDS / 2,
			      "the reply was readable right after the 2 ms sleep in only %ld of %d rounds: the sleep "
			      "did not push the request\n%s",
			      early, RR_ROUNDS, d);
	}
	free(d);

	char *flat = stats_of(&x);
	long writes = it_field(x.r.out, x.prefix, "writes");
	assert_stat(flat, &x, "cork.corked", 0);
	assert_stat(flat, &x, "cork.yielded", 0);
	if (!tls) {
		/* Every write held; one push per request or reply (one burst each). */
		assert_stat(flat, &x, "cork.held", writes);
		assert_stat(flat, &x, "cork.pushes", RR_ROUNDS);
	} else {
		/* Plus the handshake's flights and the close_notify: a few bursts more. */
		long held = it_stat(flat, "cork.held"), pushes = it_stat(flat, "cork.pushes");
		d = dump(&x);
		cr_assert_gt(held, 0, "nothing held over TLS with cork=auto\n%s\n%s", flat, d);
		cr_assert(pushes >= RR_ROUNDS && pushes <= RR_ROUNDS + 4 * conns,
			  "cork.pushes %ld for %d round trips on %ld connection(s)\n%s\n%s", pushes, RR_ROUNDS, conns,
			  flat, d);
		free(d);
	}
	free(flat);
}

/* cork=on holds every reply (or request) the ~200 ms the kernel allows. */
static void rr_control(const char *kind, bool tls)
{
	struct cork_run x = { 0 };
	rr_run(&x, kind, tls, "on", tls ? "0" : NULL, 1, 3);
	const char *cli = rr_checks(&x);
	rr_rounds(&x, 3);
	char *d = dump(&x);
	long max = it_field(cli, "client ", "max_us");
	cr_log_info("control %s%s, cork=on: round trips max %ld us", kind, tls ? " TLS" : " TCP", max);
	cr_assert_geq(max, RR_BOUND_US,
		      "no round trip reached %ld ms with cork=on (max %ld us): the bound of the cork_rr tests "
		      "proves nothing\n%s",
		      RR_BOUND_US / 1000, max, d);
	free(d);
	char *flat = stats_of(&x);
	assert_stat(flat, &x, "cork.corked", 1);
	assert_stat(flat, &x, "cork.pushes", 0);
	free(flat);
}

#define RR_KIND(kind)                                                                              \
	Test(cork_rr, kind##_tcp) { rr_auto(#kind, false, NULL); }                                 \
	Test(cork_rr, kind##_tls_merge_0) { rr_auto(#kind, true, "0"); }                           \
	Test(cork_rr, kind##_tls_merge_default) { rr_auto(#kind, true, NULL); }                    \
	Test(cork_rr, control_on_stalls_##kind##_tcp) { rr_control(#kind, false); }

RR_KIND(epoll)
RR_KIND(poll)
RR_KIND(thread)
RR_KIND(sleep)

Test(cork_rr, control_on_stalls_epoll_tls) { rr_control("epoll", true); }
Test(cork_rr, control_on_stalls_sleep_tls) { rr_control("sleep", true); }

/* A TCP_CORK the program sets on its listener is the accepted sockets' too (the kernel
 * corks them): cork = auto must leave them alone, not push the program's cork away at
 * the next wait point. */
Test(cork, own_tcp_cork_on_the_listener_left_alone)
{
	const char *script =
		"import socket, time\n"
		"l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()\n"
		"l.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)\n"
		"c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n"
		"s.send(b'x' * 10)\n"
		"time.sleep(0.01)\n"
		"print('cork', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))\n";
	struct it_run r;
	char *stats = it_path("st.json");
	char *env_stats = tls_xfmt("SOCKTUNE_STATS=%s", stats);
	it_run(&r, IT_LIST(tls_python_exe(), "-c", script), IT_LIST("SOCKTUNE_CORK=auto", env_stats),
	       IT_PRELOAD);
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.out, "cork 1"), "the accepted socket lost the cork it inherited:\n%s",
			   r.out);
	char *why = NULL, *flat = it_stats_flat(stats, &why);
	cr_assert_not_null(flat, "stats: %s", why);
	cr_assert_eq(it_stat(flat, "cork.pushes"), 0, "socktune pushed the program's socket:\n%s", flat);
	cr_assert_eq(it_stat(flat, "cork.yielded"), 1, "%s", flat);
	it_run_free(&r);
	free(flat);
	free(env_stats);
	free(stats);
}
