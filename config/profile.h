/* Profiles: named presets, each a configuration file NAME.conf in one
 * directory, read beneath the user's own files.  This header owns what a
 * profile's name may be, which directory is searched, and the one message
 * that says a name is bad or unknown and lists the profiles there; config.c
 * decides which source's name applies and reads the file. */
#ifndef SOCKTUNE_PROFILE_H
#define SOCKTUNE_PROFILE_H

#include <stddef.h>

/* A name is a file's stem and never a path: no '/', no '.'. */
#define ST_PROFILE_NAME_MAX 63
#define ST_PROFILE_ACCEPTED                                                                 \
	"a profile's name, 1 to 63 of a-z, 0-9, _ and -: a file NAME.conf in the profile "  \
	"directory"

/* 1 when name is 1 to ST_PROFILE_NAME_MAX of [a-z0-9_-], else 0. */
int profile_name_valid(const char *name);

/* $SOCKTUNE_PROFILE_DIR as env gives it, when absolute and not secure;
 * else the directory compiled in (DATADIR/socktune/profiles). */
const char *profile_dir(int secure, char *(*env)(const char *));

/* The profiles in dir, sorted, as "a, b, c" ("none" when there are none)
 * in buf.  Returns how many. */
int profile_list(const char *dir, char *buf, size_t len);

/* The file of profile name in dir, in path: 0; or -1 with why, one
 * sentence naming what is wrong and the profiles available. */
int profile_find(const char *dir, const char *name, char *path, size_t len, char *why,
		 size_t whylen);

#endif
