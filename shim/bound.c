/* The hold bound's thread.  Started at the first hold (a process that never
 * holds a byte has none), with every signal blocked, so signals stay with
 * the program's threads.  It sleeps until the oldest hold falls due, sends
 * what is late, and sleeps again; with nothing held, it waits on a futex
 * that the next hold wakes, so a thread that holds pays a system call only
 * when it holds first after an idle spell.
 *
 * Each round is the registry's (hold_late, hold.c), which asks each kind of
 * hold: what it may touch, and when, is tlshold.c's rule (tls_send_late)
 * and cork.c's (cork_push_late).  Where the thread cannot start (seccomp, RLIMIT_NPROC,
 * no memory), the process holds nothing: every write passes through.
 *
 * Linux only, like the holding itself (futexes; elsewhere nothing is held). */
#include "bound.h"

#include "log.h"
#include "state.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int socktune_bound_state;
int socktune_bound_paused;

uint64_t bound_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec + 1;
}

uint64_t bound_max(void)
{
	return (uint64_t)socktune_cfg.hold_max * 1000000u;
}

#if defined(__linux__)
/* The bound's thread has nothing to watch and sleeps on this word. */
static int idle;
/* The thread is in a send (tlshold.c, cork.c). */
static int sending;

static void futex_wait(int *word, int value)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void bound_arm(void)
{
	/* The hold's time was stored (seq_cst) before idle is read here
	 * (seq_cst); the thread stores idle before it looks at the holds once
	 * more (bound_main).  So one of the two sees the other. */
	if (unlikely(__atomic_load_n(&idle, __ATOMIC_SEQ_CST)) &&
	    __atomic_exchange_n(&idle, 0, __ATOMIC_SEQ_CST)) {
		int saved = errno;
		futex_wake(&idle);
		errno = saved;
	}
}

/* One look at every hold: sends the late ones; returns when the next one
 * falls due, or 0. */
static uint64_t (*round_fn)(uint64_t now);

static uint64_t one_round(void)
{
	uint64_t next = 0;
	__atomic_store_n(&sending, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&socktune_bound_paused, __ATOMIC_SEQ_CST)) {
		uint64_t now = bound_now();
		next = round_fn(now);
	}
	__atomic_store_n(&sending, 0, __ATOMIC_SEQ_CST);
	return next;
}

static void *bound_main(void *unused)
{
	(void)unused;
	for (;;) {
		uint64_t next = one_round();
		if (next) {
			__atomic_store_n(&idle, 0, __ATOMIC_RELAXED);
			struct timespec t = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
			/* The system call itself: no hook, and no need of the
			 * libc function, which a portable build may lack. */
			while (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0 &&
			       errno == EINTR)
				;
		} else if (!__atomic_load_n(&idle, __ATOMIC_RELAXED)) {
			/* Said idle before the last look, so no hold is missed. */
			__atomic_store_n(&idle, 1, __ATOMIC_SEQ_CST);
		} else {
			futex_wait(&idle, 1);
		}
	}
	return NULL;
}

/* 2 while one thread starts it; the others may hold meanwhile (bound_ready),
 * and should the start fail, what they held goes at their wait points. */
int bound_start(uint64_t (*round)(uint64_t now))
{
	int expected = 0;
	if (__atomic_load_n(&socktune_bound_paused, __ATOMIC_RELAXED) ||
	    !__atomic_compare_exchange_n(&socktune_bound_state, &expected, 2, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return expected >= 1;
	round_fn = round;
	int saved = errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_t a;
	pthread_t t;
	int ok = pthread_attr_init(&a) == 0;
	if (ok) {
		/* The default stack: a smaller one cannot start in a program
		 * with much static TLS, which glibc puts on every thread's stack;
		 * only the pages used cost memory. */
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ok = pthread_create(&t, &a, bound_main, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&a);
	}
	if (ok)
		pthread_setname_np(t, "socktune-bound");
	else
		log_info("the hold bound's thread cannot start: nothing is held in this process");
	__atomic_store_n(&socktune_bound_state, ok ? 1 : -1, __ATOMIC_RELEASE);
	errno = saved;
	return ok;
}

void bound_pause(void)
{
	__atomic_store_n(&socktune_bound_paused, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&socktune_bound_state, __ATOMIC_ACQUIRE) != 1)
		return;
	while (__atomic_load_n(&sending, __ATOMIC_SEQ_CST))
		sched_yield();
}

void bound_resume(void)
{
	__atomic_store_n(&socktune_bound_paused, 0, __ATOMIC_SEQ_CST);
	bound_arm();
}

void bound_fork_child(void)
{
	/* Only the forking thread lives on; holds were sent before the fork. */
	socktune_bound_state = 0;
	idle = 0;
	sending = 0;
	socktune_bound_paused = 0;
}
#else
int bound_start(uint64_t (*round)(uint64_t now))
{
	(void)round;
	__atomic_store_n(&socktune_bound_state, -1, __ATOMIC_RELEASE);
	return 0;
}

void bound_arm(void)
{
}

void bound_pause(void)
{
	__atomic_store_n(&socktune_bound_paused, 1, __ATOMIC_SEQ_CST);
}

void bound_resume(void)
{
	__atomic_store_n(&socktune_bound_paused, 0, __ATOMIC_SEQ_CST);
}

void bound_fork_child(void)
{
}
#endif
