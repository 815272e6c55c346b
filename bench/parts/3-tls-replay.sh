# bench/parts/3-tls-replay.sh: part 3 of bench/run, the Spice-like TLS replay (issues 3
# and 4). Each run is `tlsreplay run` in its own network namespace with a 1500-byte
# loopback. The six variants: plaintext writev, TLS with one SSL_write per piece (as
# spice-server writes), and that with socktune preloaded into the client only: TLS
# merging (with the record rule, and with one record per flush), corking, both. Each paced (one message every 100 us) and unpaced, all with TCP_NODELAY. Rounds
# rotate the variants' order; ratios are per round, then the median. The figures cover
# the replay, not the handshakes.
#
# Targets: paced, wire bytes of TLS + merge over plaintext at most 1.03 with one record
# per flush and 1.06 with the record rule; unpaced, at most 1.01; TLS records per message
# at most 2.01 with the record rule and 1 without; CPU per message of TLS + merge over
# TLS at most 1.0; segments of TLS + cork and TLS + both over TLS at most 0.30. Skipped
# without a private network namespace. bench/run sets the sizes (replay_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

replay_variants=(plain tls tls-merge tls-merge1 tls-cork tls-both)
replay_modes=(paced unpaced)

replay_label() {
	case $1 in
	plain) echo "plaintext (writev)" ;;
	tls) echo "TLS (SSL_write per piece)" ;;
	tls-merge) echo "TLS + merge" ;;
	tls-merge1) echo "TLS + merge, one record (tls_split off)" ;;
	tls-cork) echo "TLS + cork" ;;
	tls-both) echo "TLS + both" ;;
	esac
}

# replay_env VARIANT: sets replay_extra to the client's extra environment, as tlsreplay -E
# options.
replay_env() {
	replay_extra=()
	case $1 in
	tls-merge) replay_extra=(-E "LD_PRELOAD=$lib" -E SOCKTUNE_TLS_MERGE=1K -E SOCKTUNE_CORK=off) ;;
	tls-merge1) replay_extra=(-E "LD_PRELOAD=$lib" -E SOCKTUNE_TLS_MERGE=1K -E SOCKTUNE_CORK=off -E SOCKTUNE_TLS_SPLIT=off) ;;
	tls-cork) replay_extra=(-E "LD_PRELOAD=$lib" -E SOCKTUNE_TLS_MERGE=0 -E SOCKTUNE_CORK=auto) ;;
	tls-both) replay_extra=(-E "LD_PRELOAD=$lib" -E SOCKTUNE_TLS_MERGE=1K -E SOCKTUNE_CORK=auto) ;;
	esac
}

# replay_run record|warmup MODE VARIANT: one replay; records its figures under
# $tmp/replay.MODE.VARIANT.*
replay_run() {
	local what=$1 mode=$2 v=$3 arm=tls-piece p=0 extra out client server
	[[ $mode == paced ]] && p=$replay_pace
	[[ $v == plain ]] && arm=plain
	replay_env "$v"
	extra=(${replay_extra[@]+"${replay_extra[@]}"})
	if [[ $what == record && ${#extra[@]} -gt 0 ]]; then
		extra+=(-E "SOCKTUNE_STATS=$tmp/replay.$mode.$v.stats")
	fi
	progress "$mode, $(replay_label "$v")"
	out=$(run_one "$tmp/replay.log" "${netns[@]}" "$tlsreplay" run -n "$replay_messages" -p "$p" \
		"${extra[@]}" "$arm")
	client=$(grep '^client ' <<<"$out") || die "no client line from tlsreplay: $out"
	server=$(grep '^server ' <<<"$out") || die "no server line from tlsreplay: $out"
	# tlsreplay compares every byte itself; the count is checked here as well.
	[[ $(field bytes "$server") == "$(field app_bytes "$client")" ]] ||
		die "wrong byte count ($mode, $v): $out"
	[[ $what == record ]] || return 0
	local b=$tmp/replay.$mode.$v rec
	field app_bytes "$client" >>"$b.app"
	field tcp_bytes "$client" >>"$b.bytes"
	field wire "$client" >>"$b.wire"
	field segs "$client" >>"$b.segs"
	field seconds "$client" >>"$b.seconds"
	field cpu_us_per_msg "$client" >>"$b.cpu"
	field late "$client" >>"$b.late"
	field pieces "$client" >>"$b.pieces"
	field mss "$client" >>"$tmp/replay.mss"
	rec=$(field records "$server")
	echo "$rec" >>"$b.records"
	awk -v r="$rec" -v m="$(field messages "$client")" 'BEGIN { printf "%.6f\n", r / m }' >>"$b.rpm"
	[[ -e $tmp/replay.first ]] || echo "$client" >"$tmp/replay.first"
	if [[ $v != plain ]]; then
		echo "$(field version "$server") $(field cipher "$server")" >>"$tmp/replay.version"
	fi
}

part_replay() {
	local t0=$SECONDS
	echo "## 3. Spice-like TLS replay: merging and corking (issues 3 and 4)"
	echo
	if ((!netns_ok)); then
		echo "**Skipped**: no private network namespace with a 1500-byte loopback here ($netns_why)."
		echo "Segment counts on the default 64 KiB loopback would mean nothing, so there is no figure."
		echo "| 3 TLS replay | all | not run | | skipped |" >>"$tmp/summary"
		return 0
	fi
	local nv=${#replay_variants[@]} i j k mode v
	: >"$tmp/replay.log"
	progress_start "3/7 (TLS replay)" $((nv + replay_rounds * nv * 2))
	for v in "${replay_variants[@]}"; do # warm-up, never reported
		replay_run warmup unpaced "$v"
	done
	for ((i = 0; i < replay_rounds; i++)); do
		for ((j = 0; j < 2; j++)); do
			mode=${replay_modes[(i + j) % 2]}
			for ((k = 0; k < nv; k++)); do
				replay_run record "$mode" "${replay_variants[(i + k) % nv]}"
			done
		done
	done
	progress_end

	local b base fig
	for mode in "${replay_modes[@]}"; do
		base=$tmp/replay.$mode.tls
		for v in "${replay_variants[@]}"; do
			b=$tmp/replay.$mode.$v
			for fig in bytes wire segs records seconds cpu; do
				ratios "$b.$fig" "$base.$fig" >"$b.$fig.ratio"
			done
			ratios "$b.wire" "$tmp/replay.$mode.plain.wire" >"$b.wire.plainratio"
		done
	done

	local first mss version
	first=$(cat "$tmp/replay.first")
	mss=$(sort -u "$tmp/replay.mss" | paste -sd, -)
	version=$(sort -u "$tmp/replay.version" | paste -sd, -)
	echo "$replay_messages messages per run, each written as 3 to 5 pieces (an 8-byte header, a 24-byte"
	echo "sub-header, 1 to 3 bodies of 100 or 600 bytes; $(field pieces "$first") pieces, $(field app_bytes "$first") bytes), client to"
	echo "server over TCP on 127.0.0.1, with TCP_NODELAY on the client as Spice sets it. Each run in"
	echo "its own network namespace (\`unshare -n\`) whose loopback has MTU 1500 (client MSS: $mss);"
	echo "$version. $replay_rounds rounds, each running every variant paced and unpaced in rotated order,"
	echo "after one unrecorded warm-up of each; this part took $((SECONDS - t0)) s. socktune is preloaded"
	echo "into the client only; the server never is. The figures cover the replay (after the handshakes):"
	echo
	echo "- app bytes: what the client wrote; TCP payload and segments: the client's \`tcpi_bytes_sent\`"
	echo "  and \`tcpi_segs_out\` (TCP_INFO), up to the server's 1-byte acknowledgement of the last byte;"
	echo "- wire bytes: payload + 66 per segment (Ethernet 14, IPv4 20, TCP 32 with timestamps);"
	echo "- TLS records: application-data records the server read (\`SSL_set_msg_callback\`);"
	echo "- time: the replay's wall time on the client; CPU: the client's user + sys per message."
	echo
	echo "Variants: \`$(quoted "${netns[@]}") $tlsreplay run -n $replay_messages -p USEC [ENV] ARM\`, \`-p $replay_pace\` paced, \`-p 0\` unpaced:"
	echo
	echo "- $(replay_label plain): ARM \`plain\`, one \`writev()\` per message;"
	echo "- $(replay_label tls): ARM \`tls-piece\`, one \`SSL_write()\` per piece, as spice-server does; not preloaded;"
	for v in tls-merge tls-merge1 tls-cork tls-both; do
		replay_env "$v"
		echo "- $(replay_label "$v"): \`tls-piece\` with \`$(quoted "${replay_extra[@]}")\`;"
	done
	for mode in "${replay_modes[@]}"; do
		echo
		if [[ $mode == paced ]]; then
			echo "### Paced: one message every $replay_pace µs (the writer waits in \`clock_nanosleep\`)"
		else
			echo "### Unpaced: messages back to back (the writer waits only for the final acknowledgement)"
		fi
		echo
		echo "Medians over the runs; in brackets, the median of the per-round ratios to TLS."
		echo
		echo "| variant | app bytes | TCP payload bytes | wire bytes | segments | TLS records | time | CPU / message |"
		echo "|---|---|---|---|---|---|---|---|"
		for v in "${replay_variants[@]}"; do
			b=$tmp/replay.$mode.$v
			local cells=() r
			for fig in bytes wire segs records seconds cpu; do
				case $fig in
				seconds) r=$(med "$b.$fig" '%.3f s') ;;
				cpu) r=$(med "$b.$fig" '%.2f µs') ;;
				*) r=$(med "$b.$fig" '%.0f') ;;
				esac
				if [[ $fig == records && $v == plain ]]; then
					r="-"
				elif [[ $v != tls ]]; then
					r="$r ($(x "$(med "$b.$fig.ratio" '%.6f')"))"
				fi
				cells+=("$r")
			done
			echo "| $(replay_label "$v") | $(med "$b.app" '%.0f') | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} | ${cells[4]} | ${cells[5]} |"
		done
		if [[ $mode == paced ]]; then
			echo
			echo -n "Messages that missed their $replay_pace µs slot (median per run): "
			for v in "${replay_variants[@]}"; do
				printf '%s %s; ' "$(replay_label "$v")" "$(med "$tmp/replay.paced.$v.late" '%.0f')"
			done | sed 's/; $/./'
			echo
		fi
		echo
		echo "socktune's counters (\`SOCKTUNE_STATS\`, summed over the recorded runs; per message):"
		echo
		local n=$((replay_messages * replay_rounds)) s sums
		for v in tls-merge tls-merge1 tls-cork tls-both; do
			s=$tmp/replay.$mode.$v.stats
			if [[ ! -s $s ]]; then
				echo "- $(replay_label "$v"): no stats line was written"
				continue
			fi
			sums=$(sum_stats "$s" tls cork)
			echo "- $(replay_label "$v"): TLS writes held $(stat_of "$sums" tls.held), flushes $(stat_of "$sums" tls.flushes)," \
				"MSG_MORE writes $(stat_of "$sums" cork.held), pushes $(stat_of "$sums" cork.pushes);" \
				"sent by the hold bound: $(stat_of "$sums" tls.late) TLS bytes, $(stat_of "$sums" cork.late) pushes;" \
				"longest TLS hold $(grep -o '"longest_us":[0-9]*' "$s" | cut -d: -f2 | sort -n | tail -1) us;" \
				"per message: $(awk -v a="$(stat_of "$sums" tls.flushes)" -v b="$(stat_of "$sums" cork.pushes)" -v n="$n" \
					'BEGIN { printf "%.3f flushes, %.3f pushes", a / n, b / n }')"
		done
		if cmp -s "$tmp/replay.$mode.tls-merge.records" "$tmp/replay.$mode.tls-merge.pieces"; then
			echo
			echo "**$mode: TLS + merge merged nothing**: every \`SSL_write\` became its own record, as without it."
		fi
	done
	echo
	echo "### Targets"
	echo
	targets_head
	local p="3 TLS replay"
	# Paced, each flush is one message of 3 to 5 pieces: the record rule (issue 12) puts
	# its last piece in a second record, about 22 bytes more per message. One record per
	# flush (tls_split off) keeps the target this part was made with.
	target "$p" "paced: wire bytes, TLS + merge, one record / plaintext" "$tmp/replay.paced.tls-merge1.wire.plainratio" "<=" 1.03 '%.3fx'
	target "$p" "paced: wire bytes, TLS + merge (record rule) / plaintext" "$tmp/replay.paced.tls-merge.wire.plainratio" "<=" 1.06 '%.3fx'
	target "$p" "unpaced: wire bytes, TLS + merge / plaintext" "$tmp/replay.unpaced.tls-merge.wire.plainratio" "<=" 1.01 '%.3fx'
	for mode in "${replay_modes[@]}"; do
		target "$p" "$mode: TLS records per message, TLS + merge (record rule)" "$tmp/replay.$mode.tls-merge.rpm" "<=" 2.01 '%.3f'
		target "$p" "$mode: TLS records per message, TLS + merge, one record" "$tmp/replay.$mode.tls-merge1.rpm" "<=" 1 '%.3f'
	done
	for mode in "${replay_modes[@]}"; do
		target "$p" "$mode: CPU per message, TLS + merge / TLS" "$tmp/replay.$mode.tls-merge.cpu.ratio" "<=" 1.0 '%.3fx'
	done
	for mode in "${replay_modes[@]}"; do
		target "$p" "$mode: segments, TLS + cork / TLS" "$tmp/replay.$mode.tls-cork.segs.ratio" "<=" 0.30 '%.3fx'
		target "$p" "$mode: segments, TLS + both / TLS" "$tmp/replay.$mode.tls-both.segs.ratio" "<=" 0.30 '%.3fx'
	done
	for mode in "${replay_modes[@]}"; do
		echo "| (info) $mode: wire bytes, TLS + both / plaintext | $(range "$tmp/replay.$mode.tls-both.wire.plainratio" '%.3fx') | | | | |"
	done
	stderr_block "the replay runs" "$tmp/replay.log"
}
