/* tlslazy: lazy TLS receivers, and the sender that feeds them (issue 12).  The
 * receiver is never preloaded: it stands for an event loop that reads the next message
 * only when the socket itself is readable and never asks OpenSSL for plaintext it
 * already holds (no SSL_pending, no SSL_has_pending), as spice-gtk does.  With
 * read-ahead off (OpenSSL's default) it takes one record at a time from the socket, so
 * when one record carries several messages, it handles the first, finds the socket
 * empty and waits for good, the rest stranded inside OpenSSL.  The sender runs with or
 * without socktune; it writes each message as several small SSL_writes and sends at
 * least two messages before it waits for the receiver.
 *
 *   tlslazy recv --listen-fd N --cert FILE --key FILE --kind poll1|epollet|ackwin [FLAGS]
 *   tlslazy send --port N --kind batch|window [FLAGS]
 *
 * The receivers (the TLS server; they accept on --listen-fd):
 *   poll1    poll() on the socket; on each readable event, reads exactly one message
 *            (header, then body, SSL_read until it is complete, blocking) and polls
 *            again;
 *   epollet  edge-triggered epoll (EPOLLIN|EPOLLET), a non-blocking socket: on each
 *            wake-up, one message, then more only while the socket itself has bytes
 *            (FIONREAD).  An edge-triggered loop must drain something before it waits
 *            again, or it would stall without socktune too (several records can come
 *            in one edge); this one drains the socket and never OpenSSL;
 *   ackwin   poll1's reading, and an acknowledgement after every --window messages:
 *            Spice's ack window, whose sender stops until it is acknowledged.
 *   Every receiver also answers a message that asks for a reply (the sender's batch
 *   mode) and the last one.
 *
 * The sender (the TLS client; socktune is preloaded into it or not):
 *   batch    --batches rounds (default 40), each of --batch-min to --batch-max
 *            messages (default 2 to 5, from the seed), the last one asking for a
 *            reply; then it reads the reply (8 bytes).  A round's time is from its
 *            first write to the reply;
 *   window   --messages messages (default 100), with at most 2 x --window (default
 *            5) of them unacknowledged: at that point it reads one acknowledgement;
 *   A message is an 8-byte header (sequence number, body length, flags, a check byte),
 *   written with one SSL_write, and a body of 20 to 200 bytes in one or two
 *   SSL_writes.  TCP_NODELAY is set (Spice sets it) unless --nagle.
 *   --own-cork none|recork|stay   the program's own TCP_CORK, set before the first
 *            write: recork clears it after each batch and sets it again at once (as
 *            spice-server does), then waits for the reply; stay never clears it (the
 *            control: every reply then waits for the kernel's ~200 ms cork timer).
 *
 * Both: --tls 1.2|1.3|any (default 1.3), --seed N (the sender's sizes and bytes),
 * --deadline-ms MS (default 10000): give up then, print end=timeout and exit 3.
 *
 * Output, one line at the end (also on timeout):
 *   receiver kind=K messages=N bytes=N sha256=HEX records=N replies=N wakeups=N
 *            stranded=N version=V end=done|timeout|eof|error
 *     end=eof: the stream ended before the last message;
 *     stranded: the plaintext OpenSSL still held when it stopped (SSL_pending, asked
 *     only then, to explain a stall: never to decide whether to read);
 *     records: the application-data records it read (SSL_set_msg_callback).
 *   sender pid=N kind=K messages=N acked=N writes=N bytes=N sha256=HEX rounds=N
 *          wall_ms=N round_median_us=N round_max_us=N end=done|timeout|eof
 * bytes and sha256 cover the messages (headers and bodies) as sent and as received.
 * Exit status 0 when done, 3 on timeout, 4 when the sender found the connection ended
 * before its acknowledgement (end=eof), 1 on an error, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HDR 8
#define MAXBODY 200
#define MINBODY 20
#define CHECK 0x5a
#define F_REPLY 1u
#define F_LAST 2u
#define ACK 8
#define MAXROUNDS 100000

static struct {
	const char *role, *kind, *tls, *cert, *key, *own_cork;
	int listen_fd, port;
	long messages, batches, batch_min, batch_max, window, deadline_ms;
	uint64_t seed;
	bool nagle;
} o = { .tls = "1.3", .own_cork = "none", .listen_fd = -1, .messages = 100, .batches = 40,
	.batch_min = 2, .batch_max = 5, .window = 5,
	.deadline_ms = 10000, .seed = 1 };

static SSL *ssl;
static int fd = -1;
static EVP_MD_CTX *md;
static unsigned long long nbytes;
static long long t_start;

static void recv_report(const char *end);
static bool receiving;

static _Noreturn void die(const char *what)
{
	int e = errno;
	if (receiving)
		recv_report("error");
	fprintf(stderr, "tlslazy %s: %s failed: errno=%d (%s)\n", o.role, what, e, strerror(e));
	ERR_print_errors_fp(stderr);
	exit(1);
}

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long left_ms(void)
{
	long long l = o.deadline_ms - (now_us() - t_start) / 1000;
	return l < 0 ? 0 : (long)l;
}

static void hex_digest(char *hex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	strcpy(hex, "none");
	if (copy && EVP_MD_CTX_copy_ex(copy, md) && EVP_DigestFinal_ex(copy, d, &n))
		for (unsigned int i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(copy);
}

static void set_versions(SSL_CTX *ctx)
{
	int v = !strcmp(o.tls, "1.2") ? TLS1_2_VERSION : !strcmp(o.tls, "1.3") ? TLS1_3_VERSION : 0;
	if (v) {
		SSL_CTX_set_min_proto_version(ctx, v);
		SSL_CTX_set_max_proto_version(ctx, v);
	}
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the receiver ---- */

static const char *version_name = "none";
static unsigned long records;
static long received, replies, wakeups;
static bool got_last;

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *s, void *arg)
{
	(void)version, (void)s, (void)arg;
	const unsigned char *p = buf;
	if (write_p || len < 1)
		return;
	/* TLS 1.2: the record header's type; TLS 1.3: the inner content type. */
	if (content_type == SSL3_RT_HEADER && p[0] == SSL3_RT_APPLICATION_DATA && !strcmp(version_name, "TLSv1.2"))
		records++;
	else if (content_type == SSL3_RT_INNER_CONTENT_TYPE && p[0] == SSL3_RT_APPLICATION_DATA)
		records++;
}

static void recv_report(const char *end)
{
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	hex_digest(hex);
	printf("receiver kind=%s messages=%ld bytes=%llu sha256=%s records=%lu replies=%ld wakeups=%ld "
	       "stranded=%d version=%s end=%s\n",
	       o.kind, received, nbytes, hex, records, replies, wakeups, ssl ? SSL_pending(ssl) : 0, version_name,
	       end);
	fflush(stdout);
}

static void on_hard_deadline(int sig)
{
	(void)sig;
	/* Stuck inside a message.  Not async-signal-safe, but the process ends here, and a
	 * line that says how far it got is worth more in a test tool. */
	recv_report("timeout");
	_exit(3);
}

enum got { GOT_MESSAGE, GOT_NOTHING, GOT_END };

/* Reads exactly N bytes into B.  Blocking inside a message: on a non-blocking socket
 * a WANT_READ waits in poll().  Returns GOT_NOTHING only when NOTHING_OK and not one
 * byte came (a wake-up with no message), GOT_END at the end of the stream. */
static enum got read_exact(unsigned char *b, size_t n, bool nothing_ok)
{
	size_t have = 0;
	while (have < n) {
		size_t got = 0;
		ERR_clear_error();
		int r = SSL_read_ex(ssl, b + have, n - have, &got);
		if (r == 1) {
			have += got;
			continue;
		}
		int err = SSL_get_error(ssl, r);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (have == 0 && nothing_ok)
				return GOT_NOTHING;
			struct pollfd p = { .fd = fd, .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
			while (poll(&p, 1, -1) < 0 && errno == EINTR)
				;
			continue;
		}
		if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0) ||
		    (err == SSL_ERROR_SSL &&
		     ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
			return GOT_END;
		die("SSL_read_ex");
	}
	return GOT_MESSAGE;
}

static void write_exact(const unsigned char *b, size_t n)
{
	size_t off = 0;
	while (off < n) {
		size_t w = 0;
		int r = SSL_write_ex(ssl, b + off, n - off, &w);
		if (r == 1) {
			off += w;
			continue;
		}
		int err = SSL_get_error(ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			die("SSL_write_ex");
		struct pollfd p = { .fd = fd, .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
		poll(&p, 1, -1);
	}
}

/* One message; answers it when asked to, or at the end of an ack window.  Returns
 * GOT_MESSAGE for an ordinary one, GOT_END after the last. */
static enum got one_message(bool nothing_ok)
{
	unsigned char h[HDR], body[MAXBODY];
	enum got g = read_exact(h, HDR, nothing_ok);
	if (g != GOT_MESSAGE)
		return g;
	uint32_t seq = get32(h);
	size_t len = (size_t)h[4] << 8 | h[5];
	unsigned flags = h[6];
	if (h[7] != CHECK || seq != (uint32_t)received || len < MINBODY || len > MAXBODY) {
		fprintf(stderr, "tlslazy recv: bad header for message %ld: seq=%u len=%zu check=%#x\n", received,
			(unsigned)seq, len, h[7]);
		recv_report("error");
		exit(1);
	}
	if (read_exact(body, len, false) != GOT_MESSAGE) {
		fprintf(stderr, "tlslazy recv: the stream ended inside message %ld\n", received);
		recv_report("error");
		exit(1);
	}
	EVP_DigestUpdate(md, h, HDR);
	EVP_DigestUpdate(md, body, len);
	nbytes += HDR + len;
	received++;
	bool window_end = !strcmp(o.kind, "ackwin") && o.window > 0 && received % o.window == 0;
	if ((flags & (F_REPLY | F_LAST)) || window_end) {
		unsigned char a[ACK] = { 'A', 'C', 'K', 0 };
		put32(a + 4, (uint32_t)received);
		write_exact(a, ACK);
		replies++;
	}
	got_last = flags & F_LAST;
	return got_last ? GOT_END : GOT_MESSAGE;
}

static void run_recv(void)
{
	if (!o.cert || !o.key || o.listen_fd < 0) {
		fprintf(stderr, "tlslazy recv: --listen-fd, --cert and --key are required\n");
		exit(2);
	}
	receiving = true;
	bool et = !strcmp(o.kind, "epollet");
	if (!et && strcmp(o.kind, "poll1") && strcmp(o.kind, "ackwin")) {
		fprintf(stderr, "tlslazy recv: unknown --kind %s\n", o.kind);
		exit(2);
	}
	struct sigaction sa = { .sa_handler = on_hard_deadline };
	sigaction(SIGALRM, &sa, NULL);
	long hard = o.deadline_ms + 1000;
	struct itimerval it = { .it_value = { .tv_sec = hard / 1000, .tv_usec = (hard % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	while ((fd = accept(o.listen_fd, NULL, NULL)) < 0 && errno == EINTR)
		;
	if (fd < 0)
		die("accept");
	close(o.listen_fd);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, o.cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1)
		die("the server context");
	set_versions(ctx);
	/* No read-ahead (OpenSSL's default, said once more): one record at a time. */
	SSL_CTX_set_read_ahead(ctx, 0);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		die("SSL_new");
	SSL_set_msg_callback(ssl, msg_cb);
	if (SSL_accept(ssl) != 1)
		die("SSL_accept");
	version_name = SSL_get_version(ssl);

	int ep = -1;
	if (et) {
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			die("fcntl");
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = fd };
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll");
	}
	for (;;) {
		int n;
		if (et) {
			struct epoll_event ev;
			n = epoll_wait(ep, &ev, 1, (int)left_ms());
		} else {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			n = poll(&p, 1, (int)left_ms());
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(et ? "epoll_wait" : "poll");
		if (n == 0) {
			recv_report("timeout");
			exit(3);
		}
		wakeups++;
		enum got g;
		if (!et) {
			g = one_message(false);
		} else {
			int q = 0;
			do
				g = one_message(true);
			while (g == GOT_MESSAGE && ioctl(fd, FIONREAD, &q) == 0 && q > 0);
		}
		if (g == GOT_END)
			break;
	}
	recv_report(got_last ? "done" : "eof");
	SSL_shutdown(ssl);
	close(fd);
}

/* ---- the sender ---- */

static uint64_t rng;
static volatile long sent, acked;
static unsigned long writes;
static long rounds;
static long long *round_us;

static uint64_t next_rand(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long between(long lo, long hi)
{
	return lo + (long)(next_rand() % (uint64_t)(hi - lo + 1));
}

static void send_report(const char *end)
{
	char hex[2 * EVP_MAX_MD_SIZE + 1], line[512];
	hex_digest(hex);
	long long med = -1, max = -1;
	if (rounds > 0) {
		/* Insertion sort: a few hundred rounds at most. */
		for (long i = 1; i < rounds; i++)
			for (long j = i; j > 0 && round_us[j - 1] > round_us[j]; j--) {
				long long t = round_us[j];
				round_us[j] = round_us[j - 1];
				round_us[j - 1] = t;
			}
		med = round_us[rounds / 2];
		max = round_us[rounds - 1];
	}
	int n = snprintf(line, sizeof line,
			 "sender pid=%ld kind=%s messages=%ld acked=%ld writes=%lu bytes=%llu sha256=%s rounds=%ld "
			 "wall_ms=%lld round_median_us=%lld round_max_us=%lld end=%s\n",
			 (long)getpid(), o.kind, sent, acked, writes, nbytes, hex, rounds, (now_us() - t_start) / 1000,
			 med, max, end);
	if (n > 0 && write(1, line, (size_t)n) < 0)
		_exit(1);
}

static void on_deadline(int sig)
{
	(void)sig;
	/* Not async-signal-safe either; the process ends here. */
	send_report("timeout");
	_exit(3);
}

static void swrite(const unsigned char *b, size_t n)
{
	size_t w = 0;
	writes++;
	if (SSL_write_ex(ssl, b, n, &w) != 1 || w != n)
		die("SSL_write_ex");
}

static void send_message(bool reply, bool last)
{
	unsigned char h[HDR], body[MAXBODY];
	size_t len = (size_t)between(MINBODY, MAXBODY);
	put32(h, (uint32_t)sent);
	h[4] = (unsigned char)(len >> 8), h[5] = (unsigned char)len;
	h[6] = (unsigned char)((reply ? F_REPLY : 0) | (last ? F_LAST : 0));
	h[7] = CHECK;
	for (size_t i = 0; i < len; i++)
		body[i] = (unsigned char)next_rand();
	swrite(h, HDR);
	size_t cut = next_rand() & 1 ? (size_t)between(1, (long)len - 1) : len;
	swrite(body, cut);
	if (cut < len)
		swrite(body + cut, len - cut);
	EVP_DigestUpdate(md, h, HDR);
	EVP_DigestUpdate(md, body, len);
	nbytes += HDR + len;
	sent++;
}

static void cork(int on)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) < 0)
		die("setsockopt(TCP_CORK)");
}

/* Reads one acknowledgement and checks the count it carries. */
static void read_ack(long want)
{
	unsigned char a[ACK];
	size_t have = 0;
	while (have < ACK) {
		size_t got = 0;
		if (SSL_read_ex(ssl, a + have, ACK - have, &got) != 1) {
			/* The receiver gave up (its deadline came first). */
			send_report("eof");
			fprintf(stderr, "tlslazy send: no acknowledgement, the connection ended\n");
			ERR_print_errors_fp(stderr);
			exit(4);
		}
		have += got;
	}
	if (memcmp(a, "ACK", 4) || (long)get32(a + 4) != want) {
		fprintf(stderr, "tlslazy send: acknowledgement for %ld messages, want %ld\n", (long)get32(a + 4), want);
		exit(1);
	}
	acked = want;
}

static void run_send(void)
{
	bool batch = !strcmp(o.kind, "batch");
	if (!o.port || (!batch && strcmp(o.kind, "window"))) {
		fprintf(stderr, "tlslazy send: --port and --kind batch|window are required\n");
		exit(2);
	}
	bool recork = !strcmp(o.own_cork, "recork"), stay = !strcmp(o.own_cork, "stay");
	if (!recork && !stay && strcmp(o.own_cork, "none")) {
		fprintf(stderr, "tlslazy send: unknown --own-cork %s\n", o.own_cork);
		exit(2);
	}
	if (o.batches < 1 || o.batches > MAXROUNDS || o.messages < 2 || o.window < 1 || o.batch_min < 1 ||
	    o.batch_max < o.batch_min) {
		fprintf(stderr, "tlslazy send: --batches 1..%d, --messages 2.., --window 1.., "
			"--batch-min 1.. --batch-max >= --batch-min\n", MAXROUNDS);
		exit(2);
	}
	rng = o.seed;
	struct sigaction sa = { .sa_handler = on_deadline };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_value = { .tv_sec = o.deadline_ms / 1000,
					      .tv_usec = (o.deadline_ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	if (!o.nagle)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)o.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	set_versions(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
		die("SSL_connect");
	if (recork || stay)
		cork(1);

	if (batch) {
		round_us = calloc((size_t)o.batches, sizeof *round_us);
		if (!round_us)
			die("calloc");
		for (long b = 0; b < o.batches; b++) {
			long k = between(o.batch_min, o.batch_max);
			long long t0 = now_us();
			for (long i = 0; i < k; i++)
				send_message(i == k - 1, b == o.batches - 1 && i == k - 1);
			if (recork) {
				cork(0);
				cork(1);
			}
			read_ack(sent);
			round_us[rounds++] = now_us() - t0;
		}
	} else {
		/* Spice's ack window: the receiver acknowledges every --window messages (and
		 * the last); at most twice that may be unacknowledged. */
		long unacked_max = 2 * o.window;
		while (sent < o.messages) {
			send_message(false, sent == o.messages - 1);
			if (sent == o.messages)
				break;
			if (sent - acked >= unacked_max) {
				if (recork) {
					cork(0);
					cork(1);
				}
				read_ack(acked + o.window);
			}
		}
		if (recork) {
			cork(0);
			cork(1);
		}
		while (acked < sent)
			read_ack(acked + o.window < sent ? acked + o.window : sent);
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	send_report("done");
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}

static long num(const char *flag, const char *s)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 0);
	if (errno || *e || v < 0) {
		fprintf(stderr, "tlslazy: bad number for %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "recv") && strcmp(argv[1], "send"))) {
		fprintf(stderr, "usage: tlslazy recv|send [flags]\n");
		return 2;
	}
	o.role = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *f = argv[i];
		if (!strcmp(f, "--nagle")) {
			o.nagle = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "tlslazy: %s needs a value\n", f);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(f, "--kind"))
			o.kind = v;
		else if (!strcmp(f, "--tls"))
			o.tls = v;
		else if (!strcmp(f, "--cert"))
			o.cert = v;
		else if (!strcmp(f, "--key"))
			o.key = v;
		else if (!strcmp(f, "--own-cork"))
			o.own_cork = v;
		else if (!strcmp(f, "--listen-fd"))
			o.listen_fd = (int)num(f, v);
		else if (!strcmp(f, "--port"))
			o.port = (int)num(f, v);
		else if (!strcmp(f, "--messages"))
			o.messages = num(f, v);
		else if (!strcmp(f, "--batches"))
			o.batches = num(f, v);
		else if (!strcmp(f, "--batch-min"))
			o.batch_min = num(f, v);
		else if (!strcmp(f, "--batch-max"))
			o.batch_max = num(f, v);
		else if (!strcmp(f, "--window"))
			o.window = num(f, v);
		else if (!strcmp(f, "--deadline-ms"))
			o.deadline_ms = num(f, v);
		else if (!strcmp(f, "--seed"))
			o.seed = (uint64_t)num(f, v);
		else {
			fprintf(stderr, "tlslazy: unknown flag %s\n", f);
			return 2;
		}
	}
	if (!o.kind) {
		fprintf(stderr, "tlslazy: --kind is required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		die("sha256");
	t_start = now_us();
	if (!strcmp(o.role, "recv"))
		run_recv();
	else
		run_send();
	fflush(stdout);
	return 0;
}
