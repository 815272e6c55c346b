/* Corking: holding a thread's small writes in the kernel until it waits.
 * cork.c owns it; write.c sends through it and wait.c pushes. */
#ifndef SOCKTUNE_CORK_H
#define SOCKTUNE_CORK_H

#include "fdtable.h"
#include "hook.h"

#include <stddef.h>
#include <sys/socket.h>

/* Non-zero when this thread has sent with MSG_MORE and not pushed since. */
extern ST_THREAD_LOCAL int socktune_cork_pending;

/* The flag a write on e gets: MSG_MORE when the socket is auto-corked and
 * the program does not cork it itself, else 0.  Notes fd as held. */
int cork_flags(int fd, struct fd_state *e);

/* The program passed MSG_MORE itself: from now on it corks fd, not us. */
void cork_yield(struct fd_state *e);

/* Pushes every socket this thread holds corked: it is about to wait. */
void cork_push_thread(void);

/* Pushes fd if this thread holds it: it is being closed or shut down, and
 * another descriptor may still name the same connection.  No system call
 * when it holds nothing there. */
void cork_push_fd(int fd);

/* fork: the parent pushes before (prepare), the child holds nothing. */
void cork_fork_prepare(void);
void cork_fork_child(void);

/* cork = on: corks fd for good, right after its policy was decided. */
void cork_for_life(int fd, struct fd_state *e);

#endif
