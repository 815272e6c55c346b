/* tlscork/common.c: what every role uses: dying with a line that names the role
 * (exit status 1), the monotonic clock and sleeping or spinning on it, the random
 * sizes and bytes (from --seed), and a digest in hex. */
#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlscork.h"

void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	fprintf(stderr, "tlscork %s: ", o.role ? o.role : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	ERR_print_errors_fp(stderr);
	fflush(NULL);
	exit(1);
}

long long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void sleep_us(long us)
{
	struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* xorshift64*: the random sizes and bytes. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void fill(unsigned char *b, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(rnd(s) >> 56);
}

long between(uint64_t *s, long lo, long hi)
{
	return lo + (long)(rnd(s) % (uint64_t)(hi - lo + 1));
}

void hex(char out[65], const unsigned char d[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void spin_ms(long ms)
{
	long long until = mono_ns() + ms * 1000000LL;
	while (mono_ns() < until)
		;
}
