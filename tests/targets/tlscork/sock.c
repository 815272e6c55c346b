/* tlscork/sock.c: where a TCP connection comes from: a listening socket, inherited
 * (--listen-fd) or made on 127.0.0.1 with its port published (--port-file), and
 * accept; or a connect to 127.0.0.1 (--port, or the port in --port-file); with
 * --nodelay set by the program on either end. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "tlscork.h"

static void publish_port(int lfd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	if (getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
		die("getsockname");
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", o.port_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, o.port_file) < 0)
		die("%s", o.port_file);
}

/* The listening socket: inherited, or made here and published in --port-file. */
int listener(void)
{
	if (o.listen_fd >= 0)
		return o.listen_fd;
	if (!o.port_file)
		die("--listen-fd or --port-file is required");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0)
		die("listen");
	publish_port(fd);
	return fd;
}

void set_nodelay(int fd)
{
	int one = 1;
	if (o.nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		die("TCP_NODELAY");
}

int accept_fd(int lfd, bool nonblock)
{
	int fd;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0))) < 0 &&
	       errno == EINTR)
		;
	if (fd < 0)
		die("accept");
	set_nodelay(fd);
	return fd;
}

/* The port in --port-file, once the server has published it. */
static int port_from_file(void)
{
	long long until = mono_ns() + o.deadline_ms * 1000000LL;
	for (;;) {
		FILE *f = fopen(o.port_file, "r");
		int port = 0;
		if (f) {
			int ok = fscanf(f, "%d", &port);
			fclose(f);
			if (ok == 1 && port > 0)
				return port;
		}
		if (mono_ns() > until)
			die("no port in %s", o.port_file);
		sleep_us(2000);
	}
}

int connect_tcp(void)
{
	int port = o.port ? o.port : o.port_file ? port_from_file() : 0;
	if (!port)
		die("--port or --port-file is required");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	set_nodelay(fd);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect to port %d", port);
	return fd;
}
