/* Profiles as files: what a name may be, where they are, which there are.
 * A name becomes a path only after it is known to hold nothing but
 * [a-z0-9_-], so no name reaches outside the profile directory; and the
 * directory is the compiled-in one unless the environment may be trusted
 * (not in a setuid program), so a setuid program reads only system files. */
#include "profile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SOCKTUNE_PROFILEDIR
#define SOCKTUNE_PROFILEDIR "/usr/local/share/socktune/profiles"
#endif

/* More profiles than this are listed as "..." in messages. */
#define LIST_MAX 64

int profile_name_valid(const char *name)
{
	size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");
	return n > 0 && n <= ST_PROFILE_NAME_MAX && name[n] == '\0';
}

const char *profile_dir(int secure, char *(*env)(const char *))
{
	const char *dir = secure || !env ? NULL : env("SOCKTUNE_PROFILE_DIR");
	return dir && dir[0] == '/' ? dir : SOCKTUNE_PROFILEDIR;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int profile_list(const char *dir, char *buf, size_t len)
{
	static const char suffix[] = ".conf";
	char names[LIST_MAX][ST_PROFILE_NAME_MAX + 1];
	int n = 0, more = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= sizeof(suffix) - 1 || strcmp(e->d_name + l - (sizeof(suffix) - 1), suffix))
			continue;
		l -= sizeof(suffix) - 1;
		if (l > ST_PROFILE_NAME_MAX)
			continue;
		char stem[ST_PROFILE_NAME_MAX + 1];
		memcpy(stem, e->d_name, l);
		stem[l] = '\0';
		/* Only what a name can reach: a file no name can name is no profile. */
		if (!profile_name_valid(stem))
			continue;
		if (n == LIST_MAX) {
			more = 1;
			continue;
		}
		memcpy(names[n++], stem, l + 1);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
	if (used < len)
		snprintf(buf + used, len - used, "%s", !n ? "none" : more ? ", ..." : "");
	return n;
}

int profile_find(const char *dir, const char *name, char *path, size_t len, char *why,
		 size_t whylen)
{
	char list[512];
	struct stat st;
	int n;
	if (!profile_name_valid(name)) {
		profile_list(dir, list, sizeof(list));
		snprintf(why, whylen,
			 "\"%.80s\" is not a profile's name (1 to 63 of a-z, 0-9, _ and -); "
			 "the profiles in %s: %s",
			 name, dir, list);
		return -1;
	}
	n = snprintf(path, len, "%s/%s.conf", dir, name);
	if (n > 0 && (size_t)n < len && stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	profile_list(dir, list, sizeof(list));
	snprintf(why, whylen, "no profile \"%s\" in %s; the profiles there: %s", name, dir, list);
	return -1;
}
