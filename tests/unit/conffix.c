/* The configuration tests' fixture: see conffix.h. */
#include "conffix.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char dir[64];
char msgs[8192];
char last_msg[1024];
int nmsgs;

static const char *env_names[8], *env_values[8];
static int nenv;

void collect(void *ctx, const char *source, int line, const char *key, const char *msg)
{
	(void)ctx;
	size_t n = strlen(msgs);
	snprintf(msgs + n, sizeof(msgs) - n, "%s:%d: %s: %s\n", source, line, key ? key : "-", msg);
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
	nmsgs++;
}

char *fake_getenv(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (!strcmp(env_names[i], name))
			return (char *)env_values[i];
	return NULL;
}

void put_env(const char *name, const char *value)
{
	cr_assert_lt(nenv, 8, "more variables than the fake environment holds");
	env_names[nenv] = name;
	env_values[nenv++] = value;
}

const char *write_file(const char *name, const char *text)
{
	static char paths[8][256];
	static int next;
	char *path = paths[next++ % 8];
	snprintf(path, 256, "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

void env_clear(void)
{
	nenv = 0;
}

void fixture_reset(void)
{
	msgs[0] = last_msg[0] = '\0';
	nmsgs = 0;
	env_clear();
}

void fixture_setup(const char *template)
{
	snprintf(dir, sizeof(dir), "%s", template);
	cr_assert_not_null(mkdtemp(dir));
	fixture_reset();
}

void fixture_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
