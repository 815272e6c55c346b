/* Corking: holding a thread's small writes in the kernel until it waits.
 * cork.c owns it; write.c sends through it, and the registry of holds
 * (hold.h) pushes. */
#ifndef SOCKTUNE_CORK_H
#define SOCKTUNE_CORK_H

#include "fdtable.h"
#include "hook.h"

#include <stddef.h>
#include <sys/socket.h>

/* The flag a write on e gets: MSG_MORE when the socket is auto-corked and
 * the program does not cork it itself, else 0.  Notes fd as held. */
int cork_flags(int fd, struct fd_state *e);

/* The program passed MSG_MORE itself: from now on it corks fd, not us. */
void cork_yield(struct fd_state *e);

/* cork = on: corks fd for good, right after its policy was decided. */
void cork_for_life(int fd, struct fd_state *e);

#endif
