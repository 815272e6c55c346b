/* tls_edge.c: ordinary TLS client patterns that holding writes broke (issue 13,
 * cases A to G), each run by tlsedge (tests/targets/tlsedge.c) without socktune, as
 * the reference, and with it preloaded (SOCKTUNE_TLS_MERGE=1024, SOCKTUNE_CORK=auto,
 * SOCKTUNE_MERGE=4K). Everything tlsedge prints, every call's return value,
 * SSL_get_error and errno, and what its peer received on each connection, must be
 * the same, and so must its exit status (3 means it hung for 5 s). The reference
 * runs twice: a case whose reference differs from itself proves nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#include "tls_common.h"

static void edge_case(const char *const args[])
{
	struct it_run ref, again, r;
	const char *const *argv = args;
	const char *const env[] = { "SOCKTUNE_TLS_MERGE=1024", "SOCKTUNE_CORK=auto", "SOCKTUNE_MERGE=4K", NULL };
	it_run(&ref, argv, NULL, 0);
	cr_assert_eq(ref.status, 0, "the reference failed (%d):\n%s\n%s", ref.status, ref.out, ref.err);
	it_run(&again, argv, NULL, 0);
	cr_assert_str_eq(again.out, ref.out, "the reference is not deterministic:\n%s\n---\n%s", ref.out,
			 again.out);
	it_run(&r, argv, env, IT_PRELOAD);
	cr_assert_str_eq(r.out, ref.out, "with socktune:\n%s\n--- without:\n%s\n--- stderr with socktune:\n%s",
			 r.out, ref.out, r.err);
	cr_assert_eq(r.status, ref.status, "exit status %d with socktune, %d without\n%s", r.status, ref.status,
		     r.err);
	it_run_free(&ref);
	it_run_free(&again);
	it_run_free(&r);
}

#define EDGE(name, ...) \
	Test(tls_edge, name) { edge_case(IT_LIST(it_target("tlsedge"), __VA_ARGS__)); }

/* C: a write after SSL_shutdown fails, and a second shutdown completes. */
EDGE(write_after_shutdown_fails_as_without, "shutdown-write")
EDGE(write_after_shutdown_fails_as_without_tls12, "--tls", "1.2", "shutdown-write")
/* B: SSL_set_shutdown, then SSL_shutdown or SSL_free: the held bytes still arrive. */
EDGE(set_shutdown_then_shutdown_keeps_the_bytes, "set-shutdown")
EDGE(set_shutdown_then_free_keeps_the_bytes, "set-shutdown-free")
/* G: a write larger than INT_MAX goes after what is held. */
EDGE(huge_write_ex_keeps_the_order, "huge")
/* E: on a unix socket whose peer has gone, the write fails at once with EPIPE. */
EDGE(unix_peer_gone_fails_at_once, "--unix", "peer-gone")
/* F: a BIO_f_ssl write on the same SSL goes after what is held. */
EDGE(bio_f_ssl_keeps_the_order, "bio")
/* A: a thread that writes on X and then reads Y sends X's bytes before it blocks. */
EDGE(write_x_then_read_y, "cross")
EDGE(write_x_then_handshake_y, "cross-handshake")
EDGE(write_x_then_read_y_unix, "--unix", "cross")
/* A close whose flush meets a socket that shrank below what it queues: the held
 * bytes still reach the peer, and never the socket that takes the number next. */
EDGE(close_with_a_full_socket_sends_first, "--unix", "close-full")
/* The SSL handed to a thread that writes through a BIO_f_ssl while the first
 * waits in pthread_join, whose flush must be done before the BIO writes: run
 * 30 times, as the two race (before, 5 runs in 40 failed, the BIO's write with
 * "bad length" as the two wrote at once; the conformance suite's seed 124687
 * found it). */
Test(tls_edge, bio_f_ssl_in_a_thread_while_the_writer_joins)
{
	for (int i = 0; i < 30; i++)
		edge_case(IT_LIST(it_target("tlsedge"), "--unix", "bio-thread"));
}
/* D: fork sends what every thread holds, not only the forking thread. */
EDGE(fork_sends_every_threads_holds, "fork-thread")

/* A TCP socket whose TCP_NOTSENT_LOWAT is 1 byte takes no write past one unsent
 * byte, so a held flush could find it full: nothing is held there. The control,
 * the same program without the mark, holds. Both: the same results as without. */
static long lowat_held(const char *what)
{
	edge_case(IT_LIST(it_target("tlsedge"), what));
	struct it_run r;
	char *dir = it_path(what);
	char *stats;
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_geq(asprintf(&stats, "SOCKTUNE_STATS=%s/st.json", dir), 0);
	it_run(&r, IT_LIST(it_target("tlsedge"), what), IT_LIST(stats), IT_PRELOAD);
	it_assert_ran(&r);
	char *why, *flat = it_stats_flat(tls_xfmt("%s/st.json", dir), &why);
	cr_assert_not_null(flat, "no stats: %s", why);
	long held = it_stat(flat, "tls.held");
	free(flat);
	free(stats);
	free(dir);
	it_run_free(&r);
	return held;
}

Test(tls_edge, notsent_lowat_means_nothing_is_held)
{
	cr_assert_eq(lowat_held("lowat"), 0);
}

Test(tls_edge, control_without_notsent_lowat_holds)
{
	cr_assert_eq(lowat_held("lowat-none"), 2);
}

/* The hold bound's thread starts in a program whose static TLS would not fit a
 * small thread stack (a thread that cannot start means nothing is held). */
Test(tls_edge, much_static_tls_still_holds)
{
	cr_assert_eq(lowat_held("big-tls"), 2);
}

/* J: a plugin loaded with RTLD_LOCAL links its own libssl under another soname
 * (tests/plugins/tlsplugin.c, the system's libssl renamed), and the program links
 * none: every hook must reach that copy's functions, with socktune on or off. */
static void private_libssl_case(const char *mode)
{
	char *plugin = tls_xfmt("%s/privlib/tlsplugin.so", getenv("SOCKTUNE_TARGETS"));
	if (access(plugin, R_OK) != 0)
		cr_skip_test("%s was not built (it needs patchelf): no private libssl to test", plugin);
	struct it_run ref, r;
	it_run(&ref, IT_LIST(it_target("privssl"), plugin), NULL, 0);
	cr_assert_eq(ref.status, 0, "the reference failed (%d):\n%s\n%s", ref.status, ref.out, ref.err);
	cr_assert_str_eq(ref.out, "client got=pong\nserver status=0\n");
	it_run(&r, IT_LIST(it_target("privssl"), plugin), IT_LIST(tls_xfmt("SOCKTUNE=%s", mode)), IT_PRELOAD);
	cr_assert_eq(r.status, 0, "exit status %d with socktune (SOCKTUNE=%s)\n%s\n%s", r.status, mode, r.out,
		     r.err);
	cr_assert_str_eq(r.out, ref.out);
	it_run_free(&ref);
	it_run_free(&r);
}

Test(tls_edge, private_libssl_in_a_local_plugin_is_reached) { private_libssl_case("on"); }
Test(tls_edge, private_libssl_in_a_local_plugin_is_reached_when_off) { private_libssl_case("off"); }
