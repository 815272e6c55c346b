/* The registry of held bytes: what the rest of the library calls, passed
 * on to each kind in HOLD_KINDS' order (hold.h). */
#include "hold.h"

#include "bound.h"
#include "state.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define HOLD_ENTRY(k) &hold_kind_##k,
static const struct hold_kind *const kinds[] = {HOLD_KINDS(HOLD_ENTRY)};
#undef HOLD_ENTRY

ST_THREAD_LOCAL union hold_pending socktune_holding;
int socktune_holds_shared;

static pthread_key_t thread_key;

/* A thread that ends will not wait again: its holds go out, as at a wait
 * point, and then it is forgotten. */
static void thread_ends(void *unused)
{
	(void)unused;
	for (int k = 0; k < HOLD_NKINDS; k++) {
		kinds[k]->thread(FLUSH_EXIT);
		if (kinds[k]->thread_ends)
			kinds[k]->thread_ends();
	}
}

static void make_thread_key(void)
{
	pthread_key_create(&thread_key, thread_ends);
}

static void at_exit(void)
{
	hold_leave(FLUSH_EXIT);
}

void hold_begins(int kind)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static int registered[HOLD_NKINDS];
	pthread_once(&once, make_thread_key);
	/* Any non-NULL value: the destructor runs only for those. */
	pthread_setspecific(thread_key, &thread_key);
	/* Registered at each kind's first hold, after what that kind's
	 * library registered for its own exit (libssl's cleanup), so that
	 * the holds go out before it.  Sending twice sends nothing more. */
	if (!__atomic_exchange_n(&registered[kind], 1, __ATOMIC_ACQ_REL))
		atexit(at_exit);
}

void hold_wait(int why)
{
	for (int k = 0; k < HOLD_NKINDS; k++)
		if (socktune_holding.kind[k])
			kinds[k]->thread(why);
}

void hold_fd_send(int fd)
{
	for (int k = 0; k < HOLD_NKINDS; k++)
		kinds[k]->fd(fd);
}

/* Not from a vfork child, which shares the parent's memory and would send
 * the parent's bytes from under it: the parent sends them.  What such a
 * child may send, the kinds say (FLUSH_VFORK). */
void hold_leave(int why)
{
	int child = getpid() != socktune_pid;
	if (!child)
		bound_pause();
	for (int k = 0; k < HOLD_NKINDS; k++)
		kinds[k]->all(child ? FLUSH_VFORK : why);
}

void hold_stay(void)
{
	if (getpid() == socktune_pid)
		bound_resume();
}

void hold_fork_prepare(void)
{
	for (int k = 0; k < HOLD_NKINDS; k++)
		kinds[k]->fork_prepare();
}

void hold_fork_child(void)
{
	for (int k = 0; k < HOLD_NKINDS; k++)
		kinds[k]->fork_child();
	bound_fork_child();
}

uint64_t hold_late(uint64_t now)
{
	uint64_t next = 0;
	for (int k = 0; k < HOLD_NKINDS; k++) {
		uint64_t due = kinds[k]->late(now);
		if (due && (!next || due < next))
			next = due;
	}
	/* What the sends above left held in this thread: corked, through
	 * the write hook. */
	hold_wait(FLUSH_LATE);
	return next;
}
