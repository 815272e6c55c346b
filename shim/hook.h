/* What every hook file needs: the export marker and the branch hints.
 * Only symbols marked SOCKTUNE_HOOK leave the library (with the version
 * script, shim/socktune.map); everything else is hidden. */
#ifndef SOCKTUNE_HOOK_H
#define SOCKTUNE_HOOK_H

#define SOCKTUNE_HOOK __attribute__((visibility("default")))
/* Thread-local state the hooks test on every call: the library is loaded
 * at start-up, so its TLS is in the static block and needs no lookup. */
#define ST_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
