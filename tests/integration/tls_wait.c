/* tls_wait.c: where held TLS bytes leave (issue 3 part B): every wait point, an SSL
 * that moves between threads, thread exit, fork.
 *
 * The program under test is tlswait (tests/targets/tlswait.c: tlswriter's client,
 * tests/targets/tlsclient.h, with another main), preloaded with
 * SOCKTUNE_TLS_MERGE=1024 and Nagle on; the peer is tlspeer, never preloaded, as in
 * tls.c. The helpers (the certificate, the background peer, the writer's
 * environment, the byte and stats checks) are shared with tls.c, in tls_common.c.
 *
 * When the bytes arrive: tlspeer runs with --reset-after N --reset-delay-ms 0, so it
 * exits the moment the N-th byte arrives (after hashing them all); a thread of the
 * runner (not preloaded) waits on a pidfd for that exit and reads CLOCK_MONOTONIC,
 * the same clock the writer prints. That instant is a few milliseconds after the
 * bytes arrived, never before.
 *
 * Suites:
 *   tls_wait       each wait point sends what the thread holds (arrival < 500 ms into
 *                  a ~1.5 s wait); the controls: a busy loop sends nothing until it
 *                  ends, and neither does a sem_wait that takes its semaphore at once
 *   tls_wait_threads  an SSL handed from thread A to B and back (A waits in
 *                  pthread_cond_wait, or spins and keeps holding), all bytes exact
 *                  and in order; pthread_exit sends what the thread holds, also
 *                  bytes it took over from another thread
 *   tls_wait_fork  fork with bytes held by the forking thread or another one; the
 *                  child's _exit/exit sends nothing of the parent's
 *   tls_split      the record rule, under strace: a flush of a batch's three writes
 *                  is two records (the last write alone) that leave in one writev();
 *                  the control, SOCKTUNE_TLS_SPLIT=off, sends one record with write()
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "tls_common.h"

#define MS 1000000LL
#define BATCH 132 /* tlswait's batch: 8 + 24 + 100 bytes */

static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The instant the peer exited, seen through a pidfd (it is not reaped here:
 * tls_bg_wait does that afterwards). */
struct exit_watch {
	int pidfd;
	long long at_ns; /* 0: not seen */
};

static void *watch_exit(void *arg)
{
	struct exit_watch *w = arg;
	struct pollfd p = { .fd = w->pidfd, .events = POLLIN };
	if (poll(&p, 1, BG_TIMEOUT_MS + 5000) == 1)
		w->at_ns = mono_ns();
	return NULL;
}

/* tlspeer (PEER_ARGS) against tlswait (WRITER_ARGS), preloaded with
 * SOCKTUNE_TLS_MERGE=1024. With EXITED_NS, the instant the peer exited goes there
 * (0 if it was not seen). */
/* The hold bound these runs use: the largest, so that a wait point's send
 * (at once) and the bound's (200 ms on) are told apart. */
static int hold_max_ms = 200;

static void wait_pair_run_with(struct pair *p, const char *const peer_args[], const char *const writer_args[],
			       long long *exited_ns, const char *split, const char *trace_path)
{
	tls_make_cert();
	int port;
	int lfd = tls_make_listener(&port);
	const char *const *pargv = tls_cat_args(IT_LIST(it_target("tlspeer"), "--listen-fd", "3", "--cert",
							tls_cert_pem, "--key", tls_key_pem, "--deadline-ms", "10000"),
						peer_args);
	tls_bg_start(&p->peer, pargv, lfd, false);
	close(lfd);
	struct exit_watch w = { .pidfd = -1 };
	pthread_t watcher;
	if (exited_ns) {
		w.pidfd = pidfd_open(p->peer.pid, 0);
		cr_assert_geq(w.pidfd, 0, "pidfd_open: %s", strerror(errno));
		cr_assert_eq(pthread_create(&watcher, NULL, watch_exit, &w), 0);
	}
	tls_hold_max = tls_xfmt("%d", hold_max_ms);
	const char **env = (const char **)tls_writer_env(p, "1024", NULL);
	if (split)
		env[2] = tls_xfmt("SOCKTUNE_TLS_SPLIT=%s", split);
	const char *const *wargv =
		tls_cat_args(IT_LIST(it_target("tlswait"), "--port", tls_xfmt("%d", port)), writer_args);
	unsigned flags = IT_PRELOAD;
	if (trace_path) {
		wargv = tls_cat_args(IT_LIST("strace", "-f", "-qq", "-s", "8", "-e", "trace=write,writev,sendmsg",
					     "-e", "signal=none", "-o", trace_path, "-E", it_preload_env(), "--"),
				     wargv);
		flags = 0;
	}
	it_run(&p->w, wargv, (const char *const *)env, flags);
	if (exited_ns) {
		pthread_join(watcher, NULL);
		close(w.pidfd);
		*exited_ns = w.at_ns;
	}
	tls_bg_wait(&p->peer, BG_TIMEOUT_MS);
}

static void wait_pair_run(struct pair *p, const char *const peer_args[], const char *const writer_args[],
			  long long *exited_ns)
{
	wait_pair_run_with(p, peer_args, writer_args, exited_ns, NULL, NULL);
}

/* A CLOCK_MONOTONIC nanosecond count the writer printed (long is 64 bits here). */
static long long ll_field(const char *text, const char *prefix, const char *key)
{
	_Static_assert(sizeof(long) >= 8, "it_field's long must hold nanoseconds");
	return it_field(text, prefix, key);
}

/* The stats of a run that held every write of NBATCH batches and sent them as
 * FLUSHES flushes (-1: not checked); AT_EXIT likewise. */
static void check_stats(const struct pair *p, long nbatch, long flushes, long at_exit)
{
	char *d = tls_dump(p), *flat = tls_writer_stats(p, "writer ");
	cr_assert_eq(it_stat(flat, "tls.held"), 3 * nbatch, "not every write was held\n%s\n%s", flat, d);
	cr_assert_eq(it_stat(flat, "tls.bytes"), BATCH * nbatch, "%s\n%s", flat, d);
	cr_assert_eq(it_stat(flat, "tls.failures"), 0, "%s\n%s", flat, d);
	if (flushes >= 0) {
		cr_assert_eq(it_stat(flat, "tls.flushes"), flushes, "%s\n%s", flat, d);
		/* A flush of a batch's three writes is two records: the last
		 * piece goes in a record of its own (the record rule). */
		cr_assert_eq(it_field(p->peer.out, "peer ", "records"), 2 * flushes,
			     "the peer got %ld records for %ld flushes\n%s\n%s",
			     it_field(p->peer.out, "peer ", "records"), flushes, flat, d);
		cr_assert_eq(it_stat(flat, "tls.records"), 2 * flushes, "%s\n%s", flat, d);
	}
	if (at_exit >= 0)
		cr_assert_eq(it_stat(flat, "tls.at_exit"), at_exit, "%s\n%s", flat, d);
	free(flat);
	free(d);
}

/* ---- tls_wait: every wait point ---- */

struct waited {
	struct pair p;
	long long before, after; /* the writer's: batch written / wait over */
	long long arrived;       /* the runner's: the peer had every byte */
};

static void run_wait(struct waited *r, const char *kind, const char *ms)
{
	wait_pair_run(&r->p,
		      IT_LIST("--tls", "1.3", "--reset-after", tls_xfmt("%d", BATCH), "--reset-delay-ms", "0"),
		      IT_LIST("--wait", kind, "--ms", ms), &r->arrived);
	char *d = tls_dump(&r->p);
	it_assert_ran(&r->p.w);
	tls_assert_same_bytes(&r->p, "reset");
	r->before = ll_field(r->p.w.out, "wait ", "before_ns");
	r->after = ll_field(r->p.w.out, "wait ", "after_ns");
	cr_assert(r->before > 0 && r->after >= r->before, "no times printed\n%s", d);
	cr_assert_gt(r->arrived, 0, "the peer's exit was not seen\n%s", d);
	cr_log_info("%s: the bytes arrived %lld ms into a %lld ms wait", kind, (r->arrived - r->before) / MS,
		    (r->after - r->before) / MS);
	free(d);
}

/* The thread waits in KIND for ~1.5 s: its 3 held writes must leave as the wait
 * begins, as one record. */
static void wait_case(const char *kind)
{
	struct waited r;
	run_wait(&r, kind, "1500");
	char *d = tls_dump(&r.p);
	if (it_field(r.p.w.out, "wait ", "ret") == -1 && it_field(r.p.w.out, "wait ", "errno") == ENOSYS)
		cr_skip_test("%s: this kernel does not have it", kind);
	cr_assert_geq(r.after - r.before, 1400 * MS, "%s returned after %lld ms, not ~1500: the test proves nothing\n%s",
		      kind, (r.after - r.before) / MS, d);
	cr_assert_lt(r.arrived - r.before, 100 * MS,
		     "the held bytes arrived %lld ms after the thread began to wait in %s (the wait took %lld ms)\n%s",
		     (r.arrived - r.before) / MS, kind, (r.after - r.before) / MS, d);
	check_stats(&r.p, 1, 1, 0);
	free(d);
}

#define WAIT_POINT(kind) \
	Test(tls_wait, kind) { wait_case(#kind); }

WAIT_POINT(poll)
WAIT_POINT(ppoll)
WAIT_POINT(select)
WAIT_POINT(pselect)
WAIT_POINT(epoll_wait)
WAIT_POINT(epoll_pwait)
WAIT_POINT(read)
WAIT_POINT(recv)
/* The other reads and epoll_pwait2 (skipped where the kernel lacks it). */
WAIT_POINT(epoll_pwait2)
WAIT_POINT(readv)
WAIT_POINT(recvfrom)
WAIT_POINT(recvmsg)
WAIT_POINT(nanosleep)
WAIT_POINT(clock_nanosleep)
WAIT_POINT(usleep)
WAIT_POINT(sleep)
WAIT_POINT(cond_timedwait)
WAIT_POINT(cond_wait)
WAIT_POINT(sem_timedwait)
WAIT_POINT(sem_wait)
/* The wider wait points: children, threads, locks, signals, stdio, accept. */
WAIT_POINT(cond_clockwait)
WAIT_POINT(sem_clockwait)
WAIT_POINT(waitpid)
WAIT_POINT(wait)
WAIT_POINT(waitid)
WAIT_POINT(wait4)
WAIT_POINT(wait3)
WAIT_POINT(pthread_join)
WAIT_POINT(mutex)
WAIT_POINT(sigwait)
WAIT_POINT(sigwaitinfo)
WAIT_POINT(sigtimedwait)
WAIT_POINT(sigsuspend)
WAIT_POINT(pause)
WAIT_POINT(fgets)
WAIT_POINT(fgetc)
WAIT_POINT(getc)
WAIT_POINT(getchar)
WAIT_POINT(fread)
WAIT_POINT(getline)
WAIT_POINT(getdelim)
WAIT_POINT(accept)

/* The control: a busy loop passes no wait point, so the bytes stay held until the
 * bound sends them, hold_max (200 ms) after the first was held, from the bound's
 * thread. It shows that holding is real and that arrival is measured right; the tests
 * above, which want the bytes well before 200 ms, could fail. */
Test(tls_wait, control_spin_sends_at_the_bound)
{
	struct waited r;
	run_wait(&r, "spin", "1500");
	char *d = tls_dump(&r.p);
	cr_assert(r.arrived - r.before >= 190 * MS && r.arrived - r.before < 600 * MS,
		  "the held bytes arrived %lld ms into a 1500 ms busy loop, not at the 200 ms bound\n%s",
		  (r.arrived - r.before) / MS, d);
	check_stats(&r.p, 1, 1, 0);
	char *flat = tls_writer_stats(&r.p, "writer ");
	cr_assert_eq(it_stat(flat, "tls.late"), it_field(r.p.w.out, "writer ", "bytes"),
		     "the bound sent %ld bytes, not all that was held\n%s\n%s", it_stat(flat, "tls.late"),
		     flat, d);
	cr_assert_geq(it_stat(flat, "tls.longest_us"), 190000, "%s\n%s", flat, d);
	free(flat);
	free(d);
}

/* The bound at its default, 20 ms: a thread that never waits delays its bytes by no
 * more than that (the control above shows that without the bound, as at 200 ms, they
 * wait longer). */
Test(tls_wait, default_bound_sends_a_spinning_threads_bytes)
{
	struct waited r;
	hold_max_ms = 20;
	run_wait(&r, "spin", "1000");
	char *d = tls_dump(&r.p);
	cr_assert_lt(r.arrived - r.before, 100 * MS,
		     "the held bytes arrived %lld ms into a busy loop: the 20 ms bound did not send them\n%s",
		     (r.arrived - r.before) / MS, d);
	char *flat = tls_writer_stats(&r.p, "writer ");
	cr_assert_gt(it_stat(flat, "tls.late"), 0, "%s\n%s", flat, d);
	free(flat);
	free(d);
}

/* KIND takes a semaphore or mutex that is free, then a 1 s busy loop: no wait, so
 * the bytes stay held until the 200 ms bound. */
static void taken_at_once(const char *kind)
{
	struct waited r;
	run_wait(&r, kind, "1000");
	char *d = tls_dump(&r.p);
	cr_assert_eq(it_field(r.p.w.out, "wait ", "ret"), 0, "%s failed\n%s", kind, d);
	cr_assert_geq(r.arrived - r.before, 190 * MS,
		      "the held bytes arrived %lld ms after %s, which did not wait, before the 200 ms "
		      "bound\n%s",
		      (r.arrived - r.before) / MS, kind, d);
	check_stats(&r.p, 1, 1, 0);
	free(d);
}

/* Python takes a semaphore for every lock. */
Test(tls_wait, sem_wait_taken_at_once_sends_nothing) { taken_at_once("sem_now"); }
/* A thread that locks between its writes keeps merging them. */
Test(tls_wait, mutex_taken_at_once_sends_nothing) { taken_at_once("mutex_now"); }

/* ---- tls_wait_threads: an SSL that moves between threads ---- */

/* A writes, hands the SSL to B (VIA cond: A waits in pthread_cond_wait; spin: A spins
 * and still holds its batch), B writes, waits, hands it back, A writes and ends with
 * pthread_exit (spin-b-exits: B ends with pthread_exit right after its batch, holding
 * A's and its own). Then the main thread busy-loops for 1 s. Every byte of the
 * NBATCH batches arrives once and in order, and the last ones leave at the
 * pthread_exit, as FLUSHES records in all. */
static void handoff_case(const char *via, long nbatch, long flushes)
{
	struct pair p;
	long long arrived;
	const char *reset_at = tls_xfmt("%ld", nbatch * BATCH);
	wait_pair_run(&p, IT_LIST("--tls", "1.3", "--reset-after", reset_at, "--reset-delay-ms", "0"),
		      IT_LIST("--handoff", via), &arrived);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "reset");
	cr_assert_eq(it_field(p.w.out, "writer ", "bytes"), nbatch * BATCH, "%s", d);
	long long exit_at = ll_field(p.w.out, "handoff ", "exit_ns"), spin_end = ll_field(p.w.out, "handoff ", "spin_end_ns");
	cr_assert(exit_at > 0 && spin_end > exit_at, "no times printed\n%s", d);
	cr_assert_gt(arrived, 0, "the peer's exit was not seen\n%s", d);
	cr_assert_geq(arrived, exit_at, "the last batch arrived before the thread wrote it all: it was not held\n%s", d);
	cr_assert_lt(arrived, spin_end,
		     "the last batch arrived %lld ms after its thread's pthread_exit, after the main thread's "
		     "1 s busy loop ended (%lld ms): thread exit did not send it\n%s",
		     (arrived - exit_at) / MS, (spin_end - exit_at) / MS, d);
	cr_assert_lt(arrived - exit_at, 500 * MS, "the last batch arrived %lld ms after its thread's pthread_exit\n%s",
		     (arrived - exit_at) / MS, d);
	check_stats(&p, nbatch, flushes, -1);
	free(d);
}

/* A's batch leaves at A's pthread_cond_wait, B's at its nanosleep, A's last at its
 * pthread_exit. */
Test(tls_wait_threads, handoff_cond_wait) { handoff_case("cond", 3, 3); }
/* B's first write takes over what A holds; B's nanosleep sends both batches as one
 * record. */
Test(tls_wait_threads, handoff_spin_flag) { handoff_case("spin", 3, 2); }
/* B takes over what A holds and ends without a wait: its pthread_exit sends both
 * batches (A ends too, and must not send them: they are B's). */
Test(tls_wait_threads, handoff_spin_taker_exits_holding) { handoff_case("spin-b-exits", 2, 1); }

/* ---- tls_wait_fork ---- */

static void fork_case(const char *who, const char *child_end)
{
	struct pair p;
	wait_pair_run(&p, IT_LIST("--tls", "1.3"), IT_LIST("--fork", who, "--child", child_end), NULL);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(it_field(p.w.out, "fork ", "status"), 0, "the child did not exit 0\n%s", d);
	tls_assert_same_bytes(&p, "close_notify");
	cr_assert_eq(it_field(p.w.out, "writer ", "bytes"), 2 * BATCH, "%s", d);
	check_stats(&p, 2, -1, -1);
	free(d);
}

/* The forking thread holds a batch (the prepare handler may send it). */
Test(tls_wait_fork, self_holds_child__exit) { fork_case("self", "_exit"); }
/* Another thread holds a batch across the fork: the child has a copy of it, and
 * must drop it. */
Test(tls_wait_fork, thread_holds_child__exit) { fork_case("thread", "_exit"); }
Test(tls_wait_fork, thread_holds_child_exit) { fork_case("thread", "exit"); }

/* ---- tls_split: the record rule ---- */

/* The lines of TRACE that start a call named CALL and end with " = RESULT". */
static int count_calls(const char *trace, const char *call, const char *result)
{
	int n = 0;
	char want[64];
	snprintf(want, sizeof(want), " = %s", result);
	for (const char *line = trace; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *c = line + strspn(line, "0123456789 ");
		if (!strncmp(c, call, strlen(call)) && c[strlen(call)] == '(' && len > strlen(want) &&
		    !strncmp(line + len - strlen(want), want, strlen(want)))
			n++;
		line = end ? end + 1 : NULL;
	}
	return n;
}

/* One batch of three held writes (8 + 24 + 100 bytes), flushed at poll(), with
 * SOCKTUNE_TLS_SPLIT=SPLIT; returns the strace of write, writev and sendmsg. */
static char *split_run(struct pair *p, const char *split)
{
	if (!it_have("strace"))
		cr_skip_test("strace is not installed");
	cr_assert_eq(access(it_lib(), R_OK), 0, "the library %s is missing", it_lib());
	static unsigned seq;
	const char *trace_path = it_path(tls_xfmt("split%u.strace", seq++));
	wait_pair_run_with(p, IT_LIST("--tls", "1.3", "--reset-after", tls_xfmt("%d", BATCH), "--reset-delay-ms", "0"),
			   IT_LIST("--wait", "poll", "--ms", "200"), NULL, split, trace_path);
	it_assert_ran(&p->w);
	tls_assert_same_bytes(p, "reset");
	return it_read_file(trace_path);
}

Test(tls_split, flush_is_two_records_in_one_writev)
{
	struct pair p;
	char *trace = split_run(&p, NULL);
	char *d = tls_dump(&p);
	check_stats(&p, 1, 1, 0);
	/* 8 + 24 bytes in one TLS 1.3 record (5 + 32 + 1 + 16 = 54 bytes), 100
	 * in another (122 bytes): one writev of both, 176 bytes. */
	cr_assert_eq(count_calls(trace, "writev", "176"), 1, "no single writev of both records\n%s\n%s", trace, d);
	cr_assert_eq(count_calls(trace, "writev", "54") + count_calls(trace, "write", "54") +
			     count_calls(trace, "write", "122"),
		     0, "a record left on its own\n%s\n%s", trace, d);
	free(d);
	free(trace);
}

Test(tls_split, control_off_is_one_record_in_one_write)
{
	struct pair p;
	char *trace = split_run(&p, "off");
	char *d = tls_dump(&p);
	cr_assert_eq(it_field(p.peer.out, "peer ", "records"), 1, "%s", d);
	/* 132 bytes in one TLS 1.3 record: 5 + 132 + 1 + 16 = 154. */
	cr_assert_eq(count_calls(trace, "write", "154"), 1, "%s\n%s", trace, d);
	cr_assert_eq(count_calls(trace, "writev", "176"), 0, "%s\n%s", trace, d);
	free(d);
	free(trace);
}
