/* The wait points: calls where the thread may block, and the calls that
 * leave (exec, _exit).  Before a thread waits, what it holds goes out, so a
 * held byte is never older than the thread's last stretch of work: that is
 * socktune's bound.  A thread that holds nothing pays one thread-local test;
 * so does every thread while socktune is off, since nothing is ever held.
 *
 * The _FORTIFY_SOURCE variants (__read_chk and friends) are wait points too:
 * a fortified program calls them instead of read(). */
#include "cork.h"
#include "state.h"
#include "tls.h"

#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

/* TLS first: its flush writes records, which corking holds; then the
 * push sends them too. */
#define WAIT()                                                                                     \
	do {                                                                                       \
		if (unlikely(socktune_tls_pending | socktune_cork_pending))                         \
			wait_flush();                                                              \
	} while (0)

static void wait_flush(void)
{
	if (socktune_tls_pending)
		tls_flush_thread(FLUSH_WAIT);
	if (socktune_cork_pending)
		cork_push_thread();
}

static pthread_key_t thread_key;

/* A thread that ends will not wait again: the same sends as a wait point. */
static void thread_ends(void *unused)
{
	(void)unused;
	tls_flush_thread(FLUSH_EXIT);
	cork_push_thread();
}

static void make_thread_key(void)
{
	pthread_key_create(&thread_key, thread_ends);
}

void socktune_thread_holds(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_thread_key);
	/* Any non-NULL value: the destructor runs only for those. */
	pthread_setspecific(thread_key, &thread_key);
}

SOCKTUNE_HOOK int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	WAIT();
	return REAL(poll)(fds, n, timeout);
}

SOCKTUNE_HOOK int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	WAIT();
	return REAL(ppoll)(fds, n, t, m);
}

SOCKTUNE_HOOK int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	WAIT();
	return REAL(select)(n, r, w, e, t);
}

SOCKTUNE_HOOK int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
			  const sigset_t *m)
{
	WAIT();
	return REAL(pselect)(n, r, w, e, t, m);
}

SOCKTUNE_HOOK int epoll_wait(int ep, struct epoll_event *ev, int n, int timeout)
{
	WAIT();
	return REAL(epoll_wait)(ep, ev, n, timeout);
}

SOCKTUNE_HOOK int epoll_pwait(int ep, struct epoll_event *ev, int n, int timeout,
			      const sigset_t *m)
{
	WAIT();
	return REAL(epoll_pwait)(ep, ev, n, timeout, m);
}

SOCKTUNE_HOOK int epoll_pwait2(int ep, struct epoll_event *ev, int n, const struct timespec *t,
			       const sigset_t *m)
{
	WAIT();
	if (!REAL(epoll_pwait2)) {
		errno = ENOSYS;
		return -1;
	}
	return real.epoll_pwait2(ep, ev, n, t, m);
}

SOCKTUNE_HOOK ssize_t read(int fd, void *buf, size_t len)
{
	WAIT();
	return REAL(read)(fd, buf, len);
}

SOCKTUNE_HOOK ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	WAIT();
	return REAL(recv)(fd, buf, len, flags);
}

SOCKTUNE_HOOK ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a,
			       socklen_t *alen)
{
	WAIT();
	return REAL(recvfrom)(fd, buf, len, flags, a, alen);
}

SOCKTUNE_HOOK ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	WAIT();
	return REAL(recvmsg)(fd, msg, flags);
}

SOCKTUNE_HOOK ssize_t readv(int fd, const struct iovec *iov, int n)
{
	WAIT();
	return REAL(readv)(fd, iov, n);
}

SOCKTUNE_HOOK ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	WAIT();
	return REAL(read_chk)(fd, buf, len, buflen);
}

SOCKTUNE_HOOK ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	WAIT();
	return REAL(recv_chk)(fd, buf, len, buflen, flags);
}

SOCKTUNE_HOOK ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				     struct sockaddr *a, socklen_t *alen)
{
	WAIT();
	return REAL(recvfrom_chk)(fd, buf, len, buflen, flags, a, alen);
}

SOCKTUNE_HOOK int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	WAIT();
	return REAL(poll_chk)(fds, n, timeout, fdslen);
}

SOCKTUNE_HOOK int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *t,
			      const sigset_t *m, size_t fdslen)
{
	WAIT();
	return REAL(ppoll_chk)(fds, n, t, m, fdslen);
}

SOCKTUNE_HOOK int nanosleep(const struct timespec *t, struct timespec *rem)
{
	WAIT();
	return REAL(nanosleep)(t, rem);
}

SOCKTUNE_HOOK int clock_nanosleep(clockid_t c, int flags, const struct timespec *t,
				  struct timespec *rem)
{
	WAIT();
	return REAL(clock_nanosleep)(c, flags, t, rem);
}

SOCKTUNE_HOOK int usleep(useconds_t us)
{
	WAIT();
	return REAL(usleep)(us);
}

SOCKTUNE_HOOK unsigned sleep(unsigned s)
{
	WAIT();
	return REAL(sleep)(s);
}

SOCKTUNE_HOOK int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	WAIT();
	return REAL(pthread_cond_wait)(c, m);
}

SOCKTUNE_HOOK int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
					 const struct timespec *t)
{
	WAIT();
	return REAL(pthread_cond_timedwait)(c, m, t);
}

/* A semaphore that can be taken at once is no wait: Python takes one for
 * every lock, and flushing there would send each piece alone. */
static int sem_taken_now(sem_t *s)
{
	if (likely(!(socktune_tls_pending | socktune_cork_pending)))
		return 0;
	int saved = errno;
	if (sem_trywait(s) == 0)
		return 1;
	errno = saved;
	return 0;
}

SOCKTUNE_HOOK int sem_wait(sem_t *s)
{
	if (sem_taken_now(s))
		return 0;
	WAIT();
	return REAL(sem_wait)(s);
}

SOCKTUNE_HOOK int sem_timedwait(sem_t *s, const struct timespec *t)
{
	if (sem_taken_now(s))
		return 0;
	WAIT();
	return REAL(sem_timedwait)(s, t);
}

/* shutdown(2) ends the stream below any TLS held for it. */
SOCKTUNE_HOOK int shutdown(int fd, int how)
{
	if (unlikely(socktune_tls_used))
		tls_flush_fd(fd);
	/* SHUT_WR sends what is held with the FIN; SHUT_RD would not. */
	if (unlikely(socktune_cork_pending))
		cork_push_fd(fd);
	return REAL(shutdown)(fd, how);
}

/* Leaving the process image: everything held in the process goes out.
 * Not from a vfork child, which shares the parent's memory and would send
 * the parent's bytes from under it: the parent sends them. */
static void leaving(int why)
{
	if (unlikely(socktune_tls_used) && getpid() == socktune_pid)
		tls_flush_all(why);
	/* A socket that survives exec keeps what MSG_MORE held. */
	cork_push_thread();
}

SOCKTUNE_HOOK int execve(const char *path, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return REAL(execve)(path, argv, envp);
}

SOCKTUNE_HOOK int execv(const char *path, char *const argv[])
{
	leaving(FLUSH_EXEC);
	return REAL(execv)(path, argv);
}

SOCKTUNE_HOOK int execvp(const char *file, char *const argv[])
{
	leaving(FLUSH_EXEC);
	return REAL(execvp)(file, argv);
}

SOCKTUNE_HOOK int execvpe(const char *file, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return REAL(execvpe)(file, argv, envp);
}

SOCKTUNE_HOOK int fexecve(int fd, char *const argv[], char *const envp[])
{
	leaving(FLUSH_EXEC);
	return REAL(fexecve)(fd, argv, envp);
}

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

SOCKTUNE_HOOK int execl(const char *path, const char *arg, ...)
{
	COLLECT_ARGS(arg, argv, (void)0);
	return execv(path, argv);
}

SOCKTUNE_HOOK int execlp(const char *file, const char *arg, ...)
{
	COLLECT_ARGS(arg, argv, (void)0);
	return execvp(file, argv);
}

SOCKTUNE_HOOK int execle(const char *path, const char *arg, ...)
{
	char **envp;
	COLLECT_ARGS(arg, argv, envp = va_arg(ap, char **));
	return execve(path, argv, envp);
}

SOCKTUNE_HOOK void _exit(int status)
{
	leaving(FLUSH_EXIT);
	REAL(_exit)(status);
}

SOCKTUNE_HOOK void _Exit(int status)
{
	leaving(FLUSH_EXIT);
	REAL(_Exit)(status);
}
