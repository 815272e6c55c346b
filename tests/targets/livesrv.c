/* livesrv: a small long-running server for the live-figures tests.  It
 * listens on the unix socket PATH and answers each connection's one-line
 * command, then closes it:
 *   ping   "pong"                       (a tuned, accepted socket per call)
 *   pair N "paired N"                   (N connections to itself: 2N sockets)
 *   exec   "exec"                       then execs itself, same pid
 *   fork N "child PID"                  a child that makes N pairs and waits
 *   quit   "bye"                        then exits 0
 * It writes its pid and "ready" on stdout when it listens. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un addr;

/* N connections to itself, on a listener of its own (abstract name): a
 * connected client and an accepted server socket each. */
static void pairs(int n)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    (size_t)snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1,
						     "livesrv-%ld", (long)getpid()));
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, n) < 0) {
		perror("livesrv: pairs");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, len) < 0) {
			perror("livesrv: connect");
			exit(1);
		}
		int s = accept(l, NULL, NULL);
		close(c);
		close(s);
	}
	close(l);
}

int main(int argc, char **argv)
{
	if (argc != 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: livesrv PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, argv[1]);
	unlink(argv[1]);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 16) < 0) {
		perror("livesrv: listen");
		return 1;
	}
	printf("%ld ready\n", (long)getpid());
	fflush(stdout);
	for (;;) {
		char cmd[64] = "";
		char reply[64];
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		ssize_t n = read(c, cmd, sizeof(cmd) - 1);
		cmd[n > 0 ? n : 0] = '\0';
		int arg = atoi(cmd + strcspn(cmd, " "));
		if (!strncmp(cmd, "pair", 4)) {
			pairs(arg);
			snprintf(reply, sizeof(reply), "paired %d\n", arg);
		} else if (!strncmp(cmd, "fork", 4)) {
			pid_t pid = fork();
			if (pid == 0) {
				pairs(arg);
				pause();
				_exit(0);
			}
			snprintf(reply, sizeof(reply), "child %ld\n", (long)pid);
		} else if (!strncmp(cmd, "exec", 4)) {
			snprintf(reply, sizeof(reply), "exec\n");
		} else if (!strncmp(cmd, "quit", 4)) {
			snprintf(reply, sizeof(reply), "bye\n");
		} else {
			snprintf(reply, sizeof(reply), "pong\n");
		}
		if (write(c, reply, strlen(reply)) < 0)
			perror("livesrv: write");
		close(c);
		if (!strncmp(cmd, "quit", 4))
			return 0;
		if (!strncmp(cmd, "exec", 4)) {
			close(l);
			execv("/proc/self/exe", argv);
			perror("livesrv: exec");
			return 1;
		}
	}
}
