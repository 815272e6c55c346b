# bench/parts/5-hooks.sh: part 5 of bench/run, the hooks' overhead: a 1-byte write loop,
# not preloaded against preloaded three ways.
# Four arms: not preloaded, SOCKTUNE=off, SOCKTUNE=observe, and SOCKTUNE=on with a
# configuration that tunes nothing and a rule that matches nothing; on /dev/null (the
# hook's share as large as it gets) and on a unix socketpair (the descriptor socktune
# acts on). Rounds run both descriptors, the arms' order rotated.
#
# Targets, on both descriptors, each arm's CPU time per call over not preloaded's: at most
# 1.02 for SOCKTUNE=off, 1.05 for SOCKTUNE=observe, and for no rule matching 1.02 on
# /dev/null (the pass-through path, which every write of such a program takes) and 1.05 on
# the socketpair (a socket, which the hook looks up). CPU time
# (the writing thread's own), not wall time: on this shared VM a run's wall time per call
# spread by 10.9% over 62 runs and its CPU time by 1.7% (bench/writeloop.c), and a 2%
# target needs the steadier figure. The wall figures are in the table too.
# bench/run sets the sizes (hook_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

hook_kinds=(null socketpair)
hook_arms=(plain off observe norule)

hook_label() {
	case $1 in
	plain) echo "not preloaded" ;;
	off) echo "SOCKTUNE=off" ;;
	observe) echo "SOCKTUNE=observe" ;;
	norule) echo "SOCKTUNE=on, no rule matches" ;;
	esac
}

hook_run() {
	local kind=$1 arm=$2 calls=$hook_calls_null out envs=()
	[[ $kind == socketpair ]] && calls=$hook_calls_socket
	case $arm in
	off) envs=("LD_PRELOAD=$lib" SOCKTUNE=off) ;;
	observe) envs=("LD_PRELOAD=$lib" SOCKTUNE=observe "SOCKTUNE_STATS=$tmp/hook.$kind.$arm.stats") ;;
	norule) envs=("LD_PRELOAD=$lib" SOCKTUNE=on "SOCKTUNE_CONFIG=$tmp/norule.conf"
		"SOCKTUNE_STATS=$tmp/hook.$kind.$arm.stats") ;;
	esac
	progress "$kind, $(hook_label "$arm")"
	out=$(run_one "$tmp/hook.log" "${envs[@]}" "$writeloop" "$calls" "$kind")
	[[ $(field calls "$out") == "$calls" ]] || die "wrong call count ($kind, $arm): $out"
	field ns_per_call "$out" >>"$tmp/hook.$kind.$arm.ns"
	field cpu_ns_per_call "$out" >>"$tmp/hook.$kind.$arm.cpu"
}

part_hooks() {
	local t0=$SECONDS i j k kind arm
	# Defaults that tune nothing, and one rule that would tune everything but matches no
	# program: SOCKTUNE=on with nothing to do on any socket.
	cat >"$tmp/norule.conf" <<-'EOF'
		defaults = { sndbuf = "default"; rcvbuf = "default"; nodelay = "default";
		             merge = 0; tls_merge = 0; cork = "off"; };
		rules = ( { name = "never"; program = "socktune-bench-no-such-program";
		            sndbuf = "2M"; merge = "4K"; tls_merge = "1K"; cork = "auto"; } );
	EOF
	: >"$tmp/hook.log"
	progress_start "5/7 (hook overhead)" $((hook_rounds * 8))
	for ((i = 0; i < hook_rounds; i++)); do
		for ((j = 0; j < 2; j++)); do
			kind=${hook_kinds[(i + j) % 2]}
			for ((k = 0; k < 4; k++)); do
				hook_run "$kind" "${hook_arms[(i + k) % 4]}"
			done
		done
	done
	progress_end
	for kind in "${hook_kinds[@]}"; do
		for arm in off observe norule; do
			ratios "$tmp/hook.$kind.$arm.ns" "$tmp/hook.$kind.plain.ns" >"$tmp/hook.$kind.$arm.ratio"
			ratios "$tmp/hook.$kind.$arm.cpu" "$tmp/hook.$kind.plain.cpu" >"$tmp/hook.$kind.$arm.cpuratio"
		done
	done

	echo "## 5. Hook overhead: a 1-byte \`write()\` loop"
	echo
	echo "\`writeloop CALLS null|socketpair\` times a loop of 1-byte \`write()\` calls and nothing else: on"
	echo "/dev/null ($hook_calls_null calls a run), where the kernel's side is as cheap as a syscall gets"
	echo "and the hook's share is as large as it will ever be, and on a unix socketpair drained by a"
	echo "second thread ($hook_calls_socket calls a run), the kind of descriptor socktune acts on."
	echo "$hook_rounds rounds, each running the four arms on both, their order rotated from round to"
	echo "round; ratios are to not preloaded, round by round, of wall time and of the writing thread's"
	echo "CPU time per call (the targets: wall time on this shared VM is noisier than the 2% they judge)."
	echo "This part took $((SECONDS - t0)) s."
	echo
	echo "- $(hook_label plain): \`$writeloop CALLS KIND\`"
	echo "- $(hook_label off): \`LD_PRELOAD=$lib SOCKTUNE=off $writeloop CALLS KIND\`"
	echo "- $(hook_label observe): \`LD_PRELOAD=$lib SOCKTUNE=observe SOCKTUNE_STATS=FILE $writeloop CALLS KIND\`"
	echo "- $(hook_label norule): \`LD_PRELOAD=$lib SOCKTUNE=on SOCKTUNE_CONFIG=FILE SOCKTUNE_STATS=FILE $writeloop CALLS KIND\`, FILE:"
	echo
	echo '```'
	cat "$tmp/norule.conf"
	echo '```'
	echo
	echo "| arm | /dev/null: ns / call | wall / not preloaded [min, max] | CPU / not preloaded [min, max] | socketpair: ns / call | wall / not preloaded [min, max] | CPU / not preloaded [min, max] |"
	echo "|---|---|---|---|---|---|---|"
	for arm in "${hook_arms[@]}"; do
		local cells=()
		for kind in "${hook_kinds[@]}"; do
			cells+=("$(med "$tmp/hook.$kind.$arm.ns" '%.1f')")
			if [[ $arm == plain ]]; then
				cells+=("(base)" "(base)")
			else
				cells+=("$(range "$tmp/hook.$kind.$arm.ratio" '%.3fx')" "$(range "$tmp/hook.$kind.$arm.cpuratio" '%.3fx')")
			fi
		done
		echo "| $(hook_label "$arm") | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} | ${cells[4]} | ${cells[5]} |"
	done
	# The proof that the "no rule" arm tuned nothing: the library's own counts.
	local sums tuned
	sums=$(cat "$tmp"/hook.*.norule.stats | sum_stats /dev/stdin sockets merge tls cork)
	tuned=$(($(stat_of "$sums" sockets.tuned) + $(stat_of "$sums" merge.calls) + $(stat_of "$sums" tls.held) + $(stat_of "$sums" cork.held)))
	echo
	echo "The no-rule runs' stats lines, summed over $(cat "$tmp"/hook.*.norule.stats | wc -l) runs: sockets seen $(stat_of "$sums" sockets.seen),"
	echo "tuned $(stat_of "$sums" sockets.tuned); merged calls $(stat_of "$sums" merge.calls), TLS writes held $(stat_of "$sums" tls.held), MSG_MORE writes $(stat_of "$sums" cork.held)."
	if ((tuned)); then
		echo
		echo "**The no-rule arm tuned something**: its figure is not what its row claims."
	fi
	echo
	echo "### Targets"
	echo
	targets_head
	local p="5 hook overhead"
	local norule_max
	for kind in "${hook_kinds[@]}"; do
		norule_max=1.05
		[[ $kind == null ]] && norule_max=1.02
		target "$p" "$kind: SOCKTUNE=off / not preloaded, CPU" "$tmp/hook.$kind.off.cpuratio" "<=" 1.02 '%.3fx'
		target "$p" "$kind: SOCKTUNE=observe / not preloaded, CPU" "$tmp/hook.$kind.observe.cpuratio" "<=" 1.05 '%.3fx'
		target "$p" "$kind: SOCKTUNE=on, no rule matches / not preloaded, CPU" "$tmp/hook.$kind.norule.cpuratio" "<=" "$norule_max" '%.3fx'
	done
	stderr_block "the write-loop runs" "$tmp/hook.log"
}
