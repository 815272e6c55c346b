#!/bin/sh
# Runs the configuration fuzzer for a time and says what it found.
#   run.sh FUZZER WORKDIR SECONDS
# New inputs go to WORKDIR/corpus, findings to WORKDIR/artifacts; the
# committed seeds (tests/fuzz/corpus) are read, never written.  Fails on any
# crash, sanitizer report, leak, timeout (5 s for one input) or excess
# memory (2 GB).
fuzzer=$1
work=$2
secs=$3
here=$(dirname "$0")

mkdir -p "$work/corpus" "$work/artifacts" || exit 1
log=$work/fuzz-config.log
# Findings of earlier runs stay; this run's are those newer than this.
stamp=$work/.run-start
touch "$stamp" || exit 1
echo "fuzz-config: $secs s, log in $log"

ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1 \
LSAN_OPTIONS=suppressions=$here/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
"$fuzzer" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -detect_leaks=1 \
	-max_len=16384 -dict="$here/config.dict" -artifact_prefix="$work/artifacts/" \
	-print_final_stats=1 "$work/corpus" "$here/corpus" >"$log" 2>&1 &
pid=$!
# A line a minute, so a long run shows it is alive.
n=0
while kill -0 $pid 2>/dev/null; do
	sleep 1
	n=$((n + 1))
	[ $((n % 60)) -ne 0 ] || grep -a '^#[0-9]' "$log" | tail -n 1
done
wait $pid
rc=$?

grep -a -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -n 1
grep -a -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
echo "corpus: $(find "$work/corpus" -type f | wc -l) inputs in $work/corpus"
if [ $rc -ne 0 ]; then
	echo "fuzz-config: FAILED (exit $rc); the report:"
	awk '/^==[0-9]+==|runtime error|check failed|ALARM|out-of-memory|fuzz target exited|deadly signal/ \
		{ on = 1 } /^Shadow bytes/ { on = 0 } on && n++ < 60' "$log"
	find "$work/artifacts" -type f -newer "$stamp" | while read -r a; do
		echo "input: $a"
		echo "  reproduce:  LSAN_OPTIONS=suppressions=$here/lsan.supp FUZZ_CONFIG_VERBOSE=1 $fuzzer $a"
		echo "  minimize:   LSAN_OPTIONS=suppressions=$here/lsan.supp $fuzzer -minimize_crash=1 -max_total_time=60 -exact_artifact_path=$a.min $a"
		echo "  keep it:    cp $a tests/fuzz/crashes/NAME"
	done
	exit 1
fi
echo "fuzz-config: no findings"
