/* tlscork: the program of the cork tests (tests/integration/cork.c).  The same
 * binary is the program under test (run with the library preloaded and
 * SOCKTUNE_CORK set) and its peer (never preloaded): the peer is the independent
 * witness of what reached the wire, and of when.
 *
 * Every byte a connection sends and receives is hashed (SHA-256, one digest per
 * direction per connection; with several connections the digests are XORed, so the
 * order of the connections does not matter).  The test compares the sender's
 * "sent" with the receiver's "recv".  Times are CLOCK_MONOTONIC nanoseconds, the
 * test runner's clock too.
 *
 * tlspeer and tlsclient.h (the TLS tests' peer and client) do not fit here: tlspeer
 * is a server that answers with one byte, so it cannot be the peer of a server
 * under test nor hash a multi-write reply, and neither speaks plain TCP.
 *
 * This file reads the command line and runs the role its first argument names.
 * Each role has a file of its own, whose first comment says what the role does
 * and prints; what the roles share is declared in tlscork.h:
 *   serve   serve.c    a request/response server, of the --kind of program named
 *   client  client.c   its client
 *   burst   burst.c    a one-way sender: bursts of writes, each followed by a wait
 *   spin    burst.c    what burst --end exec runs: spins --spin-ms ms and exits 0
 *   sink    sink.c     the peer of burst: reads until EOF and hashes
 *
 * Where the connection comes from:
 *   --port N          connect to 127.0.0.1:N
 *   --unix PATH       connect to the unix stream socket PATH (burst)
 *   --listen-fd N     accept on this inherited listening socket (serve, sink)
 *   --port-file F     serve and burst: listen on 127.0.0.1, an ephemeral port, and
 *                     publish it in F (written when listening: the peer never
 *                     connects too early); client and sink: connect to the port F
 *                     names, once it exists
 * Other flags:
 *   --tls             TLS over the connection (serve, client; TLS 1.3); the server
 *                     needs --cert FILE --key FILE
 *   --nodelay         TCP_NODELAY, set by the program (before connect, after accept)
 *   --wait KIND       after each burst: nanosleep usleep poll ppoll select epoll
 *                     recv (MSG_DONTWAIT on the socket, the peer sends nothing) read
 *                     (a non-blocking empty pipe) cond (pthread_cond_timedwait) sem
 *                     (sem_timedwait) none, or mix (those kinds in turn);
 *                     --wait-us N how long (default 100)
 *   --seed S          the random data (default 1)
 *   --deadline-ms MS  end with SIGALRM after MS ms (default 12000)
 * Exit status 0 on success, 1 on any failure (a line on stderr says which), 2 on a
 * bad argument.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tlscork.h"

struct options o = { .kind = "", .api = "write", .wait = "none", .manage = "none", .end = "none", .listen_fd = -1,
	.conns = 1, .rounds = 1, .bursts = 1, .min = MINBODY, .max = MAXBODY, .wait_us = 100, .deadline_ms = 12000,
	.seed = 1 };

static long num(const char *flag, const char *s)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 0);
	if (errno || *e || v < 0) {
		fprintf(stderr, "tlscork: bad number for %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tlscork serve|client|burst|sink [flags]\n");
		return 2;
	}
	o.role = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--tls")) {
			o.tls = true;
			continue;
		}
		if (!strcmp(a, "--nodelay")) {
			o.nodelay = true;
			continue;
		}
		if (!strcmp(a, "--serial")) {
			o.serial = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "tlscork: %s needs a value\n", a);
			return 2;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--kind"))
			o.kind = v;
		else if (!strcmp(a, "--port"))
			o.port = (int)num(a, v);
		else if (!strcmp(a, "--port-file"))
			o.port_file = v;
		else if (!strcmp(a, "--unix"))
			o.unix_path = v;
		else if (!strcmp(a, "--listen-fd"))
			o.listen_fd = (int)num(a, v);
		else if (!strcmp(a, "--cert"))
			o.cert = v;
		else if (!strcmp(a, "--key"))
			o.key = v;
		else if (!strcmp(a, "--conns"))
			o.conns = num(a, v);
		else if (!strcmp(a, "--rounds"))
			o.rounds = num(a, v);
		else if (!strcmp(a, "--think-ms"))
			o.think_ms = num(a, v);
		else if (!strcmp(a, "--stop-us"))
			o.stop_us = num(a, v);
		else if (!strcmp(a, "--bursts"))
			o.bursts = num(a, v);
		else if (!strcmp(a, "--writes"))
			o.writes = num(a, v);
		else if (!strcmp(a, "--min"))
			o.min = num(a, v);
		else if (!strcmp(a, "--max"))
			o.max = num(a, v);
		else if (!strcmp(a, "--api"))
			o.api = v;
		else if (!strcmp(a, "--wait"))
			o.wait = v;
		else if (!strcmp(a, "--wait-us"))
			o.wait_us = num(a, v);
		else if (!strcmp(a, "--extra-waits"))
			o.extra_waits = num(a, v);
		else if (!strcmp(a, "--manage"))
			o.manage = v;
		else if (!strcmp(a, "--end"))
			o.end = v;
		else if (!strcmp(a, "--spin-ms"))
			o.spin_ms = num(a, v);
		else if (!strcmp(a, "--expect"))
			o.expect = num(a, v);
		else if (!strcmp(a, "--seed"))
			o.seed = (uint64_t)num(a, v);
		else if (!strcmp(a, "--deadline-ms"))
			o.deadline_ms = num(a, v);
		else {
			fprintf(stderr, "tlscork: unknown flag %s\n", a);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	struct itimerval it = { .it_value = { (time_t)(o.deadline_ms / 1000),
					      (suseconds_t)(o.deadline_ms % 1000 * 1000) } };
	setitimer(ITIMER_REAL, &it, NULL);
	if (!strcmp(o.role, "serve"))
		run_serve();
	else if (!strcmp(o.role, "client"))
		run_client();
	else if (!strcmp(o.role, "burst"))
		run_burst();
	else if (!strcmp(o.role, "sink"))
		run_sink();
	else if (!strcmp(o.role, "spin"))
		spin_ms(o.spin_ms);
	else {
		fprintf(stderr, "tlscork: unknown role %s\n", o.role);
		return 2;
	}
	fflush(stdout);
	return 0;
}
