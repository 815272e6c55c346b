/* tlscork: the program of the cork tests (tests/integration/cork.c).  The same
 * binary is the program under test (run with the library preloaded and
 * SOCKTUNE_CORK set) and its peer (never preloaded): the peer is the independent
 * witness of what reached the wire, and of when.
 *
 * Every byte a connection sends and receives is hashed (SHA-256, one digest per
 * direction per connection; with several connections the digests are XORed, so the
 * order of the connections does not matter).  The test compares the sender's
 * "sent" with the receiver's "recv".  Times are CLOCK_MONOTONIC nanoseconds, the
 * test runner's clock too.
 *
 * tlspeer and tlsclient.h (the TLS tests' peer and client) do not fit here: tlspeer
 * is a server that answers with one byte, so it cannot be the peer of a server
 * under test nor hash a multi-write reply, and neither speaks plain TCP.
 *
 * Roles (the first argument):
 *
 *   serve   a request/response server; --kind says which kind of program:
 *             epoll    a single-threaded event loop (epoll_wait, level-triggered,
 *                      non-blocking sockets): one read per readiness, answer, and
 *                      straight back to epoll_wait
 *             poll     the same loop with poll(), but it reads until EAGAIN before
 *                      it polls again
 *             thread   blocking, a thread per connection (accept in the main thread)
 *           It serves --conns connections, each until the client ends it, then
 *           exits.  A request and a response are each one message: a 4-byte
 *           big-endian length and a body of 20..200 random bytes.  The server
 *           answers each complete request at once with a response of 3 writes
 *           (the length, then the body in two pieces).
 *           Prints: server pid=P kind=K conns=N requests=N writes=N sent=N
 *                   sent_hash=H recv=N recv_hash=H
 *
 *   client  the request/response client, blocking, one thread per connection
 *           (--conns; with 1 the main thread itself; with --serial every connection
 *           is made first, then the main thread runs them one after the other, so
 *           that no other connection's traffic makes the server pass a wait point).
 *           Each of the --rounds round trips per connection writes a request (3
 *           writes), then with --think-ms sleeps that long (nanosleep) and counts
 *           the reply as "early" when bytes of it are already readable (FIONREAD,
 *           no wait point), then reads the reply.  A round trip is timed from
 *           before the first write to the last byte of the reply; with --stop-us N,
 *           the first one longer than N us ends the rounds of every connection (a
 *           stalled run fails fast).  At the end: TLS close_notify (or
 *           shutdown(SHUT_WR)), then it reads until the server's close_notify (or
 *           EOF) and closes.
 *           Prints: client pid=P conns=N rounds=N early=N max_us=N median_us=N
 *                   p90_us=N writes=N sent=N sent_hash=H recv=N recv_hash=H
 *
 *   burst   a one-way sender: --bursts bursts of --writes writes of --min..--max
 *           random bytes each, every burst followed by a --wait (and --extra-waits
 *           more waits, of every kind in turn); then, with --spin-ms, a busy loop
 *           (no wait point); then it waits until the kernel has sent and had
 *           acknowledged everything (SIOCOUTQ 0), reads TCP_INFO, prints and closes.
 *           --api: write, send, writev (the piece in two iovecs), sendmsg, or mix
 *           (those four in turn).  --manage: none; cork (the program corks itself:
 *           TCP_CORK 1 after connect, 0 then 1 after each burst, 0 at the end);
 *           more (the program sends every write of a burst but the last with
 *           MSG_MORE itself).  cork_at_start is getsockopt(TCP_CORK) right after
 *           the connection is made (-1 on a unix socket).
 *           --end: how the last burst is left, instead of a wait (with --wait none):
 *             none; close (the socket was dup'ed first, so the connection stays
 *             open: only a push sends what is held); shutdown (SHUT_RD: SHUT_WR's
 *             FIN would send it anyway); fork (the child sleeps 10 ms and _exits,
 *             the parent polls waitpid with WNOHANG, which is no wait point); exec (the socket
 *             survives into this program's "spin" role, which spins --spin-ms and
 *             exits; the summary is printed before); thread-exit (a second thread
 *             writes the bursts and ends; the main thread joins it: a wait point,
 *             but of a thread that holds nothing).
 *             Then the --spin-ms busy loop, so nothing but the end sends.
 *           Prints: burst pid=P writes=N bytes=N hash=H segs_out=N cork_at_start=N
 *                   own_cork=N own_more=N written_ns=T end=E end_ns=T child=PID
 *             (own_cork: the program's own setsockopt(TCP_CORK) calls; own_more:
 *             its own MSG_MORE sends; written_ns: the end of the last write;
 *             end_ns: just before the --end call; child: the fork's child, or 0)
 *
 *   spin    spins --spin-ms ms and exits 0 (what burst --end exec runs).
 *
 *   sink    the peer of burst: reads until EOF and hashes.  With --expect N it
 *           notes when the N-th byte arrived.
 *           Prints: sink bytes=N hash=H first_ns=T full_ns=T
 *             (first_ns: the first byte arrived; full_ns: the N-th; 0: never)
 *
 * Where the connection comes from:
 *   --port N          connect to 127.0.0.1:N
 *   --unix PATH       connect to the unix stream socket PATH (burst)
 *   --listen-fd N     accept on this inherited listening socket (serve, sink)
 *   --port-file F     serve and burst: listen on 127.0.0.1, an ephemeral port, and
 *                     publish it in F (written when listening: the peer never
 *                     connects too early); client and sink: connect to the port F
 *                     names, once it exists
 * Other flags:
 *   --tls             TLS over the connection (serve, client; TLS 1.3); the server
 *                     needs --cert FILE --key FILE
 *   --nodelay         TCP_NODELAY, set by the program (before connect, after accept)
 *   --wait KIND       after each burst: nanosleep usleep poll ppoll select epoll
 *                     recv (MSG_DONTWAIT on the socket, the peer sends nothing) read
 *                     (a non-blocking empty pipe) cond (pthread_cond_timedwait) sem
 *                     (sem_timedwait) none, or mix (those kinds in turn);
 *                     --wait-us N how long (default 100)
 *   --seed S          the random data (default 1)
 *   --deadline-ms MS  end with SIGALRM after MS ms (default 12000)
 * Exit status 0 on success, 1 on any failure (a line on stderr says which), 2 on a
 * bad argument.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_out */
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 16
#define MINBODY 20
#define MAXBODY 200
#define MAXPIECE 4096
#define INBUF 65536

static struct {
	const char *role, *kind, *port_file, *unix_path, *cert, *key, *api, *wait, *manage, *end;
	int port, listen_fd;
	bool tls, nodelay, serial;
	long conns, rounds, think_ms, stop_us, bursts, writes, min, max, wait_us, extra_waits, spin_ms, expect,
		deadline_ms;
	uint64_t seed;
} o = { .kind = "", .api = "write", .wait = "none", .manage = "none", .end = "none", .listen_fd = -1, .conns = 1,
	.rounds = 1, .bursts = 1, .min = MINBODY, .max = MAXBODY, .wait_us = 100, .deadline_ms = 12000,
	.seed = 1 };

static SSL_CTX *ctx;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	fprintf(stderr, "tlscork %s: ", o.role ? o.role : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	ERR_print_errors_fp(stderr);
	fflush(NULL);
	exit(1);
}

static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* xorshift64*: the random sizes and bytes. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static void fill(unsigned char *b, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(rnd(s) >> 56);
}

static long between(uint64_t *s, long lo, long hi)
{
	return lo + (long)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* ---- the digests of every connection, folded ---- */

static pthread_mutex_t fold_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char tx_fold[32], rx_fold[32];
static unsigned long long tx_total, rx_total;
static unsigned long writes_total, requests_total;

static void hex(char out[65], const unsigned char d[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- one connection ---- */

struct conn {
	int fd;
	SSL *ssl;
	bool nonblock, ready; /* ready: the TLS handshake is done (always, without TLS) */
	EVP_MD_CTX *tx, *rx;
	unsigned long long txn, rxn;
	unsigned long writes, requests;
	uint64_t rng;
	long early, done;
	long long *dt; /* client: each round trip, ns (done of them) */
	size_t len;    /* server: received bytes not yet answered */
	unsigned char in[INBUF];
};

static struct conn *new_conn(int fd, long idx, bool server)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		die("calloc");
	c->fd = fd;
	c->rng = (o.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)idx << 32) ^ (server ? 0x5eedULL : 0xc1ULL);
	c->rng |= 1;
	c->tx = EVP_MD_CTX_new();
	c->rx = EVP_MD_CTX_new();
	if (!c->tx || !c->rx || !EVP_DigestInit_ex(c->tx, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(c->rx, EVP_sha256(), NULL))
		die("sha256");
	c->ready = !o.tls;
	if (o.tls) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, fd))
			die("SSL_new");
		if (server)
			SSL_set_accept_state(c->ssl);
		else
			SSL_set_connect_state(c->ssl);
	}
	return c;
}

/* Folds the connection's digests and counters into the totals, closes it. */
static void end_conn(struct conn *c)
{
	unsigned char t[32], r[32];
	unsigned int tl = 0, rl = 0;
	if (!EVP_DigestFinal_ex(c->tx, t, &tl) || !EVP_DigestFinal_ex(c->rx, r, &rl) || tl != 32 || rl != 32)
		die("sha256 final");
	pthread_mutex_lock(&fold_mu);
	for (int i = 0; i < 32; i++) {
		tx_fold[i] ^= t[i];
		rx_fold[i] ^= r[i];
	}
	tx_total += c->txn;
	rx_total += c->rxn;
	writes_total += c->writes;
	requests_total += c->requests;
	pthread_mutex_unlock(&fold_mu);
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (close(c->fd) < 0)
		die("close");
	EVP_MD_CTX_free(c->tx);
	EVP_MD_CTX_free(c->rx);
}

/* Waits until FD is ready for EVENTS, as an event loop would (poll: a wait point). */
static void await_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;
	while ((r = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		die("poll for %s", events == POLLIN ? "input" : "output");
}

enum api { API_WRITE, API_SEND, API_WRITEV, API_SENDMSG };

static enum api pick_api(unsigned long n)
{
	if (!strcmp(o.api, "mix"))
		return (enum api)(n % 4);
	if (!strcmp(o.api, "send"))
		return API_SEND;
	if (!strcmp(o.api, "writev"))
		return API_WRITEV;
	if (!strcmp(o.api, "sendmsg"))
		return API_SENDMSG;
	return API_WRITE;
}

/* Writes the N bytes at P, one call of the chosen kind per piece (more on a short
 * write), FLAGS (MSG_MORE) going with send or sendmsg; hashes them. */
static void put(struct conn *c, const unsigned char *p, size_t n, int flags)
{
	EVP_DigestUpdate(c->tx, p, n);
	c->txn += n;
	if (c->ssl) {
		while (n > 0) {
			size_t w = 0;
			c->writes++;
			int r = SSL_write_ex(c->ssl, p, n, &w);
			if (r == 1) {
				p += w;
				n -= w;
				continue;
			}
			int err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_WRITE)
				await_fd(c->fd, POLLOUT);
			else if (err == SSL_ERROR_WANT_READ)
				await_fd(c->fd, POLLIN);
			else
				die("SSL_write_ex: SSL_get_error %d", err);
		}
		return;
	}
	enum api api = pick_api(c->writes);
	if (flags && (api == API_WRITE || api == API_WRITEV))
		api = api == API_WRITE ? API_SEND : API_SENDMSG;
	while (n > 0) {
		struct iovec iov[2] = { { (void *)p, n }, { NULL, 0 } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1 };
		ssize_t r;
		switch (api) {
		case API_SEND:
			r = send(c->fd, p, n, flags);
			break;
		case API_WRITEV:
			if (n > 1) {
				iov[0].iov_len = n / 2;
				iov[1].iov_base = (void *)(p + n / 2);
				iov[1].iov_len = n - n / 2;
			}
			r = writev(c->fd, iov, n > 1 ? 2 : 1);
			break;
		case API_SENDMSG:
			r = sendmsg(c->fd, &m, flags);
			break;
		default:
			r = write(c->fd, p, n);
			break;
		}
		c->writes++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				await_fd(c->fd, POLLOUT);
				continue;
			}
			die("write of %zu bytes", n);
		}
		p += r;
		n -= (size_t)r;
	}
}

/* Reads what is there, at most CAP bytes: >0 bytes, 0 at the end (close_notify or
 * EOF), -1 when a non-blocking connection has nothing now. */
static ssize_t get(struct conn *c, unsigned char *b, size_t cap)
{
	if (cap == 0)
		die("input buffer full");
	for (;;) {
		ssize_t got;
		if (c->ssl) {
			size_t n = 0;
			int r = SSL_read_ex(c->ssl, b, cap, &n);
			if (r != 1) {
				int err = SSL_get_error(c->ssl, r);
				if (err == SSL_ERROR_ZERO_RETURN)
					return 0;
				if (err == SSL_ERROR_WANT_READ) {
					if (c->nonblock)
						return -1;
					await_fd(c->fd, POLLIN);
					continue;
				}
				if (err == SSL_ERROR_WANT_WRITE) {
					await_fd(c->fd, POLLOUT);
					continue;
				}
				die("SSL_read_ex: SSL_get_error %d (no close_notify?)", err);
			}
			got = (ssize_t)n;
		} else {
			got = read(c->fd, b, cap);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					if (c->nonblock)
						return -1;
					await_fd(c->fd, POLLIN);
					continue;
				}
				die("read");
			}
			if (got == 0)
				return 0;
		}
		EVP_DigestUpdate(c->rx, b, (size_t)got);
		c->rxn += (unsigned long long)got;
		return got;
	}
}

/* Exactly N bytes (blocking connections), or dies. */
static void get_exact(struct conn *c, unsigned char *b, size_t n)
{
	while (n > 0) {
		ssize_t r = get(c, b, n);
		if (r <= 0)
			die("the peer ended the connection early");
		b += r;
		n -= (size_t)r;
	}
}

/* The TLS handshake: true when done; false when a non-blocking one must wait. */
static bool handshake(struct conn *c)
{
	while (!c->ready) {
		int r = SSL_do_handshake(c->ssl);
		if (r == 1) {
			c->ready = true;
			break;
		}
		int err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_READ) {
			if (c->nonblock)
				return false;
			await_fd(c->fd, POLLIN);
		} else if (err == SSL_ERROR_WANT_WRITE) {
			await_fd(c->fd, POLLOUT);
		} else {
			die("TLS handshake: SSL_get_error %d", err);
		}
	}
	return true;
}

/* One message: its length, then the body in two pieces: 3 writes. */
static void send_message(struct conn *c)
{
	unsigned char m[4 + MAXBODY];
	uint32_t body = (uint32_t)between(&c->rng, MINBODY, MAXBODY);
	uint32_t be = htonl(body);
	memcpy(m, &be, 4);
	fill(m + 4, body, &c->rng);
	size_t cut = 4 + (size_t)between(&c->rng, 1, (long)body - 1);
	put(c, m, 4, 0);
	put(c, m + 4, cut - 4, 0);
	put(c, m + cut, 4 + body - cut, 0);
}

static uint32_t body_len(const unsigned char *p)
{
	uint32_t be;
	memcpy(&be, p, 4);
	uint32_t n = ntohl(be);
	if (n < 1 || n > MAXBODY)
		die("bad message length %u", n);
	return n;
}

/* ---- serve ---- */

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
		while ((r = SSL_shutdown(c->ssl)) < 0) {
			int err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_WRITE)
				await_fd(c->fd, POLLOUT);
			else if (err == SSL_ERROR_WANT_READ)
				await_fd(c->fd, POLLIN);
			else
				die("SSL_shutdown: SSL_get_error %d", err);
		}
	}
	end_conn(c);
	free(c);
	return true;
}

static void publish_port(int lfd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	if (getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
		die("getsockname");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", o.port_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, o.port_file) < 0)
		die("%s", o.port_file);
}

/* The listening socket: inherited, or made here and published in --port-file. */
static int listener(void)
{
	if (o.listen_fd >= 0)
		return o.listen_fd;
	if (!o.port_file)
		die("--listen-fd or --port-file is required");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0)
		die("listen");
	publish_port(fd);
	return fd;
}

static void set_nodelay(int fd)
{
	int one = 1;
	if (o.nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		die("TCP_NODELAY");
}

static int accept_fd(int lfd, bool nonblock)
{
	int fd;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0))) < 0 &&
	       errno == EINTR)
		;
	if (fd < 0)
		die("accept");
	set_nodelay(fd);
	return fd;
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

static void tls_context(bool server)
{
	if (!o.tls)
		return;
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (server) {
		if (!o.cert || !o.key)
			die("--tls needs --cert and --key");
		if (SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1)
			die("certificate");
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
}

static void run_serve(void)
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

/* ---- client ---- */

/* The port in --port-file, once the server has published it. */
static int port_from_file(void)
{
	long long until = mono_ns() + o.deadline_ms * 1000000LL;
	for (;;) {
		FILE *f = fopen(o.port_file, "r");
		int port = 0;
		if (f) {
			int ok = fscanf(f, "%d", &port);
			fclose(f);
			if (ok == 1 && port > 0)
				return port;
		}
		if (mono_ns() > until)
			die("no port in %s", o.port_file);
		sleep_us(2000);
	}
}

static int connect_tcp(void)
{
	int port = o.port ? o.port : o.port_file ? port_from_file() : 0;
	if (!port)
		die("--port or --port-file is required");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	set_nodelay(fd);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect to port %d", port);
	return fd;
}

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

static void run_client(void)
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

/* ---- burst ---- */

static const char *const wait_kinds[] = { "nanosleep", "usleep", "poll", "ppoll", "select",
					  "epoll", "recv", "read", "cond", "sem" };
#define NKINDS (sizeof wait_kinds / sizeof wait_kinds[0])

static int ep_fd = -1, pipe_r = -1;
static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* Everything the waits need, made before the first write. */
static void wait_setup(int fd)
{
	int p[2];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (ep_fd < 0 || epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll");
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		die("pipe2");
	pipe_r = p[0];
	if (sem_init(&sem, 0, 0) < 0)
		die("sem_init");
}

static struct timespec realtime_in_us(long us)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	long long ns = (long long)t.tv_nsec + us * 1000LL;
	t.tv_sec += (time_t)(ns / 1000000000LL);
	t.tv_nsec = (long)(ns % 1000000000LL);
	return t;
}

/* One wait of KIND, about --wait-us long; the peer sends nothing, so nothing is
 * ever ready. */
static void wait_once(const char *kind, int fd)
{
	long us = o.wait_us;
	struct timespec rel = { us / 1000000, (us % 1000000) * 1000 };
	int ms = (int)((us + 999) / 1000);
	unsigned char b[16];
	if (!strcmp(kind, "none")) {
		return;
	} else if (!strcmp(kind, "nanosleep")) {
		nanosleep(&rel, NULL);
	} else if (!strcmp(kind, "usleep")) {
		usleep((useconds_t)us);
	} else if (!strcmp(kind, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, ms) != 0)
			die("poll: the peer sent something");
	} else if (!strcmp(kind, "ppoll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (ppoll(&p, 1, &rel, NULL) != 0)
			die("ppoll: the peer sent something");
	} else if (!strcmp(kind, "select")) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		struct timeval tv = { us / 1000000, us % 1000000 };
		if (select(fd + 1, &rd, NULL, NULL, &tv) != 0)
			die("select: the peer sent something");
	} else if (!strcmp(kind, "epoll")) {
		struct epoll_event ev;
		if (epoll_wait(ep_fd, &ev, 1, ms) != 0)
			die("epoll_wait: the peer sent something");
	} else if (!strcmp(kind, "recv")) {
		if (recv(fd, b, sizeof b, MSG_DONTWAIT) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			die("recv: the peer sent something");
	} else if (!strcmp(kind, "read")) {
		if (read(pipe_r, b, sizeof b) >= 0 || errno != EAGAIN)
			die("read of an empty pipe");
	} else if (!strcmp(kind, "cond")) {
		struct timespec until = realtime_in_us(us);
		pthread_mutex_lock(&mu);
		int r = pthread_cond_timedwait(&cv, &mu, &until);
		pthread_mutex_unlock(&mu);
		if (r != ETIMEDOUT)
			die("pthread_cond_timedwait: %d", r);
	} else if (!strcmp(kind, "sem")) {
		struct timespec until = realtime_in_us(us);
		int r;
		while ((r = sem_timedwait(&sem, &until)) < 0 && errno == EINTR)
			;
		if (r == 0 || errno != ETIMEDOUT)
			die("sem_timedwait");
	} else {
		fprintf(stderr, "tlscork: unknown --wait %s\n", kind);
		exit(2);
	}
}

static void own_cork(int fd, int on, long *count)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) < 0)
		die("setsockopt(TCP_CORK, %d)", on);
	++*count;
}

static int connect_unix(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(o.unix_path) >= sizeof a.sun_path)
		die("--unix path too long");
	strcpy(a.sun_path, o.unix_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect to %s", o.unix_path);
	return fd;
}

/* The burst sender's state, shared with the thread that writes for --end thread-exit. */
static struct {
	struct conn *c;
	bool manage_cork, manage_more;
	long own_cork_calls, own_more;
	long long written_ns;
} bs;

static void spin_ms(long ms)
{
	long long until = mono_ns() + ms * 1000000LL;
	while (mono_ns() < until)
		;
}

static void *burst_loop(void *arg)
{
	(void)arg;
	struct conn *c = bs.c;
	static unsigned char piece[MAXPIECE];
	long k = 0;
	if (bs.manage_cork)
		own_cork(c->fd, 1, &bs.own_cork_calls);
	for (long b = 0; b < o.bursts; b++) {
		for (long w = 0; w < o.writes; w++) {
			size_t n = (size_t)between(&c->rng, o.min, o.max);
			fill(piece, n, &c->rng);
			int flags = bs.manage_more && w + 1 < o.writes ? MSG_MORE : 0;
			bs.own_more += flags != 0;
			put(c, piece, n, flags);
		}
		bs.written_ns = mono_ns();
		if (bs.manage_cork) {
			own_cork(c->fd, 0, &bs.own_cork_calls);
			own_cork(c->fd, 1, &bs.own_cork_calls);
		}
		wait_once(!strcmp(o.wait, "mix") ? wait_kinds[(size_t)b % NKINDS] : o.wait, c->fd);
		for (long e = 0; e < o.extra_waits; e++)
			wait_once(wait_kinds[(size_t)k++ % NKINDS], c->fd);
	}
	return NULL;
}

static void print_burst(unsigned segs_out, int cork_at_start, long long end_ns, long child)
{
	unsigned char d[32];
	unsigned int dl = 0;
	char h[65];
	if (!EVP_DigestFinal_ex(bs.c->tx, d, &dl))
		die("sha256 final");
	hex(h, d);
	printf("burst pid=%ld writes=%lu bytes=%llu hash=%s segs_out=%u cork_at_start=%d own_cork=%ld "
	       "own_more=%ld written_ns=%lld end=%s end_ns=%lld child=%ld\n",
	       (long)getpid(), bs.c->writes, bs.c->txn, h, segs_out, cork_at_start, bs.own_cork_calls, bs.own_more,
	       bs.written_ns, o.end, end_ns, child);
	fflush(stdout);
}

static void run_burst(void)
{
	bool tcp = !o.unix_path;
	int fd;
	if (o.unix_path) {
		fd = connect_unix();
	} else if (o.port) {
		fd = connect_tcp();
	} else {
		int lfd = listener();
		fd = accept_fd(lfd, false);
		close(lfd);
	}
	int cork_at_start = -1;
	socklen_t len = sizeof cork_at_start;
	if (tcp && getsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork_at_start, &len) < 0)
		die("getsockopt(TCP_CORK)");
	bs.manage_cork = !strcmp(o.manage, "cork");
	bs.manage_more = !strcmp(o.manage, "more");
	if (!bs.manage_cork && !bs.manage_more && strcmp(o.manage, "none"))
		die("unknown --manage %s", o.manage);
	if (o.min < 1 || o.max < o.min || o.max > MAXPIECE)
		die("--min 1.. --max ..%d", MAXPIECE);
	wait_setup(fd);
	bs.c = new_conn(fd, 0, false);

	long long end_ns = 0;
	long child = 0;
	if (!strcmp(o.end, "thread-exit")) {
		pthread_t t;
		if (pthread_create(&t, NULL, burst_loop, NULL) != 0)
			die("pthread_create");
		pthread_join(t, NULL); /* a wait point, but this thread holds nothing */
		end_ns = bs.written_ns;
	} else {
		burst_loop(NULL);
		end_ns = mono_ns();
	}
	if (!strcmp(o.end, "close")) {
		/* A dup keeps the connection open: only a push sends what is held. */
		int keep = dup(fd);
		if (keep < 0)
			die("dup");
		end_ns = mono_ns();
		if (close(fd) < 0)
			die("close");
		bs.c->fd = fd = keep;
	} else if (!strcmp(o.end, "shutdown")) {
		/* SHUT_RD: SHUT_WR's FIN would send the held bytes by itself. */
		end_ns = mono_ns();
		if (shutdown(fd, SHUT_RD) < 0)
			die("shutdown");
	} else if (!strcmp(o.end, "fork")) {
		fflush(NULL);
		end_ns = mono_ns();
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			sleep_us(10000); /* the child's own wait */
			_exit(0);
		}
		int st;
		pid_t got;
		while ((got = waitpid(pid, &st, WNOHANG)) == 0)
			; /* WNOHANG: no wait point, so only the fork pushes */
		if (got != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("the child failed");
		child = pid;
	} else if (!strcmp(o.end, "exec")) {
		/* The connection lives on in the new image, which spins and exits. */
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			die("fcntl");
		char ms[32];
		snprintf(ms, sizeof ms, "%ld", o.spin_ms);
		char *const args[] = { "tlscork", "spin", "--spin-ms", ms, NULL };
		print_burst(0, cork_at_start, mono_ns(), 0);
		execv("/proc/self/exe", args);
		die("execv");
	} else if (strcmp(o.end, "none") && strcmp(o.end, "thread-exit")) {
		die("unknown --end %s", o.end);
	}
	if (o.spin_ms > 0)
		spin_ms(o.spin_ms);
	if (bs.manage_cork)
		own_cork(fd, 0, &bs.own_cork_calls);
	struct tcp_info ti = { 0 };
	if (tcp) {
		long long until = mono_ns() + 5000000000LL;
		int q = 0;
		while (ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0 && mono_ns() < until)
			sleep_us(1000);
		if (q > 0)
			die("%d bytes still unsent after 5 s", q);
		len = sizeof ti;
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			die("TCP_INFO");
	}
	print_burst(ti.tcpi_segs_out, cork_at_start, end_ns, child);
	if (close(fd) < 0)
		die("close");
}

/* ---- sink ---- */

static void run_sink(void)
{
	int fd;
	if (o.listen_fd >= 0) {
		while ((fd = accept(o.listen_fd, NULL, NULL)) < 0 && errno == EINTR)
			;
		if (fd < 0)
			die("accept");
		close(o.listen_fd);
	} else {
		fd = connect_tcp();
	}
	struct conn *c = new_conn(fd, 0, false);
	long long first_ns = 0, full_ns = 0;
	for (;;) {
		ssize_t n = get(c, c->in, sizeof c->in);
		if (n == 0)
			break;
		long long now = mono_ns();
		if (!first_ns)
			first_ns = now;
		if (o.expect > 0 && !full_ns && c->rxn >= (unsigned long long)o.expect)
			full_ns = now;
	}
	unsigned char d[32];
	unsigned int dl = 0;
	char h[65];
	if (!EVP_DigestFinal_ex(c->rx, d, &dl))
		die("sha256 final");
	hex(h, d);
	printf("sink bytes=%llu hash=%s first_ns=%lld full_ns=%lld\n", c->rxn, h, first_ns, full_ns);
	close(fd);
}

/* ---- arguments ---- */

static long num(const char *flag, const char *s)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 0);
	if (errno || *e || v < 0) {
		fprintf(stderr, "tlscork: bad number for %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tlscork serve|client|burst|sink [flags]\n");
		return 2;
	}
	o.role = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--tls")) {
			o.tls = true;
			continue;
		}
		if (!strcmp(a, "--nodelay")) {
			o.nodelay = true;
			continue;
		}
		if (!strcmp(a, "--serial")) {
			o.serial = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "tlscork: %s needs a value\n", a);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--kind"))
			o.kind = v;
		else if (!strcmp(a, "--port"))
			o.port = (int)num(a, v);
		else if (!strcmp(a, "--port-file"))
			o.port_file = v;
		else if (!strcmp(a, "--unix"))
			o.unix_path = v;
		else if (!strcmp(a, "--listen-fd"))
			o.listen_fd = (int)num(a, v);
		else if (!strcmp(a, "--cert"))
			o.cert = v;
		else if (!strcmp(a, "--key"))
			o.key = v;
		else if (!strcmp(a, "--conns"))
			o.conns = num(a, v);
		else if (!strcmp(a, "--rounds"))
			o.rounds = num(a, v);
		else if (!strcmp(a, "--think-ms"))
			o.think_ms = num(a, v);
		else if (!strcmp(a, "--stop-us"))
			o.stop_us = num(a, v);
		else if (!strcmp(a, "--bursts"))
			o.bursts = num(a, v);
		else if (!strcmp(a, "--writes"))
			o.writes = num(a, v);
		else if (!strcmp(a, "--min"))
			o.min = num(a, v);
		else if (!strcmp(a, "--max"))
			o.max = num(a, v);
		else if (!strcmp(a, "--api"))
			o.api = v;
		else if (!strcmp(a, "--wait"))
			o.wait = v;
		else if (!strcmp(a, "--wait-us"))
			o.wait_us = num(a, v);
		else if (!strcmp(a, "--extra-waits"))
			o.extra_waits = num(a, v);
		else if (!strcmp(a, "--manage"))
			o.manage = v;
		else if (!strcmp(a, "--end"))
			o.end = v;
		else if (!strcmp(a, "--spin-ms"))
			o.spin_ms = num(a, v);
		else if (!strcmp(a, "--expect"))
			o.expect = num(a, v);
		else if (!strcmp(a, "--seed"))
			o.seed = (uint64_t)num(a, v);
		else if (!strcmp(a, "--deadline-ms"))
			o.deadline_ms = num(a, v);
		else {
			fprintf(stderr, "tlscork: unknown flag %s\n", a);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	struct itimerval it = { .it_value = { (time_t)(o.deadline_ms / 1000),
					      (suseconds_t)(o.deadline_ms % 1000 * 1000) } };
	setitimer(ITIMER_REAL, &it, NULL);
	if (!strcmp(o.role, "serve"))
		run_serve();
	else if (!strcmp(o.role, "client"))
		run_client();
	else if (!strcmp(o.role, "burst"))
		run_burst();
	else if (!strcmp(o.role, "sink"))
		run_sink();
	else if (!strcmp(o.role, "spin"))
		spin_ms(o.spin_ms);
	else {
		fprintf(stderr, "tlscork: unknown role %s\n", o.role);
		return 2;
	}
	fflush(stdout);
	return 0;
}
