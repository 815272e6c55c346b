/* What every hook file needs: the export marker, the way a hook takes the
 * place of the libc call it is named after, and the branch hints.
 *
 * ELF systems (Linux, FreeBSD) interpose by name: the preloaded library
 * defines connect() and the loader binds every program's connect to it.
 * Only symbols marked SOCKTUNE_HOOK leave the library (with the version
 * script, made from shim/hooks.def); everything else is hidden.  Every hook
 * is a line of hooks.def, which `make lint` checks.
 *
 * macOS interposes by table: DYLD_INSERT_LIBRARIES loads the library, and
 * dyld rebinds each original named in its __DATA,__interpose section to the
 * replacement paired with it, in every image but the library itself.  So
 * there a hook is named socktune_connect, INTERPOSE(connect) adds the pair,
 * and the library's own calls of connect() reach the original.  A hook
 * that calls another hook (execl calls execv) names it with HOOK().
 *
 * The calls a libc may lack (accept4, epoll, the _chk entry points...) are
 * hooked only where shim/probe.sh found them: ST_HAVE_* in probed.h. */
#ifndef SOCKTUNE_HOOK_H
#define SOCKTUNE_HOOK_H

#include "probed.h"

#define SOCKTUNE_HOOK __attribute__((visibility("default")))

#if defined(__APPLE__)
#define HOOK(name) socktune_##name
#define INTERPOSE(name)                                                                            \
	__attribute__((used, section("__DATA,__interpose"))) static const struct {                 \
		const void *hook, *original;                                                       \
	} socktune_interpose_##name = {(const void *)&socktune_##name, (const void *)&name}
#else
#define HOOK(name) name
/* Nothing to add: the symbol's name does it.  (A declaration, for the ;) */
#define INTERPOSE(name) struct socktune_interpose_##name
#endif

/* Thread-local state the hooks test on every call: the library is loaded
 * at start-up, so its TLS is in the static block and needs no lookup. */
#define ST_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
