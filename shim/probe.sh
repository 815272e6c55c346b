#!/bin/sh
# The feature probes: which of the calls socktune hooks this libc has.
# Each probe compiles and links a call to one of them; the answers go to
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

{
	echo "/* Written by shim/probe.sh: what this libc has. */"
	echo "#ifndef SOCKTUNE_PROBED_H"
	echo "#define SOCKTUNE_PROBED_H"
	probe accept4 "sys/socket.h" "accept4(0, 0, 0, 0)"
	probe dup3 "unistd.h fcntl.h" "dup3(0, 1, O_CLOEXEC)"
	probe fcntl64 "fcntl.h" "fcntl64(0, F_GETFD)"
	probe close_range "unistd.h" "close_range(3, 3, 0)"
	probe closefrom "unistd.h" "closefrom(3)"
	probe ppoll "poll.h signal.h" "ppoll(0, 0, 0, 0)"
	probe epoll "sys/epoll.h" "epoll_pwait(0, 0, 1, 0, 0)"
	probe epoll_pwait2 "sys/epoll.h" "epoll_pwait2(0, 0, 1, 0, 0)"
	probe clock_nanosleep "time.h" "clock_nanosleep(CLOCK_MONOTONIC, 0, 0, 0)"
	probe sem_timedwait "semaphore.h" "sem_timedwait(0, 0)"
	probe pthread_cond_clockwait "pthread.h time.h" "pthread_cond_clockwait(0, 0, CLOCK_MONOTONIC, 0)"
	probe sem_clockwait "semaphore.h time.h" "sem_clockwait(0, CLOCK_MONOTONIC, 0)"
	# sigwaitinfo and sigtimedwait come together (macOS has neither).
	probe sigwaitinfo "signal.h time.h" "sigwaitinfo(0, 0); sigtimedwait(0, 0, 0)"
	probe execvpe "unistd.h" "execvpe(\"\", 0, 0)"
	probe fexecve "unistd.h" "fexecve(0, 0, 0)"
	# Who the program is, and whether it is setuid.
	probe getauxval "sys/auxv.h" "getauxval(AT_SECURE)"
	probe issetugid "unistd.h" "issetugid()"
	probe secure_getenv "stdlib.h" "secure_getenv(\"HOME\")"
	probe program_invocation_name "errno.h" \
		"(void)program_invocation_name; (void)program_invocation_short_name"
	probe getprogname "stdlib.h" "getprogname()"
	# glibc's _FORTIFY_SOURCE entry points, declared here as glibc does.
	probe __read_chk "sys/types.h" \
		"extern ssize_t __read_chk(int, void *, size_t, size_t); __read_chk(0, 0, 0, 0)"
	probe __recv_chk "sys/types.h" \
		"extern ssize_t __recv_chk(int, void *, size_t, size_t, int); __recv_chk(0, 0, 0, 0, 0)"
	probe __recvfrom_chk "sys/types.h sys/socket.h" \
		"extern ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *); __recvfrom_chk(0, 0, 0, 0, 0, 0, 0)"
	probe __poll_chk "stddef.h poll.h" \
		"extern int __poll_chk(struct pollfd *, nfds_t, int, size_t); __poll_chk(0, 0, 0, 0)"
	# glibc's inline getline() calls it.
	probe __getdelim "stdio.h sys/types.h" \
		"extern ssize_t __getdelim(char **, size_t *, int, FILE *); __getdelim(0, 0, 0, 0)"
	probe __ppoll_chk "stddef.h poll.h signal.h" \
		"extern int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t); __ppoll_chk(0, 0, 0, 0, 0)"
	echo "#endif"
} >"$tmp/probed.h"
mv -f "$tmp/probed.h" "$out"
