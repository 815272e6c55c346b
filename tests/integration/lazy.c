/* lazy.c: TLS merging against lazy receivers (issue 12).  A lazy receiver reads the
 * next message only when the socket itself is readable and never asks OpenSSL for the
 * plaintext it already holds.  OpenSSL reads one record at a time, so when one record
 * carries several messages, such a receiver handles the first and waits on an empty
 * socket for good.  socktune's record rule (the last held piece of a flush in a record
 * of its own, both records in one write) keeps the socket readable until the big record
 * is drained.
 *
 * tests/targets/tlslazy runs both ends: the receiver in the background, never
 * preloaded (poll1, epollet, ackwin: see its header), the sender in front, with or
 * without the library.  Each receiver runs three ways:
 *   without_socktune  the reference: it completes, each SSL_write its own record;
 *   with_socktune     SOCKTUNE_TLS_MERGE=1024 and the default record rule: it
 *                     completes, with the reference's bytes, and writes were held;
 *   control           the same with SOCKTUNE_TLS_SPLIT=off (one record per flush): it
 *                     must stall, the receiver stopping with plaintext stranded in
 *                     OpenSSL, which proves the receiver lazy and the test able to fail.
 * Over TLS 1.3 and TLS 1.2.
 *
 * cork_*: the program's own TCP_CORK, cleared after each batch and set again at once
 * (as spice-server does), then a wait for the reply.  socktune must send what it holds
 * before that uncork, or it waits in the corked socket for the kernel's ~200 ms.  The
 * bound (median round under 100 ms) is shown able to fail by the same program that never
 * uncorks.  One message per batch there, so the record rule plays no part; a last case
 * has both (several messages, the program's cork).
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "tls_common.h"

/* The control's bound: a receiver that has not finished by then is stalled (the
 * reference and socktune's runs take tens of ms). */
#define CONTROL_MS 2000
/* The passing runs' hard bound. */
#define PASS_MS 10000
/* The cork tests' bound on the median round trip (the kernel's cork timer is ~200 ms). */
#define CORK_BOUND_US 100000

enum arm { REFERENCE, SOCKTUNE, CONTROL };

static const char *const arm_name[] = { "without socktune", "with socktune", "control (SOCKTUNE_TLS_SPLIT=off)" };

static long long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The receiver KIND in the background, the sender (kind batch, or window for ackwin)
 * in front, preloaded for SOCKTUNE and CONTROL; SENDER_ARGS are added to the sender's
 * flags. */
static void lazy_run(struct pair *p, const char *kind, const char *tls, enum arm arm,
		     const char *const sender_args[])
{
	tls_make_cert();
	bool window = !strcmp(kind, "ackwin");
	long recv_ms = arm == CONTROL ? CONTROL_MS : PASS_MS;
	/* The receiver's deadline comes first: it says what it holds when it stops. */
	long send_ms = recv_ms + 500;
	int port;
	int lfd = tls_make_listener(&port);
	tls_bg_start(&p->peer,
		     IT_LIST(it_target("tlslazy"), "recv", "--listen-fd", "3", "--cert", tls_cert_pem, "--key",
			     tls_key_pem, "--kind", kind, "--tls", tls, "--window", "5", "--deadline-ms",
			     tls_xfmt("%ld", recv_ms)),
		     lfd, false);
	close(lfd);
	const char *const *env = tls_writer_env(p, "1024", NULL);
	if (arm == CONTROL)
		env = tls_cat_args(env, IT_LIST("SOCKTUNE_TLS_SPLIT=off"));
	const char *const *argv =
		tls_cat_args(IT_LIST(it_target("tlslazy"), "send", "--port", tls_xfmt("%d", port), "--kind",
				     window ? "window" : "batch", "--window", "5", "--tls", tls, "--deadline-ms",
				     tls_xfmt("%ld", send_ms)),
			     sender_args);
	long long t0 = mono_ms();
	it_run(&p->w, argv, env, arm == REFERENCE ? 0 : IT_PRELOAD);
	tls_bg_wait(&p->peer, BG_TIMEOUT_MS);
	cr_log_info("%s TLS %s, %s: sender end=%s after %lld ms (its own wall_ms=%ld), receiver got %ld messages, "
		    "%ld records",
		    kind, tls, arm_name[arm], it_field_str(p->w.out, "sender ", "end"), mono_ms() - t0,
		    it_field(p->w.out, "sender ", "wall_ms"), it_field(p->peer.out, "receiver ", "messages"),
		    it_field(p->peer.out, "receiver ", "records"));
}

/* Both ends finished, and the receiver got exactly the messages the sender wrote. */
static void assert_completed(const struct pair *p)
{
	char *d = tls_dump(p);
	char *send_end = it_field_str(p->w.out, "sender ", "end");
	char *recv_end = it_field_str(p->peer.out, "receiver ", "end");
	long stranded = it_field(p->peer.out, "receiver ", "stranded");
	cr_assert(!recv_end || strcmp(recv_end, "timeout") || stranded <= 0,
		  "stalled: the receiver waited on an empty socket with %ld bytes of plaintext stranded in "
		  "OpenSSL (the lazy-receiver deadlock)\n%s",
		  stranded, d);
	cr_assert(send_end && !strcmp(send_end, "done") && p->w.status == 0, "the sender did not finish\n%s", d);
	cr_assert(recv_end && !strcmp(recv_end, "done") && p->peer.status == 0, "the receiver did not finish\n%s", d);
	long sm = it_field(p->w.out, "sender ", "messages"), rm = it_field(p->peer.out, "receiver ", "messages");
	long sb = it_field(p->w.out, "sender ", "bytes"), rb = it_field(p->peer.out, "receiver ", "bytes");
	cr_assert(sm >= 2 && rm == sm, "the receiver got %ld messages of %ld\n%s", rm, sm, d);
	cr_assert_eq(rb, sb, "the receiver got %ld bytes, the sender wrote %ld\n%s", rb, sb, d);
	char *ss = it_field_str(p->w.out, "sender ", "sha256"), *rs = it_field_str(p->peer.out, "receiver ", "sha256");
	cr_assert(ss && rs && !strcmp(ss, rs), "the receiver's bytes differ from the sender's\n%s", d);
	cr_assert_eq(stranded, 0, "plaintext left in OpenSSL at the end\n%s", d);
	free(ss);
	free(rs);
	free(send_end);
	free(recv_end);
	free(d);
}

/* socktune held and merged writes: fewer flushes than held writes, and fewer records
 * than SSL_writes reached the receiver. */
static void assert_merged(const struct pair *p)
{
	char *flat = tls_writer_stats(p, "sender ");
	char *d = tls_dump(p);
	long held = it_stat(flat, "tls.held"), flushes = it_stat(flat, "tls.flushes");
	long writes = it_field(p->w.out, "sender ", "writes"), records = it_field(p->peer.out, "receiver ", "records");
	cr_assert_gt(held, 0, "nothing held\n%s\n%s", flat, d);
	cr_assert(flushes > 0 && flushes < held, "tls.flushes %ld for tls.held %ld\n%s\n%s", flushes, held, flat, d);
	cr_assert_lt(records, writes, "%ld records for %ld SSL_writes: nothing merged\n%s\n%s", records, writes, flat,
		     d);
	cr_log_info("  tls.held=%ld tls.flushes=%ld: %ld records for %ld SSL_writes", held, flushes, records, writes);
	free(flat);
	free(d);
}

static void lazy_case(const char *kind, const char *tls, enum arm arm)
{
	struct pair p;
	lazy_run(&p, kind, tls, arm, NULL);
	if (arm == REFERENCE) {
		assert_completed(&p);
		return;
	}
	if (arm == SOCKTUNE) {
		assert_completed(&p);
		assert_merged(&p);
		/* The same seed, the same messages: the bytes of the run without socktune. */
		struct pair ref;
		lazy_run(&ref, kind, tls, REFERENCE, NULL);
		char *a = it_field_str(p.w.out, "sender ", "sha256"), *b = it_field_str(ref.w.out, "sender ", "sha256");
		cr_assert(a && b && !strcmp(a, b), "not the reference's bytes: %s, reference %s", a, b);
		free(a);
		free(b);
		return;
	}
	char *d = tls_dump(&p);
	char *recv_end = it_field_str(p.peer.out, "receiver ", "end");
	char *send_end = it_field_str(p.w.out, "sender ", "end");
	long rm = it_field(p.peer.out, "receiver ", "messages"), sm = it_field(p.w.out, "sender ", "messages");
	long stranded = it_field(p.peer.out, "receiver ", "stranded");
	cr_assert(recv_end && !strcmp(recv_end, "timeout"),
		  "the control completed within %d ms: the receiver is not lazy, or SOCKTUNE_TLS_SPLIT=off did "
		  "not put several messages in one record, so the test cannot fail\n%s",
		  CONTROL_MS, d);
	cr_assert(send_end && strcmp(send_end, "done"), "the control's sender finished\n%s", d);
	cr_assert(rm >= 1 && rm < sm, "the control's receiver got %ld of the %ld messages sent\n%s", rm, sm, d);
	cr_assert_gt(stranded, 0, "the control stalled with nothing stranded in OpenSSL: not the lazy stall\n%s", d);
	cr_log_info("  control stalled: %ld of %ld messages read, %ld bytes stranded in OpenSSL", rm, sm, stranded);
	free(recv_end);
	free(send_end);
	free(d);
}

#define LAZY(kind, tls, suffix)                                                                    \
	Test(lazy, kind##_##suffix##_without_socktune) { lazy_case(#kind, tls, REFERENCE); }       \
	Test(lazy, kind##_##suffix##_with_socktune) { lazy_case(#kind, tls, SOCKTUNE); }           \
	Test(lazy, kind##_##suffix##_control_split_off_stalls) { lazy_case(#kind, tls, CONTROL); }

LAZY(poll1, "1.3", tls13)
LAZY(poll1, "1.2", tls12)
LAZY(epollet, "1.3", tls13)
LAZY(epollet, "1.2", tls12)
LAZY(ackwin, "1.3", tls13)
LAZY(ackwin, "1.2", tls12)

/* ---- the program's own cork ---- */

/* 7 rounds of BATCH messages (2 or 3 SSL_writes each) inside the program's own cork,
 * OWN_CORK recork (uncorked after each round) or stay (never: the control, OVER, whose
 * median must reach the bound). */
static void cork_case(enum arm arm, const char *own_cork, const char *batch, bool over, const char *tls)
{
	struct pair p;
	lazy_run(&p, "poll1", tls, arm,
		 IT_LIST("--own-cork", own_cork, "--batches", "7", "--batch-min", batch, "--batch-max", batch));
	assert_completed(&p);
	if (arm != REFERENCE)
		assert_merged(&p);
	char *d = tls_dump(&p);
	long med = it_field(p.w.out, "sender ", "round_median_us"), max = it_field(p.w.out, "sender ", "round_max_us");
	cr_log_info("  own cork %s, %s messages a round: round trips median %ld us, max %ld us", own_cork, batch, med,
		    max);
	if (over)
		cr_assert_geq(med, CORK_BOUND_US,
			      "a program that never uncorks had replies within %d ms (median %ld us): the bound "
			      "proves nothing\n%s",
			      CORK_BOUND_US / 1000, med, d);
	else
		cr_assert(med >= 0 && med < CORK_BOUND_US,
			  "median round trip %ld us after the program's own uncork: the held bytes waited in the "
			  "corked socket\n%s",
			  med, d);
	free(d);
}

Test(lazy, cork_uncork_without_socktune) { cork_case(REFERENCE, "recork", "1", false, "1.3"); }
Test(lazy, cork_uncork_with_socktune_sends_held_bytes_first) { cork_case(SOCKTUNE, "recork", "1", false, "1.3"); }
Test(lazy, cork_uncork_with_socktune_tls12) { cork_case(SOCKTUNE, "recork", "1", false, "1.2"); }
/* The uncork rule does not depend on the record rule. */
Test(lazy, cork_uncork_with_socktune_split_off) { cork_case(CONTROL, "recork", "1", false, "1.3"); }
Test(lazy, cork_control_never_uncorked_waits) { cork_case(REFERENCE, "stay", "1", true, "1.3"); }
/* Both rules at once: three messages a round, the program's cork around them. */
Test(lazy, cork_lazy_receiver_and_uncork_with_socktune) { cork_case(SOCKTUNE, "recork", "3", false, "1.3"); }
