/* The socktune command: shared pieces of its subcommands. */
#ifndef SOCKTUNE_CLI_H
#define SOCKTUNE_CLI_H

#include "config.h"

/* Where the Makefile installs things (compiled in with -D), for a build by
 * other means. */
#ifndef SOCKTUNE_SYSCONFDIR
#define SOCKTUNE_SYSCONFDIR "/etc"
#endif
#ifndef SOCKTUNE_LIBDIR
#define SOCKTUNE_LIBDIR "/usr/local/lib"
#endif
#ifndef SOCKTUNE_LIBNAME
#define SOCKTUNE_LIBNAME "libsocktune.so.1"
#endif
/* How LD_PRELOAD names the installed library: the Makefile's PRELOAD, which
 * says $LIB where the library is on the multiarch path. */
#ifndef SOCKTUNE_PRELOAD
#define SOCKTUNE_PRELOAD SOCKTUNE_LIBDIR "/" SOCKTUNE_LIBNAME
#endif

/* Prints a configuration problem the way the library would. */
void cli_diag(void *ctx, const char *source, int line, const char *key, const char *msg);

/* Checks KEY=VALUE as the library would; prints the problem (naming
 * `shown`, the option it came from) and returns -1 when it is not valid. */
int cli_option_valid(const char *key, const char *value, const char *shown);

/* The library beside the command (a build tree), else the installed one. */
const char *cli_library_path(void);

/* Puts lib at the front of LD_PRELOAD, unless it is already there; the
 * installed library goes in as the Makefile's PRELOAD (with $LIB on the
 * multiarch path). */
int cli_preload(const char *lib);

/* Profiles (profile.c): in a build tree, SOCKTUNE_PROFILE_DIR is pointed
 * at the profiles make copied beside the command, unless it is set; a name
 * is checked as the library would look it up (-1 after one message); and
 * --help lists them. */
void cli_profile_dir_setup(void);
int cli_profile_valid(const char *name, const char *shown);
void cli_profile_usage(void);

int cli_run(int argc, char **argv);
int cli_ab(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_stats(int argc, char **argv);

#endif
