/* tlscork/sink.c: the sink role, the peer of burst: reads until EOF and hashes.
 * With --expect N it notes when the N-th byte arrived.
 * Prints: sink bytes=N hash=H first_ns=T full_ns=T
 *   (first_ns: the first byte arrived; full_ns: the N-th; 0: never)
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlscork.h"

void run_sink(void)
{
	int fd;
	if (o.listen_fd >= 0) {
		while ((fd = accept(o.listen_fd, NULL, NULL)) < 0 && errno == EINTR)
			;
		if (fd < 0)
			die("accept");
		close(o.listen_fd);
	} else {
		fd = connect_tcp();
	}
	struct conn *c = new_conn(fd, 0, false);
	long long first_ns = 0, full_ns = 0;
	for (;;) {
		ssize_t n = get(c, c->in, sizeof c->in);
		if (n == 0)
			break;
		long long now = mono_ns();
		if (!first_ns)
			first_ns = now;
		if (o.expect > 0 && !full_ns && c->rxn >= (unsigned long long)o.expect)
			full_ns = now;
	}
	unsigned char d[32];
	unsigned int dl = 0;
	char h[65];
	if (!EVP_DigestFinal_ex(c->rx, d, &dl))
		die("sha256 final");
	hex(h, d);
	printf("sink bytes=%llu hash=%s first_ns=%lld full_ns=%lld\n", c->rxn, h, first_ns, full_ns);
	close(fd);
}
