#!/bin/sh
# Checks the places shim/hooks.def is not compiled into against it:
#   - every function the library's objects export is a hook of hooks.def
#     (a hook missing there would be hidden by the version script, and the
#     call would silently pass socktune by);
#   - socktune(7)'s "Wait points" names exactly the calls whose role is a
#     wait point.
#
#   sh tests/lint/hooks.sh CC OBJECT...
set -eu
cc=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# hooks.def's lines as "ROLE NAME", by the preprocessor.
$cc -E -P -x c \
	"-DCALL(name, ret, params, probe, role)=role name" \
	"-DLIST(name, probe, role)=role name" \
	"-DTLS(name, field, ret, params)=TLS name" \
	shim/hooks.def | awk 'NF == 2' >"$tmp/def"
awk '{ print $2 }' "$tmp/def" | sort -u >"$tmp/hooks"

# What the objects give default visibility, defined: the hooks' bodies.
readelf -sW "$@" | awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" { print $8 }' |
	sed 's/@.*//' | sort -u >"$tmp/bodies"
extra=$(comm -13 "$tmp/hooks" "$tmp/bodies")
if [ -n "$extra" ]; then
	echo "hooks.sh: exported by the objects but not in shim/hooks.def:" $extra >&2
	status=1
fi

# socktune(7): the calls named in bold between ".SS Wait points" and the
# next heading (constants such as WNOHANG are upper case).
awk '$1 == ".SS" && $2 == "Wait" && $3 == "points" { f = 1; next }
	f && /^\.S[SH]/ { exit }
	f && /^\.BR? / && $2 ~ /[a-z]/ { print $2 }' man/socktune.7 | sort -u >"$tmp/man"
awk '$1 ~ /WAIT/ { print $2 }' "$tmp/def" | sort -u >"$tmp/waits"
if ! cmp -s "$tmp/man" "$tmp/waits"; then
	echo "hooks.sh: socktune(7)'s wait points and hooks.def's differ (< man page, > hooks.def):" >&2
	diff "$tmp/man" "$tmp/waits" | grep '^[<>]' >&2 || true
	status=1
fi
[ "$status" = 0 ] && echo "hooks: shim/hooks.def matches the objects' exports and socktune(7)"
exit "$status"
