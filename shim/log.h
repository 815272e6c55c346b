/* The library's messages: one prefix, socktune[prog:pid]:, one level from
 * SOCKTUNE_LOG (quiet by default), straight to fd 2 with one write, errno
 * left as it was; errors and warnings also into the live figures. */
#ifndef SOCKTUNE_LOG_H
#define SOCKTUNE_LOG_H

#include "config.h"

extern int socktune_log_level;

void st_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_enabled(level) ((level) <= socktune_log_level)
/* Errors and warnings are kept for socktune stats at any level. */
#define log_error(...) st_log(ST_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) st_log(ST_LOG_WARN, __VA_ARGS__)
#define log_info(...) (log_enabled(ST_LOG_INFO) ? st_log(ST_LOG_INFO, __VA_ARGS__) : (void)0)
#define log_debug(...) (log_enabled(ST_LOG_DEBUG) ? st_log(ST_LOG_DEBUG, __VA_ARGS__) : (void)0)

#endif
