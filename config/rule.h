/* Rules: what a socket looks like to the policy, what a rule asks of it, and
 * whether the two match.  Pure and allocation-free, so the library can match
 * inside a hook and the unit tests can link it directly. */
#ifndef SOCKTUNE_RULE_H
#define SOCKTUNE_RULE_H

#include <stdint.h>

enum { ST_FAM_UNIX = 1u << 0, ST_FAM_INET = 1u << 1, ST_FAM_INET6 = 1u << 2 };
enum { ST_TYPE_STREAM = 1u << 0, ST_TYPE_DGRAM = 1u << 1, ST_TYPE_SEQPACKET = 1u << 2 };
enum { ST_ROLE_ANY = 0, ST_ROLE_CLIENT = 1, ST_ROLE_SERVER = 2 };

#define ST_MAX_PORT_RANGES 8
#define ST_NAME_MAX 64
#define ST_GLOB_MAX 128
#define ST_SOURCE_MAX 256

/* The options a rule can set.  Each field is a value or one of ST_UNSET,
 * ST_DEFAULT, ST_AUTO from size.h. */
struct st_opts {
	long sndbuf;
	long rcvbuf;
	int nodelay;
	int force;
	long merge;     /* iovecs of at most this many bytes are merged; 0 = off */
	long tls_merge; /* SSL_writes of at most this many bytes are held; 0 = off */
	int cork;       /* ST_CORK_* */
};

enum { ST_CORK_OFF = 0, ST_CORK_AUTO = 1, ST_CORK_ON = 2 };
#define ST_CORK_ACCEPTED "\"off\", \"auto\" or \"on\""
int cork_parse(const char *text, int *cork);
const char *cork_name(int cork);

struct st_portset {
	int n;
	struct {
		uint16_t lo, hi;
	} r[ST_MAX_PORT_RANGES];
};

/* An address prefix.  IPv4 is kept as its v4-mapped IPv6 form, so one
 * comparison serves both families and 10.0.0.0/8 matches ::ffff:10.1.2.3. */
struct st_cidr {
	int set;
	uint8_t addr[16];
	int prefix; /* 0..128, in the v6 form */
	char text[64]; /* as written, for `socktune check` */
};

struct st_rule {
	char name[ST_NAME_MAX];
	char source[ST_SOURCE_MAX]; /* file it came from */
	int line;
	unsigned families; /* ST_FAM_* mask; 0 = any */
	unsigned types;    /* ST_TYPE_* mask; 0 = any */
	int role;
	char program[ST_GLOB_MAX]; /* "" = any */
	/* The program name does not change, so the glob is matched once, when
	 * the rules are loaded (fnmatch may allocate, which no hook may do):
	 * 0 = not yet, 1 = matches, 2 = does not. */
	int program_cached;
	struct st_portset local_port, peer_port;
	struct st_cidr peer;
	struct st_opts opts;
};

/* A socket as the policy sees it when a decision is due.  What is not known
 * yet (the peer of a listener, say) has its have_ flag clear, and a rule that
 * asks about it does not match. */
struct st_sock {
	unsigned family; /* one ST_FAM_* bit */
	unsigned type;   /* one ST_TYPE_* bit, or 0 for another type */
	int role;
	const char *prog;     /* short name */
	const char *progpath; /* as invoked */
	int have_local_port;
	uint16_t local_port;
	int have_peer;
	uint8_t peer_addr[16]; /* v6 or v4-mapped */
	uint16_t peer_port;
};

/* Parsers for the match keys.  Each returns 0, or -1 for text it cannot
 * accept; the ACCEPTED strings say what would have been. */
#define ST_FAMILY_ACCEPTED "\"unix\", \"inet\" or \"inet6\", or a comma-separated list of them"
#define ST_TYPE_ACCEPTED "\"stream\", \"dgram\" or \"seqpacket\", or a comma-separated list of them"
#define ST_ROLE_ACCEPTED "\"client\", \"server\" or \"any\""
#define ST_PORTS_ACCEPTED "a port from 1 to 65535 or a range such as \"8000-8100\", or a comma-separated list of them (at most 8)"
#define ST_PEER_ACCEPTED "an IPv4 or IPv6 address with an optional prefix length, such as \"10.0.0.0/8\" or \"fd00::/8\""
int family_parse(const char *text, unsigned *mask);
int type_parse(const char *text, unsigned *mask);
int role_parse(const char *text, int *role);
int ports_parse(const char *text, struct st_portset *ps);
int cidr_parse(const char *text, struct st_cidr *c);

/* Fills a sockaddr's address and port into s (AF_INET and AF_INET6 only);
 * returns 0, or -1 for another family. */
struct sockaddr;
int sock_set_peer(struct st_sock *s, const struct sockaddr *sa, unsigned len);
int sock_set_local(struct st_sock *s, const struct sockaddr *sa, unsigned len);

int rule_match(const struct st_rule *r, const struct st_sock *s);

/* Matches the program glob now and keeps the answer for rule_match. */
void rule_cache_program(struct st_rule *r, const char *prog, const char *progpath);

/* Whether any rule in the set needs the peer or the local port; the library
 * asks the kernel for them only then. */
int rule_needs_peer(const struct st_rule *r);
int rule_needs_local(const struct st_rule *r);

const char *family_name(unsigned fam);
const char *type_name(unsigned type);
const char *role_name(int role);

#endif
