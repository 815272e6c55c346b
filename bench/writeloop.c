/*
 * writeloop: the price of one write() call, the figure that shows what socktune's write
 * hook costs a program that never asked for it. It owns only the loop and its clock:
 * bench/run runs it with and without LD_PRELOAD and compares the ns-per-call it prints.
 *
 *   writeloop [CALLS [null|socketpair]]
 *
 * `null` (the default) writes to /dev/null, so the kernel side is as cheap as a syscall
 * gets and the hook's share is as large as it will ever be. `socketpair` writes to a unix
 * stream socket drained by a second thread, so the shim sees a socket fd. Prints one line
 * of key=value pairs; exits 1 if a write fails or comes up short, 2 on a usage error.
 *
 * ns_per_call is wall time. cpu_ns_per_call is the writing thread's own CPU time, which
 * leaves out the spells when another program had this CPU: over 62 runs on a shared
 * 2-vCPU VM with other jobs starting and stopping, the wall figure spread by 10.9%
 * (coefficient of variation) and the CPU figure by 1.7%. What other programs do to the
 * caches meanwhile it cannot leave out: when they ran throughout, both spread by 10%.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CALLS 2000000L

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "writeloop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(void)
{
	fputs("usage: writeloop [CALLS [null|socketpair]]\n", stderr);
	exit(2);
}

static double seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads until EOF; returns the byte count so the writer can check that none went missing. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;
	static char buf[65536];
	long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		total += n;
	}
	return (void *)(intptr_t)total;
}

int main(int argc, char **argv)
{
	long calls = DEFAULT_CALLS;
	const char *target = "null";
	if (argc > 3)
		usage();
	if (argc >= 2) {
		char *end;
		calls = strtol(argv[1], &end, 10);
		if (*end != '\0' || calls <= 0)
			usage();
	}
	if (argc == 3)
		target = argv[2];

	int fd, peer = -1;
	pthread_t drainer;
	if (strcmp(target, "null") == 0) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			die("/dev/null");
	} else if (strcmp(target, "socketpair") == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			die("socketpair");
		fd = sv[0];
		peer = sv[1];
		int err = pthread_create(&drainer, NULL, drain, &peer);
		if (err != 0) {
			errno = err;
			die("pthread_create");
		}
	} else {
		usage();
	}

	static const char c = 'x';
	double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
	for (long i = 0; i < calls; i++) {
		ssize_t n = write(fd, &c, 1);
		if (n != 1) { /* no signal handlers here, so not even EINTR is expected */
			if (n >= 0)
				errno = EIO;
			die("write");
		}
	}
	double elapsed = seconds(CLOCK_MONOTONIC) - t0;
	double cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
	close(fd);

	if (peer >= 0) {
		void *drained;
		pthread_join(drainer, &drained);
		close(peer);
		if ((intptr_t)drained != calls) {
			fprintf(stderr, "writeloop: the reader got %ld bytes of %ld\n",
				(long)(intptr_t)drained, calls);
			return 1;
		}
	}
	printf("writeloop target=%s calls=%ld seconds=%.6f ns_per_call=%.2f cpu_ns_per_call=%.2f\n",
	       target, calls, elapsed, elapsed * 1e9 / (double)calls, cpu * 1e9 / (double)calls);
	return 0;
}
