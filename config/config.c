/* Reading the configuration.  Each source is read once, in a fixed order,
 * and a later one wins: its defaults replace earlier ones key by key and its
 * rules are tried before earlier rules.  A problem is reported once, names
 * where it is, and costs only the piece it spoils: a bad option value drops
 * that option, a bad match key drops its whole rule (a rule with a criterion
 * missing would match more than its author meant), a syntax error drops the
 * file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A configuration file is read whole into memory first: larger ones are
 * refused. */
#define CONF_FILE_MAX (1L << 20)

#define MODE_ACCEPTED "\"on\", \"observe\" or \"off\""
#define LOG_ACCEPTED "\"error\", \"warn\", \"info\" or \"debug\""
#define STATS_ACCEPTED "\"stderr\", a file path (%p becomes the pid) or \"\" for none"
#define NODELAY_ACCEPTED "true, false or \"default\""
#define FORCE_ACCEPTED "true or false"
#define TLS_SPLIT_ACCEPTED "on or off"
#define HOLD_MAX_ACCEPTED "a time from 1 to 200 milliseconds: 20 or \"20ms\""

static void diagf(st_diag_fn diag, void *ctx, struct st_config *c, const char *source, int line,
		  const char *key, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void diagf(st_diag_fn diag, void *ctx, struct st_config *c, const char *source, int line,
		  const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->errors++;
	if (diag)
		diag(ctx, source, line, key, msg);
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void conf_defaults(struct st_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = ST_MODE_ON;
	c->log = ST_LOG_WARN;
	c->tls_split = 1;
	c->hold_max = ST_HOLD_MAX_DEFAULT;
	c->defaults = (struct st_opts){
		.sndbuf = ST_AUTO,
		.rcvbuf = ST_AUTO,
		.nodelay = ST_DEFAULT,
		.force = 0,
		.merge = ST_MERGE_DEFAULT,
		.tls_merge = ST_TLS_MERGE_DEFAULT,
		.cork = ST_CORK_OFF,
	};
	c->env = (struct st_opts){ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET};
}

const char *mode_name(int mode)
{
	static const char *const names[] = {"off", "observe", "on"};
	return mode >= 0 && mode <= 2 ? names[mode] : "?";
}

const char *log_name(int level)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	return level >= 0 && level <= 3 ? names[level] : "?";
}

static int mode_parse(const char *t, int *out)
{
	for (int m = 0; m <= 2; m++)
		if (!strcasecmp(t, mode_name(m)))
			return *out = m, 0;
	return -1;
}

/* Milliseconds, 1 to 200 (the kernel's own cork bound), with an optional
 * "ms". */
static int hold_max_parse(const char *t, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(t, &end, 10);
	if (end == t || errno || (*end && strcmp(end, "ms")) || v < 1 || v > ST_HOLD_MAX_LIMIT)
		return -1;
	*out = (int)v;
	return 0;
}

static int log_parse(const char *t, int *out)
{
	for (int l = 0; l <= 3; l++)
		if (!strcasecmp(t, log_name(l)))
			return *out = l, 0;
	if (!strcasecmp(t, "warning"))
		return *out = ST_LOG_WARN, 0;
	return -1;
}

/* The value of a scalar setting as text, whatever type libconfig gave it, so
 * that `sndbuf = 65536;` and `sndbuf = "64K";` go through one parser. */
static const char *setting_text(const config_setting_t *s, char *buf, size_t len)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return config_setting_get_string(s);
	case CONFIG_TYPE_INT:
		snprintf(buf, len, "%d", config_setting_get_int(s));
		return buf;
	case CONFIG_TYPE_INT64:
		snprintf(buf, len, "%lld", config_setting_get_int64(s));
		return buf;
	case CONFIG_TYPE_BOOL:
		return config_setting_get_bool(s) ? "true" : "false";
	default:
		return NULL;
	}
}

/* Keys that set an option, in a rule or in defaults.  Returns 1 when key is
 * one of them (handled, well or not), 0 when it is not an option key. */
static int opt_setting(struct st_config *c, struct st_opts *o, const config_setting_t *s,
		       const char *source, const char *path, st_diag_fn diag, void *ctx)
{
	const char *key = config_setting_name(s);
	int line = (int)config_setting_source_line(s);
	char buf[64];
	const char *text = setting_text(s, buf, sizeof(buf));
	const char *shown = text ? text : "(not a scalar)";

	if (!strcmp(key, "sndbuf") || !strcmp(key, "rcvbuf")) {
		long v;
		if (!text || size_parse(text, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not a size; accepted: %s",
			      shown, ST_SIZE_ACCEPTED);
		else if (key[0] == 's')
			o->sndbuf = v;
		else
			o->rcvbuf = v;
		return 1;
	}
	if (!strcmp(key, "nodelay")) {
		int v;
		if (!text || switch_parse(text, 1, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not valid; accepted: %s",
			      shown, NODELAY_ACCEPTED);
		else
			o->nodelay = v;
		return 1;
	}
	if (!strcmp(key, "merge")) {
		long v;
		if (!text || merge_parse(text, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not valid; accepted: %s",
			      shown, ST_MERGE_ACCEPTED);
		else
			o->merge = v;
		return 1;
	}
	if (!strcmp(key, "cork")) {
		int v;
		if (!text || cork_parse(text, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not valid; accepted: %s",
			      shown, ST_CORK_ACCEPTED);
		else
			o->cork = v;
		return 1;
	}
	if (!strcmp(key, "tls_merge")) {
		long v;
		if (!text || tls_merge_parse(text, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not valid; accepted: %s",
			      shown, ST_TLS_MERGE_ACCEPTED);
		else
			o->tls_merge = v;
		return 1;
	}
	if (!strcmp(key, "force")) {
		int v;
		if (!text || switch_parse(text, 0, &v) < 0)
			diagf(diag, ctx, c, source, line, path, "\"%s\" is not valid; accepted: %s",
			      shown, FORCE_ACCEPTED);
		else
			o->force = v;
		return 1;
	}
	return 0;
}

static void read_defaults(struct st_config *c, const config_setting_t *g, const char *source,
			  st_diag_fn diag, void *ctx)
{
	struct st_opts o = {ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET};
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		char path[96];
		snprintf(path, sizeof(path), "defaults.%s", config_setting_name(s));
		if (!opt_setting(c, &o, s, source, path, diag, ctx))
			diagf(diag, ctx, c, source, (int)config_setting_source_line(s), path,
			      "unknown key; accepted: sndbuf, rcvbuf, nodelay, force, merge, tls_merge, "
			      "cork");
	}
	if (o.sndbuf != ST_UNSET)
		c->defaults.sndbuf = o.sndbuf;
	if (o.rcvbuf != ST_UNSET)
		c->defaults.rcvbuf = o.rcvbuf;
	if (o.nodelay != ST_UNSET)
		c->defaults.nodelay = o.nodelay;
	if (o.force != ST_UNSET)
		c->defaults.force = o.force;
	if (o.merge != ST_UNSET)
		c->defaults.merge = o.merge;
	if (o.tls_merge != ST_UNSET)
		c->defaults.tls_merge = o.tls_merge;
	if (o.cork != ST_UNSET)
		c->defaults.cork = o.cork;
}

/* One match key of a rule.  Returns 0 when it was good, -1 when the rule
 * must go, 1 when key is not a match key. */
static int match_setting(struct st_rule *r, const config_setting_t *s, const char **accepted)
{
	const char *key = config_setting_name(s);
	char buf[64];
	const char *text = setting_text(s, buf, sizeof(buf));

#define MATCH(name, acc, parse)                                                                    \
	if (!strcmp(key, name)) {                                                                  \
		*accepted = acc;                                                                   \
		return text && (parse) == 0 ? 0 : -1;                                              \
	}
	MATCH("family", ST_FAMILY_ACCEPTED, family_parse(text, &r->families))
	MATCH("type", ST_TYPE_ACCEPTED, type_parse(text, &r->types))
	MATCH("role", ST_ROLE_ACCEPTED, role_parse(text, &r->role))
	MATCH("local_port", ST_PORTS_ACCEPTED, ports_parse(text, &r->local_port))
	MATCH("peer_port", ST_PORTS_ACCEPTED, ports_parse(text, &r->peer_port))
	MATCH("peer", ST_PEER_ACCEPTED, cidr_parse(text, &r->peer))
#undef MATCH
	if (!strcmp(key, "program") || !strcmp(key, "name")) {
		/* A glob cut short would match programs it was not written for. */
		*accepted = key[0] == 'p' ? "a string of at most 127 bytes"
					  : "a string of at most 63 bytes";
		char *dst = key[0] == 'p' ? r->program : r->name;
		size_t room = key[0] == 'p' ? sizeof(r->program) : sizeof(r->name);
		if (config_setting_type(s) != CONFIG_TYPE_STRING || strlen(text) >= room)
			return -1;
		memcpy(dst, text, strlen(text) + 1);
		return 0;
	}
	return 1;
}

#define RULE_KEYS                                                                                  \
	"name, family, type, role, program, local_port, peer_port, peer, sndbuf, rcvbuf, "         \
	"nodelay, force, merge, tls_merge, cork"

/* Reads the rules of one file into out[]; returns how many were good. */
static int read_rules(struct st_config *c, const config_setting_t *list, const char *source,
		      struct st_rule *out, int max, st_diag_fn diag, void *ctx)
{
	int n = 0;
	if (!config_setting_is_aggregate(list) || config_setting_is_group(list)) {
		diagf(diag, ctx, c, source, (int)config_setting_source_line(list), "rules",
		      "must be a list of groups, such as rules = ( { family = \"unix\"; sndbuf = "
		      "\"2M\"; } ); the rules are ignored");
		return 0;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		int line = (int)config_setting_source_line(g);
		char path[96];
		if (!config_setting_is_group(g)) {
			snprintf(path, sizeof(path), "rules[%d]", i);
			diagf(diag, ctx, c, source, line, path,
			      "must be a group { ... }; this rule is ignored");
			continue;
		}
		struct st_rule r = {.opts = {ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET, ST_UNSET}};
		copy_str(r.source, sizeof(r.source), source);
		r.line = line;
		int good = 1;
		for (int k = 0; k < config_setting_length(g); k++) {
			const config_setting_t *s = config_setting_get_elem(g, (unsigned)k);
			int kline = (int)config_setting_source_line(s);
			const char *accepted = NULL;
			snprintf(path, sizeof(path), "rules[%d].%s", i, config_setting_name(s));
			if (opt_setting(c, &r.opts, s, source, path, diag, ctx))
				continue;
			int m = match_setting(&r, s, &accepted);
			if (m < 0) {
				char buf[64];
				const char *t = setting_text(s, buf, sizeof(buf));
				diagf(diag, ctx, c, source, kline, path,
				      "\"%s\" is not valid; accepted: %s; this rule is ignored",
				      t ? t : "(not a scalar)", accepted);
				good = 0;
			} else if (m > 0) {
				diagf(diag, ctx, c, source, kline, path,
				      "unknown key; accepted: " RULE_KEYS "; this rule is ignored");
				good = 0;
			}
		}
		if (!good)
			continue;
		if (n == max) {
			snprintf(path, sizeof(path), "rules[%d]", i);
			diagf(diag, ctx, c, source, line, path,
			      "too many rules (at most %d); this and later rules are ignored",
			      ST_MAX_RULES);
			break;
		}
		out[n++] = r;
	}
	return n;
}

static int set_key(struct st_config *c, const char *key, const char *value, const char *source,
		   int line, const char *shown_key, st_diag_fn diag, void *ctx);

static void read_root(struct st_config *c, const config_setting_t *root, const char *source,
		      st_diag_fn diag, void *ctx)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *key = config_setting_name(s);
		int line = (int)config_setting_source_line(s);
		char buf[64];
		const char *text = setting_text(s, buf, sizeof(buf));

		if (!strcmp(key, "defaults") && config_setting_is_group(s)) {
			read_defaults(c, s, source, diag, ctx);
		} else if (!strcmp(key, "rules")) {
			/* This file's rules go before the earlier files' rules. */
			static struct st_rule fresh[ST_MAX_RULES];
			int n = read_rules(c, s, source, fresh, ST_MAX_RULES, diag, ctx);
			int keep = c->nrules;
			if (n + keep > ST_MAX_RULES)
				keep = ST_MAX_RULES - n;
			memmove(&c->rules[n], &c->rules[0], (size_t)keep * sizeof(c->rules[0]));
			memcpy(&c->rules[0], fresh, (size_t)n * sizeof(fresh[0]));
			c->nrules = n + keep;
		} else if (!strcmp(key, "mode") || !strcmp(key, "log") || !strcmp(key, "stats") ||
			   !strcmp(key, "tls_split") || !strcmp(key, "hold_max")) {
			set_key(c, key, text ? text : "(not a scalar)", source, line, key, diag, ctx);
		} else {
			diagf(diag, ctx, c, source, line, key,
			      "unknown key; accepted: mode, log, stats, tls_split, hold_max, "
			      "defaults = { ... }, "
			      "rules = ( ... )");
		}
	}
}

/* libconfig's @include makes its scanner open another path itself, and
 * that scanner exits the process on a read error (a directory) and blocks
 * on a FIFO.  So the directive is not obeyed: its line is blanked, keeping
 * the line numbers, with a message. */
static void drop_includes(struct st_config *c, char *text, const char *path, st_diag_fn diag,
			  void *ctx)
{
	int line = 1;
	for (char *p = text; *p;) {
		char *end = strchr(p, '\n');
		char *q = p + strspn(p, " \t");
		if (!strncmp(q, "@include", 8)) {
			diagf(diag, ctx, c, path, line, NULL,
			      "@include is not supported (socktune reads each file itself); "
			      "this line is ignored");
			memset(p, ' ', end ? (size_t)(end - p) : strlen(p));
		}
		if (!end)
			break;
		p = end + 1;
		line++;
	}
}

/* The text of path, NUL-terminated, or NULL after a message (or quietly,
 * with *missing set, when it does not exist).  Only a regular file is
 * read, opened without blocking, and only up to CONF_FILE_MAX: a FIFO, a
 * directory or a device must neither block nor end the program. */
static char *read_whole(struct st_config *c, const char *path, int secure, int *missing,
			st_diag_fn diag, void *ctx)
{
	struct stat st;
	*missing = 0;
	/* Asked before the open too, since opening a device can do things. */
	int fd = stat(path, &st) < 0	    ? -1
		 : !S_ISREG(st.st_mode) ? -2
					    : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return *missing = 1, NULL;
	if (fd == -1) {
		diagf(diag, ctx, c, path, 0, NULL, "cannot read: %s; this file is ignored",
		      strerror(errno));
		return NULL;
	}
	if (fd == -2 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diagf(diag, ctx, c, path, 0, NULL, "not a regular file; this file is ignored");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (secure && (st.st_uid != 0 || (st.st_mode & 022))) {
		diagf(diag, ctx, c, path, 0, NULL,
		      "not owned by root or writable by others; ignored in a setuid program");
		close(fd);
		return NULL;
	}
	/* The size as fstat says, which is 0 for /proc files, and what the
	 * reads then find: at most CONF_FILE_MAX + 1 bytes, to see it is more. */
	size_t cap = st.st_size < CONF_FILE_MAX ? (size_t)st.st_size + 1 : (size_t)CONF_FILE_MAX + 1;
	size_t len = 0;
	ssize_t n = 1;
	char *text = malloc(cap + 1);
	while (text && n != 0 && len <= (size_t)CONF_FILE_MAX) {
		if (len == cap) {
			cap = cap * 2 > (size_t)CONF_FILE_MAX ? (size_t)CONF_FILE_MAX + 1 : cap * 2;
			char *more = realloc(text, cap + 1);
			if (!more)
				free(text);
			text = more;
			continue;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0 && errno != EINTR)
			break;
		len += n > 0 ? (size_t)n : 0;
	}
	int err = errno;
	close(fd);
	if (!text || n < 0) {
		diagf(diag, ctx, c, path, 0, NULL, "cannot read: %s; this file is ignored",
		      strerror(text ? err : ENOMEM));
	} else if (len > (size_t)CONF_FILE_MAX) {
		diagf(diag, ctx, c, path, 0, NULL,
		      "larger than %ld bytes, too large for a configuration; this file is ignored",
		      CONF_FILE_MAX);
	} else {
		text[len] = '\0';
		return text;
	}
	free(text);
	return NULL;
}

int conf_read_file(struct st_config *c, const char *path, int must_exist, int secure,
		     st_diag_fn diag, void *ctx)
{
	int missing;
	char *text = read_whole(c, path, secure, &missing, diag, ctx);
	if (!text) {
		if (missing && must_exist)
			diagf(diag, ctx, c, path, 0, NULL, "cannot read: %s; this file is ignored",
			      strerror(ENOENT));
		return missing ? 0 : -1;
	}
	drop_includes(c, text, path, diag, ctx);

	config_t cf;
	config_init(&cf);
	int ok = config_read_string(&cf, text);
	free(text);
	if (ok != CONFIG_TRUE) {
		diagf(diag, ctx, c, path, config_error_line(&cf), NULL,
		      "syntax error: %s; this file is ignored", config_error_text(&cf));
		config_destroy(&cf);
		return -1;
	}
	read_root(c, config_root_setting(&cf), path, diag, ctx);
	config_destroy(&cf);
	if (c->nsources < ST_MAX_SOURCES)
		copy_str(c->sources[c->nsources++], ST_SOURCE_MAX, path);
	return 1;
}

static const struct {
	const char *key, *env;
} env_keys[] = {
	{"mode", "SOCKTUNE"},
	{"log", "SOCKTUNE_LOG"},
	{"stats", "SOCKTUNE_STATS"},
	{"tls_split", "SOCKTUNE_TLS_SPLIT"},
	{"hold_max", "SOCKTUNE_HOLD_MAX"},
	{"sndbuf", "SOCKTUNE_SNDBUF"},
	{"rcvbuf", "SOCKTUNE_RCVBUF"},
	{"nodelay", "SOCKTUNE_NODELAY"},
	{"force", "SOCKTUNE_FORCE"},
	{"merge", "SOCKTUNE_MERGE"},
	{"tls_merge", "SOCKTUNE_TLS_MERGE"},
	{"cork", "SOCKTUNE_CORK"},
};

const char *conf_env_name(const char *key)
{
	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++)
		if (!strcmp(key, env_keys[i].key))
			return env_keys[i].env;
	return NULL;
}

int conf_set(struct st_config *c, const char *key, const char *value, const char *source,
	     const char *shown_key, st_diag_fn diag, void *ctx)
{
	return set_key(c, key, value, source, 0, shown_key, diag, ctx);
}

static int set_key(struct st_config *c, const char *key, const char *value, const char *source,
		   int line, const char *shown_key, st_diag_fn diag, void *ctx)
{
	const char *acc;
	int iv;
	long lv;

	if (!strcmp(key, "mode")) {
		if (mode_parse(value, &iv) == 0)
			return c->mode = iv, 0;
		acc = MODE_ACCEPTED;
	} else if (!strcmp(key, "log")) {
		if (log_parse(value, &iv) == 0)
			return c->log = iv, 0;
		acc = LOG_ACCEPTED;
	} else if (!strcmp(key, "stats")) {
		/* "" turns off a report an earlier source asked for. */
		if (strlen(value) < sizeof(c->stats))
			return copy_str(c->stats, sizeof(c->stats), value), 0;
		acc = STATS_ACCEPTED;
	} else if (!strcmp(key, "tls_split")) {
		if (switch_parse(value, 0, &iv) == 0)
			return c->tls_split = iv, 0;
		acc = TLS_SPLIT_ACCEPTED;
	} else if (!strcmp(key, "hold_max")) {
		if (hold_max_parse(value, &iv) == 0)
			return c->hold_max = iv, 0;
		acc = HOLD_MAX_ACCEPTED;
	} else if (!strcmp(key, "sndbuf") || !strcmp(key, "rcvbuf")) {
		if (size_parse(value, &lv) == 0) {
			*(key[0] == 's' ? &c->env.sndbuf : &c->env.rcvbuf) = lv;
			return 0;
		}
		acc = ST_SIZE_ACCEPTED;
	} else if (!strcmp(key, "nodelay")) {
		if (switch_parse(value, 1, &iv) == 0)
			return c->env.nodelay = iv, 0;
		acc = "on, off or default";
	} else if (!strcmp(key, "force")) {
		if (switch_parse(value, 0, &iv) == 0)
			return c->env.force = iv, 0;
		acc = "on or off";
	} else if (!strcmp(key, "merge")) {
		if (merge_parse(value, &lv) == 0)
			return c->env.merge = lv, 0;
		acc = ST_MERGE_ACCEPTED;
	} else if (!strcmp(key, "tls_merge")) {
		if (tls_merge_parse(value, &lv) == 0)
			return c->env.tls_merge = lv, 0;
		acc = ST_TLS_MERGE_ACCEPTED;
	} else if (!strcmp(key, "cork")) {
		if (cork_parse(value, &iv) == 0)
			return c->env.cork = iv, 0;
		acc = ST_CORK_ACCEPTED;
	} else {
		diagf(diag, ctx, c, source, line, shown_key,
		      "unknown key; accepted: mode, log, stats, tls_split, hold_max, sndbuf, rcvbuf, "
		      "nodelay, force, merge, tls_merge, cork");
		return -1;
	}
	diagf(diag, ctx, c, source, line, shown_key, "\"%s\" is not valid; accepted: %s", value, acc);
	return -1;
}

void conf_load(struct st_config *c, const char *sysconfdir, int secure, st_getenv_fn env,
		 st_diag_fn diag, void *ctx, const char *prog, const char *progpath)
{
	char path[ST_SOURCE_MAX];

	conf_defaults(c);
	snprintf(path, sizeof(path), "%s/socktune.conf", sysconfdir);
	conf_read_file(c, path, 0, secure, diag, ctx);

	if (!secure) {
		const char *xdg = env("XDG_CONFIG_HOME");
		const char *home = env("HOME");
		int n = -1;
		if (xdg && xdg[0] == '/')
			n = snprintf(path, sizeof(path), "%s/socktune/socktune.conf", xdg);
		else if (home && home[0])
			n = snprintf(path, sizeof(path), "%s/.config/socktune/socktune.conf", home);
		if (n > 0 && (size_t)n < sizeof(path))
			conf_read_file(c, path, 0, 0, diag, ctx);

		const char *extra = env("SOCKTUNE_CONFIG");
		if (extra && extra[0])
			conf_read_file(c, extra, 1, 0, diag, ctx);

		for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
			const char *v = env(env_keys[i].env);
			/* Set but empty means "not set", except for the stats,
			 * where it means "no report". */
			if (v && (v[0] || !strcmp(env_keys[i].key, "stats")))
				conf_set(c, env_keys[i].key, v, "environment", env_keys[i].env, diag,
					   ctx);
		}
	}
	conf_finish(c, prog, progpath);
}

void conf_finish(struct st_config *c, const char *prog, const char *progpath)
{
	c->needs_peer = c->needs_local = 0;
	for (int i = 0; i < c->nrules; i++) {
		rule_cache_program(&c->rules[i], prog, progpath);
		c->needs_peer |= rule_needs_peer(&c->rules[i]);
		c->needs_local |= rule_needs_local(&c->rules[i]);
	}
}

static void overlay(struct st_opts *o, const struct st_opts *top)
{
	if (top->sndbuf != ST_UNSET)
		o->sndbuf = top->sndbuf;
	if (top->rcvbuf != ST_UNSET)
		o->rcvbuf = top->rcvbuf;
	if (top->nodelay != ST_UNSET)
		o->nodelay = top->nodelay;
	if (top->force != ST_UNSET)
		o->force = top->force;
	if (top->merge != ST_UNSET)
		o->merge = top->merge;
	if (top->tls_merge != ST_UNSET)
		o->tls_merge = top->tls_merge;
	if (top->cork != ST_UNSET)
		o->cork = top->cork;
}

const struct st_rule *conf_decide(const struct st_config *c, const struct st_sock *s,
				    struct st_opts *out)
{
	const struct st_rule *hit = NULL;
	for (int i = 0; i < c->nrules && !hit; i++)
		if (rule_match(&c->rules[i], s))
			hit = &c->rules[i];
	*out = c->defaults;
	if (hit)
		overlay(out, &hit->opts);
	overlay(out, &c->env);
	return hit;
}
