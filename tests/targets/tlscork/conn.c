/* tlscork/conn.c: one connection, of any role, over plain TCP or TLS 1.3: its
 * writes (one call of the kind --api names per piece, or SSL_write_ex), its reads,
 * the SHA-256 of each direction, folded into the program's totals when it ends;
 * and the message of serve and client (a 4-byte big-endian length, then the body). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tlscork.h"

/* The digests of every connection, XORed so that their order does not matter. */
static pthread_mutex_t fold_mu = PTHREAD_MUTEX_INITIALIZER;
unsigned char tx_fold[32], rx_fold[32];
unsigned long long tx_total, rx_total;
unsigned long writes_total, requests_total;

static SSL_CTX *ctx;

void tls_context(bool server)
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

struct conn *new_conn(int fd, long idx, bool server)
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
void end_conn(struct conn *c)
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
void await_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;
	while ((r = poll(&p, 1, 10000)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		die("poll for %s", events == POLLIN ? "input" : "output");
}

/* After an SSL call on c that returned r: waits for what OpenSSL wants to
 * go on, or dies of any other answer, naming the call (what). */
void await_ssl(struct conn *c, int r, const char *what)
{
	int err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_WRITE)
		await_fd(c->fd, POLLOUT);
	else if (err == SSL_ERROR_WANT_READ)
		await_fd(c->fd, POLLIN);
	else
		die("%s: SSL_get_error %d", what, err);
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
void put(struct conn *c, const unsigned char *p, size_t n, int flags)
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
			await_ssl(c, r, "SSL_write_ex");
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
ssize_t get(struct conn *c, unsigned char *b, size_t cap)
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
void get_exact(struct conn *c, unsigned char *b, size_t n)
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
bool handshake(struct conn *c)
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
void send_message(struct conn *c)
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

uint32_t body_len(const unsigned char *p)
{
	uint32_t be;
	memcpy(&be, p, 4);
	uint32_t n = ntohl(be);
	if (n < 1 || n > MAXBODY)
		die("bad message length %u", n);
	return n;
}

