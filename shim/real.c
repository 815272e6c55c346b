/* Binding the real functions, one per CALL and NEXT line of hooks.def.
 * An entry dlsym cannot find (close_range on an older libc than the one
 * socktune was built on, say, when a program finds the hook with dlsym) is
 * pointed at a stand-in that fails with ENOSYS, so a hook never calls
 * through NULL: a missing symbol means the call fails as the libc would
 * have it fail, not a crash. */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct socktune_real libc;

/* The stand-in of the calls a libc may lack.  It is called through the
 * entry's own type, with that call's arguments: on every ABI socktune is
 * built for, the caller removes what it passed, and -1 in the return
 * register is -1 for the int and ssize_t those calls return (bind_all
 * checks that they do). */
static long missing(void)
{
	errno = ENOSYS;
	return -1;
}

#if ST_HAVE_CLOSEFROM
/* closefrom returns nothing and sets no errno: it closes what it can. */
static void missing_closefrom(int lo)
{
	(void)lo;
}
#endif

#if defined(__APPLE__)
/* dyld does not interpose the library's own references: they are the
 * originals, and need no lookup. */
#define BIND(name) (libc.name = name)
#else
#define BIND(name) (*(void **)&libc.name = dlsym(RTLD_NEXT, #name))
#endif

/* Whether missing() can stand in for a call that returns ret: one whose
 * failure is -1 (or that returns nothing). */
#define STANDS_IN(ret) _Generic((ret *)0, int *: 1, long *: 1, void *: 1, default: 0)

static void bind_all(void)
{
#define CALL(name, ret, params, probe, role) ST_IF(probe, BIND(name);)
#define NEXT(name, ret, params, probe) ST_IF(probe, BIND(name);)
#include "hooks.def"

#if ST_HAVE_FCNTL64
	/* fcntl64 is fcntl with a 64-bit off_t, which a 64-bit fcntl has. */
	if (!libc.fcntl64)
		libc.fcntl64 = libc.fcntl;
#endif
#if ST_HAVE_CLOSEFROM
	if (!libc.closefrom)
		libc.closefrom = missing_closefrom;
#endif
#define CALL(name, ret, params, probe, role)                                                       \
	ST_IF(probe, if (!libc.name && STANDS_IN(ret)) *(void **)&libc.name = (void *)missing;)
#define NEXT(name, ret, params, probe) CALL(name, ret, params, probe, )
#include "hooks.def"
}

void real_bind(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, bind_all);
}
