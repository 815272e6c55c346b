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
#include <sys/wait.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/types.h>
#include <sys/uio.h>
#if ST_HAVE_EPOLL
#include <sys/epoll.h>
#endif

struct socktune_real {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*listen)(int, int);
	int (*socket)(int, int, int);
	int (*socketpair)(int, int, int, int[2]);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*shutdown)(int, int);
	/* The wait points (wait.c). */
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
#if ST_HAVE_EPOLL
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*epoll_pwait2)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
#endif
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	int (*poll_chk)(struct pollfd *, nfds_t, int, size_t);
	int (*ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
	int (*usleep)(useconds_t);
	unsigned (*sleep)(unsigned);
	int (*pthread_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*pthread_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*sem_wait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*pthread_cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
				      const struct timespec *);
	int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
	/* The wider wait points: children, threads, locks, signals, stdio. */
	pid_t (*waitpid)(pid_t, int *, int);
	pid_t (*wait)(int *);
	int (*waitid)(idtype_t, id_t, siginfo_t *, int);
	int (*pthread_join)(pthread_t, void **);
	int (*pthread_mutex_lock)(pthread_mutex_t *);
	/* Not hooked: the tries a wait point makes first, through the same
	 * interposers (a sanitizer's) as the program's own calls. */
	int (*pthread_mutex_trylock)(pthread_mutex_t *);
	int (*sem_trywait)(sem_t *);
	int (*sigwait)(const sigset_t *, int *);
	int (*sigwaitinfo)(const sigset_t *, siginfo_t *);
	int (*sigtimedwait)(const sigset_t *, siginfo_t *, const struct timespec *);
	int (*sigsuspend)(const sigset_t *);
	int (*pause)(void);
	char *(*fgets)(char *, int, FILE *);
	int (*fgetc)(FILE *);
	int (*getc)(FILE *);
	int (*getchar)(void);
	size_t (*fread)(void *, size_t, size_t, FILE *);
	ssize_t (*getline)(char **, size_t *, FILE *);
	ssize_t (*getdelim)(char **, size_t *, int, FILE *);
	ssize_t (*getdelim_)(char **, size_t *, int, FILE *);
	/* Leaving: exec and _exit. */
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	void (*_exit)(int) __attribute__((noreturn));
	void (*_Exit)(int) __attribute__((noreturn));
};

/* The table itself: libc.write is the write the hooks call through.  (A
 * hidden variable, not a macro: nothing else named libc is rewritten.) */
extern struct socktune_real libc;

/* Binds every entry; safe to call from many threads, binds once. */
void real_bind(void);

/* libc.f, bound first if this is the library's first call of all. */
#define REAL(f) (*(__builtin_expect(libc.f == NULL, 0) ? (real_bind(), libc.f) : libc.f))

#endif
