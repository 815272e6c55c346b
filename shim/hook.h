/* What every hook file needs: the export marker and the branch hints.
 * Only symbols marked SOCKTUNE_HOOK leave the library (with the version
 * script, shim/socktune.map); everything else is hidden. */
#ifndef SOCKTUNE_HOOK_H
#define SOCKTUNE_HOOK_H

#define SOCKTUNE_HOOK __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
