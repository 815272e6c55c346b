/* tlswait: the TLS client of the tls_wait tests (tests/integration/tls_wait.c), run
 * with the library preloaded.  Where tlswriter writes patterns, tlswait holds a few
 * small writes and then does one thing the held bytes must (or must not) leave at:
 * a wait point, a handoff of the SSL to another thread, a thread exit, a fork.
 *
 * It is tlswriter's client (tlsclient.h, included by both) with another main: the
 * connection, the hashed writes (write_all) and the "writer ..." summary line are
 * tlswriter's own, and tlspeer is the peer, exactly as in the tls tests.
 *
 * Every batch is 3 writes of 8, 24 and 100 bytes (132 bytes), each held under
 * socktune with SOCKTUNE_TLS_MERGE=1024.  Times are CLOCK_MONOTONIC nanoseconds,
 * comparable with the test runner's own clock.
 *
 * Modes (after --port N [--tls 1.2|1.3] [--seed S]):
 *   --wait KIND [--ms MS]   one batch, then KIND for about MS (default 1500) ms:
 *       poll ppoll select pselect epoll_wait epoll_pwait epoll_pwait2 (timeouts,
 *       nothing ready), read readv (a pipe nobody writes; an interval timer's SIGALRM
 *       ends it with EINTR), recv recvfrom recvmsg (a socketpair nobody writes,
 *       SO_RCVTIMEO), nanosleep clock_nanosleep
 *       usleep, sleep (whole seconds, rounded up), cond_timedwait, sem_timedwait
 *       (timeouts), cond_wait and sem_wait (signalled / posted by a helper thread at
 *       the deadline; the helper sleeps with a raw system call, so it passes no wait
 *       point of its own), spin (a busy loop: no wait point at all), sem_now
 *       (sem_wait on a semaphore that can be taken at once, then a busy loop of MS);
 *       the wider wait points: cond_clockwait, sem_clockwait (timeouts), waitpid,
 *       wait, waitid, wait4, wait3 (a child that sleeps MS), pthread_join (a thread that sleeps
 *       MS), mutex (a mutex a helper thread holds for MS), mutex_now (one nobody
 *       holds, then a busy loop of MS), sigwait, sigwaitinfo (a helper sends
 *       SIGUSR1 at MS), sigtimedwait (a timeout), sigsuspend, pause (an interval
 *       timer's SIGALRM), fgets fgetc getc getchar fread getline getdelim (a pipe,
 *       stdin for getchar, that a helper writes a line to at MS), accept (a
 *       listener a helper connects to at MS).
 *     Then exit(0) without another SSL call (the peer may have reset the connection).
 *     Prints: wait kind=K ret=R errno=E before_ns=T after_ns=T
 *       (before: after the batch, before the wait; after: when the wait, or the busy
 *       loop, ended)
 *   --handoff cond|spin|spin-b-exits   thread A writes a batch and hands the SSL to
 *       thread B, with a mutex and pthread_cond_wait (cond: A waits) or an atomic
 *       flag A spins on (spin: A never waits, so it still holds its batch when B
 *       writes); B writes a batch, nanosleeps 50 ms, hands the SSL back and returns;
 *       A writes a third batch and ends with pthread_exit while holding it.
 *       spin-b-exits: as spin, but B hands back and ends with pthread_exit at once,
 *       holding both batches, and A returns without writing.  The main thread joins
 *       both, then spins 1000 ms with no wait point, then exit(0).
 *     Prints: handoff via=V exit_ns=T joined_ns=T spin_end_ns=T  (exit_ns: when the
 *       thread holding the last batch called pthread_exit)
 *   --fork self|thread [--child _exit|exit]   a batch is held, by the main thread
 *       (self) or by a second thread that spins meanwhile (thread), when the main
 *       thread forks; the child ends at once with _exit(0) (default) or exit(0); the
 *       parent reaps it and another batch is written (by the same thread), then
 *       SSL_shutdown, SSL_free, close.
 *     Prints: fork child=PID status=N
 * And always the tlswriter summary line "writer pid=P ... bytes=N sha256=HEX ...".
 * Exit status 0 on success, 1 on a TLS or system failure.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsclient.h"

static long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct timespec ts_of_ns(long long ns)
{
	struct timespec t = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	return t;
}

/* A CLOCK_REALTIME deadline MS from now (pthread_cond_timedwait, sem_timedwait). */
static struct timespec realtime_in(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	long long ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec + ms * 1000000LL;
	return ts_of_ns(ns);
}

/* A busy loop: clock_gettime is no wait point. */
static void spin_until(long long deadline_ns)
{
	while (mono_ns() < deadline_ns)
		;
}

/* Sleeps until DEADLINE_NS with the system call itself, not the hooked libc
 * function: a helper thread must not pass a wait point, or a library that flushed
 * every thread's bytes at any wait would pass the test for the wrong reason. */
static void raw_sleep_until(long long deadline_ns)
{
	struct timespec t = ts_of_ns(deadline_ns);
	while (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0 && errno == EINTR)
		;
}

/* One batch: 3 small writes, hashed and counted by write_all (tlsclient.h). */
static void batch(void)
{
	static const size_t piece[] = { 8, 24, 100 };
	unsigned char buf[128];
	for (int k = 0; k < 3; k++) {
		fill(buf, piece[k]);
		account(piece[k]);
		write_all(buf, piece[k], use_ex());
	}
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "tlswait: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- --wait ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int woken;
static sem_t sem;
static long long helper_deadline;

static void *cond_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	pthread_mutex_lock(&mu);
	woken = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *sem_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	sem_post(&sem);
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* The helpers of the wider wait points: each sleeps until the deadline with
 * the raw system call, then ends the main thread's wait. */
static pthread_t main_thread;
static int helper_fd = -1;
static int mutex_taken;
static struct sockaddr_in helper_addr;

static void *join_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	return NULL;
}

static void *mutex_helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	__atomic_store_n(&mutex_taken, 1, __ATOMIC_RELEASE);
	raw_sleep_until(helper_deadline);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *signal_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

static void *line_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	if (syscall(SYS_write, helper_fd, "line\n", 5) != 5)
		abort();
	return NULL;
}

static void *connect_helper(void *arg)
{
	(void)arg;
	raw_sleep_until(helper_deadline);
	int s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (s < 0 || syscall(SYS_connect, s, &helper_addr, sizeof helper_addr) < 0)
		abort();
	return NULL;
}

static bool is(const char *kind, const char *const names[])
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(kind, names[i]))
			return true;
	return false;
}

static const char *const stdio_kinds[] = { "fgets", "fgetc", "getc", "getchar", "fread",
					   "getline", "getdelim", NULL };
static const char *const wait_kinds[] = { "waitpid", "wait", "waitid", "wait4", "wait3", NULL };
static const char *const sig_kinds[] = { "sigwait", "sigwaitinfo", NULL };
static const char *const alarm_kinds[] = { "read", "readv", "sigsuspend", "pause", NULL };

static void wait_mode(const char *kind, long ms)
{
	int pfd[2] = { -1, -1 }, sv[2] = { -1, -1 }, ep = -1;
	pthread_t helper;
	bool have_helper = false;
	/* Everything the wait needs is made before the batch: after it, the only call
	 * before the wait is clock_gettime. */
	if (pipe(pfd) < 0)
		die("pipe");
	if (!strncmp(kind, "epoll_", 6)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = pfd[0] };
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) < 0)
			die("epoll");
	} else if (!strncmp(kind, "recv", 4)) {
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
		    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
			die("socketpair");
	} else if (is(kind, alarm_kinds)) {
		struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: read ends with EINTR */
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) < 0)
			die("sigaction");
	} else if (!strcmp(kind, "sem_timedwait") || !strcmp(kind, "sem_wait") ||
		   !strcmp(kind, "sem_clockwait")) {
		if (sem_init(&sem, 0, 0) < 0)
			die("sem_init");
	} else if (!strcmp(kind, "sem_now")) {
		if (sem_init(&sem, 0, 1) < 0)
			die("sem_init");
	}

	helper_deadline = mono_ns() + ms * 1000000LL;
	if (!strcmp(kind, "cond_wait") || !strcmp(kind, "sem_wait")) {
		if (pthread_create(&helper, NULL, !strcmp(kind, "cond_wait") ? cond_helper : sem_helper, NULL) != 0)
			die("pthread_create");
		have_helper = true;
	}
	pid_t child = -1;
	FILE *in = NULL;
	int lfd = -1;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	main_thread = pthread_self();
	if (is(kind, wait_kinds)) {
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			raw_sleep_until(helper_deadline);
			syscall(SYS_exit_group, 0);
		}
	} else if (is(kind, sig_kinds) || !strcmp(kind, "sigtimedwait")) {
		if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
			die("pthread_sigmask");
	} else if (is(kind, stdio_kinds)) {
		helper_fd = pfd[1];
		if (!strcmp(kind, "getchar")) {
			if (dup2(pfd[0], 0) < 0)
				die("dup2");
			in = stdin;
		} else if (!(in = fdopen(pfd[0], "r"))) {
			die("fdopen");
		}
	} else if (!strcmp(kind, "accept")) {
		socklen_t alen = sizeof helper_addr;
		helper_addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&helper_addr, sizeof helper_addr) < 0 ||
		    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&helper_addr, &alen) < 0)
			die("listen");
	}
	void *(*helper_fn)(void *) = !strcmp(kind, "pthread_join") ? join_helper
				     : !strcmp(kind, "mutex")      ? mutex_helper
				     : is(kind, sig_kinds)         ? signal_helper
				     : is(kind, stdio_kinds)       ? line_helper
				     : !strcmp(kind, "accept")     ? connect_helper
								   : NULL;
	if (helper_fn) {
		if (pthread_create(&helper, NULL, helper_fn, NULL) != 0)
			die("pthread_create");
		have_helper = strcmp(kind, "pthread_join") != 0;
		while (!strcmp(kind, "mutex") && !__atomic_load_n(&mutex_taken, __ATOMIC_ACQUIRE))
			;
	}
	if (is(kind, alarm_kinds)) {
		struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
		if (setitimer(ITIMER_REAL, &it, NULL) < 0)
			die("setitimer");
	}
	struct timespec rel = ts_of_ns(ms * 1000000LL);
	struct timespec abs_rt = realtime_in(ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct epoll_event out;
	char c;
	struct iovec iov = { &c, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	batch();
	long long before = mono_ns();
	int ret = 0;
	errno = 0;
	if (!strcmp(kind, "poll"))
		ret = poll(NULL, 0, (int)ms);
	else if (!strcmp(kind, "ppoll"))
		ret = ppoll(NULL, 0, &rel, NULL);
	else if (!strcmp(kind, "select"))
		ret = select(0, NULL, NULL, NULL, &tv);
	else if (!strcmp(kind, "pselect"))
		ret = pselect(0, NULL, NULL, NULL, &rel, NULL);
	else if (!strcmp(kind, "epoll_wait"))
		ret = epoll_wait(ep, &out, 1, (int)ms);
	else if (!strcmp(kind, "epoll_pwait"))
		ret = epoll_pwait(ep, &out, 1, (int)ms, NULL);
	else if (!strcmp(kind, "epoll_pwait2"))
		ret = epoll_pwait2(ep, &out, 1, &rel, NULL);
	else if (!strcmp(kind, "read"))
		ret = (int)read(pfd[0], &c, 1);
	else if (!strcmp(kind, "readv"))
		ret = (int)readv(pfd[0], &iov, 1);
	else if (!strcmp(kind, "recv"))
		ret = (int)recv(sv[0], &c, 1, 0);
	else if (!strcmp(kind, "recvfrom"))
		ret = (int)recvfrom(sv[0], &c, 1, 0, NULL, NULL);
	else if (!strcmp(kind, "recvmsg"))
		ret = (int)recvmsg(sv[0], &msg, 0);
	else if (!strcmp(kind, "nanosleep"))
		ret = nanosleep(&rel, NULL);
	else if (!strcmp(kind, "clock_nanosleep"))
		ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
	else if (!strcmp(kind, "usleep"))
		ret = usleep((useconds_t)(ms * 1000));
	else if (!strcmp(kind, "sleep"))
		ret = (int)sleep((unsigned)((ms + 999) / 1000));
	else if (!strcmp(kind, "cond_timedwait")) {
		pthread_mutex_lock(&mu);
		while (!woken && (ret = pthread_cond_timedwait(&cv, &mu, &abs_rt)) == 0)
			;
		pthread_mutex_unlock(&mu);
	} else if (!strcmp(kind, "cond_wait")) {
		pthread_mutex_lock(&mu);
		while (!woken)
			ret = pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	} else if (!strcmp(kind, "sem_timedwait")) {
		while ((ret = sem_timedwait(&sem, &abs_rt)) < 0 && errno == EINTR)
			;
	} else if (!strcmp(kind, "sem_wait")) {
		while ((ret = sem_wait(&sem)) < 0 && errno == EINTR)
			;
	} else if (!strcmp(kind, "cond_clockwait")) {
		struct timespec abs_mono = ts_of_ns(helper_deadline);
		pthread_mutex_lock(&mu);
		while (!woken && (ret = pthread_cond_clockwait(&cv, &mu, CLOCK_MONOTONIC, &abs_mono)) == 0)
			;
		pthread_mutex_unlock(&mu);
	} else if (!strcmp(kind, "sem_clockwait")) {
		struct timespec abs_mono = ts_of_ns(helper_deadline);
		while ((ret = sem_clockwait(&sem, CLOCK_MONOTONIC, &abs_mono)) < 0 && errno == EINTR)
			;
	} else if (!strcmp(kind, "waitpid")) {
		int st;
		ret = (int)waitpid(child, &st, 0);
	} else if (!strcmp(kind, "wait")) {
		int st;
		ret = (int)wait(&st);
	} else if (!strcmp(kind, "waitid")) {
		siginfo_t si;
		ret = waitid(P_PID, (id_t)child, &si, WEXITED);
	} else if (!strcmp(kind, "wait4")) {
		int st;
		struct rusage ru;
		ret = (int)wait4(child, &st, 0, &ru);
	} else if (!strcmp(kind, "wait3")) {
		int st;
		struct rusage ru;
		ret = (int)wait3(&st, 0, &ru);
	} else if (!strcmp(kind, "pthread_join")) {
		ret = pthread_join(helper, NULL);
	} else if (!strcmp(kind, "mutex")) {
		ret = pthread_mutex_lock(&mu);
		pthread_mutex_unlock(&mu);
	} else if (!strcmp(kind, "mutex_now")) {
		ret = pthread_mutex_lock(&mu);
		pthread_mutex_unlock(&mu);
		spin_until(before + ms * 1000000LL);
	} else if (!strcmp(kind, "sigwait")) {
		int sig;
		ret = sigwait(&sigs, &sig);
	} else if (!strcmp(kind, "sigwaitinfo")) {
		ret = sigwaitinfo(&sigs, NULL);
	} else if (!strcmp(kind, "sigtimedwait")) {
		ret = sigtimedwait(&sigs, NULL, &rel);
	} else if (!strcmp(kind, "sigsuspend")) {
		sigset_t none;
		sigemptyset(&none);
		ret = sigsuspend(&none);
	} else if (!strcmp(kind, "pause")) {
		ret = pause();
	} else if (is(kind, stdio_kinds)) {
		char line[16], *lp = NULL;
		size_t cap = 0;
		if (!strcmp(kind, "fgets"))
			ret = fgets(line, sizeof line, in) ? 0 : -1;
		else if (!strcmp(kind, "fgetc"))
			ret = fgetc(in);
		else if (!strcmp(kind, "getc"))
			ret = getc(in);
		else if (!strcmp(kind, "getchar"))
			ret = getchar();
		else if (!strcmp(kind, "fread"))
			ret = (int)fread(line, 1, 5, in);
		else if (!strcmp(kind, "getline"))
			ret = (int)getline(&lp, &cap, in);
		else
			ret = (int)getdelim(&lp, &cap, '\n', in);
		free(lp);
	} else if (!strcmp(kind, "accept")) {
		ret = accept(lfd, NULL, NULL);
	} else if (!strcmp(kind, "spin")) {
		spin_until(before + ms * 1000000LL);
	} else if (!strcmp(kind, "sem_now")) {
		ret = sem_wait(&sem);
		spin_until(before + ms * 1000000LL);
	} else {
		fprintf(stderr, "tlswait: unknown --wait %s\n", kind);
		exit(2);
	}
	int e = errno;
	long long after = mono_ns();
	if (have_helper)
		pthread_join(helper, NULL);
	print_summary();
	printf("wait kind=%s ret=%d errno=%d before_ns=%lld after_ns=%lld\n", kind, ret, e, before, after);
	fflush(stdout);
	/* No SSL call: whatever is still held goes out at exit. */
	exit(0);
}

/* ---- --handoff ---- */

enum { TURN_A, TURN_B };
static int turn = TURN_A;
static bool via_cond, b_exits_holding;
static long long exit_ns; /* when the thread holding the last batch began to end */

static void give_turn(int to)
{
	if (via_cond) {
		pthread_mutex_lock(&mu);
		turn = to;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	} else {
		__atomic_store_n(&turn, to, __ATOMIC_RELEASE);
	}
}

static void await_turn(int mine_)
{
	if (via_cond) {
		pthread_mutex_lock(&mu);
		while (turn != mine_)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	} else {
		while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != mine_)
			;
	}
}

static void *thread_a(void *arg)
{
	(void)arg;
	batch();
	/* With cond, A's pthread_cond_wait is a wait point: A's batch leaves there.
	 * With spin, A still holds it when B writes. */
	if (via_cond) {
		pthread_mutex_lock(&mu);
		turn = TURN_B;
		pthread_cond_broadcast(&cv);
		while (turn != TURN_A)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	} else {
		give_turn(TURN_B);
		await_turn(TURN_A);
	}
	if (b_exits_holding)
		return NULL; /* B ends holding both batches: A has nothing more to write */
	batch();
	__atomic_store_n(&exit_ns, mono_ns(), __ATOMIC_RELEASE);
	pthread_exit(NULL);
}

static void *thread_b(void *arg)
{
	(void)arg;
	await_turn(TURN_B);
	batch();
	if (b_exits_holding) {
		give_turn(TURN_A);
		__atomic_store_n(&exit_ns, mono_ns(), __ATOMIC_RELEASE);
		pthread_exit(NULL);
	}
	struct timespec t = { 0, 50 * 1000000L };
	nanosleep(&t, NULL);
	give_turn(TURN_A);
	return NULL;
}

static void handoff_mode(const char *via)
{
	if (strcmp(via, "cond") && strcmp(via, "spin") && strcmp(via, "spin-b-exits")) {
		fprintf(stderr, "tlswait: unknown --handoff %s\n", via);
		exit(2);
	}
	via_cond = !strcmp(via, "cond");
	b_exits_holding = !strcmp(via, "spin-b-exits");
	pthread_t a, b;
	if (pthread_create(&b, NULL, thread_b, NULL) != 0 || pthread_create(&a, NULL, thread_a, NULL) != 0)
		die("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	long long joined = mono_ns();
	spin_until(joined + 1000 * 1000000LL);
	long long spin_end = mono_ns();
	print_summary();
	printf("handoff via=%s exit_ns=%lld joined_ns=%lld spin_end_ns=%lld\n", via,
	       __atomic_load_n(&exit_ns, __ATOMIC_ACQUIRE), joined, spin_end);
	fflush(stdout);
	exit(0);
}

/* ---- --fork ---- */

static int fork_stage; /* 1: the thread holds its batch; 2: the fork is done */

static void *fork_holder(void *arg)
{
	(void)arg;
	batch();
	__atomic_store_n(&fork_stage, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&fork_stage, __ATOMIC_ACQUIRE) != 2)
		;
	batch();
	return NULL;
}

static void fork_mode(const char *who, const char *child_end)
{
	bool self = !strcmp(who, "self");
	if (!self && strcmp(who, "thread")) {
		fprintf(stderr, "tlswait: unknown --fork %s\n", who);
		exit(2);
	}
	pthread_t t;
	if (self) {
		batch();
	} else {
		if (pthread_create(&t, NULL, fork_holder, NULL) != 0)
			die("pthread_create");
		while (__atomic_load_n(&fork_stage, __ATOMIC_ACQUIRE) != 1)
			;
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (!strcmp(child_end, "exit"))
			exit(0);
		_exit(0);
	}
	int st = -1;
	if (waitpid(child, &st, 0) != child)
		die("waitpid");
	if (self) {
		batch();
	} else {
		__atomic_store_n(&fork_stage, 2, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
	}
	print_summary();
	printf("fork child=%ld status=%d\n", (long)child, st);
	fflush(stdout);
	shutdown_tls();
	SSL_free(ssl);
	close(fd);
	exit(0);
}

int main(int argc, char **argv)
{
	const char *wait_kind = NULL, *handoff = NULL, *fork_who = NULL, *child_end = "_exit";
	long ms = 1500;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "tlswait: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--port"))
			opt.port = (int)num_arg(v);
		else if (!strcmp(a, "--tls"))
			opt.tls = v;
		else if (!strcmp(a, "--seed"))
			opt.seed = (uint64_t)num_arg(v);
		else if (!strcmp(a, "--wait"))
			wait_kind = v;
		else if (!strcmp(a, "--ms"))
			ms = num_arg(v);
		else if (!strcmp(a, "--handoff"))
			handoff = v;
		else if (!strcmp(a, "--fork"))
			fork_who = v;
		else if (!strcmp(a, "--child"))
			child_end = v;
		else {
			fprintf(stderr, "tlswait: unknown flag %s\n", a);
			return 2;
		}
	}
	if (!opt.port || !!wait_kind + !!handoff + !!fork_who != 1) {
		fprintf(stderr, "tlswait: --port and one of --wait, --handoff, --fork are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rng = opt.seed;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		fail("sha256", 0);
	connect_tls();
	/* The handshake's bytes acknowledged: the free send space covers the batches,
	 * which socktune requires before it holds anything. */
	settle();
	if (wait_kind)
		wait_mode(wait_kind, ms);
	else if (handoff)
		handoff_mode(handoff);
	else
		fork_mode(fork_who, child_end);
	return 0;
}
