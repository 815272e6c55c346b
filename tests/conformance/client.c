/* client.c: the program under test (`conform client SEED ADDR...`), run once or
 * twice without socktune and once with it.  It makes the scenario from the seed,
 * connects to the peer's listeners, runs the operations in order and writes one
 * line per call to stdout, unbuffered, so that a run killed by the watchdog still
 * shows how far it got.
 *
 * What a line says must not depend on timing in a run without socktune:
 *  - a blocking call's every return value is logged; a non-blocking loop (retried
 *    in poll after WANT_READ/WANT_WRITE) logs its final outcome and byte count;
 *  - reads take an exact count of the bytes the peer owes (the framing in
 *    conform.h makes that known) and log it with its hash; a single SSL_read or
 *    SSL_peek logs its return value (at most the rest of one record, and the
 *    peer's records do not depend on socktune);
 *  - a failed call logs its value, SSL_get_error, errno and the OpenSSL reason.
 *
 * The operations are wishes (scenario.c): one that the state forbids is logged
 * as "skip", and some adapt, always the same way: bytes owed on a connection are
 * read before it renegotiates, ends, or becomes the other end of a cross
 * message; a connection whose peer owes a TLS 1.3 key update answer exchanges
 * one more message before it ends, so that nothing is left unread when it
 * closes (a close with unread bytes sends a TCP reset, and the peer's ending
 * would depend on a race).  Concurrency is only ever in turns: a thread is
 * joined, and a forked child waited for, before the next operation.
 */
#include "conform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXSEG 1024
#define OWED_MAX 16384
#define SEG_MAX 24
#define WAIT_MS 5000

struct cconn {
	SSL *ssl;
	int fd;
	bool dead, broken, nonblock, partial, moving;
	uint32_t msgs, acks_read;
	/* What the peer owes, in the order it sends it: answers and ACKs. */
	uint32_t seg[MAXSEG];
	bool seg_ack[MAXSEG];
	unsigned head, tail;
	size_t owed;
	/* The segment count when a TLS 1.3 key update was asked for (-1: none):
	 * the peer's own key update comes before any later answer. */
	long kupd_mark;
	unsigned long pushed, popped;
};

static struct scenario S;
static struct cconn C[MAXCONN];
static uint64_t body_rng;
static int devnull = -1;
static __thread bool in_thread;
static bool in_child;
static int child_conn = -1;
static __thread int cur_op = -1;
/* CONFORM_DEBUG=1: each line again on stderr, with the time since the start. */
static bool debug_times;
static long long debug_t0;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[1024];
	int e = errno;
	int n = snprintf(line, sizeof line, "%s%d ", in_child ? "child " : in_thread ? "thread " : "", cur_op);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n += m < (int)(sizeof line - (size_t)n - 1) ? m : (int)(sizeof line - (size_t)n - 2);
	line[n++] = '\n';
	(void)!write(1, line, (size_t)n);
	if (debug_times) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		dprintf(2, "%8.3f ms: %.*s", (double)(ts.tv_sec * 1000000000LL + ts.tv_nsec - debug_t0) / 1e6, n, line);
	}
	errno = e;
}

/* "ret=R err=E errno=N reason=N" of a call that returned RET with errno E. */
static const char *outcome(SSL *s, long ret, int e, bool failed)
{
	static __thread char buf[128];
	if (!failed) {
		snprintf(buf, sizeof buf, "ret=%ld", ret);
	} else {
		unsigned long r = ERR_peek_last_error();
		snprintf(buf, sizeof buf, "ret=%ld err=%d errno=%d reason=%d", ret, s ? SSL_get_error(s, (int)ret) : -1,
			 e, ERR_GET_REASON(r));
	}
	ERR_clear_error();
	return buf;
}

static bool usable(int c)
{
	return c >= 0 && c < S.nconn && C[c].ssl && !C[c].dead && !C[c].broken;
}

static bool wait_io(int c, int err)
{
	struct pollfd p = { .fd = C[c].fd, .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
	int n;
	while ((n = poll(&p, 1, WAIT_MS)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		say("c=%d wait for %s timed out", c, err == SSL_ERROR_WANT_READ ? "read" : "write");
		C[c].broken = true;
		return false;
	}
	return true;
}

static bool want(int err)
{
	return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

/* ---- what the peer owes ---- */

static void push_seg(int c, uint32_t len, bool ack)
{
	struct cconn *k = &C[c];
	if (len == 0 || k->tail - k->head >= MAXSEG)
		return;
	k->seg[k->tail % MAXSEG] = len;
	k->seg_ack[k->tail % MAXSEG] = ack;
	k->tail++;
	k->owed += len;
	k->pushed++;
}

static void consume(int c, size_t n)
{
	struct cconn *k = &C[c];
	k->owed -= n;
	while (n > 0 && k->head != k->tail) {
		uint32_t *s = &k->seg[k->head % MAXSEG];
		uint32_t take = n < *s ? (uint32_t)n : *s;
		*s -= take;
		n -= take;
		if (*s == 0) {
			if (k->seg_ack[k->head % MAXSEG])
				k->acks_read++;
			k->head++;
			k->popped++;
			if (k->kupd_mark >= 0 && k->popped > (unsigned long)k->kupd_mark)
				k->kupd_mark = -1;
		}
	}
}

enum rd { RD_READ, RD_READ_EX, RD_PEEK_READ };

/* Reads N owed bytes (N <= owed) in a loop; logs the count and their hash. */
static bool read_owed(int c, size_t n, int how, const char *why)
{
	unsigned char buf[16384];
	struct cconn *k = &C[c];
	uint64_t h = FNV_INIT;
	size_t got = 0;
	long peeked = -1;
	while (got < n) {
		size_t want_n = n - got > sizeof buf ? sizeof buf : n - got, r = 0;
		errno = 0;
		int ret;
		if (how == RD_PEEK_READ && peeked < 0) {
			ret = SSL_peek(k->ssl, buf, (int)want_n);
			if (ret > 0) {
				peeked = ret;
				continue;
			}
		} else if (how == RD_READ_EX) {
			ret = SSL_read_ex(k->ssl, buf, want_n, &r);
		} else {
			ret = SSL_read(k->ssl, buf, (int)want_n);
			r = ret > 0 ? (size_t)ret : 0;
		}
		int e = errno;
		if (ret > 0) {
			h = fnv_add(h, buf, r);
			got += r;
			consume(c, r);
			continue;
		}
		int err = SSL_get_error(k->ssl, ret);
		if (want(err)) {
			ERR_clear_error();
			if (!wait_io(c, err))
				break;
			continue;
		}
		say("read c=%d (%s) n=%zu failed after %zu: %s", c, why, n, got, outcome(k->ssl, ret, e, true));
		k->broken = true;
		return false;
	}
	say("read c=%d (%s) n=%zu how=%d got=%zu fnv=%016llx%s", c, why, n, how, got, (unsigned long long)h,
	    peeked >= 0 ? " peeked" : "");
	if (peeked >= 0)
		say("peek c=%d returned %ld", c, peeked);
	return got == n;
}

static bool drain(int c, const char *why)
{
	return C[c].owed == 0 || read_owed(c, C[c].owed, RD_READ, why);
}

/* Reads through the first ACK the peer owes. */
static bool read_through_ack(int c)
{
	struct cconn *k = &C[c];
	size_t n = 0;
	for (unsigned i = k->head; i != k->tail; i++) {
		n += k->seg[i % MAXSEG];
		if (k->seg_ack[i % MAXSEG])
			return read_owed(c, n, RD_READ, "ack");
	}
	return true;
}

/* ---- writes ---- */

/* Writes N bytes as one piece through API; after WANT_* retries the same write,
 * from a moved copy when the mode allows it. */
static bool write_piece(int c, const unsigned char *b, size_t n, int api)
{
	/* Buffers live on the stack or the heap, never in thread-local storage:
	 * glibc carves static TLS out of every thread's stack, and a large block
	 * leaves a thread with a small stack (socktune starts one) no room. */
	unsigned char moved[2][MAXWRITE];
	struct cconn *k = &C[c];
	char calls[256] = "";
	size_t total = 0, cl = 0;
	bool retry = false;
	int flip = 0;
	BIO *bio = NULL;
	if (api == W_BIO) {
		bio = BIO_new(BIO_f_ssl());
		BIO_set_ssl(bio, k->ssl, BIO_NOCLOSE);
	}
	while (total < n) {
		const unsigned char *p = b + total;
		size_t len = n - total, w = 0;
		if (retry && k->moving) {
			memcpy(moved[flip], p, len);
			p = moved[flip];
			flip ^= 1;
		}
		errno = 0;
		int ret;
		if (api == W_BIO) {
			ret = BIO_write(bio, p, (int)len);
			w = ret > 0 ? (size_t)ret : 0;
		} else if (api == W_WRITE_EX) {
			ret = SSL_write_ex(k->ssl, p, len, &w);
		} else {
			ret = SSL_write(k->ssl, p, (int)len);
			w = ret > 0 ? (size_t)ret : 0;
		}
		int e = errno;
		if (ret > 0) {
			total += w;
			retry = false;
			if (!k->nonblock && cl < sizeof calls - 16)
				cl += (size_t)snprintf(calls + cl, sizeof calls - cl, "%s%zu", cl ? "," : "", w);
			continue;
		}
		int err = api == W_BIO ? (BIO_should_retry(bio) ? (BIO_should_read(bio) ? SSL_ERROR_WANT_READ
										     : SSL_ERROR_WANT_WRITE)
								 : SSL_get_error(k->ssl, ret))
				       : SSL_get_error(k->ssl, ret);
		if (want(err)) {
			ERR_clear_error();
			retry = true;
			if (wait_io(c, err))
				continue;
		} else {
			say("write c=%d api=%d n=%zu failed after %zu: %s", c, api, n, total, outcome(k->ssl, ret, e, true));
		}
		k->broken = true;
		BIO_free(bio);
		return false;
	}
	BIO_free(bio);
	if (k->nonblock)
		say("write c=%d api=%d n=%zu nb total=%zu", c, api, n, total);
	else
		say("write c=%d api=%d n=%zu -> %s", c, api, n, calls);
	return true;
}

/* Makes room before a message that makes the peer answer: past a bound on what
 * may be owed, the peer could block writing while this client blocks writing. */
static bool make_room(int c)
{
	struct cconn *k = &C[c];
	if (k->owed > OWED_MAX || k->tail - k->head > SEG_MAX)
		return drain(c, "room");
	return true;
}

/* One message on c, in the op's pieces; the answer (if any) is owed on TARGET. */
static bool send_message(int c, const struct op *o, unsigned flags, int target, uint16_t reply)
{
	struct cconn *k = &C[c];
	size_t total = 0;
	for (int i = 0; i < o->npieces; i++)
		total += o->piece[i];
	if (total < HDR)
		total = HDR;
	unsigned char *buf = malloc(total);
	if (!buf)
		abort();
	put32(buf, (uint32_t)(total - HDR));
	buf[4] = (unsigned char)flags;
	buf[5] = (unsigned char)(target >= 0 ? target : 0);
	buf[6] = (unsigned char)(reply >> 8), buf[7] = (unsigned char)reply;
	put32(buf + 8, k->msgs);
	for (size_t i = HDR; i < total; i += 8) {
		uint64_t v = rng_next(&body_rng);
		memcpy(buf + i, &v, total - i < 8 ? total - i : 8);
	}
	size_t at = 0;
	for (int i = 0; i < o->npieces && at < total; i++) {
		size_t n = i == o->npieces - 1 ? total - at : o->piece[i];
		if (n > total - at)
			n = total - at;
		if (!write_piece(c, buf + at, n, o->api[i])) {
			free(buf);
			return false;
		}
		at += n;
	}
	free(buf);
	k->msgs++;
	if (reply && (flags & (MSG_ECHO | MSG_CROSS)))
		push_seg(flags & MSG_CROSS ? target : c, reply, false);
	uint8_t w = S.conn[c].window;
	if (w && k->msgs % w == 0)
		push_seg(c, ACKLEN, true);
	/* The ack window: at most twice W unacknowledged messages. */
	while (w && k->msgs - k->acks_read * w >= 2u * w && usable(c))
		if (!read_through_ack(c))
			return false;
	return true;
}

/* One more message and its answer, so that whatever the peer sent before the
 * answer (its key update) has been read. */
static void sync_conn(int c)
{
	struct op o = { .npieces = 1, .piece = { HDR + 1 } };
	say("sync c=%d", c);
	if (make_room(c) && send_message(c, &o, MSG_ECHO, -1, 1))
		drain(c, "sync");
}

/* ---- handshakes and ends ---- */

static void handshake_loop(int c, const char *what)
{
	struct cconn *k = &C[c];
	for (;;) {
		errno = 0;
		int ret = SSL_do_handshake(k->ssl), e = errno;
		if (ret == 1) {
			say("%s c=%d handshake ret=1", what, c);
			return;
		}
		int err = SSL_get_error(k->ssl, ret);
		if (want(err) && k->nonblock) {
			ERR_clear_error();
			if (wait_io(c, err))
				continue;
			return;
		}
		say("%s c=%d handshake %s", what, c, outcome(k->ssl, ret, e, true));
		if (!want(err))
			k->broken = true;
		return;
	}
}

/* SSL_shutdown, retried in poll while non-blocking; returns its final value. */
static int shutdown_loop(int c, const char *what)
{
	struct cconn *k = &C[c];
	for (;;) {
		errno = 0;
		int ret = SSL_shutdown(k->ssl), e = errno;
		int err = ret < 0 ? SSL_get_error(k->ssl, ret) : 0;
		if (ret < 0 && want(err) && k->nonblock) {
			ERR_clear_error();
			if (wait_io(c, err))
				continue;
		}
		say("%s c=%d SSL_shutdown %s", what, c, outcome(k->ssl, ret, e, ret < 0));
		return ret;
	}
}

static void conn_free(int c)
{
	SSL_free(C[c].ssl);
	C[c].ssl = NULL;
}

static void close_fd(int c, const char *what)
{
	errno = 0;
	int r = close(C[c].fd), e = errno;
	say("%s c=%d close ret=%d errno=%d", what, c, r, r ? e : 0);
}

static void end_conn(int c, int kind)
{
	struct cconn *k = &C[c];
	if (!k->ssl || k->dead)
		return;
	if (!k->broken) {
		drain(c, "end");
		if (k->kupd_mark >= 0 && !k->broken)
			sync_conn(c);
	}
	say("end c=%d %s", c, end_kind_name(kind));
	switch (kind) {
	case END_SHUTDOWN:
		shutdown_loop(c, "end");
		conn_free(c);
		close_fd(c, "end");
		break;
	case END_SHUTDOWN2:
		if (shutdown_loop(c, "end") == 0 && !k->broken)
			shutdown_loop(c, "end again");
		conn_free(c);
		close_fd(c, "end");
		break;
	case END_SHUT_WRITE: {
		shutdown_loop(c, "end");
		errno = 0;
		int r = SSL_write(k->ssl, "after", 5), e = errno;
		say("end c=%d SSL_write after shutdown %s", c, outcome(k->ssl, r, e, r <= 0));
		size_t w = 0;
		errno = 0;
		r = SSL_write_ex(k->ssl, "after", 5, &w), e = errno;
		say("end c=%d SSL_write_ex after shutdown written=%zu %s", c, w, outcome(k->ssl, r, e, r <= 0));
		conn_free(c);
		close_fd(c, "end");
		break;
	}
	case END_SET_SHUTDOWN:
		SSL_set_shutdown(k->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		shutdown_loop(c, "end");
		conn_free(c);
		close_fd(c, "end");
		break;
	case END_SET_FREE:
		SSL_set_shutdown(k->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		conn_free(c);
		close_fd(c, "end");
		break;
	case END_FREE:
		conn_free(c);
		close_fd(c, "end");
		break;
	case END_CLOSE:
		close_fd(c, "end");
		conn_free(c);
		break;
	case END_DUP2: {
		errno = 0;
		int r = dup2(devnull, k->fd), e = errno;
		say("end c=%d dup2 ret=%d errno=%d", c, r == k->fd ? 0 : r, r < 0 ? e : 0);
		conn_free(c);
		close_fd(c, "end");
		break;
	}
	case END_CLOSE_RANGE: {
		errno = 0;
		int r = close_range((unsigned)k->fd, (unsigned)k->fd, 0), e = errno;
		say("end c=%d close_range ret=%d errno=%d", c, r, r ? e : 0);
		conn_free(c);
		break;
	}
	case END_OPEN:
		return;
	}
	k->dead = true;
}

/* ---- the operations ---- */

static int run_ops(int from, int to);

struct thread_arg {
	int from, to;
};

static void *thread_main(void *arg)
{
	struct thread_arg *t = arg;
	in_thread = true;
	run_ops(t->from, t->to);
	return NULL;
}

static void set_mode(int c, unsigned bits)
{
	struct cconn *k = &C[c];
	int fl = fcntl(k->fd, F_GETFL);
	fcntl(k->fd, F_SETFL, bits & 1 ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
	k->nonblock = bits & 1, k->partial = bits & 2, k->moving = bits & 4;
	long m = (bits & 2 ? SSL_MODE_ENABLE_PARTIAL_WRITE : 0) | (bits & 4 ? SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER : 0);
	SSL_clear_mode(k->ssl, (SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) & ~m);
	long now = SSL_set_mode(k->ssl, m);
	say("mode c=%d nonblock=%d ssl_mode=%#lx", c, (fcntl(k->fd, F_GETFL) & O_NONBLOCK) != 0, now);
}

static void do_sleep(const struct op *o)
{
	long us = o->n;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };
	int r = 0;
	switch (o->arg) {
	case 0:
		r = usleep((useconds_t)us);
		break;
	case 1:
		r = nanosleep(&ts, NULL);
		break;
	case 2:
		r = poll(NULL, 0, (int)(us / 1000));
		break;
	case 3: {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev;
		r = epoll_wait(ep, &ev, 1, (int)(us / 1000));
		close(ep);
		break;
	}
	case 4: {
		struct timeval tv = { 0, us };
		r = select(0, NULL, NULL, NULL, &tv);
		break;
	}
	case 5: {
		pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
		pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += us * 1000;
		if (until.tv_nsec >= 1000000000)
			until.tv_sec++, until.tv_nsec -= 1000000000;
		pthread_mutex_lock(&m);
		r = pthread_cond_timedwait(&cv, &m, &until) == ETIMEDOUT ? 0 : -1;
		pthread_mutex_unlock(&m);
		break;
	}
	case 6: {
		sem_t sem;
		sem_init(&sem, 0, 0);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += us * 1000;
		if (until.tv_nsec >= 1000000000)
			until.tv_sec++, until.tv_nsec -= 1000000000;
		r = sem_timedwait(&sem, &until) < 0 && errno == ETIMEDOUT ? 0 : -1;
		sem_destroy(&sem);
		break;
	}
	default:
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		break;
	}
	say("sleep kind=%d ret=%d", o->arg, r);
}

/* Waits for c's fd to be readable (KIND: poll, ppoll, select, epoll); 1 when it is. */
static int wait_readable(int c, int kind, int timeout_ms)
{
	int fd = C[c].fd, r = 0;
	switch (kind) {
	case 0: {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		r = poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
		break;
	}
	case 1: {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
		r = ppoll(&p, 1, &ts, NULL) == 1 && (p.revents & POLLIN);
		break;
	}
	case 2: {
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(fd, &rs);
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		r = select(fd + 1, &rs, NULL, NULL, &tv) == 1;
		break;
	}
	default: {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		r = epoll_wait(ep, &ev, 1, timeout_ms) == 1;
		close(ep);
		break;
	}
	}
	return r;
}

static void op_cross(const struct op *o)
{
	int x = o->c, y = o->c2;
	if (!drain(y, "cross") || !make_room(x))
		return;
	/* A renegotiation begun on Y is finished first: otherwise whether the
	 * peer's answer on Y or its handshake reply comes first would depend on
	 * the timing of the peer's threads. */
	if (SSL_renegotiate_pending(C[y].ssl))
		handshake_loop(y, "cross");
	if (!usable(y))
		return;
	if (!send_message(x, o, MSG_CROSS, y, o->reply) || !usable(y))
		return;
	size_t n = C[y].owed;
	switch (o->arg) {
	case 1:
		read_owed(y, n, RD_PEEK_READ, "cross");
		break;
	case 2:
	case 3: {
		int r = wait_readable(y, o->arg == 2 ? 0 : 3, WAIT_MS);
		say("cross wait c=%d readable=%d", y, r);
		read_owed(y, n, RD_READ, "cross");
		break;
	}
	case 4:
		read_owed(y, n, RD_READ_EX, "cross");
		break;
	default:
		read_owed(y, n, RD_READ, "cross");
		break;
	}
}

static void op_single_read(const struct op *o, bool peek)
{
	unsigned char buf[16384];
	int c = o->c;
	struct cconn *k = &C[c];
	size_t n = o->n < k->owed ? o->n : k->owed;
	if (n > sizeof buf)
		n = sizeof buf;
	for (;;) {
		size_t r = 0;
		errno = 0;
		int ret;
		if (o->arg)
			ret = peek ? SSL_peek_ex(k->ssl, buf, n, &r) : SSL_read_ex(k->ssl, buf, n, &r);
		else {
			ret = peek ? SSL_peek(k->ssl, buf, (int)n) : SSL_read(k->ssl, buf, (int)n);
			r = ret > 0 ? (size_t)ret : 0;
		}
		int e = errno;
		if (ret > 0) {
			if (!peek)
				consume(c, r);
			say("%s c=%d n=%zu ret=%d got=%zu fnv=%016llx pending=%d", peek ? "peek" : "read1", c, n, ret, r,
			    (unsigned long long)fnv_add(FNV_INIT, buf, r), SSL_pending(k->ssl));
			return;
		}
		int err = SSL_get_error(k->ssl, ret);
		if (want(err)) {
			ERR_clear_error();
			if (wait_io(c, err))
				continue;
			return;
		}
		say("%s c=%d n=%zu failed: %s", peek ? "peek" : "read1", c, n, outcome(k->ssl, ret, e, true));
		k->broken = true;
		return;
	}
}

static int op_fork(int i, const struct op *o)
{
	int c = o->c;
	if (in_child || (c >= 0 && !usable(c))) {
		say("skip fork");
		return i + 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		say("fork failed errno=%d", errno);
		return i + 1;
	}
	if (pid == 0) {
		in_child = true;
		child_conn = c;
		if (c >= 0) {
			run_ops(i + 1, i + 1 + (int)o->n);
			cur_op = i;
			if (usable(c)) {
				drain(c, "child");
				if (C[c].kupd_mark >= 0 && usable(c))
					sync_conn(c);
				if (o->arg & 2)
					shutdown_loop(c, "child");
			}
		}
		say("child exits via %s", o->arg & 1 ? "_exit" : "exit");
		if (o->arg & 1)
			_exit(0);
		exit(0);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	say("fork child status=%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (c < 0)
		return i + 1;
	/* The child's records moved the connection's TLS state on: this copy is stale. */
	if (o->arg & 4)
		conn_free(c);
	close_fd(c, "fork");
	C[c].dead = true;
	return i + 1 + (int)o->n;
}

/* CONFORM_ONLY=A-B,C,...: run only these operations (to cut a failing scenario
 * down by hand); the others are logged as skipped. */
static bool op_wanted(int i)
{
	const char *only = getenv("CONFORM_ONLY");
	if (!only || !*only)
		return true;
	for (const char *p = only; *p;) {
		char *e;
		long a = strtol(p, &e, 10), b = a;
		if (*e == '-')
			b = strtol(e + 1, &e, 10);
		if (i >= a && i <= b)
			return true;
		p = *e == ',' ? e + 1 : e;
		if (e == p && *p != ',' && *p)
			break;
	}
	return false;
}

static int run_op(int i)
{
	const struct op *o = &S.op[i];
	int c = o->c;
	cur_op = i;
	bool conn_op = o->kind != OP_SLEEP && o->kind != OP_THREAD && o->kind != OP_FORK;
	if (conn_op && (!usable(c) || (o->kind == OP_CROSS && !usable(o->c2)) ||
			(in_child && (c != child_conn || o->kind == OP_CROSS)))) {
		say("skip %s", op_kind_name(o->kind));
		return i + 1;
	}
	if (!op_wanted(i)) {
		say("skip %s (CONFORM_ONLY)", op_kind_name(o->kind));
		return i + 1;
	}
	struct cconn *k = c >= 0 ? &C[c] : NULL;
	switch (o->kind) {
	case OP_MSG:
		if (o->reply && !make_room(c))
			break;
		send_message(c, o, o->reply ? MSG_ECHO : 0, -1, o->reply);
		break;
	case OP_ZERO: {
		/* Retried while a handshake (a renegotiation begun) is under way on a
		 * non-blocking socket: how often depends on timing. */
		for (;;) {
			errno = 0;
			size_t w = 12345;
			int r = o->arg ? SSL_write_ex(k->ssl, "", 0, &w) : SSL_write(k->ssl, "", 0);
			int e = errno;
			if (r <= 0 && k->nonblock && want(SSL_get_error(k->ssl, r))) {
				int err = SSL_get_error(k->ssl, r);
				ERR_clear_error();
				if (wait_io(c, err))
					continue;
				break;
			}
			say("zero c=%d api=%d written=%zu %s", c, o->arg, o->arg ? w : 0, outcome(k->ssl, r, e, r <= 0));
			break;
		}
		break;
	}
	case OP_READ:
		if (k->owed == 0) {
			say("skip read");
			break;
		}
		read_owed(c, o->n < k->owed ? o->n : k->owed, o->arg, "read");
		break;
	case OP_READ1:
	case OP_PEEK:
		if (k->owed == 0) {
			say("skip %s", op_kind_name(o->kind));
			break;
		}
		op_single_read(o, o->kind == OP_PEEK);
		break;
	case OP_PENDING:
		say("pending c=%d %d", c, SSL_pending(k->ssl));
		break;
	case OP_MODE:
		set_mode(c, o->arg);
		break;
	case OP_KEYUPDATE: {
		errno = 0;
		int r = SSL_key_update(k->ssl, o->arg & 1 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED);
		int e = errno;
		say("key_update c=%d requested=%d %s", c, o->arg & 1, outcome(k->ssl, r, e, r != 1));
		if (r == 1 && (o->arg & 1))
			k->kupd_mark = (long)k->pushed;
		if (o->arg & 2)
			handshake_loop(c, "key_update");
		break;
	}
	case OP_RENEG: {
		if (!drain(c, "reneg"))
			break;
		errno = 0;
		int r = o->arg & 4 ? SSL_renegotiate_abbreviated(k->ssl) : SSL_renegotiate(k->ssl);
		int e = errno;
		say("renegotiate c=%d abbreviated=%d %s", c, (o->arg & 4) != 0, outcome(k->ssl, r, e, r != 1));
		if (o->arg & 1)
			handshake_loop(c, "renegotiate");
		break;
	}
	case OP_CROSS:
		op_cross(o);
		break;
	case OP_SLEEP:
		do_sleep(o);
		break;
	case OP_POLL:
		if (k->owed > 0 && SSL_pending(k->ssl) == 0) {
			say("poll c=%d kind=%d readable=%d", c, o->arg, wait_readable(c, o->arg, WAIT_MS));
		} else if (k->owed > 0) {
			say("poll c=%d pending", c);
		} else {
			/* Not at once: a full send buffer drains in its own time. */
			struct pollfd p = { .fd = k->fd, .events = POLLOUT };
			int r = poll(&p, 1, WAIT_MS);
			say("poll c=%d writable=%d", c, r == 1 && (p.revents & POLLOUT));
		}
		break;
	case OP_THREAD: {
		int to = i + 1 + (int)o->n;
		if (to > S.nops)
			to = S.nops;
		if (in_thread) {
			say("skip thread");
			break;
		}
		pthread_t t;
		struct thread_arg a = { i + 1, to };
		if (pthread_create(&t, NULL, thread_main, &a) != 0) {
			say("thread failed");
			break;
		}
		pthread_join(t, NULL);
		cur_op = i;
		say("thread joined");
		return to;
	}
	case OP_FORK:
		return op_fork(i, o);
	case OP_END:
		end_conn(c, o->arg);
		break;
	}
	return i + 1;
}

static int run_ops(int from, int to)
{
	int i = from;
	while (i < to && i < S.nops)
		i = run_op(i);
	return i;
}

/* ---- setup and exit ---- */

static int connect_to(int c, const char *addr)
{
	const struct conn_cfg *cfg = &S.conn[c];
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	int fd;
	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s", addr + 5);
		len = sizeof *un;
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(addr + 4));
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *in;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		if (!cfg->nagle)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (cfg->small_sndbuf) {
		int v = 8192;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		say("connect c=%d failed errno=%d", c, errno);
		return -1;
	}
	return fd;
}

static int finish(void)
{
	cur_op = S.nops;
	for (int c = 0; c < S.nconn; c++)
		if (C[c].ssl && !C[c].dead)
			end_conn(c, S.conn[c].end);
	static const char *const names[] = { "return", "exit", "_exit", "close-range" };
	say("exit via %s code=%d", names[S.exit_kind], S.exit_code);
	switch (S.exit_kind) {
	case EXIT_EXIT:
		exit(S.exit_code);
	case EXIT__EXIT:
		_exit(S.exit_code);
	case EXIT_CLOSE_RANGE: {
		int r = close_range(3, ~0U, 0);
		say("close_range ret=%d", r);
		exit(S.exit_code);
	}
	default:
		return S.exit_code;
	}
}

int client_main(uint64_t seed, int naddr, char **addr)
{
	signal(SIGPIPE, SIG_IGN);
	scenario_make(&S, seed);
	if (naddr != S.nconn) {
		fprintf(stderr, "conform client: seed %llu has %d connections, got %d addresses\n",
			(unsigned long long)seed, S.nconn, naddr);
		return 2;
	}
	body_rng = seed ^ 0x6a09e667f3bcc909ULL;
	if (getenv("CONFORM_DEBUG")) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		debug_times = true;
		debug_t0 = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Every connection first: the peer accepts them in order before any handshake. */
	for (int c = 0; c < S.nconn; c++) {
		C[c].kupd_mark = -1;
		C[c].fd = connect_to(c, addr[c]);
		if (C[c].fd < 0)
			return 4;
		C[c].ssl = SSL_new(ctx);
		int v = S.conn[c].tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
		SSL_set_min_proto_version(C[c].ssl, v);
		SSL_set_max_proto_version(C[c].ssl, v);
		SSL_set_fd(C[c].ssl, C[c].fd);
	}
	for (int c = 0; c < S.nconn; c++) {
		errno = 0;
		int r = SSL_connect(C[c].ssl), e = errno;
		say("connect c=%d %s version=%s", c, outcome(C[c].ssl, r, e, r != 1), SSL_get_version(C[c].ssl));
		if (r != 1)
			C[c].broken = true;
		else
			set_mode(c, S.conn[c].mode);
	}
	run_ops(0, S.nops);
	return finish();
}
