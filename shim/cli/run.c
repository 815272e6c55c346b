/* `socktune [options] [--] COMMAND`: puts the library in front of any
 * LD_PRELOAD already set, turns the options into the SOCKTUNE_* variables
 * the library reads, and execs COMMAND.  Values are checked here first, so a
 * typo stops the run instead of becoming a message inside COMMAND. */
#include "cli.h"
#include "reach.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIBNAME SOCKTUNE_LIBNAME
/* The loader's variable: macOS's dyld has its own (and strips it from the
 * programs System Integrity Protection guards, those in /usr/bin among
 * them). */
#if defined(__APPLE__)
#define PRELOAD_VAR "DYLD_INSERT_LIBRARIES"
#else
#define PRELOAD_VAR "LD_PRELOAD"
#endif

static const char usage_head[] =
	"usage: socktune [OPTION]... [--] COMMAND [ARG]...\n"
	"       socktune check [-c FILE] [-p PROFILE] [PROGRAM [ARG]...]\n"
	"       socktune ab [-n RUNS] [-o KEY=VALUE]... [OPTION]... [--] COMMAND [ARG]...\n"
	"       socktune sweep -o KEY=V1,V2,... [OPTION]... [--] COMMAND [ARG]...\n"
	"       socktune stats [--json] [--all] [--watch] [PID]...\n"
	"\n"
	"Run COMMAND with libsocktune preloaded: its sockets get the buffer sizes\n"
	"and options the configuration asks for, and small writes on them may be\n"
	"merged (TLS writes by default, iovecs when asked) or, on TCP, corked\n"
	"(when asked); the bytes are the same.\n"
	"\n"
	"  -c, --config FILE   also read FILE, after the system and user files\n"
	"                      (SOCKTUNE_CONFIG)\n"
	"  -o KEY=VALUE        set KEY for this run (SOCKTUNE_KEY); the keys, each with\n"
	"                      its built-in value:\n";

static const char usage_tail[] =
	"      --off           preload but pass everything through (SOCKTUNE=off)\n"
	"      --observe       collect figures, tune nothing (SOCKTUNE=observe):\n"
	"                      the A arm of an A/B test\n"
	"      --stats DEST    at exit each process appends a JSON object of figures\n"
	"                      to DEST: stderr, or a file (%p becomes the pid)\n"
	"      --log LEVEL     quiet, error, warn, info or debug (SOCKTUNE_LOG): what\n"
	"                      COMMAND prints on its stderr; warn unless SOCKTUNE_LOG\n"
	"                      or a file says more (preloaded without this command,\n"
	"                      the library is quiet)\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n"
	"\n"
	"  check [-c FILE] [-p PROFILE] [PROGRAM [ARG]...]\n"
	"                      validate the configuration, print the rules, the\n"
	"                      platform table and the kernel limits; exit 1 on errors;\n"
	"                      with PROGRAM, also whether socktune reaches it (exit 3\n"
	"                      if not, 4 if only partly)\n"
	"  ab, sweep           time COMMAND observed and tuned, or once per value, and\n"
	"                      compare; see `socktune ab --help`, `socktune sweep --help`\n"
	"  stats [PID]...      the live figures of running preloaded processes: counters,\n"
	"                      rates, settings, messages; see `socktune stats --help`\n"
	"\n"
	"When socktune cannot reach COMMAND (statically linked, Go, set-user-ID,\n"
	"another C library or ELF class, a TLS library it does not merge), it says\n"
	"why on stderr, and runs COMMAND all the same.\n"
	"\n"
	"Exit status: COMMAND's; 126 if it cannot run, 127 if it is not found,\n"
	"125 if the library is missing, 2 for a usage error.\n"
	"See socktune(1), socktune.conf(5), socktune(7).\n";

/* text from column indent on, wrapped at spaces before column 80. */
static void print_wrapped(const char *text, int indent)
{
	int col = indent;
	for (const char *p = text; *p; p += strspn(p, " ")) {
		int w = (int)strcspn(p, " ");
		if (col > indent && col + 1 + w >= 80) {
			printf("\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			putchar(' ');
			col++;
		}
		printf("%.*s", w, p);
		col += w;
		p += w;
	}
	putchar('\n');
}

/* The usage, with the keys -o takes from the table: each as KEY=its
 * built-in value, what it does and what it takes. */
static void print_usage(void)
{
	fputs(usage_head, stdout);
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		char key[64];
		if (!k->env)
			continue;
		snprintf(key, sizeof(key), "%s=%s", k->name, k->def ? k->def : "");
		printf("    %-17s ", key);
		print_wrapped(k->help, 22);
		printf("%22s", "");
		print_wrapped(k->accepted, 22);
	}
	cli_profile_usage();
	fputs(usage_tail, stdout);
}

const char *cli_library_path(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(LIBNAME) - 1);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, LIBNAME);
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	return SOCKTUNE_LIBDIR "/" LIBNAME;
}

int cli_option_valid(const char *key, const char *value, const char *shown)
{
	if (!strcmp(key, "profile"))
		return cli_profile_valid(value, shown);
	struct st_config scratch;
	conf_defaults(&scratch);
	return conf_set(&scratch, key, value, shown, key, cli_diag, NULL);
}

static int set_env(const char *key, const char *value, const char *shown)
{
	if (cli_option_valid(key, value, shown) < 0)
		return -1;
	return setenv(conf_env_name(key), value, 1);
}

/* Whether the list (colon- or space-separated) already names lib. */
static int preloaded(const char *list, const char *lib)
{
	size_t n = strlen(lib);
	for (const char *p = list; (p = strstr(p, lib)); p += n) {
		int starts = p == list || p[-1] == ':' || p[-1] == ' ';
		int ends = p[n] == '\0' || p[n] == ':' || p[n] == ' ';
		if (starts && ends)
			return 1;
	}
	return 0;
}

int cli_preload(const char *lib)
{
	/* The installed copy is the one this command's own ELF class would
	 * load; a program it execs may be of the other class, and the loader
	 * expands $LIB for that program. A build tree's copy is named as is. */
	if (strcmp(lib, SOCKTUNE_LIBDIR "/" LIBNAME) == 0)
		lib = SOCKTUNE_PRELOAD;
	const char *old = getenv(PRELOAD_VAR);
	if (!old || !old[0])
		return setenv(PRELOAD_VAR, lib, 1);
	if (preloaded(old, lib))
		return 0;
	size_t n = strlen(lib) + strlen(old) + 2;
	char *both = malloc(n);
	if (!both)
		return -1;
	snprintf(both, n, "%s:%s", lib, old);
	int r = setenv(PRELOAD_VAR, both, 1);
	free(both);
	return r;
}

/* The library prints nothing by default: a host's stderr is not its own.
 * A user who starts COMMAND with this command is there to read, so it gets
 * the warnings, unless SOCKTUNE_LOG (or --log) says otherwise or a file asks
 * for more. */
static void warn_for_command(void)
{
	static struct st_config cfg;
	if (getenv("SOCKTUNE_LOG"))
		return;
	conf_load(&cfg, SOCKTUNE_SYSCONFDIR, 0, getenv, NULL, NULL, "socktune", "socktune");
	if (cfg.log < ST_LOG_WARN)
		setenv("SOCKTUNE_LOG", "warn", 1);
}

int cli_run(int argc, char **argv)
{
	enum { OPT_OFF = 256, OPT_OBSERVE, OPT_STATS, OPT_LOG };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"profile", required_argument, NULL, 'p'},
		{"off", no_argument, NULL, OPT_OFF},
		{"observe", no_argument, NULL, OPT_OBSERVE},
		{"stats", required_argument, NULL, OPT_STATS},
		{"log", required_argument, NULL, OPT_LOG},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "+c:o:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': {
			/* Absolute, so a COMMAND that changes directory reads it too. */
			char *abs = realpath(optarg, NULL);
			if (!abs || access(abs, R_OK) < 0) {
				fprintf(stderr, "socktune: %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			setenv("SOCKTUNE_CONFIG", abs, 1);
			free(abs);
			break;
		}
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				fprintf(stderr, "socktune: -o %s: expected KEY=VALUE\n", optarg);
				return 2;
			}
			*eq = '\0';
			if (set_env(optarg, eq + 1, "-o") < 0)
				return 2;
			break;
		}
		case 'p':
			if (set_env("profile", optarg, "-p") < 0)
				return 2;
			break;
		case OPT_OFF:
			setenv("SOCKTUNE", "off", 1);
			break;
		case OPT_OBSERVE:
			setenv("SOCKTUNE", "observe", 1);
			break;
		case OPT_STATS: {
			/* The report is written at exit, perhaps after a chdir. */
			char abs[PATH_MAX];
			const char *dest = optarg;
			if (optarg[0] && optarg[0] != '/' && strcmp(optarg, "stderr") &&
			    getcwd(abs, sizeof(abs) - strlen(optarg) - 2)) {
				strcat(strcat(abs, "/"), optarg);
				dest = abs;
			}
			if (set_env("stats", dest, "--stats") < 0)
				return 2;
			break;
		}
		case OPT_LOG:
			if (set_env("log", optarg, "--log") < 0)
				return 2;
			break;
		case 'h':
			print_usage();
			return 0;
		case 'V':
			printf("socktune %s\n", SOCKTUNE_VERSION);
			return 0;
		default:
			fputs("Try 'socktune --help'.\n", stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("socktune: no command given\nTry 'socktune --help'.\n", stderr);
		return 2;
	}
	const char *lib = cli_library_path();
	if (access(lib, R_OK) < 0) {
		fprintf(stderr, "socktune: the library %s: %s; is socktune installed?\n", lib,
			strerror(errno));
		return 125;
	}
	warn_for_command();
	/* Says why COMMAND cannot be reached, and runs it all the same;
	 * without the library where its loader would refuse to start it. */
	if (!reach_warn(argv[optind], lib) && cli_preload(lib) < 0) {
		perror("socktune: " PRELOAD_VAR);
		return 2;
	}
	execvp(argv[optind], &argv[optind]);
	int err = errno;
	fprintf(stderr, "socktune: %s: %s\n", argv[optind], strerror(err));
	return err == ENOENT ? 127 : 126;
}
