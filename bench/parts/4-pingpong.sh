# bench/parts/4-pingpong.sh: part 4 of bench/run, the request/response rate: `socktune ab`
# around a ping-pong over TCP and TLS, observe (A) against everything on (B).
# A request of 3 small writes, a 1-byte reply, one round trip at a time; both ends are
# preloaded (the server is a fork of the client). A fixed count of round trips, so the
# wall time ratio B/A below 1 means faster. Then TLS merging's record rule (issue 12):
# socktune's default flush (the last piece its own record, both records in one write)
# against SOCKTUNE_TLS_SPLIT=off (one record per flush), with TCP_NODELAY and without,
# and, Nagle on, against the request hand-merged into one SSL_write without socktune.
#
# Targets: wall time B/A at most 1.0 over TCP and over TLS; over TLS, the rate of the
# record rule over one record per flush at least 0.9 with TCP_NODELAY and with Nagle on,
# and over the hand-merged request at least 0.8. bench/run sets the sizes (pp_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

pp_rule_arms=(split-nd off-nd split-nagle off-nagle hand-nagle)

pp_rule_label() {
	case $1 in
	split-nd) echo "socktune, split (default), TCP_NODELAY" ;;
	off-nd) echo "socktune, \`SOCKTUNE_TLS_SPLIT=off\`, TCP_NODELAY" ;;
	split-nagle) echo "socktune, split (default), Nagle on" ;;
	off-nagle) echo "socktune, \`SOCKTUNE_TLS_SPLIT=off\`, Nagle on" ;;
	hand-nagle) echo "not preloaded, hand-merged request, Nagle on" ;;
	esac
}

# pp_rule_args ARM: sets pp_rule_cmd to the arm's environment and tlspingpong command.
pp_rule_args() {
	local e=() f=()
	case $1 in
	split-* | off-*) e=("LD_PRELOAD=$lib") ;;
	esac
	case $1 in off-*) e+=(SOCKTUNE_TLS_SPLIT=off) ;; esac
	case $1 in *-nagle) f=(-N) ;; esac
	case $1 in hand-*) f+=(-m) ;; esac
	pp_rule_cmd=("$tlspingpong" run -n "$pp_rule_count" ${f[@]+"${f[@]}"} tls)
	((${#e[@]} == 0)) || pp_rule_cmd=(env "${e[@]}" "${pp_rule_cmd[@]}")
}

# pp_rule_run record|warmup ARM: one ping-pong; records the client's rate, and its CPU
# and segments per round trip, under $tmp/pp.rule.ARM.*
pp_rule_run() {
	local what=$1 arm=$2 out client pieces=3
	pp_rule_args "$arm"
	progress "$(pp_rule_label "$arm" | tr -d '\`')"
	out=$(run_one "$tmp/pp.rule.log" ${where[@]+"${where[@]}"} "${pp_rule_cmd[@]}")
	client=$(grep '^client ' <<<"$out") || die "no client line from tlspingpong: $out"
	[[ $arm == hand-* ]] && pieces=1
	[[ $(field round_trips "$client") == "$pp_rule_count" && $(field pieces "$client") == "$pieces" ]] ||
		die "tlspingpong ($arm) did not make $pp_rule_count round trips of $pieces pieces: $client"
	[[ $what == record ]] || return 0
	field rate "$client" >>"$tmp/pp.rule.$arm.rate"
	field cpu_us_per_rt "$client" >>"$tmp/pp.rule.$arm.cpu"
	awk -v s="$(field segs "$client")" -v n="$pp_rule_count" 'BEGIN { printf "%.6f\n", s / n }' \
		>>"$tmp/pp.rule.$arm.segs"
}

part_pingpong() {
	local t0=$SECONDS proto csv png where=("${netns[@]}")
	((netns_ok)) || where=()
	echo "## 4. Request/response rate over TCP and TLS: \`socktune ab\`, everything on"
	echo
	echo "\`tlspingpong run -n $pp_count\`: $pp_count timed round trips after 200 untimed ones, one at a"
	echo "time over TCP on 127.0.0.1: the client writes an 8-, a 24- and a 100-byte piece (\`write()\`"
	echo "each over TCP, \`SSL_write()\` each over TLS), the server reads all 132 bytes and answers"
	echo "1 byte, which the client reads before the next request. Both ends set TCP_NODELAY and block,"
	echo "one thread each; the server is a fork of the client, so both are preloaded. \`socktune ab\`"
	echo "runs it $pp_runs times per arm, A and B interleaved after one warm-up round: A with"
	echo "\`SOCKTUNE=observe\` (nothing tuned), B with \`SOCKTUNE=on\` and \`-o merge=4K -o cork=auto\`"
	echo "(\`tls_merge\` is on by default): every feature on. The count is fixed, so B/A wall below 1"
	echo "is faster: the rate is its inverse."
	if ((netns_ok)); then
		echo "The whole \`socktune ab\` runs in one private network namespace with a 1500-byte loopback, as"
		echo "part 3 does, so the segments counted are real ones."
	else
		echo "**On the host's loopback**: no private network namespace here ($netns_why); the rate"
		echo "does not depend on the MTU, the segment counts do."
	fi
	for proto in tcp tls; do
		csv=$out_dir/pingpong-$proto.csv png=$out_dir/pingpong-$proto.png
		local cmd=("$socktune" ab -n "$pp_runs" -o merge=4K -o cork=auto --csv "$csv")
		((plot)) && cmd+=(--plot "$png")
		cmd+=(-- "$tlspingpong" run -n "$pp_count" "$proto")
		experiment 'client|server' ${where[@]+"${where[@]}"} "${cmd[@]}"
		# tlspingpong checks every request itself; the counts are checked here as well.
		# ab runs A, then B, round after round, its warm-up round included: the client
		# line of run K belongs to A when K is even.
		local clients b=$tmp/pp.$proto
		clients=$(grep '^client ' <<<"$experiment_runs" || true)
		[[ $(wc -l <<<"$clients") == $((2 * (pp_runs + 1))) ]] ||
			die "tlspingpong ran $(wc -l <<<"$clients") times over $proto, not $((2 * (pp_runs + 1)))"
		if grep -vq " round_trips=$pp_count " <<<"$clients"; then
			die "a $proto ping-pong did not make $pp_count round trips: $(grep -v " round_trips=$pp_count " <<<"$clients" | head -n 1)"
		fi
		awk 'NR % 2 == 1' <<<"$clients" | grep -o 'rate=[0-9.]*' | cut -d= -f2 >"$b.A.rate"
		awk 'NR % 2 == 0' <<<"$clients" | grep -o 'rate=[0-9.]*' | cut -d= -f2 >"$b.B.rate"
		awk 'NR % 2 == 0' <<<"$clients" | grep -o 'rtt_max_us=[0-9.]*' | cut -d= -f2 >"$b.B.rttmax"
		csv_ratios "$csv" B A wall_s >"$b.wall.ratio"
		echo
		echo "### ${proto^^}"
		echo
		echo "\`\`\`"
		quoted ${where[@]+"${where[@]}"} "${cmd[@]}"
		echo "\`\`\`"
		echo
		printf '%s\n' "$experiment_table"
		echo
		plot_link "B/A per figure, ${proto^^} ping-pong" "pingpong-$proto.png"
		echo "Every run: [pingpong-$proto.csv](pingpong-$proto.csv). The client's own rate over the timed"
		echo "round trips (median, with the warm-up runs): A $(med "$b.A.rate" '%.0f')/s, B $(med "$b.B.rate" '%.0f')/s. The largest round trip of"
		echo "any B run: $(fmt "$(sort -g "$b.B.rttmax" | tail -n 1)" '%.1f µs') (a corked tail left to the kernel would take about 200 ms; the tests' bound is 150 ms)."
	done
	local n=${#pp_rule_arms[@]} i k arm t1=$SECONDS
	: >"$tmp/pp.rule.log"
	progress_start "4/7 (ping-pong, record rule)" $((n + pp_rule_rounds * n))
	for arm in "${pp_rule_arms[@]}"; do # warm-up, never reported
		pp_rule_run warmup "$arm"
	done
	for ((i = 0; i < pp_rule_rounds; i++)); do
		for ((k = 0; k < n; k++)); do
			pp_rule_run record "${pp_rule_arms[(i + k) % n]}"
		done
	done
	progress_end
	ratios "$tmp/pp.rule.split-nd.rate" "$tmp/pp.rule.off-nd.rate" >"$tmp/pp.rule.nd.ratio"
	ratios "$tmp/pp.rule.split-nagle.rate" "$tmp/pp.rule.off-nagle.rate" >"$tmp/pp.rule.nagle.ratio"
	ratios "$tmp/pp.rule.split-nagle.rate" "$tmp/pp.rule.hand-nagle.rate" >"$tmp/pp.rule.hand.ratio"
	ratios "$tmp/pp.rule.off-nagle.rate" "$tmp/pp.rule.hand-nagle.rate" >"$tmp/pp.rule.hand-off.ratio"
	echo
	echo "### TLS: the record rule against one record per flush and a hand-merged request (issue 12)"
	echo
	echo "socktune's default flush of pieces p1..pk (k >= 2) writes p1..p(k-1) as one record and pk as a"
	echo "second, both in one write, so a receiver that reads one record at a time still finds the socket"
	echo "readable. Here it is raced against \`SOCKTUNE_TLS_SPLIT=off\` (one record per flush, the rule"
	echo "before issue 12), with TCP_NODELAY and without (\`-N\`), and, Nagle on, against the same"
	echo "request written whole (\`-m\`: one \`SSL_write()\` of 132 bytes) without socktune. Both ends"
	echo "are preloaded where socktune is (the server is a fork of the client), with the defaults"
	echo "(\`tls_merge\` 1024). $pp_rule_rounds rounds, each running every arm once in rotated order, after"
	echo "one unrecorded warm-up of each; ratios are per round, then the median. These runs took $((SECONDS - t1)) s."
	if ((netns_ok)); then
		echo "Each run in its own network namespace with a 1500-byte loopback."
	fi
	echo
	echo "| arm | command | rate (round trips/s) | client CPU per round trip | client segments per round trip |"
	echo "|---|---|---|---|---|"
	for arm in "${pp_rule_arms[@]}"; do
		pp_rule_args "$arm"
		echo "| $(pp_rule_label "$arm") | \`$(quoted "${pp_rule_cmd[@]}" | sed "s|$build/bench/||; s|$lib|\$LIB|")\` | $(range "$tmp/pp.rule.$arm.rate" '%.0f') | $(range "$tmp/pp.rule.$arm.cpu" '%.1f µs') | $(range "$tmp/pp.rule.$arm.segs" '%.3f') |"
	done
	echo
	echo "(\`\$LIB\` is $lib.)"
	stderr_block "the record-rule runs" "$tmp/pp.rule.log"
	echo
	echo "### Targets"
	echo
	targets_head
	for proto in tcp tls; do
		target "4 ping-pong" "${proto^^}: wall, B (everything on) / A (observe), for the same round trips" \
			"$tmp/pp.$proto.wall.ratio" "<=" 1.0 '%.3fx'
	done
	target "4 ping-pong" "TLS, TCP_NODELAY: rate, split (default) / one record (SOCKTUNE_TLS_SPLIT=off)" \
		"$tmp/pp.rule.nd.ratio" ">=" 0.9 '%.3fx'
	target "4 ping-pong" "TLS, Nagle on: rate, split (default) / one record (SOCKTUNE_TLS_SPLIT=off)" \
		"$tmp/pp.rule.nagle.ratio" ">=" 0.9 '%.3fx'
	target "4 ping-pong" "TLS, Nagle on: rate, socktune with 3 pieces / hand-merged, not preloaded" \
		"$tmp/pp.rule.hand.ratio" ">=" 0.8 '%.3fx'
	# What the last row costs without the record rule: merging and the hooks themselves.
	echo "| (info) TLS, Nagle on: rate, one record (SOCKTUNE_TLS_SPLIT=off) / hand-merged, not preloaded | $(range "$tmp/pp.rule.hand-off.ratio" '%.3fx') | | | | |"
	echo
	echo "This part took $((SECONDS - t0)) s."
}
