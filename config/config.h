/* The configuration: libconfig files and SOCKTUNE_* variables turned into
 * one set of rules, defaults and overrides, through one table of keys
 * (keys.def).  Pure: it reads files and strings, never a socket, and reports
 * every problem through a callback, so the library logs them, `socktune
 * check` prints them and the unit tests collect them. */
#ifndef SOCKTUNE_CONFIG_H
#define SOCKTUNE_CONFIG_H

#include "rule.h"
#include "size.h"

#include <stddef.h>

enum { ST_MODE_OFF = 0, ST_MODE_OBSERVE = 1, ST_MODE_ON = 2 };
/* QUIET, the default, prints nothing: a host's stderr is its own. */
enum { ST_LOG_QUIET = 0, ST_LOG_ERROR = 1, ST_LOG_WARN = 2, ST_LOG_INFO = 3, ST_LOG_DEBUG = 4 };

#define ST_MAX_RULES 64

/* How long a byte may be held (TLS or corked), in milliseconds, at most:
 * the kernel's own cork bound. */
#define ST_HOLD_MAX_LIMIT 200

/* Where the live figures go by default: memory, on Linux. */
#ifdef __linux__
#define ST_LIVE_DIR "/dev/shm"
#else
#define ST_LIVE_DIR "/tmp"
#endif
/* The profile, then the system, user and extra files. */
#define ST_MAX_SOURCES 5

struct st_config {
	int mode;
	int log;
	char stats[ST_SOURCE_MAX]; /* "" = no report */
	int tls_split;             /* a TLS flush puts its last piece in a record of its own */
	int hold_max;              /* ms a held byte may wait, whatever its thread does */
	char profile[ST_NAME_MAX]; /* the profile read beneath the files; "" = none */
	char profile_from[ST_SOURCE_MAX + 16]; /* where it was named: a variable, or file:line */
	int live;                  /* keep the figures in a file others can read */
	char live_dir[ST_SOURCE_MAX]; /* where: LIVE_DIR/socktune-UID/PID */
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

/* Where a key may be written, and so which struct its field is in.  Bits,
 * so that a reader can ask for the keys of several places at once. */
enum st_key_kind {
	ST_KEY_GLOBAL = 1, /* a file's top level, and its variable: struct st_config */
	ST_KEY_OPTION = 2, /* defaults and rules, and its variable, which overrides
			    * both for every socket: struct st_opts */
	ST_KEY_MATCH = 4,  /* a rule only: what the rule matches, and its name:
			    * struct st_rule */
};

/* What a key's value is.  Each type has one parser, one way to print a
 * value back, and keys of one type share one accepted-values text. */
enum st_value_type {
	ST_VALUE_SIZE,      /* long: size_parse */
	ST_VALUE_SWITCH,    /* int 0/1 */
	ST_VALUE_SWITCH_OR_DEFAULT, /* int 0/1/ST_DEFAULT */
	ST_VALUE_MERGE,     /* long, 0 to ST_MERGE_MAX */
	ST_VALUE_TLS_MERGE, /* long, 0 to ST_TLS_MERGE_MAX */
	ST_VALUE_CORK,      /* int ST_CORK_* */
	ST_VALUE_MODE,      /* int ST_MODE_* */
	ST_VALUE_LOG,       /* int ST_LOG_* */
	ST_VALUE_HOLD,      /* int, milliseconds */
	ST_VALUE_STRING,    /* char[size], a string in a file; a path or a glob */
	ST_VALUE_PROFILE,   /* char[size], a profile's name (profile.h) */
	ST_VALUE_DIR,       /* char[size], an absolute path */
	ST_VALUE_FAMILY,    /* unsigned ST_FAM_* mask */
	ST_VALUE_TYPE,      /* unsigned ST_TYPE_* mask */
	ST_VALUE_ROLE,      /* int ST_ROLE_* */
	ST_VALUE_PORTS,     /* struct st_portset */
	ST_VALUE_CIDR,      /* struct st_cidr */
	ST_VALUE_DEFAULTS,  /* the defaults group: option keys */
	ST_VALUE_RULES,     /* the rules list: groups of match and option keys */
};

/* One configuration key, as every source, message and listing sees it. */
struct st_key {
	const char *name;
	enum st_key_kind kind;
	size_t offset, size; /* its field in the struct its kind names */
	const char *env;     /* its variable, or NULL when it has none */
	enum st_value_type type;
	const char *def;      /* the built-in value, as text the parser takes;
			       * NULL when it is zero (or there is no field) */
	const char *accepted; /* what the parser takes, in words true of a file
			       * and of a variable alike */
	const char *help;     /* one line, for --help */
};

/* Every key, in the order messages list them, ended by one with a NULL
 * name: for (const struct st_key *k = socktune_keys; k->name; k++). */
extern const struct st_key socktune_keys[];

/* The key called name among the kinds asked for (ST_KEY_* bits), or NULL. */
const struct st_key *conf_key_find(const char *name, unsigned kinds);

/* Parses text as k's value into its field of base (the struct k->kind
 * names).  Returns 0, or -1 with base untouched. */
int conf_key_parse(const struct st_key *k, const char *text, void *base);

/* k's value in base as text the parser takes back ("2M", "on", "inet,unix"):
 * in buf, or in base itself for a string; NULL when it is unset (ST_UNSET,
 * an empty string, no criterion). */
const char *conf_key_format(const struct st_key *k, const void *base, char *buf, size_t len);

/* The built-in defaults (each key's def): on, warn, sndbuf and rcvbuf
 * auto, nodelay left; no rules, no overrides. */
void conf_defaults(struct st_config *c);

/* Reads one file on top of c.  Returns 1 when read, 0 when it does not exist
 * (quietly, unless must_exist), -1 when it could not be used; the problems
 * went to diag.  With secure, the file is used only when owned by root and
 * not writable by group or others.  Its profile key is not followed here:
 * conf_load chooses among the sources' profiles. */
int conf_read_file(struct st_config *c, const char *path, int must_exist, int secure,
		     st_diag_fn diag, void *ctx);

/* Sets one key from text, as the environment and `socktune -o` give it:
 * a key with a variable.  An option key goes to the overrides (c->env).
 * Returns 0, or -1 after a diag. */
int conf_set(struct st_config *c, const char *key, const char *value, const char *source,
	     const char *shown_key, st_diag_fn diag, void *ctx);

/* The environment variable that carries a key ("sndbuf" -> SOCKTUNE_SNDBUF,
 * "mode" -> SOCKTUNE), or NULL for a key that has none. */
const char *conf_env_name(const char *key);

/* Every source in the documented order: built-ins, the profile,
 * SYSCONFDIR/socktune.conf, the user's file, $SOCKTUNE_CONFIG, then the
 * SOCKTUNE_* variables.  The profile is the one SOCKTUNE_PROFILE names, else
 * the one the last file to name one names; it is read from profile_dir().
 * With secure (AT_SECURE), only the system file and a profile it names.
 * Finishes with conf_finish. */
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
