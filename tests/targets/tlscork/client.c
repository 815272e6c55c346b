/* tlscork/client.c: the client role, the request/response client of serve,
 * blocking, one thread per connection (--conns; with 1 the main thread itself;
 * with --serial every connection is made first, then the main thread runs them
 * one after the other, so that no other connection's traffic makes the server
 * pass a wait point).  Each of the --rounds round trips per connection writes a
 * request (3 writes), then with --think-ms sleeps that long (nanosleep) and
 * counts the reply as "early" when bytes of it are already readable (FIONREAD,
 * no wait point), then reads the reply.  A round trip is timed from before the
 * first write to the last byte of the reply; with --stop-us N, the first one
 * longer than N us ends the rounds of every connection (a stalled run fails
 * fast).  At the end: TLS close_notify (or shutdown(SHUT_WR)), then it reads
 * until the server's close_notify (or EOF) and closes.
 * Prints: client pid=P conns=N rounds=N early=N max_us=N median_us=N
 *         p90_us=N writes=N sent=N sent_hash=H recv=N recv_hash=H
 */
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlscork.h"

static bool stalled; /* --stop-us: a round trip took longer, every connection stops */

static void *client_conn(void *arg)
{
	struct conn *c = arg;
	unsigned char reply[4 + MAXBODY];
	handshake(c);
	for (long r = 0; r < o.rounds && !__atomic_load_n(&stalled, __ATOMIC_RELAXED); r++) {
		long long t0 = mono_ns();
		send_message(c);
		if (o.think_ms > 0) {
			struct timespec t = { o.think_ms / 1000, (o.think_ms % 1000) * 1000000 };
			nanosleep(&t, NULL);
			int q = 0;
			if (ioctl(c->fd, FIONREAD, &q) == 0 && q > 0)
				c->early++;
		}
		get_exact(c, reply, 4);
		get_exact(c, reply + 4, body_len(reply));
		long long dt = mono_ns() - t0;
		c->dt[c->done++] = dt;
		if (o.stop_us > 0 && dt > o.stop_us * 1000LL)
			__atomic_store_n(&stalled, true, __ATOMIC_RELAXED);
	}
	/* The end: ours, then the server's. */
	if (c->ssl) {
		int r;
		while ((r = SSL_shutdown(c->ssl)) < 0)
			die("SSL_shutdown: SSL_get_error %d", SSL_get_error(c->ssl, r));
	} else if (shutdown(c->fd, SHUT_WR) < 0) {
		die("shutdown");
	}
	unsigned char rest[256];
	if (get(c, rest, sizeof rest) != 0)
		die("bytes after the last reply");
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

void run_client(void)
{
	if (o.conns < 1 || o.conns > MAXCONN || o.rounds < 1)
		die("--conns 1..%d, --rounds 1..", MAXCONN);
	tls_context(false);
	struct conn *cs[MAXCONN];
	pthread_t t[MAXCONN];
	for (long i = 0; i < o.conns; i++) {
		cs[i] = new_conn(connect_tcp(), i, false);
		cs[i]->dt = calloc((size_t)o.rounds, sizeof *cs[i]->dt);
		if (!cs[i]->dt)
			die("calloc");
	}
	if (o.conns == 1 || o.serial) {
		for (long i = 0; i < o.conns; i++)
			client_conn(cs[i]);
	} else {
		for (long i = 0; i < o.conns; i++)
			if (pthread_create(&t[i], NULL, client_conn, cs[i]) != 0)
				die("pthread_create");
		for (long i = 0; i < o.conns; i++)
			pthread_join(t[i], NULL);
	}
	size_t total = 0;
	long long *all = calloc((size_t)(o.conns * o.rounds), sizeof *all);
	long early = 0;
	if (!all)
		die("calloc");
	for (long i = 0; i < o.conns; i++) {
		memcpy(all + total, cs[i]->dt, (size_t)cs[i]->done * sizeof *all);
		total += (size_t)cs[i]->done;
		early += cs[i]->early;
		free(cs[i]->dt);
		end_conn(cs[i]);
		free(cs[i]);
	}
	if (total == 0)
		die("no round trip");
	qsort(all, total, sizeof *all, cmp_ll);
	char th[65], rh[65];
	hex(th, tx_fold);
	hex(rh, rx_fold);
	printf("client pid=%ld conns=%ld rounds=%zu early=%ld max_us=%lld median_us=%lld p90_us=%lld "
	       "writes=%lu sent=%llu sent_hash=%s recv=%llu recv_hash=%s\n",
	       (long)getpid(), o.conns, total, early, all[total - 1] / 1000, all[total / 2] / 1000,
	       all[total * 9 / 10] / 1000, writes_total, tx_total, th, rx_total, rh);
	free(all);
}
