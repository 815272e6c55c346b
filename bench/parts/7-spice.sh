# bench/parts/7-spice.sh: part 7 of bench/run, seed 004 for real: QEMU's spice-server over
# TLS to spicy-stats, by bench/spice, with socktune preloaded into QEMU one way per arm.
# It prints its own section and summary rows, and exits 77 (a Skipped section) when QEMU,
# spicy-stats or the guest kernel is missing.
# Its targets are its own; a failure other than a skip marks the bench broken.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

part_spice() {
	local cmd=(bash "$here/spice" --part 7 --summary "$tmp/summary") rc=0
	((quick)) && cmd+=(--seconds 4)
	progress_end
	"${clean_env[@]}" "${cmd[@]}" "$lib" || rc=$?
	if ((rc && rc != 77)); then
		broken+=("bench/spice exited with status $rc")
		echo "| 7 real Spice | bench/spice | failed | | broken |" >>"$tmp/summary"
	fi
}
