# bench/lib.sh: the helpers bench/run and its parts (bench/parts/*.sh) share: the progress
# line, running one measurement or one `socktune ab`/`sweep` experiment, reading a run's
# key=value line and socktune's stats lines, the statistics (medians of per-pair ratios with
# their min and max), and the target rows, which each part prints in its own table and
# appends to the summary at the top of the report. bench/run sources it first; the helpers
# read the settings it makes afterwards (tmp, clean_env, plot) only when they are called.
# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp, clean_env and plot are set by bench/run before any call

# Progress, on a terminal only: "bench N/7 (part): run I of TOTAL". The parts that run
# under `socktune ab` or `sweep` leave it to them.
progress_part="" progress_done=0 progress_total=0 progress_drawn=0
progress_start() { progress_part=$1 progress_done=0 progress_total=$2; }
progress() {
	progress_done=$((progress_done + 1))
	if [[ -t 2 ]]; then
		printf '\r\033[Kbench %s: %s, run %d of %d' "$progress_part" "$1" "$progress_done" \
			"$progress_total" >&2
		progress_drawn=1
	fi
}
progress_end() {
	if ((progress_drawn)); then printf '\r\033[K' >&2; fi
	progress_drawn=0
}

die() {
	progress_end
	echo "bench/run: $*" >&2
	exit 1
}

# run_one LOG [ENV...] COMMAND...: runs one measurement, keeps its stderr for the report,
# and stops the bench if the program failed: a figure from a broken run is no figure.
run_one() {
	local log=$1
	shift
	local out
	if ! out=$("${clean_env[@]}" "$@" 2>"$tmp/stderr"); then
		progress_end
		cat "$tmp/stderr" >&2
		die "failed: $*"
	fi
	cat "$tmp/stderr" >>"$log"
	printf '%s\n' "$out"
}

# field NAME LINE: the value of NAME=VALUE in a line of key=value pairs.
field() {
	local kv
	for kv in $2; do
		if [[ $kv == "$1="* ]]; then
			printf '%s\n' "${kv#*=}"
			return
		fi
	done
	die "no $1= in: $2"
}

# stats FILE: "median min max" of the numbers in FILE, one a line.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6g %.6g %.6g\n", m, v[1], v[NR]
		}'
}

# ratios A B: per-line A/B of two files of numbers.
ratios() {
	paste "$1" "$2" | awk '{ printf "%.6f\n", $1 / $2 }'
}

# med FILE FORMAT: the median of FILE, full precision, formatted.
med() {
	sort -g "$1" | awk -v f="$2" '{ v[NR] = $1 }
		END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
x() { fmt "$1" '%.3fx'; }

# range FILE FORMAT: "median [min, max]".
range() {
	local m lo hi
	read -r m lo hi < <(stats "$1")
	echo "$(fmt "$m" "$2") [$(fmt "$lo" "$2"), $(fmt "$hi" "$2")]"
}

verdict() { # verdict VALUE OP LIMIT
	if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? v >= l : v <= l) }'; then
		echo PASS
	else
		echo MISS
	fi
}

# The targets: each part prints a table of its own, and every row goes to the summary at
# the top of the report as well.
targets_head() {
	echo "| target | median | min | max | limit | result |"
	echo "|---|---|---|---|---|---|"
}
# target PART NAME FILE OP LIMIT FORMAT: a row for the median of the per-pair figures in
# FILE against LIMIT.
target() {
	local m lo hi v
	read -r m lo hi < <(stats "$3")
	v=$(verdict "$m" "$4" "$5")
	echo "| $2 | $(fmt "$m" "$6") | $(fmt "$lo" "$6") | $(fmt "$hi" "$6") | $4 $(fmt "$5" "$6") | **$v** |"
	echo "| $1 | $2 | $(fmt "$m" "$6") [$(fmt "$lo" "$6"), $(fmt "$hi" "$6")] | $4 $(fmt "$5" "$6") | $v |" \
		>>"$tmp/summary"
}

# csv_ratios CSV NUM DEN COLUMN: from the CSV of `socktune ab` or `sweep`, COLUMN of arm NUM
# over arm DEN, run by run (the runs of one round are neighbours in time).
csv_ratios() {
	awk -F, -v num="$2" -v den="$3" -v col="$4" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$h["exit"] == 0 { v[$h["arm"], $h["run"]] = $h[col]; runs[$h["run"]] = 1 }
		END {
			for (r in runs)
				if (((num, r) in v) && ((den, r) in v))
					printf "%.6f\n", v[num, r] / v[den, r]
		}' "$1"
}
# csv_values CSV ARM COLUMN: COLUMN of every run of ARM that succeeded.
csv_values() {
	awk -F, -v arm="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$h["exit"] == 0 && $h["arm"] == arm { print $h[col] }' "$1"
}

# sum_stats FILE OBJECT...: the named objects of the stats lines in FILE, summed key by
# key, as OBJECT.KEY=VALUE lines.
sum_stats() {
	local f=$1
	shift
	local objs
	objs=$(printf '%s\\|' "$@")
	grep -o "\"\\(${objs%\\|}\\)\":{[^}]*}" "$f" |
		awk '{
			obj = $0; sub(/":.*/, "", obj); sub(/^"/, "", obj)
			body = $0; sub(/^[^{]*\{/, "", body); sub(/\}$/, "", body)
			n = split(body, kv, ",")
			for (i = 1; i <= n; i++) {
				split(kv[i], p, ":"); k = p[1]; gsub(/"/, "", k); k = obj "." k
				if (!(k in s)) o[++m] = k
				s[k] += p[2]
			}
		}
		END { for (i = 1; i <= m; i++) printf "%s=%d\n", o[i], s[o[i]] }'
}
# stat_of SUMS KEY: one value of sum_stats' output, 0 when absent.
stat_of() { awk -F= -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' <<<"$1"; }

# stderr_block TITLE FILE...: the messages the runs left on stderr, counted, pids replaced.
stderr_block() {
	local title=$1
	shift
	local all
	all=$(cat "$@" 2>/dev/null | sed -E 's/\[([^]:]*):[0-9]+\]/[\1:PID]/; s/\[[0-9]+\]/[PID]/')
	[[ -n $all ]] || return 0
	echo
	echo "Messages on stderr during $title (how often; pids replaced):"
	echo
	echo '```'
	sort <<<"$all" | uniq -c | sort -rn | head -n 20
	echo '```'
}

# quoted WORD...: the words as a shell would need them, for the report's command lines.
quoted() {
	local w out=()
	for w; do
		if [[ $w =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then
			out+=("$w")
		else
			out+=("'${w//\'/\'\\\'\'}'")
		fi
	done
	echo "${out[*]}"
}

# plot_link ALT FILE: the picture, linked by its name relative to the report.
plot_link() {
	if ((plot)); then
		echo "![$1]($2)"
	else
		echo "(No plot: gnuplot is not installed.)"
	fi
	echo
}

# experiment PREFIXES COMMAND...: runs `socktune ab` or `sweep` (COMMAND), whose runs
# write to the same stdout before its tables. Sets experiment_runs to the runs' own lines,
# those that start with one of PREFIXES (an extended regex), in the order the runs ran,
# and experiment_table to the rest: socktune's report. The runs' stderr goes through
# to ours, with socktune's progress line.
# shellcheck disable=SC2034 # experiment_runs and experiment_table are for the parts
experiment() {
	local prefixes=$1 all rc
	shift
	all=$("${clean_env[@]}" "$@") || {
		rc=$?
		die "failed (status $rc): $(quoted "$@")"
	}
	experiment_runs=$(grep -E "^($prefixes) " <<<"$all" || true)
	experiment_table=$(grep -Ev "^($prefixes) " <<<"$all" || true)
}
