/* The configuration: libconfig files and SOCKTUNE_* variables turned into
 * one set of rules, defaults and overrides.  Pure: it reads files and
 * strings, never a socket, and reports every problem through a callback, so
 * the library logs them, `socktune check` prints them and the unit tests
 * collect them. */
#ifndef SOCKTUNE_CONFIG_H
#define SOCKTUNE_CONFIG_H

#include "rule.h"
#include "size.h"

enum { ST_MODE_OFF = 0, ST_MODE_OBSERVE = 1, ST_MODE_ON = 2 };
enum { ST_LOG_ERROR = 0, ST_LOG_WARN = 1, ST_LOG_INFO = 2, ST_LOG_DEBUG = 3 };

#define ST_MAX_RULES 64

/* Off, though make bench (arm c) finds 4K never slower than none and
 * Spice-like messages 3-6% faster: merging copies the caller's small
 * iovecs, and a copy cannot answer EFAULT for a bad pointer the way the
 * kernel does, it faults.  A host must not die of socktune, so merging
 * is for those who ask. */
#define ST_MERGE_DEFAULT 0L
/* Spice's figure (seed 004): its writevs of at most 1 KiB were merged. */
#define ST_TLS_MERGE_DEFAULT 1024L
/* How long a byte may be held (TLS or corked), in milliseconds: a safety
 * net under the wait points, which send holds long before it.  At most the
 * kernel's own cork bound. */
#define ST_HOLD_MAX_DEFAULT 20
#define ST_HOLD_MAX_LIMIT 200
#define ST_MAX_SOURCES 4

struct st_config {
	int mode;
	int log;
	char stats[ST_SOURCE_MAX]; /* "" = no report */
	int tls_split;             /* a TLS flush puts its last piece in a record of its own */
	int hold_max;              /* ms a held byte may wait, whatever its thread does */
	struct st_opts defaults;   /* built in, then each file's defaults group */
	struct st_opts env;        /* SOCKTUNE_SNDBUF and friends; ST_UNSET where not given */
	int nrules;
	struct st_rule rules[ST_MAX_RULES];
	int needs_peer, needs_local; /* some rule asks for the peer / local port */
	int errors;                  /* problems reported so far */
	int nsources;
	char sources[ST_MAX_SOURCES][ST_SOURCE_MAX]; /* files read, in order */
};

/* One problem: where (source and line, 0 when it has none), which key, and
 * a message that says what is accepted. */
typedef void (*st_diag_fn)(void *ctx, const char *source, int line, const char *key,
			   const char *msg);
typedef char *(*st_getenv_fn)(const char *name);

/* The built-in defaults: on, warn, sndbuf and rcvbuf auto, nodelay left. */
void conf_defaults(struct st_config *c);

/* Reads one file on top of c.  Returns 1 when read, 0 when it does not exist
 * (quietly, unless must_exist), -1 when it could not be used; the problems
 * went to diag.  With secure, the file is used only when owned by root and
 * not writable by group or others. */
int conf_read_file(struct st_config *c, const char *path, int must_exist, int secure,
		     st_diag_fn diag, void *ctx);

/* Sets one key from text, as the environment and `socktune -o` give it:
 * mode, log, stats, tls_split, hold_max, sndbuf, rcvbuf, nodelay, force, merge,
 * tls_merge, cork.  sndbuf and friends go
 * to the overrides (c->env).  Returns 0, or -1 after a diag. */
int conf_set(struct st_config *c, const char *key, const char *value, const char *source,
	     const char *shown_key, st_diag_fn diag, void *ctx);

/* The environment variable that carries a key ("sndbuf" -> SOCKTUNE_SNDBUF,
 * "mode" -> SOCKTUNE), or NULL for a key that has none. */
const char *conf_env_name(const char *key);

/* Every source in the documented order: built-ins, SYSCONFDIR/socktune.conf,
 * the user's file, $SOCKTUNE_CONFIG, then the SOCKTUNE_* variables.  With
 * secure (AT_SECURE), only the system file.  Finishes with conf_finish. */
void conf_load(struct st_config *c, const char *sysconfdir, int secure, st_getenv_fn env,
		 st_diag_fn diag, void *ctx, const char *prog, const char *progpath);

/* Precomputes what matching needs: program globs, whether peers are asked. */
void conf_finish(struct st_config *c, const char *prog, const char *progpath);

/* The options for socket s: the first rule that matches over the defaults,
 * then the environment's overrides.  ST_AUTO is left for the platform table.
 * Returns the rule, or NULL when only the defaults applied. */
const struct st_rule *conf_decide(const struct st_config *c, const struct st_sock *s,
				    struct st_opts *out);

const char *mode_name(int mode);
const char *log_name(int level);

#endif
