/* The configuration tests' fixture (test_config.c, test_profile.c): a
 * temporary directory for their files, a fake environment so that no test
 * reads the real one, and the messages conf_load reports. */
#ifndef SOCKTUNE_CONFFIX_H
#define SOCKTUNE_CONFFIX_H

extern char dir[64];
extern char msgs[8192];
extern char last_msg[1024]; /* the last message alone, without where */
extern int nmsgs;

/* conf_load's diag: appends "SOURCE:LINE: KEY: MESSAGE\n" to msgs. */
void collect(void *ctx, const char *source, int line, const char *key, const char *msg);
/* conf_load's getenv: what put_env set, and nothing else. */
char *fake_getenv(const char *name);
void put_env(const char *name, const char *value);
/* Empties the fake environment. */
void env_clear(void);
/* Writes dir/NAME, its directories made; the path lasts 8 more calls. */
const char *write_file(const char *name, const char *text);

/* A new dir from TEMPLATE (mkdtemp's), no messages, an empty environment. */
void fixture_setup(const char *template);
/* No messages, an empty environment; dir stays. */
void fixture_reset(void);
void fixture_teardown(void);

#endif
