/* tlscork/burst.c: the burst role, a one-way sender: --bursts bursts of --writes
 * writes of --min..--max random bytes each, every burst followed by a --wait (and
 * --extra-waits more waits, of every kind in turn); then, with --spin-ms, a busy
 * loop (no wait point); then it waits until the kernel has sent and had
 * acknowledged everything (SIOCOUTQ 0), reads TCP_INFO, prints and closes.
 * --api: write, send, writev (the piece in two iovecs), sendmsg, or mix (those
 * four in turn).  --manage: none; cork (the program corks itself: TCP_CORK 1
 * after connect, 0 then 1 after each burst, 0 at the end); more (the program
 * sends every write of a burst but the last with MSG_MORE itself).
 * cork_at_start is getsockopt(TCP_CORK) right after the connection is made (-1
 * on a unix socket).
 * --end: how the last burst is left, instead of a wait (with --wait none):
 *   none; close (the socket was dup'ed first, so the connection stays open: only
 *   a push sends what is held); shutdown (SHUT_RD: SHUT_WR's FIN would send it
 *   anyway); fork (the child sleeps 10 ms and _exits, the parent polls waitpid
 *   with WNOHANG, which is no wait point); exec (the socket survives into this
 *   program's "spin" role, which spins --spin-ms and exits 0; the summary is
 *   printed before); thread-exit (a second thread writes the bursts and ends; the
 *   main thread joins it: a wait point, but of a thread that holds nothing);
 *   cork (the program corks the socket itself, setsockopt(TCP_CORK, 1): without
 *   socktune what it wrote has left already, and the cork holds only what
 *   comes after).
 *   Then the --spin-ms busy loop, so nothing but the end sends.
 * Prints: burst pid=P writes=N bytes=N hash=H segs_out=N cork_at_start=N
 *         own_cork=N own_more=N written_ns=T end=E end_ns=T child=PID
 *   (own_cork: the program's own setsockopt(TCP_CORK) calls; own_more: its own
 *   MSG_MORE sends; written_ns: the end of the last write; end_ns: just before
 *   the --end call; child: the fork's child, or 0)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_out */
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlscork.h"

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

void run_burst(void)
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
	} else if (!strcmp(o.end, "cork")) {
		int one = 1;
		end_ns = mono_ns();
		if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one) < 0)
			die("setsockopt TCP_CORK");
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
