#!/bin/sh
# Checks the service examples (examples/) that socktune(7), RUNNING IT ON A
# SERVICE, tells administrators to copy:
#   - the systemd drop-in, with systemd-analyze verify, on a throwaway unit
#     whose ExecStart is /bin/true, as it is and with its commented-out
#     Environment= lines taken in; a copy with one bad line must draw a
#     complaint, or the check proves nothing;
#   - the libvirt domain, with virt-xml-validate, and a copy with a bad
#     qemu:env name must fail;
#   - that the environment each one sets, read from the file itself, loads
#     the library just built into a program: it shows in the program's
#     /proc/PID/maps, and with SOCKTUNE_STATS=stderr (the one value the
#     check sets itself) the program writes its JSON line at exit. Without
#     LD_PRELOAD neither may happen.
# What it lacks a tool for (systemd, libvirt-clients) it skips, saying so.
#
#   sh tests/lint/service.sh BUILDDIR SONAME
# EXAMPLES=DIR points it at another copy of examples/.
set -eu
libdir=$1
soname=$2
examples=${EXAMPLES:-examples}
dropin=$examples/systemd/socktune.conf
domain=$examples/libvirt/domain.xml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
checked="the environments load the library"
fail() {
	echo "service.sh: $*" >&2
	status=1
}

if [ "$(uname -s)" != Linux ]; then
	echo "service.sh: skipped: the examples are for Linux (systemd, libvirt, ld.so)"
	exit 0
fi
for f in "$dropin" "$domain"; do
	[ -f "$f" ] || { echo "service.sh: $f is missing" >&2; exit 1; }
done

# 1. systemd-analyze verify. It exits 0 after a line it ignores, saying why
# on stderr, so anything it says about the throwaway unit or its drop-in
# counts as a failure.
verify() { # UNIT: prints what verify said about this directory
	systemd-analyze verify --man=no "$1" >"$tmp/verify.out" 2>&1 ||
		echo "systemd-analyze verify exited $?"
	grep -F "$tmp" "$tmp/verify.out" || true
}
if command -v systemd-analyze >/dev/null 2>&1; then
	unit=$tmp/socktune-example.service
	printf '[Unit]\nDescription=socktune example\n[Service]\nExecStart=/bin/true\n' >"$unit"
	mkdir "$unit.d"
	cp "$dropin" "$unit.d/socktune.conf"
	said=$(verify "$unit")
	[ -z "$said" ] || fail "systemd-analyze verify on $dropin: $said"
	sed 's/^#Environment=/Environment=/' "$dropin" >"$unit.d/socktune.conf"
	said=$(verify "$unit")
	[ -z "$said" ] || fail "systemd-analyze verify on $dropin with its optional lines: $said"
	# The control: the same drop-in with a line systemd cannot parse.
	printf 'Environment\n' >>"$unit.d/socktune.conf"
	said=$(verify "$unit")
	[ -n "$said" ] || fail "systemd-analyze verify took a drop-in with a bad line without a word: this check proves nothing"
	rm -r "$unit" "$unit.d"
	checked="$checked; systemd-analyze verify"
else
	echo "service.sh: systemd-analyze is not installed (Debian: systemd): $dropin not verified"
fi

# 2. virt-xml-validate against libvirt's own schema.
if command -v virt-xml-validate >/dev/null 2>&1; then
	virt-xml-validate "$domain" domain >"$tmp/xml.out" 2>&1 ||
		fail "virt-xml-validate: $(cat "$tmp/xml.out")"
	# The control: a name the schema's qemu:env does not allow.
	sed "s/name='LD_PRELOAD'/name='LD PRELOAD'/" "$domain" >"$tmp/bad.xml"
	! virt-xml-validate "$tmp/bad.xml" domain >/dev/null 2>&1 ||
		fail "virt-xml-validate took a qemu:env with a bad name: this check proves nothing"
	checked="$checked; virt-xml-validate"
else
	echo "service.sh: virt-xml-validate is not installed (Debian: libvirt-clients): $domain not validated"
fi

# 3. The environments, read from the files as systemd and libvirt would, one
# NAME=VALUE a line. Only what this reader understands may be in them: no
# quotes, backslashes, blanks or glob characters in a value, and no systemd
# specifier but %%.
env_of_dropin() {
	awk '
	/^[ \t]*[#;]/ || /^[ \t]*$/ { next }
	/^\[/ { section = $0; next }
	/^Environment=/ {
		if (section != "[Service]") { print "BAD Environment= outside [Service]"; next }
		sub(/^Environment=/, "")
		n = split($0, a, /[ \t]+/)
		for (i = 1; i <= n; i++) {
			v = a[i]
			if (v == "") continue
			if (v ~ /["'\''\\*?[]/ || v !~ /^[A-Za-z_][A-Za-z0-9_]*=/) { print "BAD " v; continue }
			t = v; gsub(/%%/, "", t)
			if (t ~ /%/) { print "BAD specifier in " v; continue }
			gsub(/%%/, "%", v)
			print v
		}
	}' "$1"
}
env_of_domain() {
	python3 - "$1" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET
ns = "{http://libvirt.org/schemas/domain/qemu/1.0}"
for env in ET.parse(sys.argv[1]).getroot().iter(ns + "env"):
    name, value = env.get("name"), env.get("value", "")
    ok = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not re.search(r"[\s\"'\\*?\[]", value)
    print(("%s=%s" if ok else "BAD %s=%s") % (name, value))
EOF
}

# loads WHAT ENVFILE: with that environment alone (and PATH), the loader's
# path pointed at the build and the statistics on stderr, a shell prints its
# own /proc/PID/maps, and /bin/true runs; 0 when the build's library was
# mapped into the one and wrote the statistics line of the other. Two
# programs, since none of the simple ones does both: dash leaves by _exit(),
# with no exit handlers; GNU cat closes its stderr before the library
# writes the line, and mawk ends without it too.
loads() {
	grep -v '^SOCKTUNE_STATS=' "$2" >"$tmp/run.env" || true
	echo SOCKTUNE_STATS=stderr >>"$tmp/run.env"
	set -f
	# shellcheck disable=SC2046,SC2016 # one NAME=VALUE a word, checked above; $$ is the inner shell's
	env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$libdir" $(cat "$tmp/run.env") \
		sh -c 'while read -r l; do echo "$l"; done </proc/$$/maps' >"$tmp/maps" 2>/dev/null || true
	# shellcheck disable=SC2046
	env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$libdir" $(cat "$tmp/run.env") \
		/bin/true 2>"$tmp/stderr" || true
	set +f
	awk -v p="$libdir/$soname" '$NF == p { f = 1 } END { exit !f }' "$tmp/maps" &&
		grep -q '^{"socktune":' "$tmp/stderr"
}

check_env() { # WHAT ENVFILE
	if grep '^BAD' "$2" >/dev/null; then
		fail "$1: service.sh cannot read: $(grep '^BAD' "$2" | tr '\n' ' ')"
		return
	fi
	preload=$(sed -n 's/^LD_PRELOAD=//p' "$2")
	[ "$preload" = "$soname" ] ||
		fail "$1: LD_PRELOAD is '$preload', not the soname $soname that socktune(7) recommends"
	loads "$1" "$2" ||
		fail "$1: its environment did not load $libdir/$soname into sh and /bin/true, with a JSON line from true; stderr: $(cat "$tmp/stderr")"
	# The control: the same environment without LD_PRELOAD loads nothing.
	grep -v '^LD_PRELOAD=' "$2" >"$tmp/control" || true
	! loads "$1" "$tmp/control" ||
		fail "$1: socktune ran without LD_PRELOAD: this check proves nothing"
}

# systemd expands a single % in a value as its own specifier, even in a
# line a reader uncomments later: socktune's %p in a SOCKTUNE_STATS path
# must be written %%p, or it becomes the unit's name.
sed -n 's/^#*Environment=.*SOCKTUNE_STATS=\([^ ]*\).*/\1/p' "$dropin" | sed 's/%%//g' | grep -q %p &&
	fail "$dropin: a SOCKTUNE_STATS value with %p, which systemd would expand: write %%p"

env_of_dropin "$dropin" >"$tmp/dropin.env"
check_env "$dropin" "$tmp/dropin.env"
if env_of_domain "$domain" >"$tmp/domain.env" 2>"$tmp/py.err"; then
	check_env "$domain" "$tmp/domain.env"
else
	fail "$domain: not well-formed: $(tail -n 1 "$tmp/py.err")"
fi

# Where the library is installed on this machine, the soname alone, without
# the build's directory, must find it as the loader's cache says.
if installed=$({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | awk -v n="$soname" '$1 == n { print $NF; exit }') &&
	[ -n "$installed" ]; then
	set -f
	# shellcheck disable=SC2046,SC2016
	env -i PATH=/usr/bin:/bin $(cat "$tmp/dropin.env") \
		sh -c 'while read -r l; do echo "$l"; done </proc/$$/maps' >"$tmp/maps" 2>/dev/null || true
	set +f
	awk -v n="/$soname" 'substr($NF, length($NF) - length(n) + 1) == n { f = 1 } END { exit !f }' \
		"$tmp/maps" ||
		fail "$dropin: $soname is installed ($installed), but the environment of this file, without the build's directory, did not load it"
fi

[ "$status" -eq 0 ] && echo "service examples: clean ($checked)"
exit "$status"
