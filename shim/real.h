/* The real functions behind the hooks, in one table, bound once on first
 * use with dlsym(RTLD_NEXT).  Binding in the constructor breaks gdb and
 * valgrind, so it waits for the first hooked call. */
#ifndef SOCKTUNE_REAL_H
#define SOCKTUNE_REAL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

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
};

extern struct socktune_real socktune_real;
#define real socktune_real

/* Binds every entry; safe to call from many threads, binds once. */
void real_bind(void);

#endif
