/* Corking.  With cork = auto every write on a TCP socket goes to the kernel
 * with MSG_MORE, which holds a partial segment; before the writing thread
 * waits, one setsockopt(TCP_CORK, 0) per socket pushes what is held.  So a
 * burst of small writes leaves as full segments, and no request waits for
 * its answer behind a held segment.  A thread that never waits falls back
 * on the kernel's own limit, about 200 ms.
 *
 * Linux only: FreeBSD's TCP_NOPUSH has no timer, so there only cork = on
 * applies; on macOS corking is off (TCP_NOPUSH is broken there). */
#include "cork.h"

#include "bound.h"
#include "hold.h"
#include "log.h"
#include "state.h"
#include "stats.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>

#define HELD_MAX 16

static ST_THREAD_LOCAL int held[HELD_MAX];
static ST_THREAD_LOCAL int nheld;

/* One past the highest descriptor ever corked: how far the bound looks. */
static int corked_limit;

static void push(int fd)
{
#ifdef TCP_CORK
	/* Only a socket still auto-corked by us: the number may name another
	 * socket by now, one whose program corks it itself. */
	struct fd_state *e = fd_state_get(fd);
	if (!e)
		return;
	/* Cleared first: a write after it starts the clock again. */
	__atomic_store_n(&e->cork_since, 0, __ATOMIC_SEQ_CST);
	if (e->cork != ST_CORK_AUTO || (e->flags & FD_USER_CORK))
		return;
	int off = 0;
	if (libc.setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)) == 0)
		stat_inc(cork_pushes);
#else
	(void)fd;
#endif
}

static void cork_push_fd(int fd)
{
	for (int i = 0; i < nheld; i++) {
		if (held[i] != fd)
			continue;
		held[i] = held[--nheld];
		HOLDING(cork) = nheld != 0;
		int saved = errno;
		push(fd);
		errno = saved;
		return;
	}
}

static void cork_fork_child(void)
{
	nheld = 0;
	HOLDING(cork) = 0;
}

static void cork_push_thread(void)
{
	if (!nheld)
		return;
	int saved = errno;
	/* Cleared first: a signal handler that writes while this runs notes
	 * its socket anew, and at worst it waits for the kernel's timer. */
	int n = nheld;
	nheld = 0;
	HOLDING(cork) = 0;
	for (int i = 0; i < n; i++)
		push(held[i]);
	errno = saved;
}

/* The socket's tail is held from now: the bound pushes it at hold_max,
 * whatever happens to this thread's list. */
static void note_since(int fd, struct fd_state *e)
{
	uint64_t none = 0;
	if (__atomic_load_n(&e->cork_since, __ATOMIC_RELAXED) ||
	    !__atomic_compare_exchange_n(&e->cork_since, &none, bound_now(), 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return;
	int limit = __atomic_load_n(&corked_limit, __ATOMIC_RELAXED);
	while (fd >= limit && !__atomic_compare_exchange_n(&corked_limit, &limit, fd + 1, 1,
							   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	bound_arm();
}

/* The bound: a socket whose tail has waited hold_max is pushed from the
 * bound's thread.  setsockopt(TCP_CORK, 0) on another thread's socket is
 * the kernel's to order with that thread's sends, and a push of a socket
 * that holds nothing does nothing. */
static uint64_t cork_push_late(uint64_t now)
{
	int limit = __atomic_load_n(&corked_limit, __ATOMIC_RELAXED);
	uint64_t max = bound_max(), next = 0;
	int saved = errno;
	for (int fd = 0; fd < limit; fd++) {
		struct fd_state *e = fd_state_get(fd);
		uint64_t since = e ? __atomic_load_n(&e->cork_since, __ATOMIC_RELAXED) : 0;
		if (!since)
			continue;
		if (since + max <= now) {
			push(fd);
			stat_inc(cork_late);
		} else if (!next || since + max < next) {
			next = since + max;
		}
	}
	errno = saved;
	return next;
}

int cork_flags(int fd, struct fd_state *e)
{
#ifdef MSG_MORE
	if (e->cork != ST_CORK_AUTO || (e->flags & FD_USER_CORK) || !hold_ready())
		return 0;
	stat_inc(cork_held);
	note_since(fd, e);
	for (int i = 0; i < nheld; i++)
		if (held[i] == fd)
			return MSG_MORE;
	if (nheld == HELD_MAX)
		cork_push_thread();
	/* exit(3) closes the process's sockets, and the FIN pushes; but a
	 * socket that another process shares stays open, with what MSG_MORE
	 * held: the registry pushes it at exit too. */
	if (nheld == 0)
		hold_begins(HOLD_cork);
	held[nheld++] = fd;
	HOLDING(cork) = 1;
	return MSG_MORE;
#else
	(void)fd, (void)e;
	return 0;
#endif
}

void cork_yield(struct fd_state *e)
{
	uint32_t was = __atomic_fetch_or(&e->flags, FD_USER_CORK, __ATOMIC_RELAXED);
	if (e->cork && !(was & FD_USER_CORK)) {
		stat_inc(cork_yielded);
		log_debug("the program corks a socket itself: socktune leaves it alone");
	}
}

void cork_for_life(int fd, struct fd_state *e)
{
#if defined(TCP_CORK)
	int on = 1, name = TCP_CORK;
#elif defined(TCP_NOPUSH) && !defined(__APPLE__)
	int on = 1, name = TCP_NOPUSH;
#else
	int on = 0, name = 0;
#endif
	if (!on || e->cork != ST_CORK_ON || (e->flags & FD_USER_CORK))
		return;
	if (libc.setsockopt(fd, IPPROTO_TCP, name, &on, sizeof(on)) == 0)
		stat_inc(cork_corked);
	else
		stat_inc(failures);
}

static void cork_wait(int why)
{
	(void)why;
	cork_push_thread();
}

/* The bound pushes another thread's sockets by their clocks; a thread's
 * list is its own, and a vfork child's pushes are the kernel's to order
 * with its parent's, so it pushes too. */
const struct hold_kind hold_kind_cork = {
	.thread = cork_wait,
	.fd = cork_push_fd,
	.all = cork_wait,
	.fork_prepare = cork_push_thread,
	.fork_child = cork_fork_child,
	.late = cork_push_late,
};
