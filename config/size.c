/* Sizes and switches, as written in the config file and the environment. */
#include "size.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int size_parse(const char *text, long *out)
{
	if (!text)
		return -1;
	if (!strcasecmp(text, "default")) {
		*out = ST_DEFAULT;
		return 0;
	}
	if (!strcasecmp(text, "auto")) {
		*out = ST_AUTO;
		return 0;
	}
	if (!isdigit((unsigned char)text[0]))
		return -1;

	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return -1;
	}
	/* Accept "K", "KB" and "KiB": all mean 1024 here, as in every
	 * socket-buffer setting people copy around. */
	if (shift) {
		if (!strcasecmp(end, "ib") || !strcasecmp(end, "b"))
			end += strlen(end);
	}
	if (*end != '\0')
		return -1;
	if (v > (unsigned long long)ST_SIZE_MAX >> shift)
		return -1;
	v <<= shift;
	if (v < 1)
		return -1;
	*out = (long)v;
	return 0;
}

/* 0/off, or a size from 1 to max. */
static int threshold_parse(const char *text, long max, long *out)
{
	long v;
	if (text && (!strcmp(text, "0") || !strcasecmp(text, "off"))) {
		*out = 0;
		return 0;
	}
	if (size_parse(text, &v) < 0 || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int merge_parse(const char *text, long *out)
{
	return threshold_parse(text, ST_MERGE_MAX, out);
}

int tls_merge_parse(const char *text, long *out)
{
	return threshold_parse(text, ST_TLS_MERGE_MAX, out);
}

int switch_parse(const char *text, int allow_default, int *out)
{
	static const char *const on[] = {"on", "true", "yes", "1"};
	static const char *const off[] = {"off", "false", "no", "0"};

	if (!text)
		return -1;
	for (unsigned i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (!strcasecmp(text, on[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(text, off[i])) {
			*out = 0;
			return 0;
		}
	}
	if (allow_default && !strcasecmp(text, "default")) {
		*out = ST_DEFAULT;
		return 0;
	}
	return -1;
}

void size_format(long v, char *buf, unsigned long len)
{
	if (v == ST_DEFAULT || v == ST_UNSET)
		snprintf(buf, len, "default");
	else if (v == ST_AUTO)
		snprintf(buf, len, "auto");
	else if (v >= (1L << 30) && v % (1L << 30) == 0)
		snprintf(buf, len, "%ldG", v >> 30);
	else if (v >= (1L << 20) && v % (1L << 20) == 0)
		snprintf(buf, len, "%ldM", v >> 20);
	else if (v >= (1L << 10) && v % (1L << 10) == 0)
		snprintf(buf, len, "%ldK", v >> 10);
	else
		snprintf(buf, len, "%ld", v);
}
