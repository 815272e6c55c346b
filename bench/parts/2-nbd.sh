# bench/parts/2-nbd.sh: part 2 of bench/run, seed 000 exactly: qemu-img and nbdcopy over
# qemu-nbd, by bench/nbd, which compares send buffer sizes (`socktune sweep`) and
# socktune's defaults against observe (`socktune ab`), and measures and states its own
# targets. This part folds its Markdown into the report as section 2 and sums its PASS
# and MISS lines into one summary row; when bench/nbd is not there, the part is skipped.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the sizes, the paths and tmp are set by bench/run

part_nbd() {
	local t0=$SECONDS cmd=("$nbd" "$build") out rc=0
	((quick)) && cmd+=(--quick)
	cmd+=(--plot-dir "$out_dir")
	if [[ ! -x $nbd ]]; then
		echo "## 2. Seed 000 exactly: qemu-img over qemu-nbd"
		echo
		echo "**Skipped**: \`$nbd\` is not there (or not executable) in this tree."
		echo "| 2 seed 000 | bench/nbd | not run | | skipped |" >>"$tmp/summary"
		return 0
	fi
	progress_end
	out=$("${clean_env[@]}" "${cmd[@]}") || rc=$?
	# Its section becomes part 2: its own title, numbered, or ours when it has none, with
	# its headings one level down under it. The plots it names by path are linked by
	# name, as the report's others are.
	local title
	title=$(awk 'NF { if (/^## /) { sub(/^## /, ""); print } exit }' <<<"$out")
	echo "## 2. ${title:-Seed 000 exactly: qemu-img over qemu-nbd}"
	echo
	echo "\`$(quoted "${cmd[@]}")\` (it measures and states its own targets; this part took $((SECONDS - t0)) s)"
	echo
	if ((rc)); then
		broken+=("bench/nbd exited with status $rc")
		echo "**bench/nbd failed (exit status $rc)**: what it printed follows; its figures are no figures."
		echo
	fi
	awk -v titled="${title:+1}" -v dir="$out_dir/" '
		titled && !done && NF { done = 1; if (/^## /) next }
		/^```/ { code = !code }
		!code && /^#/ && !titled { $0 = "#" $0 }
		!code {
			while (match($0, /`[^`]*\.png`/)) {
				path = substr($0, RSTART + 1, RLENGTH - 2)
				if (index(path, dir) != 1) break
				name = substr(path, length(dir) + 1)
				$0 = substr($0, 1, RSTART - 1) "![" name "](" name ")" substr($0, RSTART + RLENGTH)
			}
		}
		{ print }' <<<"$out"
	local pass miss
	# grep finds nothing when bench/nbd printed nothing (it skipped): not an error.
	pass=$({ grep -ow PASS <<<"$out" || true; } | wc -l) miss=$({ grep -ow MISS <<<"$out" || true; } | wc -l)
	if ((rc)); then
		echo "| 2 seed 000 | bench/nbd | failed | | broken |" >>"$tmp/summary"
	elif ((pass + miss)); then
		echo "| 2 seed 000 | bench/nbd's own target lines | $pass PASS, $miss MISS | (section 2) | $( ((miss)) && echo MISS || echo PASS) |" >>"$tmp/summary"
	else
		echo "| 2 seed 000 | bench/nbd | $(head -n 1 <<<"$out" | cut -c1-80) | | skipped |" >>"$tmp/summary"
	fi
}
