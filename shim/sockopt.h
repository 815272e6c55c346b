/* Setting options on a socket: best-effort setsockopt with read-back, and
 * the clamp warning.  What the socket is comes from fdtable.h. */
#ifndef SOCKTUNE_SOCKOPT_H
#define SOCKTUNE_SOCKOPT_H

#include "fdtable.h"
#include "rule.h"

enum { OPT_SNDBUF = 1u << 0, OPT_RCVBUF = 1u << 1, OPT_NODELAY = 1u << 2 };

/* Applies the options in `which` that o sets, honouring the program's own
 * settings unless o->force; in observe mode it only logs.  Returns the
 * OPT_* bits that were set. */
unsigned sockopt_apply(int fd, const struct fd_state *e, const struct st_opts *o, unsigned which);

/* The clamp warning is once per process; a fork child is a new process. */
void sockopt_reset_warnings(void);

#endif
