#!/bin/sh
# The feature probes: which of the calls socktune hooks this libc has.
# Each probe (a PROBE line of shim/hooks.def) compiles and links a call to one of them; the answers go to
# the header named by $1 as ST_HAVE_<NAME> 0 or 1.  A hook for a call the
# libc lacks is not built: on Linux it would only be dead code, but dyld's
# __DATA,__interpose table (macOS) names the original, which must exist.
#
#   sh shim/probe.sh OUT CC CPPFLAGS CFLAGS LDFLAGS
#
# ST_FEATURES_OFF (a list of names, or "all") answers 0 without asking:
# `make check-portable` builds the library as a libc without them would.
set -eu
out=$1 cc=$2 cppflags=$3 cflags=$4 ldflags=$5
off=" ${ST_FEATURES_OFF:-} "
# No epoll means no epoll_pwait2 either.
case "$off" in *" epoll "*) off="$off epoll_pwait2 " ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# probe NAME HEADERS CALL: the call must compile, link, and not be a macro
# (musl spells the LFS64 names as macros, and a hook named fcntl64 would
# then define fcntl a second time).
probe() {
	name=$1 headers=$2 call=$3
	have=0
	case "$off" in *" all "* | *" $name "*) ;; *)
		{
			for h in $headers; do echo "#include <$h>"; done
			echo "#ifdef $name"
			echo "#error $name is a macro"
			echo "#endif"
			echo "int main(void) { $call; return 0; }"
		} >"$tmp/p.c"
		# shellcheck disable=SC2086 # the flags are word lists
		if $cc $cppflags $cflags -Werror=implicit-function-declaration \
			-o "$tmp/p" "$tmp/p.c" $ldflags -lpthread >/dev/null 2>&1; then
			have=1
		fi ;;
	esac
	echo "#define ST_HAVE_$(echo "$name" | tr a-z A-Z) $have"
}

# The probes are listed in shim/hooks.def, next to the calls they are for;
# the compiler's preprocessor turns each PROBE line into a call of probe.
# shellcheck disable=SC2086 # the flags are word lists
$cc -E -P $cppflags -x c "-DPROBE(name, headers, call)=probe name headers call" \
	"$(dirname "$0")/hooks.def" >"$tmp/probes"
{
	echo "/* Written by shim/probe.sh from shim/hooks.def: what this libc has. */"
	echo "#ifndef SOCKTUNE_PROBED_H"
	echo "#define SOCKTUNE_PROBED_H"
	# shellcheck source=/dev/null
	. "$tmp/probes"
	echo "#endif"
} >"$tmp/probed.h"
mv -f "$tmp/probed.h" "$out"
