#!/bin/sh
# Holds the man pages against the table of configuration keys, as
# tests/lint/keys.c prints it:
#   socktune.conf(5) has an item for each key in the section of its kind
#   (TOP-LEVEL SETTINGS, OPTIONS, RULES) and for each variable in ENVIRONMENT;
#   socktune(1) has one for each key -o takes and each variable;
#   no page names a SOCKTUNE variable that is neither a key's nor one of the
#   few that are not keys'.
# Usage: keys.sh TABLE-PROGRAM MAN-DIRECTORY
set -eu
table=$1
man=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$table" >"$tmp/table"
# Variables that carry no key: a file to read, where the profiles are, and
# the labels of socktune ab.
not_keys="SOCKTUNE_CONFIG SOCKTUNE_PROFILE_DIR SOCKTUNE_ARM SOCKTUNE_RUN"
status=0

# The tags of the .TP items of one section of a page, the macro taken off:
# "sndbuf " = " ..." for ".BR sndbuf " = " ...".
tags() { # page section
	awk -v sec="$2" '
		/^\.SH / { on = $0 == ".SH " sec || $0 == ".SH \"" sec "\""; next }
		on && /^\.TP/ { tag = 1; next }
		on && tag { tag = 0; sub(/^\.[A-Z]+ */, ""); print }
	' "$1"
}

# Each key of the table's column 1 = kind (or any kind for "-o", the keys
# with a variable), one a line.
keys() { # kind
	if [ "$1" = -o ]; then
		awk '$3 != "-" { print $2 }' "$tmp/table"
	else
		awk -v kind="$1" '$1 == kind { print $2 }' "$tmp/table"
	fi
}

variables() { # and these others
	awk '$3 != "-" { print $3 }' "$tmp/table"
	for v in "$@"; do echo "$v"; done
}

# Compares the keys a page lists (stdin) with those the table has (file);
# fails when they differ.  It ends a pipeline, so it says so by its status.
compare() { # where want-file
	sort -u >"$tmp/have"
	sort -u "$2" >"$tmp/want"
	for k in $(comm -23 "$tmp/want" "$tmp/have"); do
		echo "$1: $k is missing: the table (config/keys.def) has it" >&2
	done
	for k in $(comm -13 "$tmp/want" "$tmp/have"); do
		echo "$1: $k is not in the table (config/keys.def)" >&2
	done
	cmp -s "$tmp/want" "$tmp/have"
}

conf=$man/socktune.conf.5
keys global >"$tmp/k"
tags "$conf" "TOP-LEVEL SETTINGS" | cut -d' ' -f1 | compare "$conf, TOP-LEVEL SETTINGS" "$tmp/k" || status=1
keys option >"$tmp/k"
tags "$conf" OPTIONS | cut -d' ' -f1 | compare "$conf, OPTIONS" "$tmp/k" || status=1
keys match >"$tmp/k"
tags "$conf" RULES | cut -d' ' -f1 | compare "$conf, RULES" "$tmp/k" || status=1
variables SOCKTUNE_CONFIG SOCKTUNE_PROFILE_DIR >"$tmp/k"
tags "$conf" ENVIRONMENT | grep -o 'SOCKTUNE[A-Z_]*' | compare "$conf, ENVIRONMENT" "$tmp/k" || status=1

cmd=$man/socktune.1
keys -o >"$tmp/k"
tags "$cmd" OPTIONS | sed -n 's/^\([a-z_]*\)=.*/\1/p' | compare "$cmd, OPTIONS, -o" "$tmp/k" || status=1
variables $not_keys >"$tmp/k"
tags "$cmd" ENVIRONMENT | grep -o 'SOCKTUNE[A-Z_]*' | compare "$cmd, ENVIRONMENT" "$tmp/k" || status=1

variables $not_keys | sort -u >"$tmp/k"
for page in "$man"/*.[0-9]; do
	grep -o 'SOCKTUNE[A-Z_]*' "$page" | sort -u | comm -23 - "$tmp/k" >"$tmp/stray"
	for v in $(cat "$tmp/stray"); do
		echo "$page: names $v, which is no key's variable" >&2
		status=1
	done
done

[ $status = 0 ] && echo "man pages: every key and variable of config/keys.def, and no other"
exit $status
