/* Knowing what a descriptor is, and setting options on it: validation of
 * per-fd state against the kernel, best-effort setsockopt with read-back,
 * and the clamp warning. */
#ifndef SOCKTUNE_SOCKOPT_H
#define SOCKTUNE_SOCKOPT_H

#include "fdtable.h"
#include "rule.h"

/* Records a socket the program just made, as socket()/socketpair() said. */
void sock_note_created(int fd, int domain, int type);

/* The state of fd, trusted: refreshed from the kernel when socktune did not
 * see it created or the descriptor now names another socket.  NULL when fd
 * is not a socket (or is past the table). */
struct fd_state *sock_validate(int fd);

/* Whether the entry still names the socket with this inode; an entry made
 * from socket() learns its inode on first check. */
int fd_state_is(struct fd_state *e, uint64_t ino);

/* ST_FAM_* / ST_TYPE_* from the kernel's numbers (0 when not ours). */
unsigned fam_bit(int domain);
unsigned type_bit(int type);

enum { OPT_SNDBUF = 1u << 0, OPT_RCVBUF = 1u << 1, OPT_NODELAY = 1u << 2 };

/* Applies the options in `which` that o sets, honouring the program's own
 * settings unless o->force; in observe mode it only logs.  Returns the
 * OPT_* bits that were set. */
unsigned sockopt_apply(int fd, const struct fd_state *e, const struct st_opts *o, unsigned which);

/* The clamp warning is once per process; a fork child is a new process. */
void sockopt_reset_warnings(void);

#endif
