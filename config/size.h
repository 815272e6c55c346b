/* Parsing of the scalar values a setting can take: sizes, switches and the
 * few words (default, auto) that mean "leave it" or "ask the platform".
 * Pure: no I/O, so the unit tests and the command share it with the library. */
#ifndef SOCKTUNE_SIZE_H
#define SOCKTUNE_SIZE_H

/* An option's value.  Non-negative values are real settings; these negative
 * ones say where the value comes from instead. */
enum {
	ST_UNSET = -3,   /* this source did not say; fall back to the next */
	ST_AUTO = -2,    /* the platform table decides */
	ST_DEFAULT = -1, /* leave the kernel's value alone */
};

#define ST_SIZE_MAX (1L << 30)

/* The largest merge: merged pieces are built in a stack buffer this big,
 * inside the hook, so it stays small. */
#define ST_MERGE_MAX 4096L

/* Accepted spellings, for messages. */
#define ST_SIZE_ACCEPTED "a size from 1 to 1G such as 65536, 512K or 2M, \"default\" or \"auto\""
/* In a file "on" is a string and true a boolean; in a variable both are
 * plain words, and shell quotes go: the quoted words hold for both. */
#define ST_SWITCH_ACCEPTED "\"on\" or \"off\" (true or false, \"yes\" or \"no\", 1 or 0 too)"
#define ST_SWITCH_OR_DEFAULT_ACCEPTED                                                             \
	"\"on\", \"off\" or \"default\" (true or false, \"yes\" or \"no\", 1 or 0 too)"

/* "2M", "512k", "65536", "1GiB", "default", "auto" -> bytes or ST_*.
 * Returns 0, or -1 when the text is none of those. */
int size_parse(const char *text, long *out);

/* One TLS record's payload: the most a TLS merge may hold. */
#define ST_TLS_MERGE_MAX 16384L
#define ST_TLS_MERGE_ACCEPTED "0 or \"off\", or a size from 1 to 16K such as 1024"

/* A TLS merge threshold: "off" or "0" -> 0, or a size up to 16K. */
int tls_merge_parse(const char *text, long *out);

#define ST_MERGE_ACCEPTED "0 or \"off\", or a size from 1 to 4K such as 512 or 1K"

/* A merge threshold: "off" or "0" -> 0, or a size up to ST_MERGE_MAX. */
int merge_parse(const char *text, long *out);

/* on/off/true/false/yes/no/1/0 -> 1 or 0.  With allow_default, "default"
 * gives ST_DEFAULT.  Returns 0 or -1. */
int switch_parse(const char *text, int allow_default, int *out);

/* Writes a size the way a user would write it: "2M", "1536K", "100",
 * "default", "auto". */
void size_format(long v, char *buf, unsigned long len);

#endif
