/* TLS write coalescing, as the rest of the library sees it: the per-thread
 * word the wait points test, and the flushes they call.  ssl.c owns it. */
#ifndef SOCKTUNE_TLS_H
#define SOCKTUNE_TLS_H

#include "hook.h"

/* Why a flush happens, for the figures. */
enum { FLUSH_CALL, FLUSH_WRITE, FLUSH_WAIT, FLUSH_CLOSE, FLUSH_FORK, FLUSH_EXEC, FLUSH_EXIT, FLUSH_LATE };

/* Non-zero when this thread holds TLS bytes and is not inside an SSL
 * call: the one thing a wait point tests before calling through. */
extern ST_THREAD_LOCAL int socktune_tls_pending;

/* While this thread flushes a hold, the socket OpenSSL writes its records
 * to, else -1: the write hook hands those writes to tls_wire_write, which
 * gathers the records of one flush into one write().  Returns what write()
 * would. */
extern ST_THREAD_LOCAL int socktune_tls_wire_fd;
#include <sys/types.h>
ssize_t tls_wire_write(int fd, const void *buf, size_t len);

/* Whether this thread is inside a hooked SSL call. */
int tls_in_call(void);

/* Sends what this thread holds: the thread is about to wait. */
void tls_flush_thread(int why);

/* Sends what any thread holds on fd: fd is about to close. */
void tls_flush_fd(int fd);

/* The number of SSL objects holding bytes, in all threads. */
extern int socktune_tls_used;
#define tls_in_use() __atomic_load_n(&socktune_tls_used, __ATOMIC_RELAXED)

/* Sends everything held in the process (exit, _exit, exec). */
void tls_flush_all(int why);

/* A thread that held ends: no hold names it as its owner any more. */
void tls_thread_ends(void);

/* fork: the child drops the parent's held bytes (the parent sends them). */
void tls_fork_prepare(void);
void tls_fork_child(void);

#endif
