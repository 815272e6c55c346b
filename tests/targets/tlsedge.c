/* tlsedge: ordinary TLS client patterns that a write-holding shim can get wrong
 * (issue 13, cases A to G), each run as the program under test.  The test runs it
 * without and with the library preloaded and compares everything it prints: what
 * every call returned (its value, SSL_get_error and errno) and what its peer
 * received, connection by connection.  The reference is the run without socktune.
 *
 *   tlsedge [--unix] [--tls 1.2|1.3] CASE
 *
 * The peer is this same program, forked before anything else and exec'd again
 * with LD_PRELOAD removed ("tlsedge --peer CASE FD..."), so it is never preloaded.
 * It accepts one connection per listener, completes the handshake, reads until
 * close_notify, EOF or an error, and prints one line per connection:
 *   peer conn=N end=close_notify|eof|error bytes=N head=ESCAPED fnv=HEX
 * What the client prints comes after the peer's lines, in a fixed order.
 *
 * CASEs (X and Y are two connections; "W(X, s)" is SSL_write of s):
 *   shutdown-write  W(X, "abc"), SSL_shutdown, W(X, "xyz"), SSL_shutdown: without
 *                   socktune the write after the shutdown fails (SSL_ERROR_SSL) and
 *                   the second shutdown completes (1)
 *   set-shutdown    W(X, 33 bytes), SSL_set_shutdown(SENT|RECEIVED), SSL_shutdown,
 *                   SSL_free: nginx's ngx_ssl_shutdown on errors; the peer gets the
 *                   33 bytes and an EOF
 *   set-shutdown-free  the same, with SSL_free and no SSL_shutdown
 *   huge            SSL_MODE_ENABLE_PARTIAL_WRITE, W(X, "FIRST-"), then an
 *                   SSL_write_ex of 2^31 + 16 bytes starting "SECOND" (one record of
 *                   it goes out): the peer's bytes start "FIRST-SECOND"
 *   peer-gone       (with --unix) the peer closes after the handshake and exits;
 *                   then W(X, 15 bytes) twice: without socktune -1, SSL_ERROR_SYSCALL,
 *                   EPIPE (SIGPIPE is ignored)
 *   bio             W(X, "FIRST-"), then BIO_write of "SECOND" on a BIO_f_ssl
 *                   wrapping the same SSL: the peer gets "FIRST-SECOND"
 *   cross           W(X, "ping"), then SSL_read on Y, where the peer answers "pong"
 *                   only once X's "ping" has arrived
 *   cross-handshake the same, but Y's handshake (SSL_do_handshake) only completes
 *                   once X's "ping" has arrived
 *   lowat, lowat-none  TCP_NOTSENT_LOWAT of 1 byte set on X (lowat-none: not set),
 *                   then W(X, "abc"), W(X, "def"): with the mark, a held flush could
 *                   find the socket full, so nothing may be held (the test reads
 *                   socktune's statistics)
 *   close-full      (with --unix) X non-blocking with a large send buffer, the peer
 *                   not reading yet: W(X, 64 KiB) waits in X's socket, W(X,
 *                   "held-1"), W(X, "held-2"), then the send
 *                   buffer shrinks below what is queued (SO_SNDBUF 2048), and X's
 *                   descriptor is closed.  A socketpair takes the number; after a
 *                   poll(), what its other end received is printed: nothing, and
 *                   the peer, which reads 500 ms later, gets every byte
 *   bio-thread      W(X, "held-"); a second thread makes a BIO_f_ssl on X and
 *                   writes "by-thread" through it while the first waits in
 *                   pthread_join: the peer gets "held-by-thread"
 *   big-tls         W(X, "abc"), W(X, "def") in a program with 1 MiB of static
 *                   thread-local storage, which glibc puts on every thread's stack
 *                   (the test reads socktune's statistics: both are held)
 *   fork-thread     thread T: W(X, "T-bytes"), then parks on a barrier; the main
 *                   thread forks; the child writes W(X, "child-bytes"), shuts down
 *                   and exits; the parent waits for it and closes its copy: the
 *                   peer gets T's bytes, then the child's
 * A case that hangs ends after 5 s with "timeout" and exit status 3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The benchmarks' die(), die_ssl() and in-memory server identity; the rest of
 * that header is unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../bench/tlsbench.h"
#pragma GCC diagnostic pop

#define MAXCONN 2

static const char *tls_version = "1.3";
static int use_unix;
static char unix_dir[64];

/* What the client prints, kept until the peer has printed its lines. */
static char *report;
static size_t report_len;
static FILE *out;

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "timeout\n";
	(void)!write(1, msg, sizeof msg - 1);
	_exit(3);
}

/* ---- the peer ---- */

static void escape(char *dst, size_t cap, const unsigned char *b, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++)
		o += (size_t)snprintf(dst + o, cap - o, b[i] >= 0x21 && b[i] < 0x7f && b[i] != '\\' ? "%c" : "\\x%02x",
				      b[i]);
	dst[o] = '\0';
}

struct conn {
	SSL *ssl;
	int fd;
	unsigned long long bytes;
	uint64_t fnv;
	unsigned char head[32];
	const char *end;
};

static void peer_take(struct conn *c, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c->bytes + i < sizeof c->head)
			c->head[c->bytes + i] = b[i];
		c->fnv = (c->fnv ^ b[i]) * 0x100000001b3ULL;
	}
	c->bytes += n;
}

/* Reads until close_notify, EOF or an error; answers close_notify with its own. */
static void peer_drain(struct conn *c)
{
	unsigned char buf[16384];
	for (;;) {
		int r = SSL_read(c->ssl, buf, sizeof buf);
		if (r > 0) {
			peer_take(c, buf, (size_t)r);
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN) {
			c->end = "close_notify";
			SSL_shutdown(c->ssl);
		} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
			c->end = "eof";
		} else {
			c->end = "error";
		}
		return;
	}
}

/* Reads from c until its bytes include "ping". */
static void peer_await_ping(struct conn *c)
{
	unsigned char buf[256];
	while (!memmem(c->head, c->bytes < sizeof c->head ? c->bytes : sizeof c->head, "ping", 4)) {
		int r = SSL_read(c->ssl, buf, sizeof buf);
		if (r <= 0)
			return;
		peer_take(c, buf, (size_t)r);
	}
}

static int peer_main(const char *what, int nfd, char **fds)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	server_identity(ctx);
	/* No TLS 1.3 session tickets: a client that closes with them unread in
	 * its socket makes the kernel send a reset, and the peer's ending would
	 * depend on a race. */
	SSL_CTX_set_num_tickets(ctx, 0);
	struct conn c[MAXCONN] = {0};
	for (int i = 0; i < nfd; i++) {
		c[i].fnv = 0xcbf29ce484222325ULL;
		c[i].fd = accept(atoi(fds[i]), NULL, NULL);
		if (c[i].fd < 0)
			die("accept");
		c[i].ssl = SSL_new(ctx);
		SSL_set_fd(c[i].ssl, c[i].fd);
	}
	int handshake_late = !strcmp(what, "cross-handshake");
	for (int i = 0; i < nfd; i++)
		if (!(handshake_late && i == 1) && SSL_accept(c[i].ssl) != 1)
			die_ssl("SSL_accept");
	if (!strcmp(what, "close-full")) {
		usleep(500000);
		peer_drain(&c[0]);
	} else if (!strcmp(what, "peer-gone")) {
		close(c[0].fd);
		c[0].end = "closed";
	} else if (!strncmp(what, "cross", 5)) {
		peer_await_ping(&c[0]);
		if (handshake_late && SSL_accept(c[1].ssl) != 1)
			die_ssl("SSL_accept");
		if (SSL_write(c[1].ssl, "pong", 4) != 4)
			die_ssl("SSL_write");
		peer_drain(&c[0]);
		peer_drain(&c[1]);
	} else {
		peer_drain(&c[0]);
	}
	for (int i = 0; i < nfd; i++) {
		char head[4 * sizeof c[i].head + 1];
		escape(head, sizeof head, c[i].head, c[i].bytes < sizeof c[i].head ? c[i].bytes : sizeof c[i].head);
		printf("peer conn=%d end=%s bytes=%llu head=%s fnv=%016llx\n", i, c[i].end, c[i].bytes, head,
		       (unsigned long long)c[i].fnv);
	}
	fflush(stdout);
	return 0;
}

/* ---- the client ---- */

static void say_call(const char *what, SSL *s, long ret)
{
	int e = errno;
	int err = SSL_get_error(s, (int)ret);
	fprintf(out, "%s ret=%ld ssl_error=%d errno=%d\n", what, ret, err, ret > 0 ? 0 : e);
	ERR_clear_error();
}

static int W(SSL *s, const char *what, const void *b, int n)
{
	errno = 0;
	int r = SSL_write(s, b, n);
	say_call(what, s, r);
	return r;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int v = !strcmp(tls_version, "1.2") ? TLS1_2_VERSION : TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(ctx, v);
	SSL_CTX_set_max_proto_version(ctx, v);
	return ctx;
}

static int make_listener(int i, struct sockaddr_storage *ss, socklen_t *len)
{
	int l;
	if (use_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		memset(un, 0, sizeof *un);
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s/s%d", unix_dir, i);
		*len = sizeof *un;
		l = socket(AF_UNIX, SOCK_STREAM, 0);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		memset(in, 0, sizeof *in);
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof *in;
		l = socket(AF_INET, SOCK_STREAM, 0);
	}
	if (l < 0 || bind(l, (struct sockaddr *)ss, *len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)ss, len) < 0)
		die("listener");
	return l;
}

static pid_t peer_pid;
static SSL *conns[MAXCONN];
static int conn_fds[MAXCONN];

/* Forks the peer with NCONN listeners, then connects to each (handshakes all but
 * the ones in late). */
static void start(const char *what, int nconn, int late_mask)
{
	struct sockaddr_storage ss[MAXCONN];
	socklen_t len[MAXCONN];
	int l[MAXCONN];
	if (use_unix && !mkdtemp(strcpy(unix_dir, "/tmp/tlsedge.XXXXXX")))
		die("mkdtemp");
	for (int i = 0; i < nconn; i++)
		l[i] = make_listener(i, &ss[i], &len[i]);
	fflush(stdout);
	peer_pid = fork();
	if (peer_pid < 0)
		die("fork");
	if (peer_pid == 0) {
		char fdtext[MAXCONN][16];
		char *argv[4 + MAXCONN] = {"tlsedge", "--peer", (char *)what};
		for (int i = 0; i < nconn; i++) {
			snprintf(fdtext[i], sizeof fdtext[i], "%d", l[i]);
			argv[3 + i] = fdtext[i];
		}
		unsetenv("LD_PRELOAD");
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (int i = 0; i < nconn; i++)
		close(l[i]);
	SSL_CTX *ctx = client_ctx();
	/* Every connection first: the peer accepts them all before any handshake. */
	for (int i = 0; i < nconn; i++) {
		conn_fds[i] = socket(use_unix ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
		if (conn_fds[i] < 0 || connect(conn_fds[i], (struct sockaddr *)&ss[i], len[i]) < 0)
			die("connect");
		conns[i] = SSL_new(ctx);
		SSL_set_fd(conns[i], conn_fds[i]);
	}
	for (int i = 0; i < nconn; i++)
		if (!(late_mask & (1 << i)) && SSL_connect(conns[i]) != 1)
			die_ssl("SSL_connect");
}

static void finish(void)
{
	int status;
	if (waitpid(peer_pid, &status, 0) < 0)
		die("waitpid");
	if (use_unix) {
		char p[96];
		for (int i = 0; i < MAXCONN; i++) {
			snprintf(p, sizeof p, "%s/s%d", unix_dir, i);
			unlink(p);
		}
		rmdir(unix_dir);
	}
	fclose(out);
	fwrite(report, 1, report_len, stdout);
	printf("peer status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
}

static void end_conns(int n)
{
	for (int i = 0; i < n; i++) {
		int r = SSL_shutdown(conns[i]);
		say_call("shutdown", conns[i], r);
		if (r == 0)
			say_call("shutdown2", conns[i], SSL_shutdown(conns[i]));
		SSL_free(conns[i]);
		close(conn_fds[i]);
	}
}

static pthread_barrier_t written, forked;
static int bio_thread_ret;

/* bio-thread's second thread: the connection is handed to it, and it writes
 * through a BIO_f_ssl, which no hook sees. */
static void *bio_thread(void *arg)
{
	(void)arg;
	BIO *b = BIO_new(BIO_f_ssl());
	BIO_set_ssl(b, conns[0], BIO_NOCLOSE);
	bio_thread_ret = BIO_write(b, "by-thread", 9);
	BIO_free(b);
	return NULL;
}
__thread char big_tls[1 << 20]; /* not static: kept, as a program's would be */

static void *thread_t(void *arg)
{
	(void)arg;
	W(conns[0], "T write", "T-bytes", 7);
	pthread_barrier_wait(&written);
	pthread_barrier_wait(&forked);
	return NULL;
}

static int client_main(const char *what)
{
	if (!strcmp(what, "shutdown-write")) {
		start(what, 1, 0);
		W(conns[0], "write", "abc", 3);
		say_call("shutdown", conns[0], SSL_shutdown(conns[0]));
		W(conns[0], "write after shutdown", "xyz", 3);
		say_call("shutdown again", conns[0], SSL_shutdown(conns[0]));
		SSL_free(conns[0]);
		close(conn_fds[0]);
	} else if (!strcmp(what, "set-shutdown") || !strcmp(what, "set-shutdown-free")) {
		start(what, 1, 0);
		W(conns[0], "write", "thirty-three bytes, then nothing", 33);
		SSL_set_shutdown(conns[0], SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		if (!strcmp(what, "set-shutdown"))
			say_call("shutdown", conns[0], SSL_shutdown(conns[0]));
		SSL_free(conns[0]);
		close(conn_fds[0]);
	} else if (!strcmp(what, "huge")) {
		start(what, 1, 0);
		SSL_set_mode(conns[0], SSL_MODE_ENABLE_PARTIAL_WRITE);
		W(conns[0], "write", "FIRST-", 6);
		size_t n = ((size_t)1 << 31) + 16, w = 0;
		char *big = malloc(n);
		if (!big)
			die("malloc");
		memset(big, 'S', 16384);
		memcpy(big, "SECOND", 6);
		errno = 0;
		int r = SSL_write_ex(conns[0], big, n, &w);
		fprintf(out, "write_ex written=%zu\n", w);
		say_call("write_ex", conns[0], r);
		free(big);
		end_conns(1);
	} else if (!strcmp(what, "peer-gone")) {
		start(what, 1, 0);
		int status;
		if (waitpid(peer_pid, &status, 0) < 0)
			die("waitpid");
		peer_pid = -1;
		W(conns[0], "write", "fifteen bytes!!", 15);
		W(conns[0], "write again", "fifteen bytes!!", 15);
		SSL_free(conns[0]);
		close(conn_fds[0]);
	} else if (!strcmp(what, "bio")) {
		start(what, 1, 0);
		W(conns[0], "write", "FIRST-", 6);
		BIO *b = BIO_new(BIO_f_ssl());
		BIO_set_ssl(b, conns[0], BIO_NOCLOSE);
		errno = 0;
		int r = BIO_write(b, "SECOND", 6);
		fprintf(out, "BIO_write ret=%d\n", r);
		BIO_free(b);
		end_conns(1);
	} else if (!strcmp(what, "cross") || !strcmp(what, "cross-handshake")) {
		int late = !strcmp(what, "cross-handshake");
		start(what, 2, late ? 2 : 0);
		W(conns[0], "write X", "ping", 4);
		if (late) {
			SSL_set_connect_state(conns[1]);
			say_call("handshake Y", conns[1], SSL_do_handshake(conns[1]));
		}
		char buf[8] = {0};
		errno = 0;
		int r = SSL_read(conns[1], buf, 4);
		say_call("read Y", conns[1], r);
		fprintf(out, "read Y got=%.4s\n", buf);
		end_conns(2);
	} else if (!strcmp(what, "bio-thread")) {
		start(what, 1, 0);
		W(conns[0], "write", "held-", 5);
		pthread_t t;
		pthread_create(&t, NULL, bio_thread, NULL);
		pthread_join(t, NULL);
		fprintf(out, "thread BIO_write ret=%d\n", bio_thread_ret);
		end_conns(1);
	} else if (!strcmp(what, "big-tls")) {
		/* Touched, so the linker keeps it: 1 MiB of static TLS per thread. */
		((volatile char *)big_tls)[(unsigned char)what[0]] = 1;
		start(what, 1, 0);
		W(conns[0], "write", "abc", 3);
		W(conns[0], "write", "def", 3);
		end_conns(1);
	} else if (!strcmp(what, "lowat") || !strcmp(what, "lowat-none")) {
		start(what, 1, 0);
		int one = 1;
		if (!strcmp(what, "lowat") &&
		    setsockopt(conn_fds[0], IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one, sizeof one) < 0)
			die("TCP_NOTSENT_LOWAT");
		W(conns[0], "write", "abc", 3);
		W(conns[0], "write", "def", 3);
		end_conns(1);
	} else if (!strcmp(what, "close-full")) {
		start(what, 1, 0);
		int fd = conn_fds[0], big = 200000, small = 2048;
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big) < 0)
			die("socket options");
		static char block[65536];
		memset(block, 'B', sizeof block);
		W(conns[0], "write 64K", block, (int)sizeof block);
		W(conns[0], "write", "held-1", 6);
		W(conns[0], "write", "held-2", 6);
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) < 0)
			die("SO_SNDBUF");
		close(fd);
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
			die("socketpair");
		fprintf(out, "sink takes the number=%d\n", sv[0] == fd);
		poll(NULL, 0, 0);
		char got[256];
		ssize_t n = read(sv[1], got, sizeof got);
		fprintf(out, "sink bytes=%zd\n", n < 0 ? 0 : n);
		SSL_free(conns[0]);
		close(sv[0]);
		close(sv[1]);
	} else if (!strcmp(what, "fork-thread")) {
		start(what, 1, 0);
		pthread_t t;
		pthread_barrier_init(&written, NULL, 2);
		pthread_barrier_init(&forked, NULL, 2);
		pthread_create(&t, NULL, thread_t, NULL);
		pthread_barrier_wait(&written);
		fflush(out);
		pid_t child = fork();
		if (child == 0) {
			/* The child prints at once: its lines come before the peer's. */
			out = stdout;
			W(conns[0], "child write", "child-bytes", 11);
			/* Out before the close_notify, after which the peer prints
			 * its own line: a slow child (under TSan) printed after it. */
			fflush(out);
			SSL_shutdown(conns[0]);
			exit(0);
		}
		int status;
		waitpid(child, &status, 0);
		close(conn_fds[0]);
		pthread_barrier_wait(&forked);
		pthread_join(t, NULL);
		fprintf(out, "child status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else {
		fprintf(stderr, "tlsedge: unknown case %s\n", what);
		return 2;
	}
	if (peer_pid > 0) {
		finish();
	} else {
		fclose(out);
		fwrite(report, 1, report_len, stdout);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && !strcmp(argv[1], "--peer"))
		return peer_main(argv[2], argc - 3, argv + 3);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--unix"))
			use_unix = 1;
		else if (!strcmp(argv[i], "--tls") && i + 1 < argc)
			tls_version = argv[++i];
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: tlsedge [--unix] [--tls 1.2|1.3] CASE\n");
		return 2;
	}
	signal(SIGALRM, on_alarm);
	alarm(5);
	out = open_memstream(&report, &report_len);
	return client_main(argv[i]);
}
