/* tls_common.h: what the TLS tests (tls.c and tls_wait.c) share: a self-signed
 * certificate, background peers (never preloaded), the program under test in front of
 * such a peer (struct pair), the writer's environment, and the checks of what the peer
 * received and of the writer's stats record.
 *
 * The functions assert with Criterion (a failure or a skip ends the calling test), so
 * they are called from tests only; every string they return is malloc'd.
 */
#ifndef SOCKTUNE_IT_TLS_COMMON_H
#define SOCKTUNE_IT_TLS_COMMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "run.h"

/* How long a background peer may take to end after the program under test (ms). */
#define BG_TIMEOUT_MS 15000

/* asprintf that aborts on failure. */
char *tls_xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- a self-signed certificate, made once per test process ---- */

/* The PEM files, set by tls_make_cert. */
extern const char *tls_cert_pem, *tls_key_pem;

/* Makes them with the openssl command (skips the test when it is not installed). */
void tls_make_cert(void);

/* ---- background processes (the peers), never preloaded ---- */

struct bg {
	pid_t pid;
	int stdin_w; /* write end of the peer's stdin pipe, or -1 */
	char *out_path, *err_path;
	char *out, *err;
	int status;
};

/* Starts ARGV in its own process group with a minimal environment (no LD_PRELOAD),
 * stdout and stderr to files, LISTEN_FD (when >= 0) as its fd 3, and stdin from
 * /dev/null or, with STDIN_PIPE, from a pipe this process keeps open. */
void tls_bg_start(struct bg *b, const char *const argv[], int listen_fd, bool stdin_pipe);

void tls_sleep_ms(long ms);

/* Waits for the peer at most TIMEOUT_MS, then kills its group; reads its output. */
int tls_bg_wait(struct bg *b, long timeout_ms);

/* A listening TCP socket on 127.0.0.1 and a free port; close-on-exec here (the peer
 * gets it as fd 3). */
int tls_make_listener(int *port);

/* ---- one exchange: a peer in the background, the program under test in front ---- */

struct pair {
	struct it_run w; /* the program under test */
	struct bg peer;
	char *stats_dir;
};

/* A new NULL-terminated list: A's entries, then B's (either may be NULL). */
const char *const *tls_cat_args(const char *const a[], const char *const b[]);

/* Both ends' status and output, for assertion messages. */
char *tls_dump(const struct pair *p);

/* The writer's environment: MERGE as SOCKTUNE_TLS_MERGE, a stats file per process,
 * MODE as SOCKTUNE when not NULL, and tls_hold_max as SOCKTUNE_HOLD_MAX when set
 * (the test's own choice; NULL, the default, leaves it out). */
extern const char *tls_hold_max;
const char *const *tls_writer_env(struct pair *p, const char *merge, const char *mode);

/* tlspeer (PEER_ARGS) against tlswriter (WRITER_ARGS), the writer preloaded with
 * SOCKTUNE_TLS_MERGE=MERGE (and SOCKTUNE=MODE). */
void tls_pair_run(struct pair *p, const char *const peer_args[], const char *const writer_args[],
		  const char *merge, const char *mode);

/* The writer's stats record, flattened (the writer printed its pid). */
char *tls_writer_stats(const struct pair *p, const char *prefix);

/* The peer decrypted exactly what the writer wrote, and saw the ending WANT_END
 * (close_notify or eof) when not NULL. */
void tls_assert_same_bytes(const struct pair *p, const char *want_end);

/* The python3 interpreter itself (not a pyenv shim), found once; skips the test
 * when there is no python3. */
const char *tls_python_exe(void);

#endif
