#!/bin/bash
# Runs libFuzzer targets one after the other (see test/fuzz/fuzz.mk) and
# prints one summary line each from libFuzzer's final statistics.
#
#   run.sh long  RUNS TARGET...   RUNS executions per target; new inputs are
#                                 kept in build/fuzz/corpus/<target>/ (so a
#                                 campaign resumes where the last one ended)
#   run.sh smoke RUNS TARGET...   every seed and regression input, then RUNS
#                                 executions from seed 1, in a scratch corpus
#   run.sh cov 0 TARGET...        runs every kept input once through the
#                                 coverage build (build/fuzz/cov/) and prints
#                                 llvm-cov's line coverage of the kernel
#                                 sources the target links
#
# Seeds: test/fuzz/corpus/<t>/ (committed), build/fuzz/seeds/<t>/ (made at
# build time). Regression inputs: test/fuzz/regress/<t>/, each also run on
# its own, whole (no -max_len cut). A harness's `// fuzz-options:` line
# adds libFuzzer flags. FUZZ_SEED=<n> fixes the long runs' seed.
# Logs: build/fuzz/logs/<t>-<mode>.log; crash inputs: build/fuzz/artifacts/<t>/.
# Exit status: 0 if no target crashed (or leaked, or hit UB), else 1.
set -u
mode=$1 runs=$2
shift 2
O=build/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0

stat() {	# stat <name> <log>: a stat:: value of the final statistics
	sed -n "s/^stat::$1: *//p" "$2" | tail -1
}

# cov mode: line coverage per source file, then the total of those files
cov() {
	local t=$1 srcs prof=$O/cov/$t
	srcs=$(sed -n 's|^// fuzz-srcs: ||p' "test/fuzz/fuzz_$t.c")
	srcs=${srcs/libfdt/$(echo build/libfdt/fdt.c build/libfdt/fdt_ro.c build/libfdt/fdt_strerror.c)}
	rm -f "$prof".profraw "$prof".profdata
	dirs=()
	for d in "$O/corpus/$t" "test/fuzz/corpus/$t" "$O/seeds/$t" "test/fuzz/regress/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	LLVM_PROFILE_FILE=$prof.profraw "$O/cov/fuzz_$t" -runs=0 "${dirs[@]}" \
		> "$O/logs/$t-cov.log" 2>&1 || { echo "  FUZZ    $t cov: run failed ($O/logs/$t-cov.log)"; return 1; }
	llvm-profdata-14 merge -o "$prof.profdata" "$prof.profraw"
	echo "  FUZZ    $t: line coverage of the kernel sources by $(sed -n 's/^INFO: *\([0-9]*\) files found.*/\1/p' "$O/logs/$t-cov.log" | awk '{ s += $1 } END { print s }') inputs"
	llvm-cov-14 report "$O/cov/fuzz_$t" -instr-profile="$prof.profdata" $srcs |
		awk 'NR > 2 && NF >= 10 && $1 !~ /^-/ { printf "    %-28s lines %5d  missed %4d  %s\n", $1, $8, $9, $10 }'
}

if [ "$mode" = cov ]; then
	mkdir -p "$O/logs"
	for t in "$@"; do cov "$t" || failed=1; done
	exit $failed
fi

for t in "$@"; do
	bin=$O/fuzz_$t
	log=$O/logs/$t-$mode.log
	art=$O/artifacts/$t/
	mkdir -p "$O/logs" "$art"
	opts=$(sed -n 's|^// fuzz-options: ||p' "test/fuzz/fuzz_$t.c")
	if [ "$mode" = smoke ]; then
		work=$O/smoke/$t
		rm -rf "$work"
		seed="-seed=1"
	else
		work=$O/corpus/$t
		seed=${FUZZ_SEED:+-seed=$FUZZ_SEED}
	fi
	mkdir -p "$work"
	dirs=("$work")
	for d in "test/fuzz/corpus/$t" "$O/seeds/$t" "test/fuzz/regress/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	regress=()
	if [ -d "test/fuzz/regress/$t" ]; then
		while IFS= read -r f; do regress+=("$f"); done < <(find "test/fuzz/regress/$t" -type f ! -name 'README*' | sort)
	fi

	rc=0
	: > "$log"
	if [ "$mode" = smoke ] && [ ${#regress[@]} -gt 0 ]; then
		"$bin" -artifact_prefix="$art" $opts "${regress[@]}" >> "$log" 2>&1 || rc=$?
	fi
	if [ $rc -eq 0 ]; then
		"$bin" -runs="$runs" $seed -print_final_stats=1 -artifact_prefix="$art" \
			-timeout=25 $opts "${dirs[@]}" >> "$log" 2>&1 || rc=$?
	fi

	last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last")
	ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<< "$last")
	corp=$(sed -n 's/.*corp: \([0-9]*\)\/.*/\1/p' <<< "$last")
	execs=$(stat number_of_executed_units "$log")
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		crashes=0
	else
		crashes="1 ($(grep -m1 -oE 'SUMMARY: [A-Za-z]+: [^ ]+|ERROR: libFuzzer: [a-z-]+|check failed: .*' "$log" | head -1))"
		failed=1
	fi
	printf '  FUZZ    %-5s %-5s execs=%s cov=%s ft=%s corpus=%s regress=%s time=%ss crashes=%s\n' \
		"$t" "$mode" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${#regress[@]}" \
		"${secs:-?}" "$crashes"
	if [ $rc -ne 0 ]; then
		grep -m1 -A3 'Test unit written to' "$log" | sed 's/^/    /'
		grep -E -m4 'ERROR|SUMMARY|runtime error|check failed' "$log" | sed 's/^/    /'
		# the first frames in our code or libfdt, not libFuzzer's
		grep -E '#[0-9]+ 0x.* in .*(/src/|/update/|/test/fuzz/|/build/libfdt/)' "$log" |
			head -8 | sed 's/^ */      /'
		echo "    full log: $log"
	fi
done
exit $failed
