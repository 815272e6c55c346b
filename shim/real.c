/* Binding the real functions.  An entry dlsym cannot find (close_range on an
 * old libc, say) is pointed at a stand-in that fails with ENOSYS, so a hook
 * never calls through NULL: a missing symbol means pass-through. */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

struct socktune_real socktune_real;

static int missing_close_range(unsigned lo, unsigned hi, int flags)
{
	(void)lo, (void)hi, (void)flags;
	errno = ENOSYS;
	return -1;
}

static void missing_closefrom(int lo)
{
	(void)lo;
}

static int missing_fcntl64(int fd, int cmd, ...)
{
	(void)fd, (void)cmd;
	errno = ENOSYS;
	return -1;
}

static void *bind_one(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

#define BIND(f) (*(void **)&real.f = bind_one(#f))

static void bind_all(void)
{
	BIND(connect);
	BIND(accept);
	BIND(accept4);
	BIND(listen);
	BIND(socket);
	BIND(socketpair);
	BIND(setsockopt);
	BIND(getsockopt);
	BIND(close);
	BIND(dup);
	BIND(dup2);
	BIND(dup3);
	BIND(fcntl);
	BIND(fcntl64);
	BIND(close_range);
	BIND(closefrom);
	BIND(write);
	BIND(send);
	BIND(writev);
	BIND(sendmsg);
	BIND(shutdown);
	BIND(poll);
	BIND(ppoll);
	BIND(select);
	BIND(pselect);
	BIND(epoll_wait);
	BIND(epoll_pwait);
	BIND(epoll_pwait2);
	BIND(read);
	BIND(recv);
	BIND(recvfrom);
	BIND(recvmsg);
	BIND(readv);
	*(void **)&real.read_chk = bind_one("__read_chk");
	*(void **)&real.recv_chk = bind_one("__recv_chk");
	*(void **)&real.recvfrom_chk = bind_one("__recvfrom_chk");
	*(void **)&real.poll_chk = bind_one("__poll_chk");
	*(void **)&real.ppoll_chk = bind_one("__ppoll_chk");
	BIND(nanosleep);
	BIND(clock_nanosleep);
	BIND(usleep);
	BIND(sleep);
	BIND(pthread_cond_wait);
	BIND(pthread_cond_timedwait);
	BIND(sem_wait);
	BIND(sem_timedwait);
	BIND(execve);
	BIND(execv);
	BIND(execvp);
	BIND(execvpe);
	BIND(fexecve);
	BIND(_exit);
	BIND(_Exit);
	if (!real.close_range)
		real.close_range = missing_close_range;
	if (!real.closefrom)
		real.closefrom = missing_closefrom;
	if (!real.fcntl64)
		real.fcntl64 = real.fcntl ? real.fcntl : missing_fcntl64;
}

void real_bind(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, bind_all);
}
