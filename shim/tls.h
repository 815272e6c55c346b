/* TLS write coalescing, as the write hook sees it.  tlshold.c owns it; the
 * rest of the library reaches TLS holds through the registry (hold.h). */
#ifndef SOCKTUNE_TLS_H
#define SOCKTUNE_TLS_H

#include "hook.h"

#include <sys/types.h>

/* While this thread flushes a hold, the socket OpenSSL writes its records
 * to, else -1: the write hook hands those writes to tls_wire_write, which
 * gathers the records of one flush into one write().  Returns what write()
 * would. */
extern ST_THREAD_LOCAL int socktune_tls_wire_fd;
ssize_t tls_wire_write(int fd, const void *buf, size_t len);

#endif
