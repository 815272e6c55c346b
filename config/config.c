/* Reading the configuration.  Each source is read once, in a fixed order,
 * and a later one wins: its defaults replace earlier ones key by key and its
 * rules are tried before earlier rules.  Every source goes through the one
 * table of keys (keys.def) and one parser per value type, so a key means
 * and accepts the same wherever it is written.  A problem is reported once,
 * names where it is, and costs only the piece it spoils: a bad option value
 * drops that option, a bad match key drops its whole rule (a rule with a
 * criterion missing would match more than its author meant), a syntax error
 * drops the file. */
#include "config.h"
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A configuration file is read whole into memory first: larger ones are
 * refused. */
#define CONF_FILE_MAX (1L << 20)

/* Where messages about one source go, and the configuration they count in. */
struct source {
	struct st_config *c;
	const char *name; /* the file, "environment" or "-o" */
	st_diag_fn diag;
	void *ctx;
	int profile; /* a profile's file, which may not name another */
};

static void diagf(const struct source *src, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diagf(const struct source *src, int line, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	src->c->errors++;
	if (src->diag)
		src->diag(src->ctx, src->name, line, key, msg);
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

const char *mode_name(int mode)
{
	static const char *const names[] = {"off", "observe", "on"};
	return mode >= 0 && mode <= 2 ? names[mode] : "?";
}

const char *log_name(int level)
{
	static const char *const names[] = {"quiet", "error", "warn", "info", "debug"};
	return level >= 0 && level <= 4 ? names[level] : "?";
}

#define ST_MODE_ACCEPTED "\"on\", \"observe\" or \"off\""
static int mode_parse(const char *t, int *out)
{
	for (int m = 0; m <= 2; m++)
		if (!strcasecmp(t, mode_name(m)))
			return *out = m, 0;
	return -1;
}

#define ST_LOG_ACCEPTED "\"quiet\", \"error\", \"warn\", \"info\" or \"debug\""
static int log_parse(const char *t, int *out)
{
	for (int l = 0; l <= 4; l++)
		if (!strcasecmp(t, log_name(l)))
			return *out = l, 0;
	if (!strcasecmp(t, "warning"))
		return *out = ST_LOG_WARN, 0;
	return -1;
}

/* Milliseconds, 1 to 200 (the kernel's own cork bound), with an optional
 * "ms". */
#define ST_HOLD_ACCEPTED "a time from 1 to 200 milliseconds: 20 or \"20ms\""
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

/* A string is refused, not cut, when it does not fit: a glob cut short
 * would match programs it was not written for.  The stats' is a path, and
 * "" there turns off a report an earlier source asked for. */
#define ST_STATS_ACCEPTED "\"stderr\", a file path (%p becomes the pid) or \"\" for none"
static int string_parse(const char *t, char *out, size_t room)
{
	size_t n = strlen(t);
	if (n >= room)
		return -1;
	memcpy(out, t, n + 1);
	return 0;
}

/* What the readers need of a value type besides its parser. */
static const struct {
	size_t size;      /* of the field it fills; 0 for a string (any room) or a group */
	int number;       /* an int or long field, which may hold ST_UNSET */
	int string_only;  /* in a file only a string: a number or a boolean there
			   * would be taken for a name or a path by mistake */
	const char *not;  /* a bad value "is not" this; NULL: "valid" */
	const char *form; /* a group's key as the messages list it */
} types[] = {
	[ST_VALUE_SIZE] = {sizeof(long), 1, 0, "a size", NULL},
	[ST_VALUE_SWITCH] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_SWITCH_OR_DEFAULT] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_MERGE] = {sizeof(long), 1, 0, NULL, NULL},
	[ST_VALUE_TLS_MERGE] = {sizeof(long), 1, 0, NULL, NULL},
	[ST_VALUE_CORK] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_MODE] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_LOG] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_HOLD] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_STRING] = {0, 0, 1, NULL, NULL},
	[ST_VALUE_PROFILE] = {0, 0, 1, NULL, NULL},
	[ST_VALUE_DIR] = {0, 0, 1, NULL, NULL},
	[ST_VALUE_FAMILY] = {sizeof(unsigned), 1, 0, NULL, NULL},
	[ST_VALUE_TYPE] = {sizeof(unsigned), 1, 0, NULL, NULL},
	[ST_VALUE_ROLE] = {sizeof(int), 1, 0, NULL, NULL},
	[ST_VALUE_PORTS] = {sizeof(struct st_portset), 0, 0, NULL, NULL},
	[ST_VALUE_CIDR] = {sizeof(struct st_cidr), 0, 0, NULL, NULL},
	[ST_VALUE_DEFAULTS] = {0, 0, 0, NULL, " = { ... }"},
	[ST_VALUE_RULES] = {0, 0, 0, NULL, " = ( ... )"},
};

/* The one parser of each type.  Returns 0, or -1 with *dst untouched. */
static int value_parse(enum st_value_type type, const char *t, void *dst, size_t room)
{
	switch (type) {
	case ST_VALUE_SIZE: return size_parse(t, dst);
	case ST_VALUE_SWITCH: return switch_parse(t, 0, dst);
	case ST_VALUE_SWITCH_OR_DEFAULT: return switch_parse(t, 1, dst);
	case ST_VALUE_MERGE: return merge_parse(t, dst);
	case ST_VALUE_TLS_MERGE: return tls_merge_parse(t, dst);
	case ST_VALUE_CORK: return cork_parse(t, dst);
	case ST_VALUE_MODE: return mode_parse(t, dst);
	case ST_VALUE_LOG: return log_parse(t, dst);
	case ST_VALUE_HOLD: return hold_max_parse(t, dst);
	case ST_VALUE_STRING: return string_parse(t, dst, room);
	case ST_VALUE_PROFILE: return profile_name_valid(t) ? string_parse(t, dst, room) : -1;
	case ST_VALUE_DIR: return t[0] == '/' ? string_parse(t, dst, room) : -1;
	case ST_VALUE_FAMILY: return family_parse(t, dst);
	case ST_VALUE_TYPE: return type_parse(t, dst);
	case ST_VALUE_ROLE: return role_parse(t, dst);
	case ST_VALUE_PORTS: return ports_parse(t, dst);
	case ST_VALUE_CIDR: return cidr_parse(t, dst);
	case ST_VALUE_DEFAULTS: /* groups: read_root reads them */
	case ST_VALUE_RULES: break;
	}
	return -1;
}

#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)
#define GLOBAL(f) ST_KEY_GLOBAL, FIELD(struct st_config, f)
#define OPTION(f) ST_KEY_OPTION, FIELD(struct st_opts, f)
#define MATCH(f) ST_KEY_MATCH, FIELD(struct st_rule, f)
#define NO_FIELD ST_KEY_GLOBAL, 0, 0

const struct st_key socktune_keys[] = {
#include "keys.def"
	{0},
};

#undef FIELD
#undef GLOBAL
#undef OPTION
#undef MATCH
#undef NO_FIELD

const struct st_key *conf_key_find(const char *name, unsigned kinds)
{
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if ((k->kind & kinds) && !strcmp(k->name, name))
			return k;
	return NULL;
}

int conf_key_parse(const struct st_key *k, const char *text, void *base)
{
	size_t want = types[k->type].size;
	/* A row whose field is not of its type's size would be written past
	 * its end; the unit tests try every key, so such a row fails there. */
	if (!text || !k->size || (want && want != k->size))
		return -1;
	return value_parse(k->type, text, (char *)base + k->offset, k->size);
}

/* An int or long field, as a long. */
static long field_get(const struct st_key *k, const void *base)
{
	const char *p = (const char *)base + k->offset;
	if (k->size == sizeof(long)) {
		long v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	int v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void field_set(const struct st_key *k, void *base, long v)
{
	char *p = (char *)base + k->offset;
	if (k->size == sizeof(long)) {
		memcpy(p, &v, sizeof(v));
	} else {
		int i = (int)v;
		memcpy(p, &i, sizeof(i));
	}
}

static const char *bits_format(unsigned mask, const char *(*name)(unsigned), char *buf,
			       size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned bit = 1; bit && bit <= mask; bit <<= 1)
		if (mask & bit && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", name(bit));
	return buf;
}

static const char *ports_format(const struct st_portset *ps, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < ps->n && n < len; i++) {
		n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", ps->r[i].lo);
		if (ps->r[i].hi != ps->r[i].lo && n < len)
			n += (size_t)snprintf(buf + n, len - n, "-%u", ps->r[i].hi);
	}
	return buf;
}

const char *conf_key_format(const struct st_key *k, const void *base, char *buf, size_t len)
{
	const char *field = (const char *)base + k->offset;
	long v = types[k->type].number ? field_get(k, base) : 0;
	if (!k->size || (types[k->type].number && v == ST_UNSET))
		return NULL;
	switch (k->type) {
	case ST_VALUE_SIZE:
		size_format(v, buf, len);
		return buf;
	case ST_VALUE_MERGE:
	case ST_VALUE_TLS_MERGE:
		if (v == 0)
			return "off";
		size_format(v, buf, len);
		return buf;
	case ST_VALUE_SWITCH_OR_DEFAULT:
		if (v == ST_DEFAULT)
			return "default";
		return v ? "on" : "off";
	case ST_VALUE_SWITCH: return v ? "on" : "off";
	case ST_VALUE_CORK: return cork_name((int)v);
	case ST_VALUE_MODE: return mode_name((int)v);
	case ST_VALUE_LOG: return log_name((int)v);
	case ST_VALUE_HOLD:
		snprintf(buf, len, "%ldms", v);
		return buf;
	case ST_VALUE_STRING:
	case ST_VALUE_PROFILE:
	case ST_VALUE_DIR: return field[0] ? field : NULL;
	case ST_VALUE_FAMILY: return v ? bits_format((unsigned)v, family_name, buf, len) : NULL;
	case ST_VALUE_TYPE: return v ? bits_format((unsigned)v, type_name, buf, len) : NULL;
	case ST_VALUE_ROLE: return v != ST_ROLE_ANY ? role_name((int)v) : NULL;
	case ST_VALUE_PORTS: {
		const struct st_portset *ps = (const void *)field;
		return ps->n ? ports_format(ps, buf, len) : NULL;
	}
	case ST_VALUE_CIDR: {
		const struct st_cidr *cidr = (const void *)field;
		return cidr->set ? cidr->text : NULL;
	}
	case ST_VALUE_DEFAULTS:
	case ST_VALUE_RULES: break;
	}
	return NULL;
}

/* Every option left to the next source. */
static void opts_unset(struct st_opts *o)
{
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if (k->kind == ST_KEY_OPTION)
			field_set(k, o, ST_UNSET);
}

/* The options top says, over o. */
static void overlay(struct st_opts *o, const struct st_opts *top)
{
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if (k->kind == ST_KEY_OPTION && field_get(k, top) != ST_UNSET)
			field_set(k, o, field_get(k, top));
}

void conf_defaults(struct st_config *c)
{
	memset(c, 0, sizeof(*c));
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if (k->def)
			conf_key_parse(k, k->def,
				       k->kind == ST_KEY_OPTION ? (void *)&c->defaults : (void *)c);
	opts_unset(&c->env);
}

/* Sets k in base from text, as every source does, and on a bad value says
 * so in the same words whatever the source, then what it costs (then).
 * A NULL text is bad whatever it shows. */
static int key_set(const struct source *src, const struct st_key *k, void *base,
		   const char *text, const char *shown, int line, const char *path,
		   const char *then)
{
	if (text && conf_key_parse(k, text, base) == 0)
		return 0;
	diagf(src, line, path, "\"%s\" is not %s; accepted: %s%s",
	      shown ? shown : "(not a scalar)",
	      types[k->type].not ? types[k->type].not : "valid", k->accepted, then);
	return -1;
}

/* "unknown key; accepted: " and the keys of those kinds (with a variable
 * only, for the environment), then what it costs. */
static void unknown_key(const struct source *src, int line, const char *path, unsigned kinds,
			int with_env, const char *then)
{
	char list[512];
	size_t n = 0;
	list[0] = '\0';
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if ((k->kind & kinds) && (!with_env || k->env) && n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s%s", n ? ", " : "",
					      k->name, types[k->type].form ? types[k->type].form : "");
	diagf(src, line, path, "unknown key; accepted: %s%s", list, then);
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

/* One setting of a file, by its key, into base. */
static int file_set(const struct source *src, const struct st_key *k, void *base,
		    const config_setting_t *s, const char *path, const char *then)
{
	char buf[64];
	const char *text = setting_text(s, buf, sizeof(buf));
	int typed = !types[k->type].string_only || config_setting_type(s) == CONFIG_TYPE_STRING;
	return key_set(src, k, base, typed ? text : NULL, text,
		       (int)config_setting_source_line(s), path, then);
}

static void read_defaults(const struct source *src, const struct st_key *key,
			  const config_setting_t *g)
{
	if (!config_setting_is_group(g)) {
		diagf(src, (int)config_setting_source_line(g), key->name, "must be %s; it is ignored",
		      key->accepted);
		return;
	}
	struct st_opts o;
	opts_unset(&o);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct st_key *k = conf_key_find(config_setting_name(s), ST_KEY_OPTION);
		char path[96];
		snprintf(path, sizeof(path), "%s.%s", key->name, config_setting_name(s));
		if (k)
			file_set(src, k, &o, s, path, "");
		else
			unknown_key(src, (int)config_setting_source_line(s), path, ST_KEY_OPTION, 0,
				    "");
	}
	overlay(&src->c->defaults, &o);
}

/* Reads the rules of one file into out[]; returns how many were good. */
static int read_rules(const struct source *src, const struct st_key *key,
		      const config_setting_t *list, struct st_rule *out, int max)
{
	int n = 0;
	if (!config_setting_is_aggregate(list) || config_setting_is_group(list)) {
		diagf(src, (int)config_setting_source_line(list), key->name,
		      "must be %s; the rules are ignored", key->accepted);
		return 0;
	}
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		int line = (int)config_setting_source_line(g);
		char path[96];
		if (!config_setting_is_group(g)) {
			snprintf(path, sizeof(path), "%s[%d]", key->name, i);
			diagf(src, line, path, "must be a group { ... }; this rule is ignored");
			continue;
		}
		struct st_rule r = {.line = line};
		opts_unset(&r.opts);
		copy_str(r.source, sizeof(r.source), src->name);
		int good = 1;
		for (int j = 0; j < config_setting_length(g); j++) {
			const config_setting_t *s = config_setting_get_elem(g, (unsigned)j);
			const struct st_key *k =
				conf_key_find(config_setting_name(s), ST_KEY_MATCH | ST_KEY_OPTION);
			snprintf(path, sizeof(path), "%s[%d].%s", key->name, i, config_setting_name(s));
			/* A bad option costs the option, and the rule takes it
			 * from defaults; a bad or unknown criterion costs the
			 * rule, which would match more than its author meant. */
			if (!k) {
				unknown_key(src, (int)config_setting_source_line(s), path,
					    ST_KEY_MATCH | ST_KEY_OPTION, 0, "; this rule is ignored");
				good = 0;
			} else if (k->kind == ST_KEY_OPTION) {
				file_set(src, k, &r.opts, s, path, "");
			} else if (file_set(src, k, &r, s, path, "; this rule is ignored") < 0) {
				good = 0;
			}
		}
		if (!good)
			continue;
		if (n == max) {
			snprintf(path, sizeof(path), "%s[%d]", key->name, i);
			diagf(src, line, path,
			      "too many rules (at most %d); this and later rules are ignored",
			      ST_MAX_RULES);
			break;
		}
		out[n++] = r;
	}
	return n;
}

/* This file's rules go before the earlier files' rules. */
static void add_rules(const struct source *src, const struct st_key *key,
		      const config_setting_t *list)
{
	static struct st_rule fresh[ST_MAX_RULES];
	struct st_config *c = src->c;
	int n = read_rules(src, key, list, fresh, ST_MAX_RULES);
	int keep = c->nrules;
	if (n + keep > ST_MAX_RULES)
		keep = ST_MAX_RULES - n;
	memmove(&c->rules[n], &c->rules[0], (size_t)keep * sizeof(c->rules[0]));
	memcpy(&c->rules[0], fresh, (size_t)n * sizeof(fresh[0]));
	c->nrules = n + keep;
}

static void read_root(const struct source *src, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct st_key *k = conf_key_find(name, ST_KEY_GLOBAL);
		if (!k)
			unknown_key(src, (int)config_setting_source_line(s), name, ST_KEY_GLOBAL, 0,
				    "");
		else if (k->type == ST_VALUE_DEFAULTS)
			read_defaults(src, k, s);
		else if (k->type == ST_VALUE_RULES)
			add_rules(src, k, s);
		else if (k->type == ST_VALUE_PROFILE && src->profile)
			diagf(src, (int)config_setting_source_line(s), name,
			      "a profile cannot name another profile; ignored");
		else if (k->type == ST_VALUE_PROFILE)
			; /* conf_load chose the profile before reading any file */
		else
			file_set(src, k, src->c, s, name, "");
	}
}

/* libconfig's @include makes its scanner open another path itself, and
 * that scanner exits the process on a read error (a directory) and blocks
 * on a FIFO.  So the directive is not obeyed: its line is blanked, keeping
 * the line numbers, with a message. */
static void drop_includes(const struct source *src, char *text)
{
	int line = 1;
	for (char *p = text; *p;) {
		char *end = strchr(p, '\n');
		char *q = p + strspn(p, " \t");
		if (!strncmp(q, "@include", 8)) {
			diagf(src, line, NULL,
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
static char *read_whole(const struct source *src, int secure, int *missing)
{
	const char *path = src->name;
	struct stat st;
	*missing = 0;
	/* Asked before the open too, since opening a device can do things. */
	int fd = stat(path, &st) < 0	    ? -1
		 : !S_ISREG(st.st_mode) ? -2
					    : open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return *missing = 1, NULL;
	if (fd == -1) {
		diagf(src, 0, NULL, "cannot read: %s; this file is ignored",
		      strerror(errno));
		return NULL;
	}
	if (fd == -2 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diagf(src, 0, NULL, "not a regular file; this file is ignored");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (secure && (st.st_uid != 0 || (st.st_mode & 022))) {
		diagf(src, 0, NULL,
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
		diagf(src, 0, NULL, "cannot read: %s; this file is ignored",
		      strerror(text ? err : ENOMEM));
	} else if (len > (size_t)CONF_FILE_MAX) {
		diagf(src, 0, NULL,
		      "larger than %ld bytes, too large for a configuration; this file is ignored",
		      CONF_FILE_MAX);
	} else {
		text[len] = '\0';
		return text;
	}
	free(text);
	return NULL;
}

/* A file parsed but not yet applied, as conf_read_file returns; on 1, cf
 * holds it and file_apply must follow.  Parsing and applying are apart so
 * that conf_load can find the profile the files name before any of them
 * applies: the profile goes beneath them all. */
static int file_parse(const struct source *src, int must_exist, int secure, config_t *cf)
{
	int missing;
	char *text = read_whole(src, secure, &missing);
	if (!text) {
		if (missing && must_exist)
			diagf(src, 0, NULL, "cannot read: %s; this file is ignored",
			      strerror(ENOENT));
		return missing ? 0 : -1;
	}
	drop_includes(src, text);

	config_init(cf);
	int ok = config_read_string(cf, text);
	free(text);
	if (ok != CONFIG_TRUE) {
		diagf(src, config_error_line(cf), NULL,
		      "syntax error: %s; this file is ignored", config_error_text(cf));
		config_destroy(cf);
		return -1;
	}
	return 1;
}

static void file_apply(const struct source *src, config_t *cf)
{
	struct st_config *c = src->c;
	read_root(src, config_root_setting(cf));
	config_destroy(cf);
	if (c->nsources < ST_MAX_SOURCES)
		copy_str(c->sources[c->nsources++], ST_SOURCE_MAX, src->name);
}

int conf_read_file(struct st_config *c, const char *path, int must_exist, int secure,
		     st_diag_fn diag, void *ctx)
{
	struct source src = {c, path, diag, ctx, 0};
	config_t cf;
	int r = file_parse(&src, must_exist, secure, &cf);
	if (r == 1)
		file_apply(&src, &cf);
	return r;
}

const char *conf_env_name(const char *key)
{
	const struct st_key *k = conf_key_find(key, ST_KEY_GLOBAL | ST_KEY_OPTION);
	return k ? k->env : NULL;
}

int conf_set(struct st_config *c, const char *key, const char *value, const char *source,
	     const char *shown_key, st_diag_fn diag, void *ctx)
{
	struct source src = {c, source, diag, ctx, 0};
	const struct st_key *k = conf_key_find(key, ST_KEY_GLOBAL | ST_KEY_OPTION);
	if (!k || !k->env) {
		unknown_key(&src, 0, shown_key, ST_KEY_GLOBAL | ST_KEY_OPTION, 1, "");
		return -1;
	}
	void *base = k->kind == ST_KEY_OPTION ? (void *)&c->env : (void *)c;
	return key_set(&src, k, base, value, value, 0, shown_key, "");
}

/* The system, user and extra files, parsed before any applies. */
struct file {
	struct source src;
	char path[ST_SOURCE_MAX];
	int must_exist;
	config_t cf;
	int parsed;
};

/* Reads profile name, which src named (at line, as key), beneath what c
 * holds.  Returns 0 when the name is bad or there is no such profile, after
 * one message listing those there; else 1, whether the file then read. */
static int profile_try(struct st_config *c, const struct source *src, int line, const char *key,
		       const char *name, const char *dir, int secure)
{
	char path[ST_SOURCE_MAX], why[768];
	if (profile_find(dir, name, path, sizeof(path), why, sizeof(why)) < 0) {
		diagf(src, line, key, "%s; no profile is read from here", why);
		return 0;
	}
	struct source psrc = {c, path, src->diag, src->ctx, 1};
	config_t cf;
	if (file_parse(&psrc, 1, secure, &cf) != 1)
		return 1;
	file_apply(&psrc, &cf);
	copy_str(c->profile, sizeof(c->profile), name);
	if (line > 0)
		snprintf(c->profile_from, sizeof(c->profile_from), "%s:%d", src->name, line);
	else
		copy_str(c->profile_from, sizeof(c->profile_from), key);
	return 1;
}

/* The profile, read first so that every file and variable wins over it.
 * SOCKTUNE_PROFILE names it, else the last file with a profile key, as a
 * later source wins; a bad or unknown name costs that source's choice only,
 * and the next source down is asked. */
static void profile_choose(struct st_config *c, struct file *files, int n, int secure,
			   st_getenv_fn env, st_diag_fn diag, void *ctx)
{
	const char *dir = profile_dir(secure, env);
	const char *v = secure ? NULL : env("SOCKTUNE_PROFILE");
	struct source esrc = {c, "environment", diag, ctx, 0};
	if (v && v[0] && profile_try(c, &esrc, 0, "SOCKTUNE_PROFILE", v, dir, secure))
		return;
	for (int i = n - 1; i >= 0; i--) {
		const config_setting_t *s =
			files[i].parsed ? config_setting_get_member(config_root_setting(&files[i].cf),
								    "profile")
					: NULL;
		char buf[64];
		const char *t = s ? setting_text(s, buf, sizeof(buf)) : NULL;
		if (s && profile_try(c, &files[i].src, (int)config_setting_source_line(s), "profile",
				     t ? t : "(not a scalar)", dir, secure))
			return;
	}
}

void conf_load(struct st_config *c, const char *sysconfdir, int secure, st_getenv_fn env,
		 st_diag_fn diag, void *ctx, const char *prog, const char *progpath)
{
	/* Static, as add_rules' rules are: a hook that starts the library
	 * may run on a small stack. */
	static struct file files[3];
	int n = 0;

	conf_defaults(c);
	snprintf(files[n].path, ST_SOURCE_MAX, "%s/socktune.conf", sysconfdir);
	files[n++].must_exist = 0;
	if (!secure) {
		const char *xdg = env("XDG_CONFIG_HOME");
		const char *home = env("HOME");
		int w = -1;
		if (xdg && xdg[0] == '/')
			w = snprintf(files[n].path, ST_SOURCE_MAX, "%s/socktune/socktune.conf", xdg);
		else if (home && home[0])
			w = snprintf(files[n].path, ST_SOURCE_MAX, "%s/.config/socktune/socktune.conf",
				     home);
		if (w > 0 && w < ST_SOURCE_MAX)
			files[n++].must_exist = 0;

		const char *extra = env("SOCKTUNE_CONFIG");
		if (extra && extra[0]) {
			copy_str(files[n].path, ST_SOURCE_MAX, extra);
			files[n++].must_exist = 1;
		}
	}
	for (int i = 0; i < n; i++) {
		files[i].src = (struct source){c, files[i].path, diag, ctx, 0};
		files[i].parsed = file_parse(&files[i].src, files[i].must_exist, secure,
					     &files[i].cf) == 1;
	}
	profile_choose(c, files, n, secure, env, diag, ctx);
	for (int i = 0; i < n; i++)
		if (files[i].parsed)
			file_apply(&files[i].src, &files[i].cf);

	if (!secure) {
		for (const struct st_key *k = socktune_keys; k->name; k++) {
			/* profile_choose has taken it. */
			const char *v = k->env && k->type != ST_VALUE_PROFILE ? env(k->env) : NULL;
			/* Set but empty means "not set", except for a string
			 * (the stats), where it is a value: "no report". */
			if (v && (v[0] || k->type == ST_VALUE_STRING))
				conf_set(c, k->name, v, "environment", k->env, diag, ctx);
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
