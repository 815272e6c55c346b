#!/bin/sh
# Whether the fuzzer can be built: CC links a libFuzzer target with ASan and
# UBSan, and curl is there when NEED_CURL says libconfig is to be fetched.
# As root with apt-get (a fresh CI machine), the missing packages are
# installed first: clang, and the runtime package that holds libFuzzer in
# Debian 12 and later (libclang-rt-N-dev; libfuzzer-N-dev before that).
# Exits 0 when all is there, else 1 with the reason on standard output.
cc=${1:-clang}
need_curl=${2:-}

links() {
	t=$(mktemp -d) || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
		>"$t/probe.c"
	"$cc" -fsanitize=fuzzer,address,undefined "$t/probe.c" -o "$t/probe" >/dev/null 2>&1
	r=$?
	rm -rf "$t"
	return $r
}

ready() {
	links || return 1
	[ -z "$need_curl" ] || command -v curl >/dev/null 2>&1
}

ready && exit 0

# Installs only what this script knows the name of: clang under its own name.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$cc" = clang ]; then
	export DEBIAN_FRONTEND=noninteractive
	pkgs=""
	command -v clang >/dev/null 2>&1 || pkgs="clang"
	[ -z "$need_curl" ] || command -v curl >/dev/null 2>&1 || pkgs="$pkgs curl ca-certificates"
	if [ -n "$pkgs" ]; then
		echo "fuzz: installing$pkgs" >&2
		# shellcheck disable=SC2086 # a list of words
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	fi
	if command -v clang >/dev/null 2>&1 && ! links; then
		v=$(clang -dumpversion | cut -d. -f1)
		for p in "libclang-rt-$v-dev" "libfuzzer-$v-dev"; do
			if apt-cache show "$p" >/dev/null 2>&1; then
				echo "fuzz: installing $p (libFuzzer)" >&2
				apt-get install -y -qq --no-install-recommends "$p" >/dev/null && links && break
			fi
		done
	fi
	ready && exit 0
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "$cc is not installed (Debian: apt-get install clang)"
elif ! links; then
	echo "$cc cannot link -fsanitize=fuzzer,address,undefined (Debian: apt-get install libclang-rt-N-dev for clang N)"
else
	echo "curl is not installed, and libconfig's source is to be fetched (or FUZZ_LIBCONFIG=system)"
fi
exit 1
