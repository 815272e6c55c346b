/* The hold bound: no held TLS byte and no corked tail is older than
 * hold_max, whatever the holding thread does.  Wait points send holds
 * long before that; the bound is for a thread that blocks where no hook
 * sees it (a futex, a system call socktune does not hook) or computes for
 * long.  bound.c owns the thread that enforces it and knows nothing of
 * holds: each round it runs the function it was started with, the
 * registry's (hold_late in hold.c), which asks each kind of hold to send
 * what is late. */
#ifndef SOCKTUNE_BOUND_H
#define SOCKTUNE_BOUND_H

#include "hook.h"

#include <stdint.h>

/* 1 once the bound's thread runs, -1 when it cannot (then nothing is held
 * in this process), 2 while it starts, 0 before the first hold. */
extern int socktune_bound_state;
/* The process is leaving (bound_pause): nothing more is held. */
extern int socktune_bound_paused;

/* Whether a hold may begin: the bound's thread runs, or has just been
 * started, or another thread is starting it (waiting for that could
 * deadlock a signal handler; should the start fail, what was held meanwhile
 * still goes at the wait points), and the process is not leaving.  The
 * thread, once started, runs round(now) in a loop, sleeping until the time
 * it returns (0: until a hold begins, bound_arm). */
int bound_start(uint64_t (*round)(uint64_t now));
static inline int bound_ready(uint64_t (*round)(uint64_t now))
{
	int s = __atomic_load_n(&socktune_bound_state, __ATOMIC_RELAXED);
	if (likely(s >= 1))
		return !__atomic_load_n(&socktune_bound_paused, __ATOMIC_RELAXED);
	return s == 0 ? bound_start(round) : 0;
}

/* The monotonic clock, in nanoseconds; never 0. */
uint64_t bound_now(void);

/* A hold began (its time is stored, with __ATOMIC_SEQ_CST): wakes the
 * bound's thread if it sleeps with nothing to watch.  No system call
 * otherwise. */
void bound_arm(void);

/* hold_max, in nanoseconds. */
uint64_t bound_max(void);

/* Leaving (exit, _exit, exec): the bound's thread finishes the send it is
 * in and starts no other, so the leaving thread sends the rest in order,
 * and nothing more is held (an atexit handler that runs after socktune's
 * own would hold bytes that nobody sends).  bound_resume after an exec
 * that failed. */
void bound_pause(void);
void bound_resume(void);

/* fork: the child has no bound thread; it starts one if it holds. */
void bound_fork_child(void);

#endif
