/* Per-descriptor state, and what each descriptor is.  A two-level table
 * indexed by fd: chunks are mapped on first need and never freed, so a
 * lookup takes no lock, no allocation and no system call, and is safe in a
 * signal handler.  Descriptors past FD_TABLE_MAX are simply not tracked:
 * their sockets pass through.  An entry's identity (family, type, inode)
 * is checked against the kernel through the two questions at the end,
 * which the library answers and the unit tests fake. */
#ifndef SOCKTUNE_FDTABLE_H
#define SOCKTUNE_FDTABLE_H

#include "rule.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FD_TABLE_MAX (1 << 20)

enum {
	FD_KNOWN = 1u << 0,        /* family, type and ino are right */
	FD_DONE = 1u << 1,         /* the policy ran on this socket */
	FD_USER_SNDBUF = 1u << 2,  /* the program set SO_SNDBUF itself */
	FD_USER_RCVBUF = 1u << 3,  /* ... SO_RCVBUF */
	FD_USER_NODELAY = 1u << 4, /* ... TCP_NODELAY */
	FD_TCP_COUNT = 1u << 5,    /* its TCP figures go into the stats at close */
	FD_LISTENER = 1u << 6,
	FD_USER_CORK = 1u << 7,    /* the program corks it (TCP_CORK, MSG_MORE) */
	FD_WR_SHUT = 1u << 8,      /* shut down for writing through this descriptor */
};
#define FD_USER_ALL (FD_USER_SNDBUF | FD_USER_RCVBUF | FD_USER_NODELAY)

struct fd_state {
	uint32_t flags;
	uint8_t family; /* ST_FAM_* */
	uint8_t type;   /* ST_TYPE_* or 0 */
	uint8_t role;   /* ST_ROLE_* */
	pid_t owner;    /* process that connected or accepted it */
	uint64_t ino;   /* the socket's inode: a reused fd shows a new one */
	long listener_rcvbuf; /* rcvbuf set on a listener, which accepted sockets inherit */
	uint32_t merge;       /* writev/sendmsg merge threshold; 0 = pass through */
	uint32_t tls_merge;   /* largest SSL_write held on this socket; 0 = none */
	uint8_t cork;         /* ST_CORK_* decided for this socket */
	uint32_t notsent_lowat; /* the program's TCP_NOTSENT_LOWAT; 0 = the sysctl's */
	uint32_t sndbuf_seen;   /* SO_SNDBUF as TLS holding last asked it; 0 = ask */
	/* When auto-corking began to hold a tail here, 0 for none; aligned for
	 * the atomics on 32-bit systems too. */
	uint64_t cork_since __attribute__((aligned(8)));
};

/* An inet or inet6 stream socket: the only kind TCP options and TCP_INFO
 * apply to. */
static inline int fd_state_is_tcp(const struct fd_state *e)
{
	return (e->family & (ST_FAM_INET | ST_FAM_INET6)) && e->type == ST_TYPE_STREAM;
}

/* The table: FD_NCHUNKS pointers to chunks of FD_CHUNK_SIZE entries, each
 * mapped at its first need.  Hidden, so that a hook reaches it without the
 * GOT. */
#define FD_CHUNK_SHIFT 12
#define FD_CHUNK_SIZE (1 << FD_CHUNK_SHIFT)
#define FD_NCHUNKS (FD_TABLE_MAX / FD_CHUNK_SIZE)
extern struct fd_state *socktune_fd_chunks[FD_NCHUNKS] __attribute__((visibility("hidden")));

/* The entry for fd, or NULL when it was never made.  Inline: every write
 * of a program socktune is on for asks it. */
static inline struct fd_state *fd_state_get(int fd)
{
	if (fd < 0 || fd >= FD_TABLE_MAX)
		return NULL;
	struct fd_state *c = __atomic_load_n(&socktune_fd_chunks[fd >> FD_CHUNK_SHIFT], __ATOMIC_ACQUIRE);
	return c ? &c[fd & (FD_CHUNK_SIZE - 1)] : NULL;
}

/* The entry for fd, making its chunk if needed; NULL past FD_TABLE_MAX or
 * when memory cannot be mapped. */
struct fd_state *fd_state_make(int fd);

void fd_state_forget(int fd);
void fd_state_forget_range(unsigned lo, unsigned hi);

/* dup: the new descriptor names the same socket, with what the program set
 * on it, but not the duty to count its TCP figures (the original keeps it). */
void fd_state_copy(int dst, int src);

/* One past the highest fd whose chunk exists, for walking the table. */
int fd_state_limit(void);

/* ST_FAM_* / ST_TYPE_* from the kernel's numbers (0 when not ours). */
unsigned fam_bit(int domain);
unsigned type_bit(int type);

/* Records a socket the program just made, as socket()/socketpair() said. */
void sock_note_created(int fd, int domain, int type);

/* Whether the entry still names the socket with this inode; an entry made
 * from socket() learns its inode on first check. */
int fd_state_is(struct fd_state *e, uint64_t ino);

/* The state of fd, trusted: refreshed from the kernel when socktune did not
 * see it created or the descriptor now names another socket.  NULL when fd
 * is not a socket (or is past the table). */
struct fd_state *sock_validate(int fd);

/* The questions sock_validate asks the kernel.  They are not in fdtable.c
 * so that the unit tests can link the table with answers of their own;
 * the library's ask through the real functions (fdkernel.c). */

/* Whether fd is a socket; if so, *ino is its inode. */
int fd_kernel_socket(int fd, uint64_t *ino);

/* The socket's domain and type, as socket() would take them; each is left
 * as it was when the kernel does not say. */
void fd_kernel_kind(int fd, int *domain, int *type);

#endif
