/* tlswriter: the TLS client that the socktune TLS tests run with the library
 * preloaded.  It connects with connect() (so the library tunes the socket and decides
 * its tls_merge), completes the handshake and then does one of three things:
 *
 *   the random pattern (default): COUNT writes of seeded random sizes 0..20000, most of
 *     them small (8, 24, 100, 600 bytes), with SSL_write or SSL_write_ex, then ends
 *     the way --end says;
 *   --rr ROUNDS: request/response: 3 writes of 8, 24 and 100 bytes, then SSL_read of
 *     the 1-byte reply, ROUNDS times, timing each round trip;
 *   --reset CALL,...: the flush-failure scenario (see below).
 *
 * On a non-blocking socket (--nonblock) it is a small event loop: it waits with poll
 * for POLLOUT before each batch of 1..16 writes, and on SSL_ERROR_WANT_WRITE or
 * SSL_ERROR_WANT_READ polls and retries with the same arguments (with --moving, the
 * same bytes from another buffer).
 *
 * Output (stdout, flushed before any ending):
 *   writer pid=P writes=N nonzero=N bytes=N sha256=HEX small=N big=N big_records=N
 *          plain_records=N want_write=N want_read=N partial=N polls=N
 *     small: writes of 1..SIZE bytes (--size); big: longer ones; big_records: the
 *     records the big ones need (16384 bytes each); plain_records: the records every
 *     non-empty write needs when nothing is merged
 *   zero_write n=N ret=R err=E same=0|1       the first SSL_write(ssl, b, 0); same=1
 *   zero_write_ex n=N ret=R written=W err=E same=0|1   when every later one matched
 *   rr rounds=N median_us=N p90_us=N max_us=N total_us=N          with --rr
 *   reset pid=P seen=0|1 spin_ms=N state=N                         with --reset
 *   stepK call=NAME ret=R err=E errno=N errq=HEX,... shut=S        with --reset
 *     (err: SSL_get_error; errq: every ERR_get_error code; shut: SSL_get_shutdown)
 *   fork child=PID status=N                                        with --fork-at
 *
 * Flags:
 *   --port N            connect to 127.0.0.1:N (required)
 *   --tls 1.2|1.3|any   protocol version (default 1.3)
 *   --nonblock          non-blocking socket and event loop
 *   --api write|write_ex|mix   which call writes (default mix: chosen per write)
 *   --seed S --count N  the pattern (defaults 1 and 2000)
 *   --size S            the tls_merge size, for the small/big accounting (default 1024)
 *   --end shutdown|free|exec|execvp|exec-self|exit|_exit|_Exit   (default shutdown)
 *       shutdown: SSL_shutdown, SSL_free, close, return from main
 *       free: SSL_free without SSL_shutdown, close, return from main
 *       exec: execl("/bin/true") right after the last write; execvp: execvp("true");
 *       exec-self: execv of this program with --exec-child (which exits 0)
 *       exit / _exit / _Exit: that call right after the last write, nothing freed
 *   --tail N            after the pattern, wait until the kernel has sent everything
 *                       (SIOCOUTQ 0, nanosleep between looks), then N more writes of
 *                       24 bytes, so that bytes are held when the ending comes
 *                       (default 3)
 *   --spin-us N         after each write of the pattern, a busy loop of 0..N-1 us
 *                       (seeded; no wait point), so that the hold bound's thread
 *                       sends while the writer writes
 *   --dump FILE         also write every byte written, in order, to FILE
 *   --sndbuf N          SO_SNDBUF before connect (forces WANT_WRITE when small)
 *   --nodelay           TCP_NODELAY before connect (default: Nagle on)
 *   --partial           SSL_MODE_ENABLE_PARTIAL_WRITE
 *   --moving            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, and retries really move
 *   --rr ROUNDS         request/response mode (against tlspeer --reply-every 132)
 *   --reset CALL,...    flush-failure scenario: write 17000 bytes (the peer resets the
 *                       connection after reading them: tlspeer --reset-after 17000),
 *                       wait until they are sent, write 100 bytes (held under
 *                       socktune), spin without any wait point until TCP_INFO shows
 *                       the connection closed, do the --reset-wait, then make each
 *                       CALL in turn (write and write_ex: 24 bytes, write_big: 17000,
 *                       read, peek, shutdown) as step1, step2, ...
 *   --sizes N,N,...     instead of random sizes, these sizes in turn (COUNT writes)
 *   --rr-wait KIND      with --rr: before SSL_read, wait until the socket is readable
 *                       with KIND (poll, ppoll, select, pselect, epoll_wait,
 *                       epoll_pwait, recv_peek), 10 s at most, as an event loop does
 *   --fork-at N         after N writes of the pattern, fork; the child exits with
 *                       exit(0) at once, the parent waits for it and goes on
 *   --reset-wait none|nanosleep|poll   a wait point between the reset and step1
 *   --sigpipe ignore|default   SIGPIPE disposition (default ignore)
 * Exit status 0 on success, 1 on a TLS or socket failure (with a line on stderr).
 */
#include <errno.h>
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
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsclient.h"

/* tlswriter's own flags (those it shares with tlswait are opt, in tlsclient.h). */
static struct {
	long count, rr, tail;
	const char *end, *reset, *reset_wait, *sigpipe, *dump, *sizes, *rr_wait;
	long fork_at, spin_us;
} wopt = { .fork_at = -1, .count = 2000, .tail = 3, .end = "shutdown", .reset_wait = "none", .sigpipe = "ignore" };

/* A busy loop: clock_gettime is no wait point. */
static void spin_us(long us)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static size_t pick_size(void)
{
	if (wopt.sizes) {
		static const char *at;
		if (!at || !*at)
			at = wopt.sizes;
		char *end;
		size_t n = (size_t)strtoul(at, &end, 10);
		at = *end == ',' ? end + 1 : end;
		return n > MAXW ? MAXW : n;
	}
	static const size_t common[] = { 8, 24, 100, 600 };
	static const size_t edges[] = { 1023, 1024, 1025, 16383, 16384, 16385 };
	uint64_t r = next_rand() % 1000;
	if (r < 30)
		return 0;
	if (r < 630)
		return common[next_rand() % 4];
	if (r < 800)
		return 1 + next_rand() % 1100;
	if (r < 850)
		return edges[next_rand() % 6];
	return 1 + next_rand() % MAXW;
}

static void pattern(void)
{
	static unsigned char buf[MAXW];
	long batch = 0;
	for (long i = 0; i < wopt.count; i++) {
		if (opt.nonblock && batch-- <= 0) {
			/* The event loop waits for the socket before each batch. */
			wait_fd(POLLOUT);
			batch = (long)(next_rand() % 16);
		}
		if (i == wopt.fork_at) {
			fflush(NULL);
			pid_t child = fork();
			if (child < 0)
				fail("fork", -1);
			if (child == 0)
				exit(0);
			int st;
			waitpid(child, &st, 0);
			printf("fork child=%ld status=%d\n", (long)child, st);
		}
		size_t n = pick_size();
		bool ex = use_ex();
		fill(buf, n);
		account(n);
		write_all(buf, n, ex);
		if (wopt.spin_us)
			spin_us((long)(next_rand() % (uint64_t)wopt.spin_us));
	}
	if (wopt.tail > 0)
		settle();
	for (long i = 0; i < wopt.tail; i++) {
		fill(buf, 24);
		account(24);
		write_all(buf, 24, use_ex());
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Waits until fd is readable with the call KIND names, 10 s at most. */
static void wait_readable(const char *kind)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { 10, 0 };
	struct timeval tv = { 10, 0 };
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	int r;
	if (!strcmp(kind, "poll"))
		r = poll(&p, 1, 10000);
	else if (!strcmp(kind, "ppoll"))
		r = ppoll(&p, 1, &ts, NULL);
	else if (!strcmp(kind, "select"))
		r = select(fd + 1, &rd, NULL, NULL, &tv);
	else if (!strcmp(kind, "pselect"))
		r = pselect(fd + 1, &rd, NULL, NULL, &ts, NULL);
	else if (!strcmp(kind, "epoll_wait") || !strcmp(kind, "epoll_pwait")) {
		static int ep = -1;
		if (ep < 0) {
			ep = epoll_create1(EPOLL_CLOEXEC);
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				fail("epoll", -1);
		}
		struct epoll_event out;
		r = !strcmp(kind, "epoll_wait") ? epoll_wait(ep, &out, 1, 10000)
						: epoll_pwait(ep, &out, 1, 10000, NULL);
	} else if (!strcmp(kind, "recv_peek")) {
		char c;
		struct timeval rt = { 10, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
		r = (int)recv(fd, &c, 1, MSG_PEEK);
	} else {
		fprintf(stderr, "tlswriter: unknown --rr-wait %s\n", kind);
		exit(2);
	}
	if (r <= 0) {
		fprintf(stderr, "tlswriter: %s: the reply did not come (r=%d errno=%d)\n", kind, r, errno);
		print_summary();
		exit(1);
	}
}

static void request_response(void)
{
	static const size_t piece[] = { 8, 24, 100 };
	unsigned char buf[128];
	long long *dt = calloc((size_t)wopt.rr, sizeof *dt);
	if (!dt)
		exit(1);
	long long start = now_us();
	for (long i = 0; i < wopt.rr; i++) {
		long long t0 = now_us();
		for (int k = 0; k < 3; k++) {
			fill(buf, piece[k]);
			account(piece[k]);
			write_all(buf, piece[k], use_ex());
		}
		if (wopt.rr_wait && !SSL_pending(ssl))
			wait_readable(wopt.rr_wait);
		for (;;) {
			unsigned char c;
			int r = SSL_read(ssl, &c, 1);
			if (r == 1)
				break;
			int err = SSL_get_error(ssl, r);
			if (opt.nonblock && err == SSL_ERROR_WANT_READ) {
				wait_fd(POLLIN);
				continue;
			}
			if (opt.nonblock && err == SSL_ERROR_WANT_WRITE) {
				wait_fd(POLLOUT);
				continue;
			}
			fprintf(stderr, "tlswriter: round %ld: no reply after %lld us\n", i, now_us() - t0);
			print_summary();
			fail("SSL_read (reply)", r);
		}
		dt[i] = now_us() - t0;
	}
	long long all = now_us() - start;
	qsort(dt, (size_t)wopt.rr, sizeof *dt, cmp_ll);
	printf("rr rounds=%ld median_us=%lld p90_us=%lld max_us=%lld total_us=%lld\n", wopt.rr,
	       dt[wopt.rr / 2], dt[wopt.rr * 9 / 10], dt[wopt.rr - 1], all);
	free(dt);
}

/* One SSL call of the flush-failure scenario, and what it reported. */
static void reset_step(int k, const char *call)
{
	unsigned char buf[17000];
	memset(buf, 'x', sizeof buf);
	int r;
	size_t w = 0;
	errno = 0;
	if (!strcmp(call, "write"))
		r = SSL_write(ssl, buf, 24);
	else if (!strcmp(call, "write_ex"))
		r = SSL_write_ex(ssl, buf, 24, &w);
	else if (!strcmp(call, "write_big"))
		r = SSL_write(ssl, buf, (int)sizeof buf);
	else if (!strcmp(call, "read"))
		r = SSL_read(ssl, buf, 1);
	else if (!strcmp(call, "peek"))
		r = SSL_peek(ssl, buf, 1);
	else if (!strcmp(call, "shutdown"))
		r = SSL_shutdown(ssl);
	else {
		fprintf(stderr, "tlswriter: unknown --reset call %s\n", call);
		exit(2);
	}
	int e = errno;
	int err = SSL_get_error(ssl, r);
	char q[512] = "";
	size_t o = 0;
	for (unsigned long c; (c = ERR_get_error()) != 0 && o + 20 < sizeof q;)
		o += (size_t)snprintf(q + o, sizeof q - o, "%s%08lx", o ? "," : "", c);
	printf("step%d call=%s ret=%d err=%d errno=%d errq=%s shut=%d\n", k, call, r, err, e,
	       o ? q : "none", SSL_get_shutdown(ssl));
	fflush(stdout);
}

static void reset_scenario(void)
{
	static unsigned char hello[17000];
	unsigned char piece[100];
	memset(hello, 'h', sizeof hello);
	memset(piece, 'p', sizeof piece);
	write_all(hello, sizeof hello, false);
	settle();
	write_all(piece, sizeof piece, false);
	/* Wait for the RST without a single wait point: TCP_INFO is not one. */
	long long t0 = now_us();
	struct tcp_info ti;
	int seen = 0;
	do {
		socklen_t len = sizeof ti;
		memset(&ti, 0, sizeof ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			fail("getsockopt(TCP_INFO)", 0);
		if (ti.tcpi_state == TCP_CLOSE) {
			seen = 1;
			break;
		}
	} while (now_us() - t0 < 5000000);
	printf("reset pid=%ld seen=%d spin_ms=%lld state=%u\n", (long)getpid(), seen, (now_us() - t0) / 1000,
	       ti.tcpi_state);
	fflush(stdout);
	if (!strcmp(wopt.reset_wait, "nanosleep")) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	} else if (!strcmp(wopt.reset_wait, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 10);
	}
	char calls[256];
	snprintf(calls, sizeof calls, "%s", wopt.reset);
	int k = 1;
	for (char *save, *c = strtok_r(calls, ",", &save); c; c = strtok_r(NULL, ",", &save))
		reset_step(k++, c);
}

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--nonblock")) {
			opt.nonblock = true;
			continue;
		}
		if (!strcmp(a, "--partial")) {
			opt.partial = true;
			continue;
		}
		if (!strcmp(a, "--moving")) {
			opt.moving = true;
			continue;
		}
		if (!strcmp(a, "--nodelay")) {
			opt.nodelay = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "tlswriter: %s needs a value\n", a);
			exit(2);
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--port"))
			opt.port = (int)num_arg(v);
		else if (!strcmp(a, "--tls"))
			opt.tls = v;
		else if (!strcmp(a, "--api"))
			opt.api = !strcmp(v, "write") ? API_WRITE : !strcmp(v, "write_ex") ? API_WRITE_EX : API_MIX;
		else if (!strcmp(a, "--seed"))
			opt.seed = (uint64_t)num_arg(v);
		else if (!strcmp(a, "--count"))
			wopt.count = num_arg(v);
		else if (!strcmp(a, "--size"))
			opt.size = num_arg(v);
		else if (!strcmp(a, "--end"))
			wopt.end = v;
		else if (!strcmp(a, "--rr-wait"))
			wopt.rr_wait = v;
		else if (!strcmp(a, "--fork-at"))
			wopt.fork_at = num_arg(v);
		else if (!strcmp(a, "--sizes"))
			wopt.sizes = v;
		else if (!strcmp(a, "--tail"))
			wopt.tail = num_arg(v);
		else if (!strcmp(a, "--dump"))
			wopt.dump = v;
		else if (!strcmp(a, "--sndbuf"))
			opt.sndbuf = num_arg(v);
		else if (!strcmp(a, "--rr"))
			wopt.rr = num_arg(v);
		else if (!strcmp(a, "--reset"))
			wopt.reset = v;
		else if (!strcmp(a, "--reset-wait"))
			wopt.reset_wait = v;
		else if (!strcmp(a, "--sigpipe"))
			wopt.sigpipe = v;
		else if (!strcmp(a, "--spin-us"))
			wopt.spin_us = num_arg(v);
		else {
			fprintf(stderr, "tlswriter: unknown flag %s\n", a);
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--exec-child"))
		return 0;
	parse(argc, argv);
	if (!opt.port) {
		fprintf(stderr, "tlswriter: --port is required\n");
		return 2;
	}
	if (!strcmp(wopt.sigpipe, "ignore"))
		signal(SIGPIPE, SIG_IGN);
	rng = opt.seed;
	if (wopt.dump && !(dump = fopen(wopt.dump, "w")))
		fail(wopt.dump, 0);
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		fail("sha256", 0);
	connect_tls();

	if (wopt.reset) {
		reset_scenario();
		return 0;
	}
	if (wopt.rr > 0)
		request_response();
	else
		pattern();
	print_summary();

	const char *end = wopt.end;
	if (!strcmp(end, "shutdown")) {
		shutdown_tls();
		SSL_free(ssl);
		close(fd);
		return 0;
	}
	if (!strcmp(end, "free")) {
		SSL_free(ssl);
		close(fd);
		return 0;
	}
	if (!strcmp(end, "exec")) {
		execl("/bin/true", "true", (char *)NULL);
		fail("execl", -1);
	}
	if (!strcmp(end, "execvp")) {
		char *const args[] = { "true", NULL };
		execvp("true", args);
		fail("execvp", -1);
	}
	if (!strcmp(end, "exec-self")) {
		char *const args[] = { argv[0], "--exec-child", NULL };
		execv("/proc/self/exe", args);
		fail("execv", -1);
	}
	if (!strcmp(end, "exit"))
		exit(0);
	if (!strcmp(end, "_exit"))
		_exit(0);
	if (!strcmp(end, "_Exit"))
		_Exit(0);
	fprintf(stderr, "tlswriter: unknown --end %s\n", end);
	return 2;
}
