/* The logger.  It writes with the raw system call: the write hook must not
 * see the library's own messages, and the real-function table may not be
 * bound yet when the configuration is read.  (On macOS the library's own
 * write() is the original already: see hook.h.) */
#include "log.h"

#include "live.h"
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#if !defined(__APPLE__)
#include <sys/syscall.h>
#endif
#include <unistd.h>

int socktune_log_level = ST_LOG_QUIET;

void st_log(int level, const char *fmt, ...)
{
	int saved = errno;
	static const char *const names[] = {"", "error", "warning", "info", "debug"};
	char buf[1024];
	int prefix = snprintf(buf, sizeof(buf), "socktune[%s:%ld]: ", socktune_prog,
			      (long)socktune_pid);
	if (prefix < 0 || (size_t)prefix >= sizeof(buf))
		prefix = 0;
	int n = prefix + snprintf(buf + prefix, sizeof(buf) - (size_t)prefix, "%s: ", names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	if (level <= ST_LOG_WARN) {
		buf[n] = '\0';
		live_note(buf + prefix); /* the file says whose it is */
	}
	if (!log_enabled(level)) {
		errno = saved;
		return;
	}
	buf[n++] = '\n';
#if defined(__APPLE__)
	(void)!write(2, buf, (size_t)n);
#else
	syscall(SYS_write, 2, buf, (size_t)n);
#endif
	errno = saved;
}
