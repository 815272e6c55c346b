# bench/parts/6-iovmerge.sh: part 6 of bench/run, seed 003's shape: writev of pages and
# delimiters (and the Spice-like shapes), iovec merging off against on, in one process.
# Both sides are preloaded, so only merging differs. On this VM the time per message
# swings by up to 1.6x in spells of 10 to 100 ms, inside one process as much as between
# two, so separate runs with SOCKTUNE_MERGE=4K and SOCKTUNE_MERGE=0 spread from 0.6x to
# 1.6x per pair and their medians could not tell 1% apart. So each run is one process
# with two writers side by side (`iovmerge ab`): the connecting end writes on one
# connection, the accepted end on another, and a configuration file merges one of them
# by role (SOCKTUNE_MERGE would merge both). Slices of about 3 ms alternate between the
# two writers, and the run's ratio is the median over adjacent slice pairs. Each round
# runs merge = 4K twice, once merging the client writer and once the server writer, so a
# difference between the two roles cancels; the "0" row runs with merging off for both
# and shows what the two roles and the noise alone give. The Spice-like shapes ride along:
# a run costs 0.15 s.
#
# Targets, per shape: the time and the CPU ratios, merge = 4K over merge = 0, at most
# merge_limit, below. bench/run sets the sizes (merge_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

merge_shapes=(pages-unix spice-unix spice-tcp)
# "Never slower": the median time and CPU ratios, merged over not merged, at most this.
# Not 1.00: the pages shape merges nothing (its 8-byte pieces sit between 4 KiB pages,
# never two small ones side by side), so its ratios are those of two identical writers,
# and on the 2-vCPU VM their medians fell up to 1% either side of 1.
merge_limit=1.01

merge_slice() {
	case $1 in
	spice-unix) echo "$merge_slice_spice_unix" ;;
	spice-tcp) echo "$merge_slice_spice_tcp" ;;
	pages-unix) echo "$merge_slice_pages" ;;
	esac
}

# merge_run record|warmup SHAPE 0|SIZE [ROLE]: one run; records its figures under
# $tmp/merge.SHAPE.SIZE.* as merged over not merged (for 0: client over server).
merge_run() {
	local what=$1 shape=$2 size=$3 role=${4:-} out conf calls b r rc m u
	if [[ $size == 0 ]]; then conf=$tmp/merge.none.conf; else conf=$tmp/merge.$role.conf; fi
	progress "$shape, merge = $size${role:+ on the $role}"
	rm -f "$tmp/merge.stats"
	out=$(run_one "$tmp/merge.log" "LD_PRELOAD=$lib" "SOCKTUNE_CONFIG=$conf" \
		"SOCKTUNE_STATS=$tmp/merge.stats" "$iovmerge" ab "${shape%-*}" "${shape#*-}" \
		"$(merge_slice "$shape")" "$merge_pairs")
	# iovmerge checks that every byte arrived; the pair count is checked here as well.
	[[ $(field pairs "$out") == "$merge_pairs" ]] || die "wrong pair count ($shape, $size): $out"
	[[ $what == record ]] || return 0
	b=$tmp/merge.$shape.$size
	r=$(field ratio_ns "$out") rc=$(field ratio_cpu "$out")
	m=client u=server
	if [[ $role == server ]]; then
		r=$(awk -v v="$r" 'BEGIN { printf "%.6f\n", 1 / v }')
		rc=$(awk -v v="$rc" 'BEGIN { printf "%.6f\n", 1 / v }')
		m=server u=client
	fi
	echo "$r" >>"$b.ratio"
	echo "$rc" >>"$b.cpuratio"
	field "${m}_ns" "$out" >>"$b.merged.ns"
	field "${u}_ns" "$out" >>"$b.plain.ns"
	field "${m}_cpu_ns" "$out" >>"$b.merged.cpu"
	field "${u}_cpu_ns" "$out" >>"$b.plain.cpu"
	# The library's own count of merged calls: proof of what the rule merged.
	calls=$(grep -o '"merge":{"calls":[0-9]*' "$tmp/merge.stats" 2>/dev/null | grep -o '[0-9]*$' || true)
	echo "${calls:-none}" >>"$b.calls"
	[[ -e $tmp/merge.$shape.iov ]] || field iov_per_msg "$out" >"$tmp/merge.$shape.iov"
}

part_merge() {
	local t0=$SECONDS i shape role
	printf 'defaults = { merge = "0"; };\n' >"$tmp/merge.none.conf"
	for role in client server; do
		printf 'defaults = { merge = "0"; };\nrules = ( { name = "bench"; role = "%s"; merge = "%s"; } );\n' \
			"$role" "$merge_size" >"$tmp/merge.$role.conf"
	done
	: >"$tmp/merge.log"
	progress_start "6/7 (iovec merging)" $((${#merge_shapes[@]} * (1 + 3 * merge_rounds)))
	for shape in "${merge_shapes[@]}"; do # warm-up, never reported
		merge_run warmup "$shape" 0
	done
	for ((i = 0; i < merge_rounds; i++)); do
		for shape in "${merge_shapes[@]}"; do
			merge_run record "$shape" 0
			if ((i % 2)); then
				merge_run record "$shape" "$merge_size" client
				merge_run record "$shape" "$merge_size" server
			else
				merge_run record "$shape" "$merge_size" server
				merge_run record "$shape" "$merge_size" client
			fi
		done
	done
	progress_end

	echo "## 6. Seed 003's shape: \`writev\` of pages and delimiters, merge off vs on"
	echo
	echo "Shapes: **pages**, seed 003's, one \`writev()\` of 16 × (8-byte delimiter, 4 KiB page), 32"
	echo "iovecs, over a unix stream socket; and, as extra rows, **spice**, one \`writev()\` per message"
	echo "of 3 to 5 pieces (an 8-byte header, then 8, 24, 100 or 600 bytes; $(cat "$tmp/merge.spice-unix.iov") iovecs per"
	echo "message on average) over a unix stream socket and over TCP on 127.0.0.1 with TCP_NODELAY."
	echo "Seed 003's pieces have no run of two small iovecs side by side, so \`merge\` should leave"
	echo "them alone and cost nothing; its cost there is what this part measures."
	echo
	echo "Each run is one process with two writers side by side, each on its own connection: the"
	echo "connecting end writes on one, the accepted end on the other, and \`SOCKTUNE_CONFIG\` merges"
	echo "one of them by role (\`defaults = { merge = \"0\"; }; rules = ( { role = ...; merge = \"$merge_size\"; } );\`)."
	echo "One thread writes and reads the bytes back whenever 32 KiB are pending, so a figure covers"
	echo "one send path and the same reads, on one CPU. Slices of $merge_slice_pages (pages), $merge_slice_spice_unix (spice-unix)"
	echo "or $merge_slice_spice_tcp (spice-tcp) messages, about 3 ms, alternate between the writers, $merge_pairs pairs a"
	echo "run; a run's ratio is the median over its pairs of the merging writer's time (wall, or CPU:"
	echo "user + sys) per message over the other's. Why not separate runs with \`SOCKTUNE_MERGE=$merge_size\` and"
	echo "\`SOCKTUNE_MERGE=0\`: on this VM the time per message swings by up to 1.6x in spells of 10 to"
	echo "100 ms, so such pairs spread from 0.6x to 1.6x and their median cannot tell 1% apart; slices"
	echo "3 ms apart see the same machine. $merge_rounds rounds after one unrecorded warm-up of each shape;"
	echo "each runs merge = $merge_size twice, merging the client writer once and the server writer once, so a"
	echo "difference between the roles cancels, and once with merging off for both (row 0: client"
	echo "over server, the roles and the noise alone). Below 1 is faster. This part took $((SECONDS - t0)) s."
	echo
	echo "- \`LD_PRELOAD=$lib SOCKTUNE_CONFIG=FILE SOCKTUNE_STATS=FILE $iovmerge ab pages|spice unix|tcp SLICE $merge_pairs\`"
	echo
	echo "| shape | merge | merged calls per run | not merged: ns/msg | merged: ns/msg | time ratio [min, max] | not merged: CPU ns/msg | merged: CPU ns/msg | CPU ratio [min, max] |"
	echo "|---|---|---|---|---|---|---|---|---|"
	local size b calls label
	for shape in "${merge_shapes[@]}"; do
		for size in 0 "$merge_size"; do
			b=$tmp/merge.$shape.$size
			calls=$(sort -un "$b.calls" | paste -sd, -)
			label=$size
			[[ $size == 0 ]] && label="0 (both off)"
			echo "| $shape | $label | $calls | $(med "$b.plain.ns" '%.1f') | $(med "$b.merged.ns" '%.1f') | $(range "$b.ratio" '%.3fx') | $(med "$b.plain.cpu" '%.1f') | $(med "$b.merged.cpu" '%.1f') | $(range "$b.cpuratio" '%.3fx') |"
		done
	done
	calls=$(sort -un "$tmp/merge.spice-unix.$merge_size.calls" | paste -sd, -)
	if [[ $calls == 0 || $calls == none ]]; then
		echo
		echo "**merge = $merge_size merged nothing on spice-unix**: its ratios compare two pass-throughs."
	fi
	echo
	echo "### Targets"
	echo
	targets_head
	local p="6 seed 003 shape"
	for shape in "${merge_shapes[@]}"; do
		target "$p" "$shape: time, merge = $merge_size / merge = 0" "$tmp/merge.$shape.$merge_size.ratio" "<=" "$merge_limit" '%.3fx'
		target "$p" "$shape: CPU, merge = $merge_size / merge = 0" "$tmp/merge.$shape.$merge_size.cpuratio" "<=" "$merge_limit" '%.3fx'
	done
	stderr_block "the merging runs" "$tmp/merge.log"
}
