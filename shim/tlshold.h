/* TLS holds, between the SSL hooks (ssl.c: which libssl, whether a write
 * may be held) and the holds themselves (tlshold.c: a hold per SSL, its
 * flush and the record rule, failures kept for the next call, and the
 * hold kind the registry calls).  Not seen by the rest of the library,
 * which reaches holds through hold.h. */
#ifndef SOCKTUNE_TLSHOLD_H
#define SOCKTUNE_TLSHOLD_H

#include "fdtable.h"
#include "hook.h"

#include <openssl/ssl.h>
#include <stddef.h>

/* The libssl and libcrypto functions socktune calls: the TLS and TLS_NEXT
 * lines of hooks.def. */
struct sslfns {
#define TLS(name, field, ret, params) ret(*field) params;
#define TLS_NEXT TLS
#include "hooks.def"
};

/* Those of the libssl the process has in its global scope, the one holding
 * works with (ssl.c finds them). */
extern struct sslfns libssl;

/* Asked of ssl.c.  Whether s may hold a write of num bytes: 0 when not,
 * else the most one write may hold; *fd is s's socket.  And what a batch
 * may hold on fd, asked at its first write: 0 for nothing. */
size_t tls_holdable(SSL *s, size_t num, int *fd);
size_t tls_batch_room(int fd, struct fd_state *e);

/* Makes what holding keeps in each SSL (the lone mark); 0 when libssl
 * could not. */
int tls_hold_init(void);

/* This thread enters and leaves a hooked call on s. */
void tls_enter(SSL *s);
void tls_leave(void);

/* Before any other call on s: what s holds goes out first.  Returns 1 to
 * go on with the call, or 0 when the call must return *ret instead: a
 * failure (now in the error queue) or a retry OpenSSL asked for. */
int tls_before_call(SSL *s, int *ret);

/* SSL_write and SSL_write_ex: 1 when the write was held, 0 when it must go
 * through (anything held went out first), -1 when *ret is the answer: a
 * failure of what was held before. */
int tls_write_hold(SSL *s, const void *buf, size_t num, int *ret);

/* SSL_free: what s holds goes out; a failure has nobody left to tell. */
void tls_free_hold(SSL *s);

/* The program made a BIO_f_ssl, whose writes reach an SSL by a path no
 * hook sees: every hold goes out, and nothing is held again. */
void tls_holding_ends(void);
extern int socktune_tls_over;

/* Figures: the records n bytes written make. */
void tls_count_records(size_t n);

#endif
