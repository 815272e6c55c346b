/* tls.c: TLS write coalescing (issue 3 part B) against real OpenSSL peers.
 *
 * The library is preloaded into the program under test only: tlswriter, openssl
 * s_client, or python. The peer (tlspeer or openssl s_server) runs without it, in the
 * background, and is the witness: it hashes the plaintext it decrypted and counts the
 * application-data records it received. SOCKTUNE_TLS_MERGE is always set explicitly;
 * "0" is the control. The listening socket is made here and handed to tlspeer as fd 3,
 * so the writer can never connect before the peer listens. The certificate, the
 * background peer and the checks of the bytes and stats are in tls_common.c, shared
 * with tls_wait.c.
 *
 * Suites:
 *   tls_bytes  random write patterns (sizes 0..20000, thousands of writes), TLS 1.2 and
 *              1.3, blocking and event-loop writers, every ending (SSL_shutdown,
 *              SSL_free, exec, exit, _exit with bytes held), a full hold buffer, fork
 *              with bytes held: the peer's bytes equal the writer's, every write
 *              reports all its bytes, and the stats' tls.* counters say what was merged
 *   tls_wire   the peer receives fewer records than without merging
 *   tls_rr     a 3-piece request answered with no timer-length wait (Nagle on), after
 *              SSL_read or after waiting in poll, select, epoll_wait, recv...
 *   tls_reset  a flush that fails (the peer reset the connection) is reported by the
 *              next SSL call exactly as OpenSSL reports it without socktune
 *   tls_python asyncio (memory BIOs) is untouched; ssl.SSLSocket is merged
 *              (tests/integration/tls_asyncio.py, found from the current directory
 *              or SOCKTUNE_TESTSRC)
 *   tls_openssl  openssl s_server as the peer, openssl s_client under the library
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "tls_common.h"

/* True when something listens on 127.0.0.1:PORT or [::]:PORT (from /proc/net/tcp*). */
static bool listening(int port)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		char line[512];
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			char local[64];
			unsigned lport, state;
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*s %x", local, &lport, &state) == 3 &&
			    (int)lport == port && state == 0x0A) {
				fclose(f);
				return true;
			}
		}
		fclose(f);
	}
	return false;
}

/* ---- tls_bytes: the random pattern and every ending ---- */

static bool has_stats(const char *end)
{
	/* exec replaces the image (and its counters); _exit and _Exit write no report. */
	return !strcmp(end, "shutdown") || !strcmp(end, "free") || !strcmp(end, "exit");
}

static long size_of(const char *merge)
{
	return !strcmp(merge, "16K") ? 16384 : strtol(merge, NULL, 10);
}

/* Checks the stats and the record counts of a finished random-pattern run. */
static void check_merging(const struct pair *p, const char *merge, const char *mode, const char *end,
			  bool exact_bound)
{
	bool merging = size_of(merge) > 0 && (!mode || !strcmp(mode, "on"));
	long records = it_field(p->peer.out, "peer ", "records");
	long plain = it_field(p->w.out, "writer ", "plain_records");
	long nonzero = it_field(p->w.out, "writer ", "nonzero");
	char *d = tls_dump(p);
	if (!merging) {
		/* Also proves that the peer counts records right. */
		cr_assert_eq(records, plain, "not merging, yet the peer got %ld records for %ld\n%s", records,
			     plain, d);
	}
	if (!has_stats(end)) {
		free(d);
		return;
	}
	char *flat = tls_writer_stats(p, "writer ");
	long held = it_stat(flat, "tls.held"), flushes = it_stat(flat, "tls.flushes");
	long failures = it_stat(flat, "tls.failures"), bytes = it_stat(flat, "tls.bytes");
	long at_exit = it_stat(flat, "tls.at_exit");
	/* What `socktune ab` compares: the library's own count of records, in
	 * observe mode as when merging, is the count the peer read. */
	long counted = it_stat(flat, "tls.records");
	if (mode && !strcmp(mode, "off"))
		cr_assert_eq(counted, 0, "tls.records=%ld with SOCKTUNE=off\n%s\n%s", counted, flat, d);
	else
		cr_assert_eq(counted, records, "tls.records=%ld, but the peer read %ld records\n%s\n%s",
			     counted, records, flat, d);
	if (!merging) {
		cr_assert_eq(held, 0, "tls.held=%ld with merging off\n%s\n%s", held, flat, d);
		cr_assert_eq(flushes, 0, "tls.flushes=%ld with merging off\n%s\n%s", flushes, flat, d);
		cr_assert_eq(bytes, 0, "tls.bytes=%ld with merging off\n%s\n%s", bytes, flat, d);
	} else {
		long small = it_field(p->w.out, "writer ", "small");
		long big_records = it_field(p->w.out, "writer ", "big_records");
		cr_assert_gt(held, 0, "nothing held\n%s\n%s", flat, d);
		cr_assert_gt(flushes, 0, "held but never flushed\n%s\n%s", flat, d);
		cr_assert_lt(flushes, held, "tls.flushes %ld not below tls.held %ld\n%s\n%s", flushes, held, flat, d);
		cr_assert_gt(bytes, 0, "%s", flat);
		cr_assert_eq(failures, 0, "tls.failures=%ld\n%s\n%s", failures, flat, d);
		cr_assert_leq(held, small, "more writes held (%ld) than small writes (%ld)\n%s\n%s", held, small, flat, d);
		if (exact_bound) {
			/* A flush is one record, or two when it held two pieces
			 * or more (the last goes in a record of its own): at
			 * most held - flushes flushes can have split. */
			long split = held - flushes < flushes ? held - flushes : flushes;
			long bound = flushes + split + big_records + (small - held);
			cr_assert_leq(records, bound,
				      "%ld records on the wire, more than flushes %ld + split flushes %ld + "
				      "big-write records %ld + small writes not held %ld\n%s\n%s",
				      records, flushes, split, big_records, small - held, flat, d);
		}
		cr_assert_lt(records, nonzero, "%ld records for %ld non-empty SSL_writes: nothing merged\n%s\n%s",
			     records, nonzero, flat, d);
		if (!strcmp(end, "exit"))
			cr_assert_geq(at_exit, 1, "the tail was held at exit(0), but tls.at_exit=%ld\n%s\n%s", at_exit,
				      flat, d);
	}
	free(flat);
	free(d);
}

static void bulk_case(const char *tls, bool nonblock, const char *end, const char *merge, const char *mode,
		      unsigned seed, const char *const extra[])
{
	struct pair p;
	const char *const *wargs =
		tls_cat_args(IT_LIST("--tls", tls, "--end", end, "--seed", tls_xfmt("%u", seed), "--size",
				     tls_xfmt("%ld", size_of(merge) ? size_of(merge) : 1024), "--count", "3000"),
			     tls_cat_args(nonblock ? IT_LIST("--nonblock") : IT_EMPTY, extra));
	tls_pair_run(&p, IT_LIST("--tls", tls), wargs, merge, mode);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, !strcmp(end, "shutdown") ? "close_notify" : "eof");
	bool partial = false;
	for (size_t i = 0; extra && extra[i]; i++)
		partial |= !strcmp(extra[i], "--partial");
	if (!partial) {
		char *d = tls_dump(&p);
		cr_assert_eq(it_field(p.w.out, "writer ", "partial"), 0,
			     "SSL_write reported fewer bytes than asked without SSL_MODE_ENABLE_PARTIAL_WRITE\n%s", d);
		free(d);
	}
	check_merging(&p, merge, mode, end, !partial);
}

#define BULK(name, tls, nb, end, merge)                                  \
	Test(tls_bytes, name)                                            \
	{                                                                \
		bulk_case(tls, nb, end, merge, NULL, __LINE__, NULL); \
	}

/* Every ending, TLS 1.2 and 1.3, blocking and event loop, at the default 1024. */
BULK(tls12_block_shutdown, "1.2", false, "shutdown", "1024")
BULK(tls12_block_free, "1.2", false, "free", "1024")
BULK(tls12_block_exec, "1.2", false, "exec", "1024")
BULK(tls12_block_execvp, "1.2", false, "execvp", "1024")
BULK(tls12_block_exec_self, "1.2", false, "exec-self", "1024")
BULK(tls12_block_exit, "1.2", false, "exit", "1024")
BULK(tls12_block__exit, "1.2", false, "_exit", "1024")
BULK(tls12_block__Exit, "1.2", false, "_Exit", "1024")
BULK(tls12_nonblock_shutdown, "1.2", true, "shutdown", "1024")
BULK(tls12_nonblock_free, "1.2", true, "free", "1024")
BULK(tls12_nonblock_exec, "1.2", true, "exec", "1024")
BULK(tls12_nonblock_exec_self, "1.2", true, "exec-self", "1024")
BULK(tls12_nonblock_execvp, "1.2", true, "execvp", "1024")
BULK(tls12_nonblock__Exit, "1.2", true, "_Exit", "1024")
BULK(tls12_nonblock_exit, "1.2", true, "exit", "1024")
BULK(tls12_nonblock__exit, "1.2", true, "_exit", "1024")
BULK(tls13_block_shutdown, "1.3", false, "shutdown", "1024")
BULK(tls13_block_free, "1.3", false, "free", "1024")
BULK(tls13_block_exec, "1.3", false, "exec", "1024")
BULK(tls13_block_execvp, "1.3", false, "execvp", "1024")
BULK(tls13_block_exec_self, "1.3", false, "exec-self", "1024")
BULK(tls13_block_exit, "1.3", false, "exit", "1024")
BULK(tls13_block__exit, "1.3", false, "_exit", "1024")
BULK(tls13_block__Exit, "1.3", false, "_Exit", "1024")
BULK(tls13_nonblock_shutdown, "1.3", true, "shutdown", "1024")
BULK(tls13_nonblock_free, "1.3", true, "free", "1024")
BULK(tls13_nonblock_exec, "1.3", true, "exec", "1024")
BULK(tls13_nonblock_exec_self, "1.3", true, "exec-self", "1024")
BULK(tls13_nonblock_execvp, "1.3", true, "execvp", "1024")
BULK(tls13_nonblock__Exit, "1.3", true, "_Exit", "1024")
BULK(tls13_nonblock_exit, "1.3", true, "exit", "1024")
BULK(tls13_nonblock__exit, "1.3", true, "_exit", "1024")
/* A whole record's worth may be held. */
BULK(tls12_block_shutdown_16K, "1.2", false, "shutdown", "16K")
BULK(tls12_nonblock_free_16K, "1.2", true, "free", "16K")
BULK(tls13_block_shutdown_16K, "1.3", false, "shutdown", "16K")
BULK(tls13_block_exit_16K, "1.3", false, "exit", "16K")
BULK(tls13_block_exec_16K, "1.3", false, "exec", "16K")
BULK(tls13_nonblock_shutdown_16K, "1.3", true, "shutdown", "16K")
BULK(tls13_nonblock__exit_16K, "1.3", true, "_exit", "16K")
/* The control: merging off, the library loaded. */
BULK(tls12_block_shutdown_off, "1.2", false, "shutdown", "0")
BULK(tls12_nonblock_free_off, "1.2", true, "free", "0")
BULK(tls13_block_exit_off, "1.3", false, "exit", "0")
BULK(tls13_nonblock_shutdown_off, "1.3", true, "shutdown", "0")

Test(tls_bytes, observe_mode_holds_nothing)
{
	bulk_case("1.3", false, "shutdown", "1024", "observe", 11, NULL);
}

Test(tls_bytes, observe_mode_holds_nothing_nonblock)
{
	bulk_case("1.2", true, "free", "16K", "observe", 12, NULL);
}

/* Small send buffer: WANT_WRITE is frequent, free send space often too small to hold;
 * partial writes and retries from a moved buffer. */
Test(tls_bytes, tls13_nonblock_small_sndbuf_partial_moving)
{
	bulk_case("1.3", true, "shutdown", "1024", NULL, 21,
		  IT_LIST("--sndbuf", "8192", "--partial", "--moving"));
}

Test(tls_bytes, tls12_nonblock_small_sndbuf_partial_moving_16K)
{
	bulk_case("1.2", true, "shutdown", "16K", NULL, 22,
		  IT_LIST("--sndbuf", "8192", "--partial", "--moving"));
}

Test(tls_bytes, tls13_nonblock_small_sndbuf_write_ex_16K)
{
	bulk_case("1.3", true, "exit", "16K", NULL, 23, IT_LIST("--sndbuf", "4096", "--api", "write_ex"));
}

Test(tls_bytes, tls12_block_write_only_16K)
{
	bulk_case("1.2", false, "free", "16K", NULL, 24, IT_LIST("--api", "write"));
}

/* The hold bound at 1 ms, and a writer that spins up to 3 ms after each write: the
 * bound's thread sends while the writer writes on the same SSL, hundreds of times.
 * Every byte arrives once, in order, and the bound did send. */
static void bound_race(const char *tls, bool nonblock, unsigned seed)
{
	tls_hold_max = "1";
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", tls),
		     tls_cat_args(IT_LIST("--tls", tls, "--seed", tls_xfmt("%u", seed), "--count", "1500",
					  "--spin-us", "3000"),
				  nonblock ? IT_LIST("--nonblock") : IT_EMPTY),
		     "1024", NULL);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "close_notify");
	char *d = tls_dump(&p), *flat = tls_writer_stats(&p, "writer ");
	cr_assert_gt(it_stat(flat, "tls.late"), 0, "the bound never sent\n%s\n%s", flat, d);
	cr_assert_gt(it_stat(flat, "tls.held"), 300, "little was held\n%s\n%s", flat, d);
	free(flat);
	free(d);
}

Test(tls_bytes, bound_races_a_blocking_writer) { bound_race("1.3", false, 31); }
Test(tls_bytes, bound_races_an_event_loop_tls12) { bound_race("1.2", true, 32); }

Test(tls_bytes, off_mode_bytes_exact)
{
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", "1.3"), IT_LIST("--tls", "1.3", "--seed", "31", "--end", "exit"), "1024",
		     "off");
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "eof");
}

/* SSL_write(ssl, b, 0) and SSL_write_ex(ssl, b, 0, &w), in the middle of held data,
 * return what they return without socktune. */
Test(tls_bytes, zero_length_writes_unchanged)
{
	struct pair ref, p;
	const char *const *args = IT_LIST("--tls", "1.3", "--seed", "41", "--count", "1500");
	tls_pair_run(&ref, IT_LIST("--tls", "1.3"), args, "0", NULL);
	tls_pair_run(&p, IT_LIST("--tls", "1.3"), args, "1024", NULL);
	it_assert_ran(&ref.w);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "close_notify");
	const char *const keys[] = { "n", "ret", "err", "written", "same" };
	const char *const lines[] = { "zero_write ", "zero_write_ex " };
	char *d = tls_dump(&p), *dr = tls_dump(&ref);
	for (size_t l = 0; l < 2; l++) {
		cr_assert_not_null(strstr(ref.w.out, lines[l]), "no %s line\n%s", lines[l], dr);
		for (size_t k = 0; k < 5; k++) {
			char *a = it_field_str(ref.w.out, lines[l], keys[k]), *b = it_field_str(p.w.out, lines[l], keys[k]);
			cr_assert((!a && !b) || (a && b && !strcmp(a, b)), "%s%s: %s without merging, %s with\n%s\n%s",
				  lines[l], keys[k], a ? a : "-", b ? b : "-", dr, d);
			free(a);
			free(b);
		}
	}
	free(d);
	free(dr);
}

/* The hold buffer fills up: with 600-byte writes 27 fit in 16384 bytes and the 28th
 * does not (held bytes go out first); at 16K, 10000 + 8000 do not fit either. Every
 * write must still report all its bytes written, and the peer get each byte once. */
static void fill_case(const char *tls, const char *merge, const char *sizes, const char *api)
{
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", tls),
		     IT_LIST("--tls", tls, "--sizes", sizes, "--count", "400", "--api", api, "--size",
			     tls_xfmt("%ld", size_of(merge))),
		     merge, NULL);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(it_field(p.w.out, "writer ", "partial"), 0,
		     "SSL_write reported fewer bytes than asked without SSL_MODE_ENABLE_PARTIAL_WRITE\n%s", d);
	tls_assert_same_bytes(&p, "close_notify");
	check_merging(&p, merge, NULL, "shutdown", true);
	free(d);
}

Test(tls_bytes, fill_hold_buffer_1024_write) { fill_case("1.3", "1024", "600", "write"); }
Test(tls_bytes, fill_hold_buffer_1024_write_ex) { fill_case("1.2", "1024", "600", "write_ex"); }
Test(tls_bytes, fill_hold_buffer_16K_write) { fill_case("1.3", "16K", "10000,8000,600,16384,1", "write"); }
Test(tls_bytes, fill_hold_buffer_16K_write_ex) { fill_case("1.3", "16K", "10000,8000,600,16384,1", "write_ex"); }

/* fork with bytes held (every write is 24 bytes): the child exits with exit(0) at
 * once; neither it nor the parent may send the held bytes twice. */
Test(tls_bytes, fork_child_exits_with_bytes_held)
{
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", "1.3"),
		     IT_LIST("--tls", "1.3", "--sizes", "24,8,100", "--count", "400", "--fork-at", "150"), "1024", NULL);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "close_notify");
	check_merging(&p, "1024", NULL, "shutdown", true);
}

Test(tls_bytes, fork_child_exits_random_pattern_16K)
{
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", "1.2"),
		     IT_LIST("--tls", "1.2", "--seed", "81", "--size", "16384", "--fork-at", "1000"), "16K", NULL);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "close_notify");
}

/* ---- tls_wire: fewer records ---- */

static void wire_case(const char *tls, bool nonblock)
{
	struct pair ref, p;
	const char *const *args = tls_cat_args(IT_LIST("--tls", tls, "--seed", "51", "--count", "3000"),
					       nonblock ? IT_LIST("--nonblock") : IT_EMPTY);
	tls_pair_run(&ref, IT_LIST("--tls", tls), args, "0", NULL);
	tls_pair_run(&p, IT_LIST("--tls", tls), args, "1024", NULL);
	it_assert_ran(&ref.w);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&ref, "close_notify");
	tls_assert_same_bytes(&p, "close_notify");
	check_merging(&ref, "0", NULL, "shutdown", true);
	check_merging(&p, "1024", NULL, "shutdown", true);
	long r0 = it_field(ref.peer.out, "peer ", "records"), r1 = it_field(p.peer.out, "peer ", "records");
	char *d = tls_dump(&p);
	cr_assert_lt(r1, r0, "with merging %ld records, without %ld\n%s", r1, r0, d);
	cr_log_info("%s %s: %ld records without merging, %ld with", tls, nonblock ? "event loop" : "blocking", r0, r1);
	free(d);
}

Test(tls_wire, tls12_blocking_fewer_records) { wire_case("1.2", false); }
Test(tls_wire, tls13_blocking_fewer_records) { wire_case("1.3", false); }
Test(tls_wire, tls13_event_loop_fewer_records) { wire_case("1.3", true); }

/* ---- tls_rr: request/response with Nagle on ---- */

#define RR_ROUNDS 200

/* 3 writes of 8, 24 and 100 bytes, then SSL_read of the 1-byte reply. Without the
 * flush at SSL_read the request would never leave and the peer would give up after
 * 10 s; with one record per piece, Nagle and the peer's delayed ACK cost ~40 ms a
 * round. */
static void rr_case(const char *tls, bool nonblock, const char *merge, long rounds, struct pair *p)
{
	tls_pair_run(p, IT_LIST("--tls", tls, "--reply-every", "132", "--deadline-ms", "10000"),
		     tls_cat_args(IT_LIST("--tls", tls, "--rr", tls_xfmt("%ld", rounds)),
				  nonblock ? IT_LIST("--nonblock") : IT_EMPTY),
		     merge, NULL);
	it_assert_ran(&p->w);
	tls_assert_same_bytes(p, "close_notify");
	char *d = tls_dump(p);
	cr_assert_eq(it_field(p->peer.out, "peer ", "replies"), rounds, "%s", d);
	cr_assert_eq(it_field(p->w.out, "rr ", "rounds"), rounds, "%s", d);
	free(d);
}

static void rr_fast(const char *tls, bool nonblock)
{
	struct pair p;
	rr_case(tls, nonblock, "1024", RR_ROUNDS, &p);
	long median = it_field(p.w.out, "rr ", "median_us"), total = it_field(p.w.out, "rr ", "total_us");
	char *d = tls_dump(&p);
	cr_assert_lt(median, 30000, "median round trip %ld us: a timer-length wait per request\n%s", median, d);
	cr_assert_lt(total, 3000000, "%d round trips took %ld us\n%s", RR_ROUNDS, total, d);
	char *flat = tls_writer_stats(&p, "writer ");
	cr_assert_geq(it_stat(flat, "tls.held"), 2L * RR_ROUNDS, "the requests were not held\n%s\n%s", flat, d);
	free(flat);
	free(d);
}

Test(tls_rr, tls12_blocking_no_timer_wait) { rr_fast("1.2", false); }
Test(tls_rr, tls13_blocking_no_timer_wait) { rr_fast("1.3", false); }
Test(tls_rr, tls12_event_loop_no_timer_wait) { rr_fast("1.2", true); }
Test(tls_rr, tls13_event_loop_no_timer_wait) { rr_fast("1.3", true); }

/* An event loop waits for the reply before it calls SSL_read: the wait itself must
 * send the request. */
static void rr_wait_case(const char *kind)
{
	struct pair p;
	tls_pair_run(&p, IT_LIST("--tls", "1.3", "--reply-every", "132", "--deadline-ms", "10000"),
		     IT_LIST("--tls", "1.3", "--rr", "50", "--rr-wait", kind), "1024", NULL);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	tls_assert_same_bytes(&p, "close_notify");
	long median = it_field(p.w.out, "rr ", "median_us"), total = it_field(p.w.out, "rr ", "total_us");
	cr_assert_lt(median, 30000, "median round trip %ld us waiting in %s\n%s", median, kind, d);
	cr_assert_lt(total, 3000000, "50 round trips took %ld us waiting in %s\n%s", total, kind, d);
	char *flat = tls_writer_stats(&p, "writer ");
	cr_assert_geq(it_stat(flat, "tls.held"), 100, "the requests were not held\n%s\n%s", flat, d);
	free(flat);
	free(d);
}

Test(tls_rr, wait_in_poll) { rr_wait_case("poll"); }
Test(tls_rr, wait_in_ppoll) { rr_wait_case("ppoll"); }
Test(tls_rr, wait_in_select) { rr_wait_case("select"); }
Test(tls_rr, wait_in_pselect) { rr_wait_case("pselect"); }
Test(tls_rr, wait_in_epoll_wait) { rr_wait_case("epoll_wait"); }
Test(tls_rr, wait_in_epoll_pwait) { rr_wait_case("epoll_pwait"); }
Test(tls_rr, wait_in_recv_peek) { rr_wait_case("recv_peek"); }

/* The control: it shows that the timing above can fail. If it fails instead, this
 * kernel acknowledges at once and tls_rr proves only that nothing hangs. */
Test(tls_rr, control_merge_off_waits_for_delayed_ack)
{
	struct pair p;
	rr_case("1.3", false, "0", 8, &p);
	long median = it_field(p.w.out, "rr ", "median_us");
	char *d = tls_dump(&p);
	cr_assert_geq(median, 30000, "without merging the median round trip was %ld us\n%s", median, d);
	free(d);
}

/* ---- tls_reset: a flush that fails ---- */

/* The peer resets the connection 100 ms after reading the writer's first 17000
 * bytes; meanwhile the writer has written 100 bytes more (held with merging, and
 * the hold bound at 200 ms, so they are still held).  100 ms leaves as much room
 * on either side: the reference's writer must write its 100 bytes before the
 * reset (with 50 ms it did not, once, under the sanitizer in CI), and the bound
 * must not send the held ones before it. The writer sees the RST
 * without passing a wait point, does WAIT (none, nanosleep or poll), then makes the
 * SSL calls CALLS (step1, step2, ...). The reference is the same run with
 * SOCKTUNE_TLS_MERGE=0. */
static void reset_runs(struct pair *ref, struct pair *p, const char *tls, const char *calls, const char *wait,
		       const char *sigpipe)
{
	tls_hold_max = "200";
	const char *const *peer = IT_LIST("--tls", tls, "--reset-after", "17000", "--reset-delay-ms", "100");
	const char *const *args = IT_LIST("--tls", tls, "--reset", calls, "--reset-wait", wait, "--sigpipe", sigpipe);
	tls_pair_run(ref, peer, args, "0", NULL);
	tls_pair_run(p, peer, args, "1024", NULL);
	char *d = tls_dump(p), *dr = tls_dump(ref);
	cr_assert_eq(it_field(ref->w.out, "reset ", "seen"), 1, "reference: no reset seen\n%s", dr);
	cr_assert_eq(it_field(p->w.out, "reset ", "seen"), 1, "no reset seen\n%s", d);
	cr_assert_eq(ref->peer.status, 0, "%s", dr);
	cr_assert_eq(p->peer.status, 0, "%s", d);
	if (p->w.status == 0) {
		/* Without a held write the test proves nothing. */
		char *flat = tls_writer_stats(p, "reset ");
		cr_assert_geq(it_stat(flat, "tls.held"), 1, "the 100-byte write was not held\n%s\n%s", flat, d);
		cr_assert_geq(it_stat(flat, "tls.failures"), 1, "no flush failure counted\n%s\n%s", flat, d);
		free(flat);
	}
	free(d);
	free(dr);
}

static char *step_field(const char *out, int step, const char *key)
{
	char prefix[16];
	snprintf(prefix, sizeof prefix, "step%d ", step);
	return it_field_str(out, prefix, key);
}

/* Strict: every step reports what it reports without socktune (return value,
 * SSL_get_error, errno, the error queue, SSL_get_shutdown), and the process ends the
 * same way. Used where the held bytes are flushed before step1 can be held: at a
 * wait point, or at step1 itself when it is not a write that fits.
 *
 * One exception (STEP2_EXACT false): when step1 is a 17000-byte SSL_write, the
 * reference's step2 (a 24-byte SSL_write after an SSL_ERROR_SYSCALL) is a retry with
 * other arguments, which OpenSSL answers with SSL_R_BAD_LENGTH because the failed
 * 17000-byte write is still pending inside it; with merging, the write that failed
 * inside OpenSSL was the flush, never the caller's. OpenSSL's documentation rules out
 * any I/O after SSL_ERROR_SYSCALL, so there step2 need only fail as well. */
static void reset_case_ex(const char *tls, const char *next, const char *wait, const char *sigpipe,
			  bool step2_exact)
{
	struct pair ref, p;
	char *calls = tls_xfmt("%s,write", next);
	reset_runs(&ref, &p, tls, calls, wait, sigpipe);
	char *d = tls_dump(&p), *dr = tls_dump(&ref);
	/* shut: SSL_get_shutdown after the call, also part of what the caller sees. */
	static const char *const keys[] = { "call", "ret", "err", "errno", "errq", "shut" };
	for (int step = 1; step <= 2; step++) {
		char *in_ref = step_field(ref.w.out, step, "call"), *in_run = step_field(p.w.out, step, "call");
		cr_assert_eq(!!in_run, !!in_ref, "step%d: reached %s without merging, %s with\n--- reference:\n%s\n--- merged:\n%s",
			     step, in_ref ? "yes" : "no", in_run ? "yes" : "no", dr, d);
		bool exact = in_ref && (step == 1 || step2_exact);
		if (in_ref && !exact) {
			char *a = step_field(ref.w.out, step, "ret"), *b = step_field(p.w.out, step, "ret");
			cr_assert(a && b && atoi(a) <= 0 && atoi(b) <= 0,
				  "step%d (%s): ret=%s without merging, %s with: it must fail\n--- reference:\n%s\n--- merged:\n%s",
				  step, in_ref, a ? a : "-", b ? b : "-", dr, d);
			free(a);
			free(b);
		}
		for (size_t k = 0; exact && k < sizeof keys / sizeof keys[0]; k++) {
			char *a = step_field(ref.w.out, step, keys[k]), *b = step_field(p.w.out, step, keys[k]);
			cr_assert(a && b && !strcmp(a, b),
				  "step%d (%s) %s: %s without merging, %s with\n--- reference:\n%s\n--- merged:\n%s", step,
				  in_ref, keys[k], a ? a : "-", b ? b : "-", dr, d);
			free(a);
			free(b);
		}
		free(in_ref);
		free(in_run);
	}
	cr_assert_eq(p.w.status, ref.w.status, "exit status %d with merging, %d without\n--- reference:\n%s\n--- merged:\n%s",
		     p.w.status, ref.w.status, dr, d);
	free(d);
	free(dr);
	free(calls);
}

static void reset_case(const char *tls, const char *next, const char *wait, const char *sigpipe)
{
	reset_case_ex(tls, next, wait, sigpipe, strcmp(next, "write_big") != 0);
}

#define RESET(name, tls, next, wait) \
	Test(tls_reset, name) { reset_case(tls, next, wait, "ignore"); }

/* The flush happens at the SSL call itself. */
RESET(tls12_write_big, "1.2", "write_big", "none")
RESET(tls12_read, "1.2", "read", "none")
RESET(tls12_shutdown, "1.2", "shutdown", "none")
RESET(tls13_write_big, "1.3", "write_big", "none")
RESET(tls13_read, "1.3", "read", "none")
RESET(tls13_peek, "1.3", "peek", "none")
RESET(tls13_shutdown, "1.3", "shutdown", "none")
/* The flush happens at a wait point; the next SSL call reports its failure. */
RESET(tls12_nanosleep_then_write, "1.2", "write", "nanosleep")
RESET(tls12_nanosleep_then_write_ex, "1.2", "write_ex", "nanosleep")
RESET(tls12_nanosleep_then_read, "1.2", "read", "nanosleep")
RESET(tls13_nanosleep_then_write, "1.3", "write", "nanosleep")
RESET(tls13_nanosleep_then_write_ex, "1.3", "write_ex", "nanosleep")
RESET(tls13_nanosleep_then_write_big, "1.3", "write_big", "nanosleep")
RESET(tls13_nanosleep_then_read, "1.3", "read", "nanosleep")
RESET(tls13_nanosleep_then_shutdown, "1.3", "shutdown", "nanosleep")
RESET(tls13_poll_then_write, "1.3", "write", "poll")

/* SIGPIPE left at its default: the reference survives ECONNRESET at step1 and dies of
 * SIGPIPE at step2's EPIPE; so must the merged run. */
Test(tls_reset, tls13_sigpipe_default_nanosleep_then_write) { reset_case("1.3", "write", "nanosleep", "default"); }
Test(tls_reset, tls12_sigpipe_default_nanosleep_then_read) { reset_case("1.2", "read", "nanosleep", "default"); }

/* A small write right after the RST, in the same batch as the held bytes: socktune
 * checks the free send space once per batch, so it may hold this write as well and
 * report it written (by design: nothing tells it of the RST without a system call).
 * Then the failure must come out, exactly as OpenSSL reported it without socktune
 * (SSL_get_error, errno, error queue; the return value too when it is the same call),
 * at the first call that flushes, here the SSL_read of step3; and nothing after a
 * reported failure may succeed. */
static void same_batch_case(const char *tls, const char *write, const char *sigpipe)
{
	struct pair ref, p;
	char *calls = tls_xfmt("%s,%s,read,%s", write, write, write);
	reset_runs(&ref, &p, tls, calls, "none", sigpipe);
	char *d = tls_dump(&p), *dr = tls_dump(&ref);
	int first_ref = 0, first_run = 0;
	for (int step = 1; step <= 4; step++) {
		char *call = step_field(p.w.out, step, "call"), *ret = step_field(p.w.out, step, "ret");
		char *rcall = step_field(ref.w.out, step, "call"), *rret = step_field(ref.w.out, step, "ret");
		bool ok = ret && atoi(ret) > 0, rok = rret && atoi(rret) > 0;
		if (rcall && !rok && !first_ref)
			first_ref = step;
		if (call && !ok && !first_run)
			first_run = step;
		if (first_run && first_run < step)
			cr_assert(!call || !ok, "step%d (%s) succeeded after step%d failed\n--- reference:\n%s\n--- merged:\n%s",
				  step, call, first_run, dr, d);
		free(call);
		free(ret);
		free(rcall);
		free(rret);
	}
	cr_assert_eq(first_ref, 1, "the reference did not fail at step1\n%s", dr);
	cr_assert_neq(first_run, 0, "no step reported the failure\n--- reference:\n%s\n--- merged:\n%s", dr, d);
	static const char *const keys[] = { "err", "errno", "errq" };
	for (size_t k = 0; k < 3; k++) {
		char *a = step_field(ref.w.out, first_ref, keys[k]), *b = step_field(p.w.out, first_run, keys[k]);
		cr_assert(a && b && !strcmp(a, b),
			  "first failure: %s=%s without merging (step%d), %s with (step%d)\n--- reference:\n%s\n--- merged:\n%s",
			  keys[k], a ? a : "-", first_ref, b ? b : "-", first_run, dr, d);
		free(a);
		free(b);
	}
	char *ca = step_field(ref.w.out, first_ref, "call"), *cb = step_field(p.w.out, first_run, "call");
	if (!strcmp(ca, cb)) {
		char *a = step_field(ref.w.out, first_ref, "ret"), *b = step_field(p.w.out, first_run, "ret");
		cr_assert_str_eq(b, a, "first failure (%s): ret=%s with merging, %s without\n--- reference:\n%s\n--- merged:\n%s",
				 ca, b, a, dr, d);
	}
	cr_assert_eq(p.w.status, ref.w.status, "exit status %d with merging, %d without\n--- reference:\n%s\n--- merged:\n%s",
		     p.w.status, ref.w.status, dr, d);
	free(d);
	free(dr);
	free(calls);
}

Test(tls_reset, tls12_same_batch_write) { same_batch_case("1.2", "write", "ignore"); }
Test(tls_reset, tls13_same_batch_write) { same_batch_case("1.3", "write", "ignore"); }
Test(tls_reset, tls13_same_batch_write_ex) { same_batch_case("1.3", "write_ex", "ignore"); }
/* The reference dies of SIGPIPE at its second write (EPIPE); the merged run must die
 * the same way at the write after its reported failure. */
Test(tls_reset, tls13_same_batch_sigpipe_default) { same_batch_case("1.3", "write", "default"); }

/* ---- tls_python ---- */


static const char *python_script(void)
{
	static char *path;
	if (path)
		return path;
	const char *src = getenv("SOCKTUNE_TESTSRC");
	char *guess = src && *src ? tls_xfmt("%s/tls_asyncio.py", src) : tls_xfmt("tests/integration/tls_asyncio.py");
	path = realpath(guess, NULL);
	cr_assert_not_null(path, "cannot find %s (run from the top of the tree or set SOCKTUNE_TESTSRC)", guess);
	free(guess);
	return path;
}

static void asyncio_case(const char *tls)
{
	tls_make_cert();
	const char *const *argv =
		IT_LIST(tls_python_exe(), python_script(), "asyncio", "--cert", tls_cert_pem, "--key", tls_key_pem, "--tls",
			tls, "--seed", "61", "--count", "3000");
	struct it_run ref;
	it_run(&ref, argv, NULL, 0);
	it_assert_ran(&ref);
	struct pair p = { 0 };
	const char *const *env = tls_writer_env(&p, "1024", NULL);
	it_run(&p.w, argv, env, IT_PRELOAD);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(it_field(ref.out, "asyncio ", "match"), 1, "%s", ref.out);
	cr_assert_str_eq(p.w.out, ref.out, "under socktune:\n%s\nwithout:\n%s", p.w.out, ref.out);
	/* The record of the one process. */
	char *why;
	struct it_run ls;
	it_run(&ls, IT_LIST("sh", "-c", "cat \"$0\"/st.*.json", p.stats_dir), NULL, 0);
	char *flat = it_stats_flat(it_write_file("asyncio.json", ls.out), &why);
	cr_assert_not_null(flat, "bad stats: %s\n%s", why, d);
	cr_assert_eq(it_stat(flat, "tls.held"), 0, "memory BIOs must pass through\n%s", flat);
	cr_assert_eq(it_stat(flat, "tls.flushes"), 0, "%s", flat);
	cr_assert_geq(it_stat(flat, "sockets.client"), 1, "the client socket was not seen\n%s", flat);
	free(flat);
	free(d);
}

Test(tls_python, asyncio_memory_bio_untouched_tls12) { asyncio_case("1.2"); }
Test(tls_python, asyncio_memory_bio_untouched_tls13) { asyncio_case("1.3"); }

/* Python's ssl.SSLSocket runs OpenSSL on the socket fd; libssl came in through a
 * local dlopen (the _ssl module), so the hooks must find it with RTLD_NOLOAD. */
Test(tls_python, sslsocket_merged_bytes_exact)
{
	tls_make_cert();
	int port;
	int lfd = tls_make_listener(&port);
	struct pair p;
	tls_bg_start(&p.peer,
		     IT_LIST(it_target("tlspeer"), "--listen-fd", "3", "--cert", tls_cert_pem, "--key", tls_key_pem),
		     lfd, false);
	close(lfd);
	const char *const *env = tls_writer_env(&p, "1024", NULL);
	it_run(&p.w,
	       IT_LIST(tls_python_exe(), python_script(), "sslsocket", "--port", tls_xfmt("%d", port), "--seed", "62",
		       "--count", "3000"),
	       env, IT_PRELOAD);
	tls_bg_wait(&p.peer, BG_TIMEOUT_MS);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(p.peer.status, 0, "%s", d);
	char *sent = it_field_str(p.w.out, "sslsocket ", "sent"), *got = it_field_str(p.peer.out, "peer ", "sha256");
	cr_assert(sent && got && !strcmp(sent, got), "bytes differ\n%s", d);
	cr_assert_eq(it_field(p.peer.out, "peer ", "bytes"), it_field(p.w.out, "sslsocket ", "bytes"), "%s", d);
	struct it_run ls;
	it_run(&ls, IT_LIST("sh", "-c", "cat \"$0\"/st.*.json", p.stats_dir), NULL, 0);
	char *why, *flat = it_stats_flat(it_write_file("sslsocket.json", ls.out), &why);
	cr_assert_not_null(flat, "bad stats: %s\n%s", why, d);
	long held = it_stat(flat, "tls.held"), flushes = it_stat(flat, "tls.flushes");
	cr_assert_gt(held, 0, "nothing held in python's SSLSocket (libssl not found?)\n%s\n%s", flat, d);
	cr_assert_lt(flushes, held, "%s", flat);
	cr_assert_lt(it_field(p.peer.out, "peer ", "records"), it_field(p.w.out, "sslsocket ", "pieces"), "%s", d);
	free(flat);
	free(d);
}

/* ---- tls_openssl: the openssl command as either end ---- */

static void s_server_case(const char *tls, const char *merge)
{
	tls_make_cert();
	int port = it_free_port();
	char *accept = tls_xfmt("127.0.0.1:%d", port);
	struct pair p;
	/* stdin stays open: s_server ends the session at EOF on stdin. */
	tls_bg_start(&p.peer,
		     IT_LIST("openssl", "s_server", "-accept", accept, "-cert", tls_cert_pem, "-key", tls_key_pem,
			     "-naccept", "1", "-quiet", !strcmp(tls, "1.2") ? "-tls1_2" : "-tls1_3", "-num_tickets", "0"),
		     -1, true);
	int waited = 0;
	while (!listening(port) && waited < 5000) {
		tls_sleep_ms(5);
		waited += 5;
	}
	cr_assert(listening(port), "openssl s_server does not listen on %d", port);
	char *sent = it_path("sent.bin");
	const char *const *env = tls_writer_env(&p, merge, NULL);
	it_run(&p.w,
	       IT_LIST(it_target("tlswriter"), "--port", tls_xfmt("%d", port), "--tls", tls, "--seed", "71", "--dump",
		       sent, "--end", "shutdown"),
	       env, IT_PRELOAD);
	long want = it_field(p.w.out, "writer ", "bytes");
	struct stat st = { 0 };
	for (int t = 0; p.w.status == 0 && t < 10000 && (stat(p.peer.out_path, &st) != 0 || st.st_size < want);
	     t += 5)
		tls_sleep_ms(5);
	tls_sleep_ms(50);
	stat(p.peer.out_path, &st);
	/* s_server serves until stdin closes: stop it. */
	kill(-p.peer.pid, SIGTERM);
	tls_bg_wait(&p.peer, 5000);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(st.st_size, want, "s_server printed %ld bytes, the writer wrote %ld\n%s", (long)st.st_size, want,
		     d);
	struct it_run c;
	it_run(&c, IT_LIST("cmp", sent, p.peer.out_path), NULL, 0);
	cr_assert_eq(c.status, 0, "s_server received other bytes: %s%s\n%s", c.out, c.err, p.w.out);
	if (size_of(merge) > 0) {
		char *flat = tls_writer_stats(&p, "writer ");
		cr_assert_gt(it_stat(flat, "tls.held"), 0, "%s", flat);
		free(flat);
	}
	free(d);
}

Test(tls_openssl, s_server_peer_tls12) { s_server_case("1.2", "1024"); }
Test(tls_openssl, s_server_peer_tls13_16K) { s_server_case("1.3", "16K"); }

/* openssl s_client under the library, its stdin a file, against tlspeer. s_client
 * reads stdin 8 KiB at a time and writes each piece with SSL_write; -nocommands, or
 * a piece that starts with Q, R, K or k is taken as a command and not sent. */
static void s_client_case(const char *tls, const char *merge)
{
	tls_make_cert();
	char *in = it_path("input.bin"), *got = it_path("got.bin");
	FILE *f = fopen(in, "w");
	cr_assert_not_null(f);
	uint64_t x = 0x1234567;
	for (long i = 0; i < 1500000 / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		fwrite(&x, 8, 1, f);
	}
	fclose(f);
	int port;
	int lfd = tls_make_listener(&port);
	struct pair p;
	tls_bg_start(&p.peer,
		     IT_LIST(it_target("tlspeer"), "--listen-fd", "3", "--cert", tls_cert_pem, "--key", tls_key_pem,
			     "--tls", tls, "--out", got),
		     lfd, false);
	close(lfd);
	const char *const *env = tls_writer_env(&p, merge, NULL);
	char *cmd = tls_xfmt("exec openssl s_client -connect 127.0.0.1:%d -quiet -no_ign_eof -nocommands %s < '%s'",
			     port, !strcmp(tls, "1.2") ? "-tls1_2" : "-tls1_3", in);
	it_run(&p.w, IT_LIST("sh", "-c", cmd), env, IT_PRELOAD);
	tls_bg_wait(&p.peer, BG_TIMEOUT_MS);
	char *d = tls_dump(&p);
	it_assert_ran(&p.w);
	cr_assert_eq(p.peer.status, 0, "%s", d);
	cr_assert_eq(it_field(p.peer.out, "peer ", "bytes"), 1500000, "%s", d);
	struct it_run c;
	it_run(&c, IT_LIST("cmp", in, got), NULL, 0);
	cr_assert_eq(c.status, 0, "tlspeer received other bytes: %s%s\n%s", c.out, c.err, d);
	struct it_run ls;
	it_run(&ls, IT_LIST("sh", "-c", "cat \"$0\"/st.*.json", p.stats_dir), NULL, 0);
	char *why, *flat = it_stats_flat(it_write_file("s_client.json", ls.out), &why);
	cr_assert_not_null(flat, "bad stats: %s\n%s", why, d);
	cr_assert_eq(it_stat(flat, "tls.failures"), 0, "%s", flat);
	cr_log_info("s_client %s merge %s: tls.held=%ld tls.flushes=%ld, %ld records", tls, merge,
		    it_stat(flat, "tls.held"), it_stat(flat, "tls.flushes"), it_field(p.peer.out, "peer ", "records"));
	free(flat);
	free(d);
}

Test(tls_openssl, s_client_under_socktune_tls12) { s_client_case("1.2", "1024"); }
Test(tls_openssl, s_client_under_socktune_tls13_16K) { s_client_case("1.3", "16K"); }
