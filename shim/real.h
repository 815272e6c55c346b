/* The real functions behind the hooks, in one table, bound once on first
 * use with dlsym(RTLD_NEXT) (on macOS, by reference: see hook.h).  Binding
 * in the constructor breaks gdb and valgrind, so it waits for the first
 * hooked call. */
#ifndef SOCKTUNE_REAL_H
#define SOCKTUNE_REAL_H

#include "probed.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/types.h>
#include <sys/uio.h>
#if ST_HAVE_EPOLL
#include <sys/epoll.h>
#endif

/* ST_IF(c, x...): x where c is 1, nothing where it is 0; c is 1 or one of
 * probed.h's ST_HAVE_* (one it does not define fails to compile). */
#define ST_IF(c, ...) ST_IF_(c, __VA_ARGS__)
#define ST_IF_(c, ...) ST_IF_##c(__VA_ARGS__)
#define ST_IF_0(...)
#define ST_IF_1(...) __VA_ARGS__

/* One entry per CALL and NEXT line of hooks.def that this libc has, named
 * as the call is. */
struct socktune_real {
#define CALL(name, ret, params, probe, role) ST_IF(probe, ret(*name) params;)
#define NEXT(name, ret, params, probe) ST_IF(probe, ret(*name) params;)
#include "hooks.def"
};

/* The table itself: libc.write is the write the hooks call through.  (A
 * hidden variable, not a macro: nothing else named libc is rewritten.) */
extern struct socktune_real libc __attribute__((visibility("hidden")));

/* Binds every entry; safe to call from many threads, binds once. */
void real_bind(void);

/* libc.f, bound first if this is the library's first call of all. */
#define REAL(f) (*(__builtin_expect(libc.f == NULL, 0) ? (real_bind(), libc.f) : libc.f))

#endif
