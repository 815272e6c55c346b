/*
 * tlsreplay: a Spice-like replay (seed 004, issue 3). A client sends thousands of small
 * messages to a server over TCP, each message written as 3 to 5 small pieces, the way
 * spice-server hands each iovec of a message to its own SSL_write. The file owns the
 * message schedule, the ways of writing it (the arms), the check that the server got
 * every byte in order, and the figures: TCP payload bytes and segments from the sender's
 * TCP_INFO, TLS application-data records counted on the receiver, wall time and the
 * writer's CPU. It knows nothing of socktune: bench/run decides which client is preloaded.
 *
 *   tlsreplay run [OPTIONS] ARM         a server and a client, each in its own process
 *   tlsreplay server [OPTIONS] ARM FD   listen on 127.0.0.1, write the port to FD, serve once
 *   tlsreplay client [OPTIONS] ARM PORT connect to 127.0.0.1:PORT and replay
 *
 * ARM is one of
 *   plain      one writev() per message, no TLS;
 *   tls-piece  one SSL_write() per piece (what Spice does: the arm socktune is for);
 *   tls-msg    the pieces of each message copied into one SSL_write(), by hand;
 *   tls-cork   one SSL_write() per piece between setsockopt(TCP_CORK, 1) and
 *              setsockopt(TCP_CORK, 0) around each message: corked by hand, as
 *              spice-server corks around what it sends.
 *
 * OPTIONS (the same on both sides; `run` passes them on):
 *   -n MESSAGES  how many messages (default 5000)
 *   -p USEC      pace: start one message every USEC microseconds, sleeping in
 *                clock_nanosleep() in between; 0 (the default) sends back to back
 *   -s SEED      the seed of the message schedule (default 4)
 *   -2           TLS 1.2 only (default: whatever OpenSSL negotiates, TLS 1.3 here)
 *   -N           do not set TCP_NODELAY on the client (Spice sets it; so do we by default)
 *   -E NAME=VAL  (run only) put NAME=VAL in the client's environment only, e.g.
 *                -E LD_PRELOAD=/path/libsocktune.so.1; the server's environment never has
 *                LD_PRELOAD or SOCKTUNE*, so a preload reaches the writer alone
 *
 * A message is an 8-byte header, a 24-byte sub-header and 1 to 3 bodies of 100 or 600
 * bytes, drawn from the seed: 3 to 5 pieces, 132 to 1832 bytes, 732 on average. Every byte
 * of the stream comes from a hash of its offset, so the server checks content and order.
 *
 * The figures cover the replay only, not the TCP or TLS handshake: the client reads
 * TCP_INFO and getrusage() once the connection is ready, and again when the server has
 * acknowledged the last byte (a 1-byte reply the client reads, so all data has been sent).
 * Wire bytes are tcpi_bytes_sent + 66 per tcpi_segs_out (Ethernet 14 + IPv4 20 + TCP 32
 * with timestamps). The run is meant for a private network namespace whose loopback has a
 * 1500-byte MTU; the client prints the MSS it got, so a run on a 64 KiB loopback shows.
 *
 * Output: the server prints one line starting "server ", the client one starting
 * "client ", and `run` one starting "run ", each of key=value pairs. Exit status 1 when a
 * call fails or a byte is wrong, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsbench.h"

#define DEFAULT_MESSAGES 5000L
#define MAX_MESSAGES 10000000L
#define DEFAULT_SEED 4u
#define MAX_PIECES 5
#define MAX_MESSAGE 1832 /* 8 + 24 + 3 * 600 */
#define WIRE_OVERHEAD 66 /* per segment: Ethernet 14, IPv4 20, TCP 20 + 12 (timestamps) */

extern char **environ;

enum arm { ARM_PLAIN, ARM_TLS_PIECE, ARM_TLS_MSG, ARM_TLS_CORK };
static const char *const arm_names[] = {"plain", "tls-piece", "tls-msg", "tls-cork"};
#define NARMS ((int)(sizeof arm_names / sizeof arm_names[0]))

struct opts {
	enum arm arm;
	long messages;
	long pace_us;
	uint64_t seed;
	int tls12;
	int nodelay;
};




static _Noreturn void usage(void)
{
	fputs("usage: tlsreplay run [-n MESSAGES] [-p USEC] [-s SEED] [-2] [-N] [-E NAME=VAL]... ARM\n"
	      "       tlsreplay server [OPTIONS] ARM READY_FD\n"
	      "       tlsreplay client [OPTIONS] ARM PORT\n"
	      "ARM: plain | tls-piece | tls-msg | tls-cork\n",
	      stderr);
	exit(2);
}

/* --- the message schedule and the bytes ------------------------------------------------ */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

struct message {
	int npieces;
	size_t len[MAX_PIECES];
	size_t total;
};

/* Message m of the schedule: the same on both sides for the same seed. */
static struct message message_at(uint64_t seed, long m)
{
	uint64_t r = splitmix(seed * 0x100000001b3u + (uint64_t)m);
	struct message msg = {.npieces = 3 + (int)(r % 3)};
	r /= 3;
	msg.len[0] = 8;
	msg.len[1] = 24;
	for (int i = 2; i < msg.npieces; i++) {
		msg.len[i] = (r & 1) ? 600 : 100;
		r >>= 1;
	}
	for (int i = 0; i < msg.npieces; i++)
		msg.total += msg.len[i];
	return msg;
}

static size_t stream_size(const struct opts *o, long *pieces)
{
	size_t total = 0;
	*pieces = 0;
	for (long m = 0; m < o->messages; m++) {
		struct message msg = message_at(o->seed, m);
		total += msg.total;
		*pieces += msg.npieces;
	}
	return total;
}

/* The whole stream, every byte a function of its offset and the seed. */
static unsigned char *stream_make(const struct opts *o, size_t total)
{
	unsigned char *s = malloc(total + 8);
	if (s == NULL)
		die("malloc");
	for (size_t i = 0; i < total; i += 8) {
		uint64_t w = splitmix(o->seed ^ ((uint64_t)i << 8));
		memcpy(s + i, &w, 8);
	}
	return s;
}

/* --- small helpers ----------------------------------------------------------------------- */


static double cpu_seconds(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return *user + *sys;
}


static long parse_long(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

/* --- TLS setup ----------------------------------------------------------------------------- */


static SSL_CTX *tls_context(const struct opts *o, int server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		die_ssl("SSL_CTX_new");
	if (o->tls12 && SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1)
		die_ssl("SSL_CTX_set_max_proto_version");
	if (server)
		server_identity(ctx);
	else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

/* Records the server reads: the outer header of every record, and on TLS 1.3 the inner
 * content type of every decrypted record (all of TLS 1.3's are "application data" outside). */
struct record_count {
	long outer_appdata; /* SSL3_RT_HEADER with type 23 */
	long inner_appdata; /* SSL3_RT_INNER_CONTENT_TYPE 23 (TLS 1.3) */
	long inner_seen;
};

static void on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	(void)version;
	(void)ssl;
	struct record_count *rc = arg;
	if (write_p || len < 1)
		return;
	const unsigned char *p = buf;
	if (content_type == SSL3_RT_HEADER && p[0] == SSL3_RT_APPLICATION_DATA)
		rc->outer_appdata++;
#ifdef SSL3_RT_INNER_CONTENT_TYPE
	if (content_type == SSL3_RT_INNER_CONTENT_TYPE) {
		rc->inner_seen++;
		if (p[0] == SSL3_RT_APPLICATION_DATA)
			rc->inner_appdata++;
	}
#endif
}

/* --- the server ---------------------------------------------------------------------------- */

static int do_server(const struct opts *o, int ready_fd)
{
	long pieces;
	size_t total = stream_size(o, &pieces);
	unsigned char *expect = stream_make(o, total);
	unsigned char *got = malloc(total + 16384);
	if (got == NULL)
		die("malloc");

	SSL_CTX *ctx = o->arm == ARM_PLAIN ? NULL : tls_context(o, 1);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	struct sockaddr_in sa = loopback(0);
	socklen_t salen = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &salen) != 0)
		die("bind/listen 127.0.0.1");
	char port[16];
	int plen = snprintf(port, sizeof port, "%u\n", (unsigned)ntohs(sa.sin_port));
	write_all(ready_fd, port, (size_t)plen);
	close(ready_fd);

	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	close(ls);

	struct record_count rc = {0};
	SSL *ssl = NULL;
	if (ctx != NULL) {
		ssl = SSL_new(ctx);
		if (ssl == NULL || SSL_set_fd(ssl, s) != 1)
			die_ssl("SSL_new");
		SSL_set_msg_callback(ssl, on_msg);
		SSL_set_msg_callback_arg(ssl, &rc);
		if (SSL_accept(ssl) != 1)
			die_ssl("SSL_accept");
	}
	/* Only records that come after the handshake are the replay's. */
	struct record_count at_start = rc;

	size_t have = 0;
	long reads = 0;
	while (have < total) {
		size_t room = total + 16384 - have;
		if (ssl != NULL) {
			size_t n = 0;
			if (SSL_read_ex(ssl, got + have, room, &n) != 1) {
				fprintf(stderr, "tlsreplay: server: stream ended after %zu of %zu bytes\n",
					have, total);
				die_ssl("SSL_read_ex");
			}
			have += n;
		} else {
			ssize_t n = read(s, got + have, room);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read");
			if (n == 0) {
				fprintf(stderr, "tlsreplay: server: EOF after %zu of %zu bytes\n", have,
					total);
				exit(1);
			}
			have += (size_t)n;
		}
		reads++;
	}
	if (have != total || memcmp(got, expect, total) != 0) {
		size_t i = 0;
		while (i < total && got[i] == expect[i])
			i++;
		fprintf(stderr, "tlsreplay: server: %zu bytes, expected %zu; first wrong byte at %zu\n",
			have, total, i);
		exit(1);
	}
	struct record_count at_end = rc;

	/* The acknowledgement: the client stops its clocks when it has read this byte. */
	if (ssl != NULL) {
		if (SSL_write(ssl, "k", 1) != 1)
			die_ssl("SSL_write ack");
	} else {
		write_all(s, "k", 1);
	}
	/* Then the client closes; anything more it sends is an error. */
	unsigned char extra[64];
	if (ssl != NULL) {
		size_t n = 0;
		if (SSL_read_ex(ssl, extra, sizeof extra, &n) == 1) {
			fprintf(stderr, "tlsreplay: server: %zu bytes past the end\n", n);
			exit(1);
		}
	} else {
		ssize_t n;
		while ((n = read(s, extra, sizeof extra)) < 0 && errno == EINTR)
			;
		if (n > 0) {
			fprintf(stderr, "tlsreplay: server: %zd bytes past the end\n", n);
			exit(1);
		}
	}

	long records = -1;
	const char *version = "none", *cipher = "none";
	if (ssl != NULL) {
		version = SSL_get_version(ssl);
		cipher = SSL_get_cipher_name(ssl);
		if (at_end.inner_seen > 0 || SSL_version(ssl) >= TLS1_3_VERSION)
			records = at_end.inner_appdata - at_start.inner_appdata;
		else
			records = at_end.outer_appdata - at_start.outer_appdata;
	}
	printf("server arm=%s messages=%ld pieces=%ld bytes=%zu records=%ld reads=%ld "
	       "version=%s cipher=%s\n",
	       arm_names[o->arm], o->messages, pieces, have, records, reads, version, cipher);
	fflush(stdout);
	if (ssl != NULL)
		SSL_free(ssl);
	close(s);
	SSL_CTX_free(ctx);
	free(got);
	free(expect);
	return 0;
}

/* --- the client ---------------------------------------------------------------------------- */

static void ssl_write_all(SSL *ssl, const unsigned char *p, size_t len)
{
	int n = SSL_write(ssl, p, (int)len);
	if (n != (int)len) {
		fprintf(stderr, "tlsreplay: client: SSL_write(%zu) returned %d (error %d)\n", len, n,
			SSL_get_error(ssl, n));
		die_ssl("SSL_write");
	}
}

static struct timespec ts_add_ns(struct timespec t, long ns)
{
	t.tv_nsec += ns;
	while (t.tv_nsec >= 1000000000L) {
		t.tv_nsec -= 1000000000L;
		t.tv_sec++;
	}
	return t;
}

static int ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static int do_client(const struct opts *o, int port)
{
	long pieces;
	size_t total = stream_size(o, &pieces);
	unsigned char *stream = stream_make(o, total);
	unsigned char msgbuf[MAX_MESSAGE];
	/* The default timer slack (50 us) would stretch every 100 us step by half. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

	SSL_CTX *ctx = o->arm == ARM_PLAIN ? NULL : tls_context(o, 0);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_in sa = loopback(port);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect");
	int one = 1;
	if (o->nodelay && setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("setsockopt TCP_NODELAY");
	int mss = 0;
	socklen_t mlen = sizeof mss;
	if (getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, &mlen) != 0)
		die("getsockopt TCP_MAXSEG");

	SSL *ssl = NULL;
	if (ctx != NULL) {
		ssl = SSL_new(ctx);
		if (ssl == NULL || SSL_set_fd(ssl, s) != 1)
			die_ssl("SSL_new");
		if (SSL_connect(ssl) != 1)
			die_ssl("SSL_connect");
	}

	double user0, sys0, user1, sys1;
	struct tcp_info ti0 = tcp_info_of(s);
	double t0 = now_seconds();
	cpu_seconds(&user0, &sys0);

	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	long late = 0, ssl_writes = 0;
	size_t off = 0;
	for (long m = 0; m < o->messages; m++) {
		struct message msg = message_at(o->seed, m);
		const unsigned char *base = stream + off;
		switch (o->arm) {
		case ARM_PLAIN: {
			struct iovec iov[MAX_PIECES];
			size_t at = 0;
			for (int i = 0; i < msg.npieces; i++) {
				iov[i].iov_base = (void *)(base + at);
				iov[i].iov_len = msg.len[i];
				at += msg.len[i];
			}
			/* A blocking socket writes it all; a signal could cut it short. */
			size_t done = 0;
			while (done < msg.total) {
				ssize_t n;
				if (done == 0)
					n = writev(s, iov, msg.npieces);
				else
					n = write(s, base + done, msg.total - done);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					die("writev");
				done += (size_t)n;
			}
			break;
		}
		case ARM_TLS_PIECE:
		case ARM_TLS_CORK: {
			int cork = 1;
			if (o->arm == ARM_TLS_CORK &&
			    setsockopt(s, IPPROTO_TCP, TCP_CORK, &cork, sizeof cork) != 0)
				die("setsockopt TCP_CORK 1");
			size_t at = 0;
			for (int i = 0; i < msg.npieces; i++) {
				ssl_write_all(ssl, base + at, msg.len[i]);
				at += msg.len[i];
				ssl_writes++;
			}
			cork = 0;
			if (o->arm == ARM_TLS_CORK &&
			    setsockopt(s, IPPROTO_TCP, TCP_CORK, &cork, sizeof cork) != 0)
				die("setsockopt TCP_CORK 0");
			break;
		}
		case ARM_TLS_MSG:
			memcpy(msgbuf, base, msg.total);
			ssl_write_all(ssl, msgbuf, msg.total);
			ssl_writes++;
			break;
		}
		off += msg.total;
		if (o->pace_us > 0) {
			/* Wait in clock_nanosleep() even when late: a paced writer always waits. */
			next = ts_add_ns(next, o->pace_us * 1000L);
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (!ts_before(now, next)) {
				late++;
				next = now; /* no burst to catch up */
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
				;
		}
	}

	/* The server answers once it has every byte: then all of it has been sent. */
	unsigned char ack = 0;
	if (ssl != NULL) {
		size_t n = 0;
		if (SSL_read_ex(ssl, &ack, 1, &n) != 1 || n != 1)
			die_ssl("SSL_read_ex ack");
	} else {
		ssize_t n;
		while ((n = read(s, &ack, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			fail("no acknowledgement from the server");
	}
	double elapsed = now_seconds() - t0;
	double cpu = cpu_seconds(&user1, &sys1) - (user0 + sys0);
	struct tcp_info ti1 = tcp_info_of(s);
	if (ack != 'k')
		fail("wrong acknowledgement byte");

	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(s);
	SSL_CTX_free(ctx);
	free(stream);

	uint64_t bytes = ti1.tcpi_bytes_sent - ti0.tcpi_bytes_sent;
	uint64_t segs = (uint64_t)(ti1.tcpi_segs_out - ti0.tcpi_segs_out);
	uint64_t data_segs = (uint64_t)(ti1.tcpi_data_segs_out - ti0.tcpi_data_segs_out);
	uint64_t wire = bytes + WIRE_OVERHEAD * segs;
	printf("client arm=%s messages=%ld pieces=%ld app_bytes=%zu ssl_writes=%ld tcp_bytes=%" PRIu64
	       " segs=%" PRIu64 " data_segs=%" PRIu64 " wire=%" PRIu64 " retrans=%u seconds=%.6f "
	       "user=%.6f sys=%.6f cpu=%.6f cpu_us_per_msg=%.4f pace_us=%ld late=%ld "
	       "nodelay=%d mss=%d\n",
	       arm_names[o->arm], o->messages, pieces, total, ssl_writes, bytes, segs, data_segs,
	       wire, ti1.tcpi_total_retrans - ti0.tcpi_total_retrans, elapsed, user1 - user0,
	       sys1 - sys0, cpu, cpu * 1e6 / (double)o->messages, o->pace_us, late, o->nodelay,
	       mss);
	fflush(stdout);
	return 0;
}

/* --- run: both sides, the preload on the client only -------------------------------------- */

#define MAX_EXTRA_ENV 32

static int is_preload_var(const char *kv)
{
	return strncmp(kv, "LD_PRELOAD=", 11) == 0 || strncmp(kv, "SOCKTUNE", 8) == 0;
}

/* The server's environment: ours without LD_PRELOAD or SOCKTUNE*. The client's: ours with
 * the -E entries put in (replacing any of the same name). */
static char **make_env(char **extra, int nextra, int server)
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **env = calloc(n + (size_t)nextra + 1, sizeof *env);
	if (env == NULL)
		die("calloc");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (server && is_preload_var(environ[i]))
			continue;
		int replaced = 0;
		for (int j = 0; !server && j < nextra; j++) {
			size_t nl = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
			if (strncmp(environ[i], extra[j], nl) == 0)
				replaced = 1;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (int j = 0; !server && j < nextra; j++)
		env[k++] = extra[j];
	env[k] = NULL;
	return env;
}

static pid_t spawn(const char *self, char *const argv[], char **env, int keep_fd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0)
			_exit(127);
		execve(self, argv, env);
		fprintf(stderr, "tlsreplay: exec %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	return pid;
}

static int reap(pid_t pid, const char *role)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "tlsreplay: %s killed by signal %d\n", role, WTERMSIG(status));
	else
		fprintf(stderr, "tlsreplay: %s exited with status %d\n", role, WEXITSTATUS(status));
	return 0;
}

static int do_run(const char *argv0, const struct opts *o, char **common, int ncommon,
		  char **extra, int nextra)
{
	const char *self = "/proc/self/exe";
	int ready[2];
	if (pipe(ready) != 0)
		die("pipe");
	fcntl(ready[0], F_SETFD, FD_CLOEXEC);
	fcntl(ready[1], F_SETFD, FD_CLOEXEC);

	char fd_arg[16];
	snprintf(fd_arg, sizeof fd_arg, "%d", ready[1]);
	char *argv[64];
	int a = 0;
	argv[a++] = (char *)argv0;
	argv[a++] = "server";
	for (int i = 0; i < ncommon; i++)
		argv[a++] = common[i];
	argv[a++] = (char *)arm_names[o->arm];
	argv[a++] = fd_arg;
	argv[a] = NULL;
	char **server_env = make_env(extra, nextra, 1);
	char **client_env = make_env(extra, nextra, 0);
	double t0 = now_seconds();
	pid_t server = spawn(self, argv, server_env, ready[1]);
	close(ready[1]);

	char port[16] = {0};
	size_t have = 0;
	while (have < sizeof port - 1) {
		ssize_t n = read(ready[0], port + have, sizeof port - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (memchr(port, '\n', have) != NULL)
			break;
	}
	close(ready[0]);
	int ok = 1;
	if (have == 0 || strchr(port, '\n') == NULL) {
		fprintf(stderr, "tlsreplay: the server never listened\n");
		ok = 0;
	} else {
		*strchr(port, '\n') = '\0';
		a = 0;
		argv[a++] = (char *)argv0;
		argv[a++] = "client";
		for (int i = 0; i < ncommon; i++)
			argv[a++] = common[i];
		argv[a++] = (char *)arm_names[o->arm];
		argv[a++] = port;
		argv[a] = NULL;
		pid_t client = spawn(self, argv, client_env, -1);
		ok &= reap(client, "client");
		if (!ok)
			kill(server, SIGTERM); /* or it waits for bytes forever */
	}
	ok &= reap(server, "server");
	free(server_env);
	free(client_env);
	if (!ok)
		return 1;
	printf("run arm=%s seconds=%.6f\n", arm_names[o->arm], now_seconds() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	struct opts o = {.messages = DEFAULT_MESSAGES, .seed = DEFAULT_SEED, .nodelay = 1};
	char *common[16], *extra[MAX_EXTRA_ENV];
	int ncommon = 0, nextra = 0;
	int i = 2;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *f = argv[i];
		if (strcmp(f, "-2") == 0) {
			o.tls12 = 1;
			common[ncommon++] = argv[i];
		} else if (strcmp(f, "-N") == 0) {
			o.nodelay = 0;
			common[ncommon++] = argv[i];
		} else if (i + 1 < argc && strcmp(f, "-E") == 0) {
			if (nextra >= MAX_EXTRA_ENV || strchr(argv[i + 1], '=') == NULL ||
			    argv[i + 1][0] == '=')
				usage();
			extra[nextra++] = argv[++i];
		} else if (i + 1 < argc &&
			   (strcmp(f, "-n") == 0 || strcmp(f, "-p") == 0 || strcmp(f, "-s") == 0)) {
			long v = parse_long(argv[i + 1], f[1] == 'p' ? 0 : 1,
					    f[1] == 'n' ? MAX_MESSAGES : f[1] == 'p' ? 1000000L : LONG_MAX);
			if (f[1] == 'n')
				o.messages = v;
			else if (f[1] == 'p')
				o.pace_us = v;
			else
				o.seed = (uint64_t)v;
			common[ncommon++] = argv[i];
			common[ncommon++] = argv[++i];
		} else {
			usage();
		}
		if (ncommon > 12)
			usage();
	}
	if (i >= argc)
		usage();
	int found = 0;
	for (int k = 0; k < NARMS; k++)
		if (strcmp(argv[i], arm_names[k]) == 0) {
			o.arm = (enum arm)k;
			found = 1;
		}
	if (!found)
		usage();
	i++;
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "run") == 0 && i == argc)
		return do_run(argv[0], &o, common, ncommon, extra, nextra);
	if (nextra > 0)
		usage();
	if (strcmp(mode, "server") == 0 && i + 1 == argc)
		return do_server(&o, (int)parse_long(argv[i], 0, INT_MAX));
	if (strcmp(mode, "client") == 0 && i + 1 == argc)
		return do_client(&o, (int)parse_long(argv[i], 1, 65535));
	usage();
}
