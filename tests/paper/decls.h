/* What `make check-paper` adds to this machine's (glibc's) headers: the
 * declarations that FreeBSD's and macOS's libcs have and glibc lacks, as
 * those systems declare them (unistd.h, stdlib.h). */
int issetugid(void);
const char *getprogname(void);
