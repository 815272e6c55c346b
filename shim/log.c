/* The logger.  It writes with the raw system call: the write hook must not
 * see the library's own messages, and the real-function table may not be
 * bound yet when the configuration is read. */
#include "log.h"

#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int socktune_log_level = ST_LOG_WARN;

void st_log(int level, const char *fmt, ...)
{
	int saved = errno;
	static const char *const names[] = {"error", "warning", "info", "debug"};
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "socktune[%s:%ld]: %s: ", socktune_prog,
			 (long)socktune_pid, names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	syscall(SYS_write, 2, buf, (size_t)n);
	errno = saved;
}
