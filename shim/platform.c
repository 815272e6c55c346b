/* The platform table.  Unix stream sockets get a 2 MiB send buffer, as QEMU
 * sets for NBD: on Linux and macOS only the sender's buffer limits a unix
 * stream; FreeBSD's newer unix-socket code waits on the receiver's buffer,
 * so it gets rcvbuf too.  TCP is left alone everywhere: setting SO_SNDBUF or
 * SO_RCVBUF locks the kernel's autotuning off for that socket. */
#include "platform.h"

#include "size.h"

#if defined(__FreeBSD__)
#define UNIX_RCVBUF ST_UNIX_STREAM_BUF
#define PLATFORM "FreeBSD"
#else
#define UNIX_RCVBUF ST_DEFAULT
#if defined(__APPLE__)
#define PLATFORM "macOS"
#elif defined(__linux__)
#define PLATFORM "Linux"
#else
#define PLATFORM "other"
#endif
#endif

const struct platform_row platform_rows[] = {
	{"unix stream", "2M",
#if defined(__FreeBSD__)
	 "2M", "throughput is bounded by the send buffer; FreeBSD also waits on the receiver's"},
#else
	 "default", "only the sender's buffer limits a unix stream; SO_RCVBUF has no effect"},
#endif
	{"TCP (inet, inet6)", "default", "default",
	 "kernel autotuning grows buffers past any fixed size; SO_*BUF would turn it off"},
	{"everything else", "default", "default", "no measured gain"},
};
const int platform_nrows = sizeof(platform_rows) / sizeof(platform_rows[0]);

#if defined(__linux__)
const char *const platform_cork_note = "cork: off, auto (MSG_MORE + TCP_CORK) and on (TCP_CORK)";
#elif defined(__FreeBSD__)
const char *const platform_cork_note =
	"cork: only on (TCP_NOPUSH); auto is off here: TCP_NOPUSH has no timer";
#else
const char *const platform_cork_note =
	"cork: off here (TCP_NOPUSH is broken on macOS; no TCP_CORK elsewhere)";
#endif

int platform_cork(int cork)
{
#if defined(__linux__)
	return cork;
#elif defined(__FreeBSD__)
	return cork == ST_CORK_ON ? ST_CORK_ON : ST_CORK_OFF;
#else
	(void)cork;
	return ST_CORK_OFF;
#endif
}

const char *platform_name(void)
{
	return PLATFORM;
}

void platform_resolve(struct st_opts *o, unsigned family, unsigned type)
{
	int unix_stream = family == ST_FAM_UNIX && type == ST_TYPE_STREAM;
	if (o->sndbuf == ST_AUTO)
		o->sndbuf = unix_stream ? ST_UNIX_STREAM_BUF : ST_DEFAULT;
	if (o->rcvbuf == ST_AUTO)
		o->rcvbuf = unix_stream ? UNIX_RCVBUF : ST_DEFAULT;
}
