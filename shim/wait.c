/* The wait points: calls where the thread may block, and the calls that
 * leave (exec, _exit).  Before a thread waits, what it holds goes out, so a
 * held byte is not older than the thread's last stretch of work, wherever a
 * hook sees the thread wait; the hold bound (bound.c) covers the rest.  A
 * thread that holds nothing pays one thread-local test; so does every
 * thread while socktune is off, since nothing is ever held.
 *
 * The _FORTIFY_SOURCE variants (__read_chk and friends) are wait points too:
 * a fortified program calls them instead of read(). */
#include "fdtable.h"
#include "hold.h"
#include "live.h"
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

SOCKTUNE_HOOK int HOOK(poll)(struct pollfd *fds, nfds_t n, int timeout)
{
	WAIT();
	return REAL(poll)(fds, n, timeout);
}
INTERPOSE(poll);

#if ST_HAVE_PPOLL
SOCKTUNE_HOOK int HOOK(ppoll)(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	WAIT();
	return REAL(ppoll)(fds, n, t, m);
}
INTERPOSE(ppoll);
#endif

SOCKTUNE_HOOK int HOOK(select)(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	WAIT();
	return REAL(select)(n, r, w, e, t);
}
INTERPOSE(select);

SOCKTUNE_HOOK int HOOK(pselect)(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
			  const sigset_t *m)
{
	WAIT();
	return REAL(pselect)(n, r, w, e, t, m);
}
INTERPOSE(pselect);

#if ST_HAVE_EPOLL
SOCKTUNE_HOOK int HOOK(epoll_wait)(int ep, struct epoll_event *ev, int n, int timeout)
{
	WAIT();
	return REAL(epoll_wait)(ep, ev, n, timeout);
}
INTERPOSE(epoll_wait);

SOCKTUNE_HOOK int HOOK(epoll_pwait)(int ep, struct epoll_event *ev, int n, int timeout,
			      const sigset_t *m)
{
	WAIT();
	return REAL(epoll_pwait)(ep, ev, n, timeout, m);
}
INTERPOSE(epoll_pwait);
#endif

#if ST_HAVE_EPOLL_PWAIT2
SOCKTUNE_HOOK int HOOK(epoll_pwait2)(int ep, struct epoll_event *ev, int n, const struct timespec *t,
			       const sigset_t *m)
{
	WAIT();
	return REAL(epoll_pwait2)(ep, ev, n, t, m);
}
INTERPOSE(epoll_pwait2);
#endif

SOCKTUNE_HOOK ssize_t HOOK(read)(int fd, void *buf, size_t len)
{
	WAIT();
	return REAL(read)(fd, buf, len);
}
INTERPOSE(read);

SOCKTUNE_HOOK ssize_t HOOK(recv)(int fd, void *buf, size_t len, int flags)
{
	WAIT();
	return REAL(recv)(fd, buf, len, flags);
}
INTERPOSE(recv);

SOCKTUNE_HOOK ssize_t HOOK(recvfrom)(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			       socklen_t *alen)
{
	WAIT();
	return REAL(recvfrom)(fd, buf, len, flags, a, alen);
}
INTERPOSE(recvfrom);

SOCKTUNE_HOOK ssize_t HOOK(recvmsg)(int fd, struct msghdr *msg, int flags)
{
	WAIT();
	return REAL(recvmsg)(fd, msg, flags);
}
INTERPOSE(recvmsg);

SOCKTUNE_HOOK ssize_t HOOK(readv)(int fd, const struct iovec *iov, int n)
{
	WAIT();
	return REAL(readv)(fd, iov, n);
}
INTERPOSE(readv);

#if ST_HAVE___READ_CHK
SOCKTUNE_HOOK ssize_t HOOK(__read_chk)(int fd, void *buf, size_t len, size_t buflen)
{
	WAIT();
	return REAL(__read_chk)(fd, buf, len, buflen);
}
INTERPOSE(__read_chk);
#endif

#if ST_HAVE___RECV_CHK
SOCKTUNE_HOOK ssize_t HOOK(__recv_chk)(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	WAIT();
	return REAL(__recv_chk)(fd, buf, len, buflen, flags);
}
INTERPOSE(__recv_chk);
#endif

#if ST_HAVE___RECVFROM_CHK
SOCKTUNE_HOOK ssize_t HOOK(__recvfrom_chk)(int fd, void *buf, size_t len, size_t buflen, int flags,
				     struct sockaddr *a, socklen_t *alen)
{
	WAIT();
	return REAL(__recvfrom_chk)(fd, buf, len, buflen, flags, a, alen);
}
INTERPOSE(__recvfrom_chk);
#endif

#if ST_HAVE___POLL_CHK
SOCKTUNE_HOOK int HOOK(__poll_chk)(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	WAIT();
	return REAL(__poll_chk)(fds, n, timeout, fdslen);
}
INTERPOSE(__poll_chk);
#endif

#if ST_HAVE___PPOLL_CHK
SOCKTUNE_HOOK int HOOK(__ppoll_chk)(struct pollfd *fds, nfds_t n, const struct timespec *t,
			      const sigset_t *m, size_t fdslen)
{
	WAIT();
	return REAL(__ppoll_chk)(fds, n, t, m, fdslen);
}
INTERPOSE(__ppoll_chk);
#endif

SOCKTUNE_HOOK int HOOK(nanosleep)(const struct timespec *t, struct timespec *rem)
{
	WAIT();
	return REAL(nanosleep)(t, rem);
}
INTERPOSE(nanosleep);

#if ST_HAVE_CLOCK_NANOSLEEP
SOCKTUNE_HOOK int HOOK(clock_nanosleep)(clockid_t c, int flags, const struct timespec *t,
				  struct timespec *rem)
{
	WAIT();
	return REAL(clock_nanosleep)(c, flags, t, rem);
}
INTERPOSE(clock_nanosleep);
#endif

SOCKTUNE_HOOK int HOOK(usleep)(useconds_t us)
{
	WAIT();
	return REAL(usleep)(us);
}
INTERPOSE(usleep);

SOCKTUNE_HOOK unsigned HOOK(sleep)(unsigned s)
{
	WAIT();
	return REAL(sleep)(s);
}
INTERPOSE(sleep);

SOCKTUNE_HOOK int HOOK(pthread_cond_wait)(pthread_cond_t *c, pthread_mutex_t *m)
{
	WAIT();
	return REAL(pthread_cond_wait)(c, m);
}
INTERPOSE(pthread_cond_wait);

SOCKTUNE_HOOK int HOOK(pthread_cond_timedwait)(pthread_cond_t *c, pthread_mutex_t *m,
					 const struct timespec *t)
{
	WAIT();
	return REAL(pthread_cond_timedwait)(c, m, t);
}
INTERPOSE(pthread_cond_timedwait);

/* A semaphore that can be taken at once is no wait: Python takes one for
 * every lock, and flushing there would send each piece alone. */
static int sem_taken_now(sem_t *s)
{
	if (likely(!socktune_holding.any))
		return 0;
	int saved = errno;
	if (REAL(sem_trywait)(s) == 0)
		return 1;
	errno = saved;
	return 0;
}

SOCKTUNE_HOOK int HOOK(sem_wait)(sem_t *s)
{
	if (sem_taken_now(s))
		return 0;
	WAIT();
	return REAL(sem_wait)(s);
}
INTERPOSE(sem_wait);

#if ST_HAVE_SEM_TIMEDWAIT
SOCKTUNE_HOOK int HOOK(sem_timedwait)(sem_t *s, const struct timespec *t)
{
	if (sem_taken_now(s))
		return 0;
	WAIT();
	return REAL(sem_timedwait)(s, t);
}
INTERPOSE(sem_timedwait);
#endif

#if ST_HAVE_SEM_CLOCKWAIT
SOCKTUNE_HOOK int HOOK(sem_clockwait)(sem_t *s, clockid_t c, const struct timespec *t)
{
	if (sem_taken_now(s))
		return 0;
	WAIT();
	return REAL(sem_clockwait)(s, c, t);
}
INTERPOSE(sem_clockwait);
#endif

#if ST_HAVE_PTHREAD_COND_CLOCKWAIT
SOCKTUNE_HOOK int HOOK(pthread_cond_clockwait)(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
					  const struct timespec *t)
{
	WAIT();
	return REAL(pthread_cond_clockwait)(c, m, k, t);
}
INTERPOSE(pthread_cond_clockwait);
#endif

/* The wider wait points (issue 13): a thread that blocks anywhere a hook can
 * see sends what it holds first.  The hold bound covers the rest. */

/* A mutex that can be taken at once is no wait, as a semaphore: a thread
 * that takes a lock between its writes keeps merging them. */
SOCKTUNE_HOOK int HOOK(pthread_mutex_lock)(pthread_mutex_t *m)
{
	if (unlikely(socktune_holding.any)) {
		/* Whatever trylock says but EBUSY is what lock would say
		 * (EDEADLK excepted: an error-checking mutex this thread
		 * owns; lock says that too, after the flush). */
		int r = REAL(pthread_mutex_trylock)(m);
		if (r != EBUSY && r != EDEADLK)
			return r;
		hold_wait(FLUSH_LOCK);
	}
	return REAL(pthread_mutex_lock)(m);
}
INTERPOSE(pthread_mutex_lock);

SOCKTUNE_HOOK int HOOK(pthread_join)(pthread_t t, void **ret)
{
	WAIT();
	return REAL(pthread_join)(t, ret);
}
INTERPOSE(pthread_join);

/* WNOHANG never waits. */
SOCKTUNE_HOOK pid_t HOOK(waitpid)(pid_t pid, int *status, int options)
{
	if (!(options & WNOHANG))
		WAIT();
	return REAL(waitpid)(pid, status, options);
}
INTERPOSE(waitpid);

SOCKTUNE_HOOK pid_t HOOK(wait)(int *status)
{
	WAIT();
	return REAL(wait)(status);
}
INTERPOSE(wait);

SOCKTUNE_HOOK int HOOK(waitid)(idtype_t type, id_t id, siginfo_t *info, int options)
{
	if (!(options & WNOHANG))
		WAIT();
	return REAL(waitid)(type, id, info, options);
}
INTERPOSE(waitid);

SOCKTUNE_HOOK pid_t HOOK(wait4)(pid_t pid, int *status, int options, struct rusage *usage)
{
	if (!(options & WNOHANG))
		WAIT();
	return REAL(wait4)(pid, status, options, usage);
}
INTERPOSE(wait4);

SOCKTUNE_HOOK pid_t HOOK(wait3)(int *status, int options, struct rusage *usage)
{
	if (!(options & WNOHANG))
		WAIT();
	return REAL(wait3)(status, options, usage);
}
INTERPOSE(wait3);

SOCKTUNE_HOOK int HOOK(sigwait)(const sigset_t *set, int *sig)
{
	WAIT();
	return REAL(sigwait)(set, sig);
}
INTERPOSE(sigwait);

#if ST_HAVE_SIGWAITINFO
SOCKTUNE_HOOK int HOOK(sigwaitinfo)(const sigset_t *set, siginfo_t *info)
{
	WAIT();
	return REAL(sigwaitinfo)(set, info);
}
INTERPOSE(sigwaitinfo);

SOCKTUNE_HOOK int HOOK(sigtimedwait)(const sigset_t *set, siginfo_t *info, const struct timespec *t)
{
	WAIT();
	return REAL(sigtimedwait)(set, info, t);
}
INTERPOSE(sigtimedwait);
#endif

SOCKTUNE_HOOK int HOOK(sigsuspend)(const sigset_t *mask)
{
	WAIT();
	return REAL(sigsuspend)(mask);
}
INTERPOSE(sigsuspend);

SOCKTUNE_HOOK int HOOK(pause)(void)
{
	WAIT();
	return REAL(pause)();
}
INTERPOSE(pause);

/* stdio reads: libc's own read() under them passes no hook.  A read that
 * the buffer serves does not wait, but telling it apart would mean looking
 * into the FILE; one flush costs a thread that holds one send. */
SOCKTUNE_HOOK char *HOOK(fgets)(char *buf, int n, FILE *f)
{
	WAIT();
	return REAL(fgets)(buf, n, f);
}
INTERPOSE(fgets);

SOCKTUNE_HOOK int HOOK(fgetc)(FILE *f)
{
	WAIT();
	return REAL(fgetc)(f);
}
INTERPOSE(fgetc);

SOCKTUNE_HOOK int HOOK(getc)(FILE *f)
{
	WAIT();
	return REAL(getc)(f);
}
INTERPOSE(getc);

/* glibc's <bits/stdio.h> defines getchar and getline inline when the
 * compiler optimizes, and clang takes no attribute after a definition: for
 * those two, the export comes from the pragma. */
#pragma GCC visibility push(default)
int HOOK(getchar)(void)
{
	WAIT();
	return REAL(getchar)();
}
#pragma GCC visibility pop
INTERPOSE(getchar);

SOCKTUNE_HOOK size_t HOOK(fread)(void *buf, size_t size, size_t n, FILE *f)
{
	WAIT();
	return REAL(fread)(buf, size, n, f);
}
INTERPOSE(fread);

#pragma GCC visibility push(default)
ssize_t HOOK(getline)(char **line, size_t *len, FILE *f)
{
	WAIT();
	return REAL(getline)(line, len, f);
}
#pragma GCC visibility pop
INTERPOSE(getline);

SOCKTUNE_HOOK ssize_t HOOK(getdelim)(char **line, size_t *len, int delim, FILE *f)
{
	WAIT();
	return REAL(getdelim)(line, len, delim, f);
}
INTERPOSE(getdelim);

#if ST_HAVE___GETDELIM
/* What glibc's getline() calls when the compiler inlines it. */
SOCKTUNE_HOOK ssize_t HOOK(__getdelim)(char **line, size_t *len, int delim, FILE *f)
{
	WAIT();
	return REAL(__getdelim)(line, len, delim, f);
}
INTERPOSE(__getdelim);
#endif

/* shutdown(2) ends the stream below any TLS held for it. */
SOCKTUNE_HOOK int HOOK(shutdown)(int fd, int how)
{
	/* SHUT_WR sends what the kernel holds with the FIN; SHUT_RD would
	 * not. */
	hold_fd(fd);
	int r = REAL(shutdown)(fd, how);
	/* A write after it fails: TLS holding must not take one (ssl.c). */
	if (r == 0 && (how == SHUT_WR || how == SHUT_RDWR)) {
		int saved = errno;
		struct fd_state *e = fd_state_get(fd);
		if (e)
			__atomic_or_fetch(&e->flags, FD_WR_SHUT, __ATOMIC_RELAXED);
		errno = saved;
	}
	return r;
}
INTERPOSE(shutdown);

/* Leaving the process image: everything held in the process goes out
 * (a socket that survives exec would keep what MSG_MORE held). */
static void leaving(int why)
{
	hold_leave(why);
}

/* An exec that failed: the process goes on, and holds again. */
static int back(int r)
{
	hold_stay();
	return r;
}

SOCKTUNE_HOOK int HOOK(execve)(const char *path, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return back(REAL(execve)(path, argv, envp));
}
INTERPOSE(execve);

SOCKTUNE_HOOK int HOOK(execv)(const char *path, char *const argv[])
{
	leaving(FLUSH_EXEC);
	return back(REAL(execv)(path, argv));
}
INTERPOSE(execv);

SOCKTUNE_HOOK int HOOK(execvp)(const char *file, char *const argv[])
{
	leaving(FLUSH_EXEC);
	return back(REAL(execvp)(file, argv));
}
INTERPOSE(execvp);

#if ST_HAVE_EXECVPE
SOCKTUNE_HOOK int HOOK(execvpe)(const char *file, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return back(REAL(execvpe)(file, argv, envp));
}
INTERPOSE(execvpe);
#endif

#if ST_HAVE_FEXECVE
SOCKTUNE_HOOK int HOOK(fexecve)(int fd, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return back(REAL(fexecve)(fd, argv, envp));
}
INTERPOSE(fexecve);
#endif

/* The execl family passes its arguments as a list; glibc's own versions
 * call execve inside libc, out of reach, so they are rebuilt here. */
#define COLLECT_ARGS(first, argv, envp_out)                                                        \
	va_list ap;                                                                                \
	size_t n_ = 1;                                                                             \
	va_start(ap, first);                                                                       \
	while (va_arg(ap, char *))                                                                 \
		n_++;                                                                              \
	va_end(ap);                                                                                \
	char *argv[n_ + 1];                                                                        \
	argv[0] = (char *)(first);                                                                 \
	va_start(ap, first);                                                                       \
	for (size_t i_ = 1; i_ <= n_; i_++)                                                        \
		argv[i_] = va_arg(ap, char *);                                                     \
	envp_out;                                                                                  \
	va_end(ap)

SOCKTUNE_HOOK int HOOK(execl)(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(arg, argv, (void)0);
	return HOOK(execv)(path, argv);
}
INTERPOSE(execl);

SOCKTUNE_HOOK int HOOK(execlp)(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(arg, argv, (void)0);
	return HOOK(execvp)(file, argv);
}
INTERPOSE(execlp);

SOCKTUNE_HOOK int HOOK(execle)(const char *path, const char *arg, ...)
{
	char **envp;
	COLLECT_ARGS(arg, argv, envp = va_arg(ap, char **));
	return HOOK(execve)(path, argv, envp);
}
INTERPOSE(execle);

SOCKTUNE_HOOK void HOOK(_exit)(int status)
{
	leaving(FLUSH_EXIT);
	live_end();
	REAL(_exit)(status);
	__builtin_unreachable(); /* the table's type does not say noreturn */
}
INTERPOSE(_exit);

SOCKTUNE_HOOK void HOOK(_Exit)(int status)
{
	leaving(FLUSH_EXIT);
	live_end();
	REAL(_Exit)(status);
	__builtin_unreachable(); /* the table's type does not say noreturn */
}
INTERPOSE(_Exit);
