/* What shim/probe.sh is expected to find on FreeBSD 14, for
 * `make check-paper`; never checked on FreeBSD.  Where unsure, no: a call
 * said to be missing only goes unhooked. */
#ifndef SOCKTUNE_PROBED_H
#define SOCKTUNE_PROBED_H
#define ST_HAVE_ACCEPT4 1
#define ST_HAVE_DUP3 1
#define ST_HAVE_FCNTL64 0
#define ST_HAVE_CLOSE_RANGE 1
#define ST_HAVE_CLOSEFROM 1
#define ST_HAVE_PPOLL 1
#define ST_HAVE_EPOLL 0
#define ST_HAVE_EPOLL_PWAIT2 0
#define ST_HAVE_CLOCK_NANOSLEEP 1
#define ST_HAVE_PTHREAD_COND_CLOCKWAIT 0
#define ST_HAVE_SEM_CLOCKWAIT 0
#define ST_HAVE_SIGWAITINFO 1
#define ST_HAVE_SEM_TIMEDWAIT 1
#define ST_HAVE_EXECVPE 0
#define ST_HAVE_FEXECVE 1
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
