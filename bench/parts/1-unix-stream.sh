# bench/parts/1-unix-stream.sh: part 1 of bench/run, the unix stream send buffer swept
# over our own sender and receiver. `socktune sweep` runs `unixbulk run` (seed 000's shape:
# 256 KiB writes one way over a unix stream socket) once per SOCKTUNE_SNDBUF size, each
# row against the default row (SOCKTUNE=observe, nothing tuned), round after round.
# Target: the best row's speed-up, the default's wall time over its own, at least 1.0;
# the 2M row (socktune's `auto` for unix stream sockets) is reported beside it, since
# noise alone pushes the best of seven rows above 1. bench/run sets the sizes (bulk_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

part_unix() {
	local t0=$SECONDS csv=$out_dir/unixbulk-sweep.csv png=$out_dir/unixbulk-sweep.png
	local rows=(default) v
	for v in ${bulk_sizes//,/ }; do rows+=("sndbuf=$v"); done
	local cmd=("$socktune" sweep -n "$bulk_runs" -w "$bulk_warmup" -o "sndbuf=$bulk_sizes" --csv "$csv")
	((plot)) && cmd+=(--plot "$png")
	cmd+=(-- "$unixbulk" run "$bulk_bytes")
	experiment 'send|recv|run' "${cmd[@]}"
	# unixbulk checks the checksum itself; the counts are checked here as well, so a
	# program that lost bytes cannot produce a figure either way. Each run ends with its
	# "run" line, and sweep runs the rows in order, round after round, warm-up included:
	# run K belongs to row K modulo the rows.
	local n=${#rows[@]} runs
	runs=$(grep -c '^run ' <<<"$experiment_runs" || true)
	[[ $runs == $((n * (bulk_runs + bulk_warmup))) ]] ||
		die "unixbulk ran $runs times, not $((n * (bulk_runs + bulk_warmup)))"
	if grep -E '^(send|recv) ' <<<"$experiment_runs" | grep -vq " bytes=$bulk_bytes "; then
		die "wrong byte count: $(grep -E '^(send|recv) ' <<<"$experiment_runs" | grep -v " bytes=$bulk_bytes " | head -n 1)"
	fi
	awk -v n="$n" '/^send / { s = $0 } /^run / { print k % n, s; k++ }' <<<"$experiment_runs" \
		>"$tmp/bulk.sends"
	local i sndbufs=()
	for ((i = 0; i < n; i++)); do
		sndbufs+=("$(awk -v i="$i" '$1 == i' "$tmp/bulk.sends" | grep -o 'sndbuf=[0-9]*' | cut -d= -f2 |
			sort -un | paste -sd, -)")
	done

	# The best row, by the median wall time, as sweep marks it; its speed-up is the
	# default's wall time over its own, round by round.
	local best="" best_med="" m row
	for row in "${rows[@]:1}"; do
		m=$(csv_values "$csv" "$row" wall_s | sort -g | awk '{ v[NR] = $1 }
			END { printf "%.9f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		if [[ -z $best ]] || awk -v a="$m" -v b="$best_med" 'BEGIN { exit !(a < b) }'; then
			best=$row best_med=$m
		fi
	done
	csv_ratios "$csv" default "$best" wall_s >"$tmp/bulk.best.speedup"
	csv_ratios "$csv" default sndbuf=2M wall_s >"$tmp/bulk.2M.speedup"

	echo "## 1. Unix stream: the send buffer, swept"
	echo
	echo "Seed 000's shape with our own programs: $(numfmt --to=iec-i --suffix=B "$bulk_bytes" 2>/dev/null || echo "$bulk_bytes bytes") one way over a unix stream socket"
	echo "in 256 KiB writes (an NBD request's size), sender and receiver in separate processes"
	echo "(\`unixbulk run\` starts both), a checksum over every byte. \`socktune sweep\` runs the"
	echo "command once per send buffer with \`SOCKTUNE=on SOCKTUNE_SNDBUF=SIZE\`, and once as the"
	echo "default row with \`SOCKTUNE=observe\` (nothing tuned), round after round: $bulk_runs rounds"
	echo "after $bulk_warmup unrecorded warm-up round(s). Wall is the whole command, from the start"
	echo "of the first process to the exit of the last. The lines unixbulk prints are read back from"
	echo "sweep's output, run by run, and checked; this part took $((SECONDS - t0)) s."
	echo
	echo "Expect little: seed 000's 9x to 13x came from macOS, whose default send buffer is 8 KiB."
	echo "Linux's is 208 KiB, and on this loopback earlier runs of the same transfer gained between"
	echo "1% slower and 8% faster at 2 MiB. Sizes below 208 KiB *shrink* the buffer. The best of"
	echo "seven rows is picked after the fact, so noise alone pushes its figure above 1: read the"
	echo "2M row (socktune's \`auto\` for unix stream sockets) beside it."
	echo
	echo "\`\`\`"
	quoted "${cmd[@]}"
	echo "\`\`\`"
	echo
	printf '%s\n' "$experiment_table"
	echo
	plot_link "wall and CPU time per send buffer" unixbulk-sweep.png
	echo "Every run: [unixbulk-sweep.csv](unixbulk-sweep.csv). The sender's \`SO_SNDBUF\` after"
	echo "connect, as \`getsockopt\` read it (Linux reports twice the size asked for):"
	echo
	echo "| row | sender SO_SNDBUF |"
	echo "|---|---|"
	local i
	local two=0
	for ((i = 0; i < n; i++)); do
		echo "| ${rows[i]} | ${sndbufs[i]} |"
		[[ ${rows[i]} == sndbuf=2M ]] && two=$i
	done
	if [[ ${sndbufs[0]} == "${sndbufs[$two]}" ]]; then
		echo
		echo "**socktune did not change the sender's SO_SNDBUF**: the rows measure noise."
	fi
	echo
	echo "### Target"
	echo
	targets_head
	target "1 unix stream" "best row ($best): speed-up, default wall / its wall" \
		"$tmp/bulk.best.speedup" ">=" 1.0 '%.3fx'
	echo "| (info) sndbuf=2M: speed-up, default wall / its wall | $(range "$tmp/bulk.2M.speedup" '%.3fx') | | | | |"
}
