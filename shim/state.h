/* The process-wide state every hook reads: the mode, the configuration,
 * who we are.  socktune_mode is the one word a hook tests first. */
#ifndef SOCKTUNE_STATE_H
#define SOCKTUNE_STATE_H

#include "config.h"
#include "hook.h"
#include "real.h"

#include <sys/types.h>

/* ST_MODE_OFF, _OBSERVE, _ON, or ST_MODE_UNSTARTED until the first hook has
 * bound the real functions. */
#define ST_MODE_UNSTARTED (-1)
extern int socktune_mode __attribute__((visibility("hidden")));

extern struct st_config socktune_cfg;
extern const char *socktune_prog;
extern pid_t socktune_pid;

/* Binds the real functions and reads the configuration, once; returns the
 * mode. */
int socktune_start(void);

/* The mode, starting the library on the first call.  Zero (off) means the
 * hook is a pass-through.  Off, observing or on, this is one load and one
 * branch, the same way every time once started.  (socktune_mode and libc
 * are declared hidden, so a hook reaches them without the GOT.) */
static inline int st_mode(void)
{
	int m = __atomic_load_n(&socktune_mode, __ATOMIC_ACQUIRE);
	if (unlikely(m == ST_MODE_UNSTARTED))
		return socktune_start();
	return m;
}

#endif
