/* tlscork/serve.c: the serve role, a request/response server; --kind says which
 * kind of program:
 *   epoll    a single-threaded event loop (epoll_wait, level-triggered,
 *            non-blocking sockets): one read per readiness, answer, and
 *            straight back to epoll_wait
 *   poll     the same loop with poll(), but it reads until EAGAIN before
 *            it polls again
 *   thread   blocking, a thread per connection (accept in the main thread)
 * It serves --conns connections, each until the client ends it, then
 * exits.  A request and a response are each one message: a 4-byte
 * big-endian length and a body of 20..200 random bytes.  The server
 * answers each complete request at once with a response of 3 writes
 * (the length, then the body in two pieces).
 * Prints: server pid=P kind=K conns=N requests=N writes=N sent=N
 *         sent_hash=H recv=N recv_hash=H
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tlscork.h"

/* Answers every complete request received so far. */
static void answer(struct conn *c)
{
	size_t off = 0;
	while (c->len - off >= 4) {
		size_t need = 4 + body_len(c->in + off);
		if (c->len - off < need)
			break;
		off += need;
		c->requests++;
		send_message(c);
	}
	memmove(c->in, c->in + off, c->len - off);
	c->len -= off;
}

/* Runs a connection as far as it can go now: true once it has ended (the client's
 * close_notify or EOF answered, the connection closed).  With ONCE, one read per
 * call (more only while OpenSSL has bytes of its own): the event loop goes back to
 * epoll_wait right after answering, so that is where a held reply must leave;
 * without, it reads until there is nothing (EAGAIN), as the poll loop does. */
static bool drive(struct conn *c, bool once)
{
	if (!handshake(c))
		return false;
	for (;;) {
		ssize_t n = get(c, c->in + c->len, sizeof c->in - c->len);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		c->len += (size_t)n;
		answer(c);
		if (once && !(c->ssl && SSL_has_pending(c->ssl)))
			return false;
	}
	if (c->len)
		die("the client ended inside a request");
	if (c->ssl) {
		int r;
		while ((r = SSL_shutdown(c->ssl)) < 0)
			await_ssl(c, r, "SSL_shutdown");
	}
	end_conn(c);
	free(c);
	return true;
}

static struct conn *accept_conn(int lfd, long idx, bool nonblock)
{
	struct conn *c = new_conn(accept_fd(lfd, nonblock), idx, true);
	c->nonblock = nonblock;
	return c;
}

static void serve_epoll(int lfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll");
	long accepted = 0, open_ = 0;
	while (accepted < o.conns || open_ > 0) {
		struct epoll_event out[MAXCONN];
		int n = epoll_wait(ep, out, MAXCONN, 10000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("epoll_wait: nothing for 10 s");
		for (int i = 0; i < n; i++) {
			struct conn *c = out[i].data.ptr;
			if (!c) {
				c = accept_conn(lfd, accepted++, true);
				struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &cev) < 0)
					die("epoll_ctl");
				open_++;
				if (accepted == o.conns && epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL) < 0)
					die("epoll_ctl");
				continue;
			}
			if (drive(c, true))
				open_--; /* closed, so gone from the epoll set */
		}
	}
	close(ep);
}

static void serve_poll(int lfd)
{
	struct conn *cs[MAXCONN] = { 0 };
	long accepted = 0, open_ = 0;
	while (accepted < o.conns || open_ > 0) {
		struct pollfd p[MAXCONN + 1];
		long who[MAXCONN + 1]; /* index in cs, -1 for the listener */
		nfds_t n = 0;
		if (accepted < o.conns) {
			p[n] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			who[n++] = -1;
		}
		for (long i = 0; i < accepted; i++) {
			if (cs[i]) {
				p[n] = (struct pollfd){ .fd = cs[i]->fd, .events = POLLIN };
				who[n++] = i;
			}
		}
		int r = poll(p, n, 10000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("poll: nothing for 10 s");
		for (nfds_t i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (who[i] < 0) {
				cs[accepted] = accept_conn(lfd, accepted, true);
				accepted++;
				open_++;
			} else if (drive(cs[who[i]], false)) {
				cs[who[i]] = NULL;
				open_--;
			}
		}
	}
}

static void *serve_thread(void *arg)
{
	drive(arg, false);
	return NULL;
}

static void serve_threads(int lfd)
{
	pthread_t t[MAXCONN];
	for (long i = 0; i < o.conns; i++) {
		struct conn *c = accept_conn(lfd, i, false);
		if (pthread_create(&t[i], NULL, serve_thread, c) != 0)
			die("pthread_create");
	}
	for (long i = 0; i < o.conns; i++)
		pthread_join(t[i], NULL);
}

void run_serve(void)
{
	if (o.conns < 1 || o.conns > MAXCONN)
		die("--conns 1..%d", MAXCONN);
	tls_context(true);
	int lfd = listener();
	if (!strcmp(o.kind, "epoll"))
		serve_epoll(lfd);
	else if (!strcmp(o.kind, "poll"))
		serve_poll(lfd);
	else if (!strcmp(o.kind, "thread"))
		serve_threads(lfd);
	else
		die("unknown --kind %s", o.kind);
	close(lfd);
	char th[65], rh[65];
	hex(th, tx_fold);
	hex(rh, rx_fold);
	printf("server pid=%ld kind=%s conns=%ld requests=%lu writes=%lu sent=%llu sent_hash=%s recv=%llu "
	       "recv_hash=%s\n",
	       (long)getpid(), o.kind, o.conns, requests_total, writes_total, tx_total, th, rx_total, rh);
}
