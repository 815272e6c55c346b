/* The library's answers to the fd table's questions about a descriptor,
 * from the kernel itself.  A file of their own so that fdtable.c links
 * into the unit tests, which answer with fakes (tests/unit/fdtable.c). */
#include "fdtable.h"

#include "log.h"
#include "real.h"

#include <sys/socket.h>
#include <sys/stat.h>

int fd_kernel_socket(int fd, uint64_t *ino)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	*ino = (uint64_t)st.st_ino;
	return 1;
}

/* Asked only of a socket the table did not see made, or whose number now
 * names another one: worth a line at debug level. */
void fd_kernel_kind(int fd, int *domain, int *type)
{
	socklen_t len = sizeof(int);
	libc.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len);
	len = sizeof(int);
	libc.getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len);
	log_debug("fd %d: not seen created or reused; the kernel says %s %s", fd,
		  family_name(fam_bit(*domain)), type_name(type_bit(*type)));
}
