/* The fd table, and what each descriptor is: its family, its type and the
 * inode that tells the socket it was from the one a reused number names.
 * Chunks come from mmap, not malloc: a hook may run in a signal handler or
 * while malloc holds its lock, and mmap is a plain system call.  Two
 * threads that race to make the same chunk both map one; the loser unmaps
 * its copy. */
#include "fdtable.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

struct fd_state *socktune_fd_chunks[FD_NCHUNKS];

/* A descriptor number's entry outlives the descriptor: when one thread
 * closes N and another gets N back, the kernel orders the two lifetimes,
 * and ThreadSanitizer is told so (it sees no such edge by itself). */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define LIFE_BEGINS(e) __tsan_acquire(e)
#define LIFE_ENDS(e) __tsan_release(e)
#else
#define LIFE_BEGINS(e) ((void)(e))
#define LIFE_ENDS(e) ((void)(e))
#endif

struct fd_state *fd_state_make(int fd)
{
	struct fd_state *e = fd_state_get(fd);
	if (e)
		LIFE_BEGINS(e);
	if (e || fd < 0 || fd >= FD_TABLE_MAX)
		return e;

	size_t len = FD_CHUNK_SIZE * sizeof(struct fd_state);
	struct fd_state *fresh =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	struct fd_state *expected = NULL;
	if (!__atomic_compare_exchange_n(&socktune_fd_chunks[fd >> FD_CHUNK_SHIFT], &expected, fresh, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		munmap(fresh, len);
	return fd_state_get(fd);
}

void fd_state_forget(int fd)
{
	struct fd_state *e = fd_state_get(fd);
	if (e) {
		memset(e, 0, sizeof(*e));
		LIFE_ENDS(e);
	}
}

void fd_state_forget_range(unsigned lo, unsigned hi)
{
	if (lo >= FD_TABLE_MAX)
		return;
	if (hi >= FD_TABLE_MAX)
		hi = FD_TABLE_MAX - 1;
	for (unsigned c = lo >> FD_CHUNK_SHIFT; c <= hi >> FD_CHUNK_SHIFT; c++) {
		struct fd_state *chunk = __atomic_load_n(&socktune_fd_chunks[c], __ATOMIC_ACQUIRE);
		if (!chunk)
			continue;
		unsigned first = c << FD_CHUNK_SHIFT, last = first + FD_CHUNK_SIZE - 1;
		unsigned from = lo > first ? lo : first, to = hi < last ? hi : last;
		memset(&chunk[from - first], 0, (to - from + 1) * sizeof(*chunk));
		for (unsigned fd = from; fd <= to; fd++)
			LIFE_ENDS(&chunk[fd - first]);
	}
}

void fd_state_copy(int dst, int src)
{
	struct fd_state *s = fd_state_get(src);
	if (!s || !(s->flags & FD_KNOWN)) {
		fd_state_forget(dst);
		return;
	}
	struct fd_state *d = fd_state_make(dst);
	if (!d)
		return;
	*d = *s;
	d->flags &= ~(uint32_t)FD_TCP_COUNT;
}

int fd_state_limit(void)
{
	for (int c = FD_NCHUNKS - 1; c >= 0; c--)
		if (__atomic_load_n(&socktune_fd_chunks[c], __ATOMIC_ACQUIRE))
			return (c + 1) << FD_CHUNK_SHIFT;
	return 0;
}

unsigned fam_bit(int domain)
{
	switch (domain) {
	case AF_UNIX: return ST_FAM_UNIX;
	case AF_INET: return ST_FAM_INET;
	case AF_INET6: return ST_FAM_INET6;
	default: return 0;
	}
}

/* socket(2)'s type flags, Linux's and FreeBSD's; macOS has none. */
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK 0
#endif
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

unsigned type_bit(int type)
{
	switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
	case SOCK_STREAM: return ST_TYPE_STREAM;
	case SOCK_DGRAM: return ST_TYPE_DGRAM;
	case SOCK_SEQPACKET: return ST_TYPE_SEQPACKET;
	default: return 0;
	}
}

void sock_note_created(int fd, int domain, int type)
{
	struct fd_state *e = fd_state_make(fd);
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)fam_bit(domain);
	e->type = (uint8_t)type_bit(type);
	e->flags = FD_KNOWN;
}

int fd_state_is(struct fd_state *e, uint64_t ino)
{
	if (!(e->flags & FD_KNOWN))
		return 0;
	if (e->ino == 0)
		e->ino = ino;
	return e->ino == ino;
}

struct fd_state *sock_validate(int fd)
{
	uint64_t ino;
	if (!fd_kernel_socket(fd, &ino))
		return NULL;
	struct fd_state *e = fd_state_make(fd);
	if (!e || fd_state_is(e, ino))
		return e;

	int domain = 0, type = 0;
	fd_kernel_kind(fd, &domain, &type);
	sock_note_created(fd, domain, type);
	e->ino = ino;
	return e;
}
