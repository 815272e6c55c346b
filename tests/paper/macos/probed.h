/* What shim/probe.sh is expected to find on macOS (libSystem), for
 * `make check-paper`; never checked on a Mac. */
#ifndef SOCKTUNE_PROBED_H
#define SOCKTUNE_PROBED_H
#define ST_HAVE_ACCEPT4 0
#define ST_HAVE_DUP3 0
#define ST_HAVE_FCNTL64 0
#define ST_HAVE_CLOSE_RANGE 0
#define ST_HAVE_CLOSEFROM 0
#define ST_HAVE_PPOLL 0
#define ST_HAVE_EPOLL 0
#define ST_HAVE_EPOLL_PWAIT2 0
#define ST_HAVE_CLOCK_NANOSLEEP 0
#define ST_HAVE_PTHREAD_COND_CLOCKWAIT 0
#define ST_HAVE_SEM_CLOCKWAIT 0
#define ST_HAVE_SIGWAITINFO 0
#define ST_HAVE_SEM_TIMEDWAIT 0
#define ST_HAVE_EXECVPE 0
#define ST_HAVE_FEXECVE 0
#define ST_HAVE_GETAUXVAL 0
#define ST_HAVE_ISSETUGID 1
#define ST_HAVE_SECURE_GETENV 0
#define ST_HAVE_PROGRAM_INVOCATION_NAME 0
#define ST_HAVE_GETPROGNAME 1
#define ST_HAVE___READ_CHK 0
#define ST_HAVE___RECV_CHK 0
#define ST_HAVE___RECVFROM_CHK 0
#define ST_HAVE___POLL_CHK 0
#define ST_HAVE___PPOLL_CHK 0
#define ST_HAVE___GETDELIM 0
#endif
