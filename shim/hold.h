/* Held bytes.  A hold is what socktune has told the program is written and
 * has not yet handed to the network: TLS bytes kept for the next record
 * (tlshold.c), or a tail the kernel keeps because socktune sent it with
 * MSG_MORE (cork.c).  Those are two kinds of one thing, and the rest of the
 * library deals with holds only through this registry: a thread that waits,
 * a descriptor that closes, a thread that ends, fork, exit and exec, and
 * the bound.  The kinds go in one fixed order, TLS first: a TLS flush
 * writes records, which corking holds, and the push then sends those too.
 *
 * Adding a kind is one line in HOLD_KINDS and a file that defines its
 * struct hold_kind. */
#ifndef SOCKTUNE_HOLD_H
#define SOCKTUNE_HOLD_H

#include "bound.h"
#include "hook.h"

#include <stdint.h>

/* The kinds, in the order they are sent. */
#define HOLD_KINDS(X) X(tls) X(cork)

#define HOLD_ENUM(k) HOLD_##k,
enum { HOLD_KINDS(HOLD_ENUM) HOLD_NKINDS };
#undef HOLD_ENUM

/* Why holds are sent, for the figures and for the kinds that send only
 * some of the time. */
enum {
	FLUSH_CALL,  /* a call on the same SSL */
	FLUSH_WRITE, /* a write that does not fit with what is held */
	FLUSH_WAIT,  /* the thread waits */
	FLUSH_LOCK,  /* the thread waits for a contended mutex, maybe inside an SSL call */
	FLUSH_CLOSE, /* the descriptor closes, shuts down or is uncorked */
	FLUSH_FORK,
	FLUSH_EXEC,
	FLUSH_EXIT,  /* exit, _exit, or the thread ends */
	FLUSH_VFORK, /* a vfork child leaves: only what is its own to send */
	FLUSH_LATE,  /* the bound */
};

struct hold_kind {
	/* Sends what this thread holds: it waits or ends (why). */
	void (*thread)(int why);
	/* Sends what any thread holds for fd. */
	void (*fd)(int fd);
	/* Sends everything held in the process: it exits or execs. */
	void (*all)(int why);
	/* This thread has ended: nothing of the kind names it any more. */
	void (*thread_ends)(void);
	void (*fork_prepare)(void);
	/* The child holds nothing. */
	void (*fork_child)(void);
	/* The bound: sends what is older than hold_max at now; returns when
	 * the kind's next hold falls due, 0 when it holds nothing. */
	uint64_t (*late)(uint64_t now);
};

#define HOLD_DECLARE(k) extern const struct hold_kind hold_kind_##k;
HOLD_KINDS(HOLD_DECLARE)
#undef HOLD_DECLARE

/* What this thread holds that a wait point must send, a byte per kind,
 * tested as one word.  Each kind sets its own byte (HOLDING(tls) = 1):
 * a single store, so a signal handler that holds cannot undo another
 * kind's. */
union hold_pending {
	uint8_t kind[4];
	uint32_t any;
};
_Static_assert(HOLD_NKINDS <= 4, "one byte of union hold_pending per kind");
extern ST_THREAD_LOCAL union hold_pending socktune_holding;
#define HOLDING(k) (socktune_holding.kind[HOLD_##k])

/* Holds any thread may send for another (a TLS hold: whichever thread
 * closes the socket sends it), in the whole process. */
extern int socktune_holds_shared;

/* The calling thread begins to hold bytes of this kind (HOLD_tls...):
 * when it ends, what it holds is sent, since it will never wait again;
 * and so is everything at exit, before what the kind's library tears down
 * (atexit handlers run last registered first). */
void hold_begins(int kind);

/* A wait point: sends what this thread holds.  A thread that holds
 * nothing pays one thread-local test. */
void hold_wait(int why);
#define WAIT()                                                                                     \
	do {                                                                                       \
		if (unlikely(socktune_holding.any))                                                \
			hold_wait(FLUSH_WAIT);                                                     \
	} while (0)

/* fd closes, shuts down or has its corking changed: what any thread holds
 * for it goes first.  No call when nothing is held. */
void hold_fd_send(int fd);
static inline void hold_fd(int fd)
{
	if (unlikely(socktune_holding.any || __atomic_load_n(&socktune_holds_shared, __ATOMIC_RELAXED)))
		hold_fd_send(fd);
}

/* Leaving the process image (exit, _exit, exec: why): everything held
 * goes out, and nothing more is held.  hold_stay after an exec that
 * failed. */
void hold_leave(int why);
void hold_stay(void);

void hold_fork_prepare(void);
void hold_fork_child(void);

/* The bound's round: sends what is late; returns when the next hold falls
 * due, 0 when nothing is held. */
uint64_t hold_late(uint64_t now);

/* Whether a hold may begin now: the bound's thread, which runs hold_late,
 * runs or is starting (bound.h). */
static inline int hold_ready(void)
{
	return bound_ready(hold_late);
}

#endif
