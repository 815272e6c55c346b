/* badaddr: connect() with addresses the kernel answers with EFAULT (issue 13,
 * case I), on a TCP and a unix stream socket: a small bad pointer, and a
 * pointer to a page that was mapped and then unmapped.  Prints one line per
 * call, "connect family=F ptr=P ret=R errno=E", and exits 0; a hook that
 * reads the address before the kernel does dies of SIGSEGV instead. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/mman.h>
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
	long page = sysconf(_SC_PAGESIZE);
	void *gone = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gone == MAP_FAILED || munmap(gone, (size_t)page) < 0) {
		perror("mmap");
		return 1;
	}
	int families[] = {AF_INET, AF_UNIX};
	for (int i = 0; i < 2; i++) {
		try(families[i], "small", (const void *)16, sizeof(struct sockaddr_in));
		try(families[i], "unmapped", gone, sizeof(struct sockaddr_in));
	}
	fflush(stdout);
	return 0;
}
