/* Binding the real functions.  An entry dlsym cannot find (close_range on an
 * old libc, say) is pointed at a stand-in that fails with ENOSYS, so a hook
 * never calls through NULL: a missing symbol means pass-through. */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct socktune_real libc;

#if ST_HAVE_CLOSE_RANGE
static int missing_close_range(unsigned lo, unsigned hi, int flags)
{
	(void)lo, (void)hi, (void)flags;
	errno = ENOSYS;
	return -1;
}
#endif

#if ST_HAVE_CLOSEFROM
static void missing_closefrom(int lo)
{
	(void)lo;
}
#endif

#if ST_HAVE_FCNTL64
static int missing_fcntl64(int fd, int cmd, ...)
{
	(void)fd, (void)cmd;
	errno = ENOSYS;
	return -1;
}
#endif

#if defined(__APPLE__)
/* dyld does not interpose the library's own references: they are the
 * originals, and need no lookup. */
#define BIND_AS(field, f) (libc.field = f)
#else
#define BIND_AS(field, f) (*(void **)&libc.field = dlsym(RTLD_NEXT, #f))
#endif
#define BIND(f) BIND_AS(f, f)

static void bind_all(void)
{
	BIND(connect);
	BIND(accept);
#if ST_HAVE_ACCEPT4
	BIND(accept4);
#endif
	BIND(listen);
	BIND(socket);
	BIND(socketpair);
	BIND(setsockopt);
	BIND(getsockopt);
	BIND(close);
	BIND(dup);
	BIND(dup2);
#if ST_HAVE_DUP3
	BIND(dup3);
#endif
	BIND(fcntl);
#if ST_HAVE_FCNTL64
	BIND(fcntl64);
	if (!libc.fcntl64)
		libc.fcntl64 = libc.fcntl ? libc.fcntl : missing_fcntl64;
#endif
#if ST_HAVE_CLOSE_RANGE
	BIND(close_range);
	if (!libc.close_range)
		libc.close_range = missing_close_range;
#endif
#if ST_HAVE_CLOSEFROM
	BIND(closefrom);
	if (!libc.closefrom)
		libc.closefrom = missing_closefrom;
#endif
	BIND(write);
	BIND(send);
	BIND(writev);
	BIND(sendmsg);
	BIND(shutdown);
	BIND(poll);
#if ST_HAVE_PPOLL
	BIND(ppoll);
#endif
	BIND(select);
	BIND(pselect);
#if ST_HAVE_EPOLL
	BIND(epoll_wait);
	BIND(epoll_pwait);
#endif
#if ST_HAVE_EPOLL_PWAIT2
	BIND(epoll_pwait2);
#endif
	BIND(read);
	BIND(recv);
	BIND(recvfrom);
	BIND(recvmsg);
	BIND(readv);
#if ST_HAVE___READ_CHK
	BIND_AS(read_chk, __read_chk);
#endif
#if ST_HAVE___RECV_CHK
	BIND_AS(recv_chk, __recv_chk);
#endif
#if ST_HAVE___RECVFROM_CHK
	BIND_AS(recvfrom_chk, __recvfrom_chk);
#endif
#if ST_HAVE___POLL_CHK
	BIND_AS(poll_chk, __poll_chk);
#endif
#if ST_HAVE___PPOLL_CHK
	BIND_AS(ppoll_chk, __ppoll_chk);
#endif
	BIND(nanosleep);
#if ST_HAVE_CLOCK_NANOSLEEP
	BIND(clock_nanosleep);
#endif
	BIND(usleep);
	BIND(sleep);
	BIND(pthread_cond_wait);
	BIND(pthread_cond_timedwait);
	BIND(sem_wait);
#if ST_HAVE_SEM_TIMEDWAIT
	BIND(sem_timedwait);
#endif
#if ST_HAVE_PTHREAD_COND_CLOCKWAIT
	BIND(pthread_cond_clockwait);
#endif
#if ST_HAVE_SEM_CLOCKWAIT
	BIND(sem_clockwait);
#endif
	BIND(waitpid);
	BIND(wait);
	BIND(waitid);
	BIND(pthread_join);
	BIND(pthread_mutex_lock);
	BIND(pthread_mutex_trylock);
	BIND(sem_trywait);
	BIND(sigwait);
#if ST_HAVE_SIGWAITINFO
	BIND(sigwaitinfo);
	BIND(sigtimedwait);
#endif
	BIND(sigsuspend);
	BIND(pause);
	BIND(fgets);
	BIND(fgetc);
	BIND(getc);
	BIND(getchar);
	BIND(fread);
	BIND(getline);
	BIND(getdelim);
#if ST_HAVE___GETDELIM
	BIND_AS(getdelim_, __getdelim);
#endif
	BIND(execve);
	BIND(execv);
	BIND(execvp);
#if ST_HAVE_EXECVPE
	BIND(execvpe);
#endif
#if ST_HAVE_FEXECVE
	BIND(fexecve);
#endif
	BIND(_exit);
	BIND(_Exit);
}

void real_bind(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, bind_all);
}
