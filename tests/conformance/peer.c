/* peer.c: the other end of every connection, never preloaded.  One thread per
 * connection reads the client's messages the way the scenario says (enum
 * peer_kind), answers them, acknowledges every W-th one, and passes answers that
 * belong to another connection (MSG_CROSS) to that connection's thread through a
 * queue and a wake-up pipe: each SSL is only ever touched by its own thread.
 *
 * The lazy kinds wait for the socket and nothing else.  poll1 reads at most one
 * message per wake-up; epollet, woken by an edge, reads messages while the socket
 * has bytes or its end (recv with MSG_PEEK) and never asks SSL_pending.  Without socktune each of the
 * client's writes is its own record and lies inside one message, so neither ever
 * finds a message stranded inside OpenSSL; if one does with socktune, it waits
 * until its deadline and reports "timeout": a difference.
 *
 * The report, one line per connection in order, is all that the driver compares:
 *   peer c=N end=HOW msgs=N bytes=N fnv=HEX replies=N acks=N
 * where bytes and fnv cover everything the client's messages carried.
 */
#include "conform.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXBODY (MAXPIECES * MAXWRITE)
#define MAXQ 64

struct cross_req {
	uint32_t from, seq, len;
	uint64_t body_fnv;
};

struct pconn {
	int idx;
	const struct scenario *s;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, wake[2];
	uint64_t fnv, rng;
	unsigned long long bytes;
	long msgs, replies, acks;
	char end[64];
	pthread_mutex_t lock;
	struct cross_req q[MAXQ];
	int nq;
	unsigned char *body;
};

static struct pconn pc[MAXCONN];
static long long deadline_at;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(void)
{
	long long l = deadline_at - now_ms();
	return l < 0 ? 0 : (int)l;
}

enum got { GOT_MESSAGE, GOT_NOTHING, GOT_END };

/* Says how the connection ended, from the failed call's error. */
static void set_end(struct pconn *p, int ret, bool inside)
{
	int err = SSL_get_error(p->ssl, ret);
	unsigned long e = ERR_peek_last_error();
	if (err == SSL_ERROR_ZERO_RETURN) {
		snprintf(p->end, sizeof p->end, "close_notify%s", inside ? "-in-message" : "");
		SSL_shutdown(p->ssl);
	} else if ((err == SSL_ERROR_SYSCALL && errno == 0 && e == 0) ||
		   (err == SSL_ERROR_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		snprintf(p->end, sizeof p->end, "eof%s", inside ? "-in-message" : "");
	} else if (err == SSL_ERROR_SYSCALL) {
		snprintf(p->end, sizeof p->end, "syscall-%s", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	} else {
		snprintf(p->end, sizeof p->end, "ssl-error-%d-reason-%d", err, ERR_GET_REASON(e));
	}
	ERR_clear_error();
}

static bool wait_fd(int fd, short events)
{
	struct pollfd q = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&q, 1, left_ms());
		if (n > 0)
			return true;
		if (n == 0 || errno != EINTR)
			return false;
	}
}

/* Reads exactly N bytes, waiting on the socket inside a message.  GOT_NOTHING
 * only with NOTHING_OK when not one byte of application data came. */
static enum got read_exact(struct pconn *p, unsigned char *b, size_t n, bool nothing_ok)
{
	size_t have = 0;
	while (have < n) {
		size_t got = 0;
		ERR_clear_error();
		errno = 0;
		int r = SSL_read_ex(p->ssl, b + have, n - have, &got);
		if (r == 1) {
			p->fnv = fnv_add(p->fnv, b + have, got);
			p->bytes += got;
			have += got;
			continue;
		}
		int err = SSL_get_error(p->ssl, r);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (have == 0 && nothing_ok)
				return GOT_NOTHING;
			if (!wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
				snprintf(p->end, sizeof p->end, "timeout%s", have ? "-in-message" : "");
				return GOT_END;
			}
			continue;
		}
		set_end(p, r, have > 0 || !nothing_ok);
		return GOT_END;
	}
	return GOT_MESSAGE;
}

static bool write_exact(struct pconn *p, const unsigned char *b, size_t n)
{
	size_t off = 0;
	while (off < n) {
		size_t w = 0;
		ERR_clear_error();
		errno = 0;
		int r = SSL_write_ex(p->ssl, b + off, n - off, &w);
		if (r == 1) {
			off += w;
			continue;
		}
		int err = SSL_get_error(p->ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			set_end(p, r, false);
			strcat(p->end, "-writing");
			return false;
		}
		if (!wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
			snprintf(p->end, sizeof p->end, "timeout-writing");
			return false;
		}
	}
	return true;
}

/* An answer of LEN bytes to message SEQ of connection FROM, in one to three
 * writes (so in as many records) split where this connection's generator says. */
static bool send_reply(struct pconn *p, uint32_t from, uint32_t seq, uint64_t body_fnv, uint32_t len)
{
	static __thread unsigned char buf[MAXREPLY];
	for (uint32_t i = 0; i < len; i++)
		buf[i] = reply_byte(from, seq, body_fnv, i);
	uint32_t cut1 = rng_below(&p->rng, len + 1), cut2 = rng_below(&p->rng, len + 1);
	if (cut1 > cut2) {
		uint32_t t = cut1;
		cut1 = cut2, cut2 = t;
	}
	uint32_t cuts[3] = { cut1, cut2, len }, at = 0;
	for (int i = 0; i < 3; i++) {
		if (cuts[i] > at && !write_exact(p, buf + at, cuts[i] - at))
			return false;
		at = cuts[i] > at ? cuts[i] : at;
	}
	p->replies++;
	return true;
}

static bool serve_queue(struct pconn *p)
{
	char junk[64];
	while (read(p->wake[0], junk, sizeof junk) > 0)
		;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->nq == 0) {
			pthread_mutex_unlock(&p->lock);
			return true;
		}
		struct cross_req r = p->q[0];
		memmove(p->q, p->q + 1, (size_t)--p->nq * sizeof p->q[0]);
		pthread_mutex_unlock(&p->lock);
		if (!send_reply(p, r.from, r.seq, r.body_fnv, r.len))
			return false;
	}
}

static void enqueue(int target, struct cross_req r)
{
	struct pconn *t = &pc[target];
	pthread_mutex_lock(&t->lock);
	if (t->nq < MAXQ)
		t->q[t->nq++] = r;
	pthread_mutex_unlock(&t->lock);
	(void)!write(t->wake[1], "x", 1);
}

/* One message, answered and acknowledged as its header asks. */
static enum got one_message(struct pconn *p)
{
	unsigned char h[HDR];
	enum got g = read_exact(p, h, HDR, true);
	if (g != GOT_MESSAGE)
		return g;
	uint32_t len = get32(h), seq = get32(h + 8);
	unsigned flags = h[4], target = h[5], reply = (unsigned)h[6] << 8 | h[7];
	if (len > MAXBODY || seq != (uint32_t)p->msgs || (flags & ~3u) ||
	    ((flags & MSG_CROSS) && (target >= (unsigned)p->s->nconn || target == (unsigned)p->idx))) {
		snprintf(p->end, sizeof p->end, "bad-header-len-%u-seq-%u-flags-%u", len, seq, flags);
		return GOT_END;
	}
	if (len && read_exact(p, p->body, len, false) != GOT_MESSAGE)
		return GOT_END;
	uint64_t body_fnv = fnv_add(FNV_INIT, p->body, len);
	p->msgs++;
	if ((flags & MSG_ECHO) && reply && !send_reply(p, (uint32_t)p->idx, seq, body_fnv, reply))
		return GOT_END;
	if ((flags & MSG_CROSS) && reply)
		enqueue((int)target, (struct cross_req){ (uint32_t)p->idx, seq, reply, body_fnv });
	uint8_t w = p->s->conn[p->idx].window;
	if (w && p->msgs % w == 0) {
		unsigned char a[ACKLEN] = { 'A', 'C', 'K', 0 };
		put32(a + 4, (uint32_t)p->msgs);
		if (!write_exact(p, a, ACKLEN))
			return GOT_END;
		p->acks++;
	}
	return GOT_MESSAGE;
}

static bool handshake(struct pconn *p)
{
	for (;;) {
		ERR_clear_error();
		int r = SSL_accept(p->ssl);
		if (r == 1)
			return true;
		int err = SSL_get_error(p->ssl, r);
		if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) ||
		    !wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) {
			snprintf(p->end, sizeof p->end, "handshake-failed");
			return false;
		}
	}
}

/* Bytes or an end of stream in the socket itself (what an edge-triggered reader
 * must drain before it waits again); SSL's buffer is not asked. */
static bool socket_has_more(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

static void *conn_thread(void *arg)
{
	struct pconn *p = arg;
	const struct conn_cfg *cfg = &p->s->conn[p->idx];
	p->ssl = SSL_new(p->ctx);
	int v = cfg->tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
	SSL_set_min_proto_version(p->ssl, v);
	SSL_set_max_proto_version(p->ssl, v);
	SSL_set_fd(p->ssl, p->fd);
	if (!handshake(p))
		return NULL;
	int ep = -1;
	if (cfg->peer == PEER_EPOLLET) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = p->fd };
		struct epoll_event wv = { .events = EPOLLIN, .data.fd = p->wake[0] };
		epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev);
		epoll_ctl(ep, EPOLL_CTL_ADD, p->wake[0], &wv);
	}
	for (;;) {
		if (cfg->peer == PEER_NORMAL && SSL_pending(p->ssl) > 0) {
			if (one_message(p) == GOT_END)
				break;
			continue;
		}
		bool sock = false, wake = false;
		if (ep >= 0) {
			struct epoll_event ev[2];
			int n = epoll_wait(ep, ev, 2, left_ms());
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(p->end, sizeof p->end, "timeout");
				break;
			}
			for (int i = 0; i < n; i++)
				*(ev[i].data.fd == p->fd ? &sock : &wake) = true;
		} else {
			struct pollfd q[2] = { { .fd = p->fd, .events = POLLIN }, { .fd = p->wake[0], .events = POLLIN } };
			int n = poll(q, 2, left_ms());
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(p->end, sizeof p->end, "timeout");
				break;
			}
			sock = q[0].revents != 0, wake = q[1].revents != 0;
		}
		if (wake && !serve_queue(p))
			break;
		if (!sock)
			continue;
		enum got g = one_message(p);
		if (cfg->peer == PEER_EPOLLET) {
			while (g != GOT_END && socket_has_more(p->fd))
				g = one_message(p);
		} else if (cfg->peer == PEER_NORMAL) {
			while (g == GOT_MESSAGE && SSL_pending(p->ssl) > 0)
				g = one_message(p);
		}
		if (g == GOT_END)
			break;
	}
	if (ep >= 0)
		close(ep);
	return NULL;
}

int peer_main(const struct scenario *s, const int *lfd, int out_fd, SSL_CTX *ctx, long deadline_ms)
{
	signal(SIGPIPE, SIG_IGN);
	deadline_at = now_ms() + deadline_ms;
	pthread_t t[MAXCONN];
	bool started[MAXCONN] = { false };
	for (int i = 0; i < s->nconn; i++) {
		struct pconn *p = &pc[i];
		memset(p, 0, sizeof *p);
		p->idx = i, p->s = s, p->ctx = ctx, p->fnv = FNV_INIT;
		p->rng = s->seed ^ (0x51ed270b27d1e6a5ULL * ((unsigned long long)i + 1ULL));
		strcpy(p->end, "none");
		pthread_mutex_init(&p->lock, NULL);
		p->body = malloc(MAXBODY);
		if (!p->body || pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0)
			return 1;
		p->fd = -1;
		if (wait_fd(lfd[i], POLLIN))
			p->fd = accept4(lfd[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->fd < 0) {
			snprintf(p->end, sizeof p->end, "no-connection");
			break;
		}
		close(lfd[i]);
		/* The answers go out in several writes: with Nagle on, each later one
		 * would wait for the client's delayed ACK. */
		int one = 1;
		if (!s->conn[i].unix_sock)
			setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	for (int i = 0; i < s->nconn; i++)
		if (pc[i].fd >= 0)
			started[i] = pthread_create(&t[i], NULL, conn_thread, &pc[i]) == 0;
	int status = 0;
	for (int i = 0; i < s->nconn; i++) {
		struct pconn *p = &pc[i];
		if (started[i])
			pthread_join(t[i], NULL);
		if (!strncmp(p->end, "timeout", 7))
			status = 3;
		dprintf(out_fd, "peer c=%d end=%s msgs=%ld bytes=%llu fnv=%016llx replies=%ld acks=%ld\n", i, p->end,
			p->msgs, p->bytes, (unsigned long long)p->fnv, p->replies, p->acks);
	}
	return status;
}

SSL_CTX *peer_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!ctx || !key || !x || X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) || !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    X509_set_pubkey(x, key) != 1)
		return NULL;
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_sign(x, key, EVP_sha256()) <= 0 ||
	    SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		return NULL;
	X509_free(x);
	EVP_PKEY_free(key);
	/* No session tickets: a client that closes with one unread in its socket
	 * makes the kernel send a reset, and the ending would depend on a race. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
	SSL_CTX_set_read_ahead(ctx, 0);
	return ctx;
}
