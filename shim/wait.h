/* The wait point test, for the hooks of calls that may block: wait.c's,
 * and connect and accept (connect.c). */
#ifndef SOCKTUNE_WAIT_H
#define SOCKTUNE_WAIT_H

#include "cork.h"
#include "tls.h"

/* Sends what this thread holds, TLS first: its flush writes records, which
 * corking holds; then the push sends them too. */
void wait_flush(void);

/* A thread that holds nothing pays one thread-local test. */
#define WAIT()                                                                                     \
	do {                                                                                       \
		if (unlikely(socktune_tls_pending | socktune_cork_pending))                         \
			wait_flush();                                                              \
	} while (0)

#endif
