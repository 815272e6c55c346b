/* badaddr: connect() with addresses the kernel answers with EFAULT (issue 13,
 * case I), on a TCP and a unix stream socket: a small bad pointer, and one
 * into the kernel's half of the address space, which no mapping of the
 * program can ever take (a page merely unmapped can be mapped again before
 * the call, by a sanitizer's allocator say).  Prints one line per
 * call, "connect family=F ptr=P ret=R errno=E", and exits 0; a hook that
 * reads the address before the kernel does dies of SIGSEGV instead. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static void try(int family, const char *name, const void *addr, socklen_t len)
{
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return;
	}
	errno = 0;
	int r = connect(fd, addr, len);
	printf("connect family=%s ptr=%s ret=%d errno=%d\n", family == AF_INET ? "inet" : "unix", name, r,
	       r < 0 ? errno : 0);
	close(fd);
}

int main(void)
{
	const void *kernel = (const void *)(~(uintptr_t)0 - 2 * (uintptr_t)sysconf(_SC_PAGESIZE) + 1);
	int families[] = {AF_INET, AF_UNIX};
	for (int i = 0; i < 2; i++) {
		try(families[i], "small", (const void *)16, sizeof(struct sockaddr_in));
		try(families[i], "kernel", kernel, sizeof(struct sockaddr_in));
	}
	fflush(stdout);
	return 0;
}
