/* tlsplugin.so: a plugin with a libssl of its own (issue 13, case J).  It links
 * libsslprivate.so.3, the system's libssl renamed (Makefile), and is loaded with
 * RTLD_LOCAL by tests/targets/privssl.c, whose program does not link libssl at all:
 * as a Python module in a virtualenv with its own OpenSSL, or a vendored copy, is.
 * Its SSL calls still land in socktune's preloaded hooks, which must reach this
 * copy's functions.
 *
 * plugin_main(): a TLS round trip over TCP on 127.0.0.1 between a forked server and
 * the client, both through the plugin: the client writes "ping" in two SSL_writes,
 * reads "pong", and both shut down.  Prints "client got=pong" and returns 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../bench/tlsbench.h"
#pragma GCC diagnostic pop

static void serve(int l)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	server_identity(ctx);
	SSL_CTX_set_num_tickets(ctx, 0);
	int c = accept(l, NULL, NULL);
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, c);
	char buf[8] = {0};
	int got = 0, r = 1;
	if (SSL_accept(s) != 1)
		die_ssl("SSL_accept");
	while (got < 4 && (r = SSL_read(s, buf + got, 4 - got)) > 0)
		got += r;
	if (r <= 0 || memcmp(buf, "ping", 4) != 0 || SSL_write(s, "pong", 4) != 4)
		die_ssl("server");
	SSL_shutdown(s);
	SSL_free(s);
	close(c);
	_exit(0);
}

__attribute__((visibility("default"))) int plugin_main(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("listener");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		serve(l);
	close(l);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) < 0)
		die("connect");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	char buf[8] = {0};
	if (SSL_connect(s) != 1 || SSL_write(s, "pi", 2) != 2 || SSL_write(s, "ng", 2) != 2 ||
	    SSL_read(s, buf, 4) != 4)
		die_ssl("client");
	printf("client got=%s\n", buf);
	if (SSL_shutdown(s) == 0)
		SSL_shutdown(s);
	SSL_free(s);
	SSL_CTX_free(ctx);
	close(fd);
	int status;
	waitpid(pid, &status, 0);
	printf("server status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
