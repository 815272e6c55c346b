/* The command's side of profiles: pointing a build tree's runs at the
 * tree's profiles, checking a name before the run (so a typo stops it, as a
 * bad -o value does, instead of becoming a message inside COMMAND), and
 * listing the profiles for --help. */
#include "cli.h"
#include "profile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cli_profile_dir_setup(void)
{
	char dir[PATH_MAX];
	struct stat st;
	if (getenv("SOCKTUNE_PROFILE_DIR"))
		return;
	/* make copies the profiles beside the command and the library, so a
	 * build tree's command finds them where it finds its library; an
	 * installed library's directory has none, and the library's own
	 * compiled-in directory applies. */
	snprintf(dir, sizeof(dir), "%s", cli_library_path());
	char *slash = strrchr(dir, '/');
	if (!slash || (size_t)(slash - dir) + sizeof("/profiles") > sizeof(dir))
		return;
	strcpy(slash, "/profiles");
	if (dir[0] == '/' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		setenv("SOCKTUNE_PROFILE_DIR", dir, 1);
}

int cli_profile_valid(const char *name, const char *shown)
{
	char path[PATH_MAX], why[768];
	if (profile_find(profile_dir(0, getenv), name, path, sizeof(path), why, sizeof(why)) == 0)
		return 0;
	cli_diag(NULL, shown, 0, strcmp(shown, "-p") ? "profile" : NULL, why);
	return -1;
}

void cli_profile_usage(void)
{
	char list[512];
	const char *dir = profile_dir(0, getenv);
	profile_list(dir, list, sizeof(list));
	printf("  -p, --profile NAME  read the preset NAME beneath the files and the other\n"
	       "                      options (SOCKTUNE_PROFILE); the profiles in\n"
	       "                      %s:\n"
	       "                      %s\n",
	       dir, list);
}
