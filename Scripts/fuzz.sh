#!/usr/bin/env bash
# Coverage-guided fuzzing of Loupe's readers with libFuzzer and AddressSanitizer (docs/fuzzing.md).
#
#   Scripts/fuzz.sh TARGET SECONDS     run one target (fuzz-onnx, fuzz-png, ...; `list` names them)
#   Scripts/fuzz.sh all SECONDS        run every target, one after the other
#
# Builds the fuzz products (if needed) in .build-fuzz with `--sanitize=fuzzer --sanitize=address`
# and `-Xswiftc -sanitize=fuzzer,address`: SwiftPM hands swiftc the two as separate
# `-sanitize=` flags, of which swiftc keeps only the last, so without the combined flag the
# Swift code gets AddressSanitizer but no coverage (the C code gets both). The manifest declares
# the fuzz products only when LOUPE_FUZZ=1. The script copies the committed seeds of
# Fuzz/corpus/TARGET into a scratch corpus (the committed seeds are never modified), and runs
# libFuzzer with Fuzz/dict/TARGET.dict. Prints, per target, the executions, executions per
# second, coverage (libFuzzer's cov and ft) and the outcome. Exit status 1 when a target found a
# crash, a leak, a hang or an out-of-memory; the input is kept in .build-fuzz/artifacts/TARGET/.
#
# The Keras targets run in fork mode (-fork=1): libFuzzer's parent plays the part of HDF5Guard's
# parent, so a crash or hang inside libhdf5 (which the guard turns into an error for the user)
# is saved and the run goes on. Each such input is then replayed: when the crashing frame is in
# libhdf5 it counts as guarded, otherwise (a crash in Loupe's own code) as a failure.
#
# Environment: FUZZ_JOBS (default 1) parallel fuzzing processes per target; FUZZ_KEEP_CORPUS=1
# keeps the grown corpus in .build-fuzz/corpus/TARGET for the next run; FUZZ_RUNS=N stops a
# target after N executions (or SECONDS, whichever comes first).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(fuzz-onnx fuzz-keras-h5 fuzz-keras-zip fuzz-png fuzz-jpeg fuzz-npy fuzz-labels fuzz-annotations fuzz-cli-values)
forked=" fuzz-keras-h5 fuzz-keras-zip "
scratch=.build-fuzz

usage() { echo "usage: Scripts/fuzz.sh TARGET|all|list SECONDS" >&2; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
[ $# -eq 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || usage
what=$1 seconds=$2
if [ "$what" = all ]; then
    run=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $what "* ]] || { echo "fuzz: unknown target '$what' (Scripts/fuzz.sh list names them)" >&2; exit 2; }
    run=("$what")
fi

# One build of all fuzz products (they share every library module).
build() {
    local start=$SECONDS
    echo "fuzz: building ${run[*]} with libFuzzer and AddressSanitizer in $scratch" >&2
    mkdir -p "$scratch"
    for t in "${run[@]}"; do
        # swift build's own status decides: a binary left by an earlier build must not be
        # fuzzed in place of a failed one.
        local ok=1
        LOUPE_FUZZ=1 swift build -c release --product "$t" --sanitize=fuzzer --sanitize=address \
            -Xswiftc -sanitize=fuzzer,address --scratch-path "$scratch" > "$scratch/build-$t.log" 2>&1 || ok=0
        grep -E 'error|warning: unre|Build of' "$scratch/build-$t.log" | grep -v 'Cannot export local symbol' >&2 || true
        [ "$ok" -eq 1 ] && [ -x "$scratch/release/$t" ] || { echo "fuzz: building $t failed" >&2; exit 1; }
    done
    echo "fuzz: build took $((SECONDS - start)) s" >&2
}
build

status=0
summary=()
for t in "${run[@]}"; do
    bin=$scratch/release/$t
    artifacts=$scratch/artifacts/$t
    mkdir -p "$artifacts"
    corpus=$scratch/corpus/$t
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ] || [ ! -d "$corpus" ]; then
        rm -rf "$corpus"
        mkdir -p "$corpus"
        cp Fuzz/corpus/"$t"/* "$corpus"/
    fi
    log=$scratch/logs/$t.log
    mkdir -p "$(dirname "$log")"
    touch "$log.start"
    # -close_fd_mask=3 silences the readers' own output; fork mode keeps stderr (mask 1) so that a
    # job's sanitizer report reaches its log, whose ERROR lines the parent prints.
    mask=3
    [[ "$forked" != *" $t "* ]] || mask=1
    args=(-dict="Fuzz/dict/$t.dict" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
          -print_final_stats=1 -artifact_prefix="$artifacts/" -close_fd_mask=$mask)
    [ -z "${FUZZ_RUNS:-}" ] || args+=(-runs="$FUZZ_RUNS")
    if [[ "$forked" == *" $t "* ]]; then
        # -timeout=3: a valid model takes about 10 ms here; each libhdf5 hang costs the timeout.
        args+=(-fork="${FUZZ_JOBS:-1}" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=3)
    elif [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
        args+=(-fork="${FUZZ_JOBS}")
    fi
    echo "fuzz: $t for $seconds s" >&2
    set +e
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's own crash handler reads the dying process's
    # memory in a way AddressSanitizer reports, hiding the real trap; libFuzzer prints the stack.
    # LSAN_OPTIONS: leaks allocated inside libhdf5 (its error paths) are not Loupe's; each one
    # would end a fork-mode job (Fuzz/lsan-libhdf5.supp).
    # fuzz-cli-values allocates so much (swift-argument-parser) that recording each allocation's
    # stack takes a fifth of its time: without it a report lacks the allocation stack, which
    # replaying the saved input (`.build-fuzz/release/TARGET FILE`) shows again.
    asan=detect_leaks=1
    [ "$t" != fuzz-cli-values ] || asan=$asan:malloc_context_size=0
    # libhdf5 asks for absurd sizes on damaged files (0x7e0000000068 bytes in H5C_protect): glibc's
    # malloc returns NULL and libhdf5 reports an error, so AddressSanitizer does the same here
    # instead of ending the job.
    [[ "$forked" != *" $t "* ]] || asan=$asan:allocator_may_return_null=1
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=$asan \
        LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan-libhdf5.supp:print_suppressions=0" \
        "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
    code=$?
    set -e
    # Final numbers: the last status line (#N ... cov: C ft: F ... exec/s: R) and, when
    # libFuzzer printed them, its final stats.
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}' || true)
    [ -n "$execs" ] || execs=$(echo "$last" | sed -nE 's/^#([0-9]+).*/\1/p')
    rate=$(grep -E '^stat::average_exec_per_sec:' "$log" | tail -1 | awk '{print $2}' || true)
    [ -n "$rate" ] || rate=$(echo "$last" | sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p')
    # Fork mode's status line gives the last job's rate; the run's is executions / time.
    secs=$(echo "$last" | sed -nE 's/.* time: ([0-9]+)s.*/\1/p')
    [ -z "$secs" ] || [ "$secs" -eq 0 ] || [ -z "$execs" ] || rate=$((execs / secs))
    cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
    outcome=ok
    if [[ "$forked" == *" $t "* ]]; then
        # Replay what the fork mode saved this run: a crash whose first own frame is in
        # libhdf5 is the guard's business; anything else is a finding.
        guarded=0 found=0 unreproduced=0
        while IFS= read -r a; do
            [ -n "$a" ] || continue
            set +e
            trace=$(SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 timeout 60 "$bin" -timeout=10 "$a" 2>&1)
            set -e
            # Runtime frames are skipped: the C library's string routines (libhdf5's memcpy
            # shows as `__memcpy_avx512_unaligned_erms string/../sysdeps/...`) and the C++
            # allocator (an out-of-memory is reported at whichever allocation crossed the limit).
            frame=$(echo "$trace" | grep -E '^ +#[0-9]+ ' | grep -vE 'sanitizer|compiler-rt|libFuzzer|fuzzer::|__asan|libclang_rt|/libc\.so|sysdeps/|libstdc\+\+|operator new|abort|raise|in __GI_' | head -1 || true)
            if [[ "$frame" == *libhdf5* ]]; then
                guarded=$((guarded + 1))
            elif [[ "$trace" != *"#0 "* ]]; then
                # Saved by a fork-mode job but no crash when replayed alone (e.g. a leak or a
                # hang that depended on the job's state): reported, not counted as a failure.
                unreproduced=$((unreproduced + 1))
                echo "fuzz: $t: $a did not crash when replayed alone" >&2
            else
                found=$((found + 1))
                echo "fuzz: $t: $a crashes outside libhdf5: $frame" >&2
            fi
        done < <(find "$artifacts" -type f -newer "$log.start" | sort)
        # Fork mode's parent exits with the status of its last job, so a job that ended on an
        # ignored timeout (70), out-of-memory (71), crash or sanitizer report makes the whole
        # run's status non-zero; the saved inputs below decide the outcome.
        events=$(echo "$last" | sed -nE 's/.*oom\/timeout\/crash: ([0-9\/]+).*/\1/p')
        [ "$code" -eq 0 ] || outcome="last job exited $code, oom/timeout/crash ${events:-?}"
        [ "$guarded" -eq 0 ] || outcome="$outcome, $guarded libhdf5 crash/hang/leak inputs (guarded)"
        [ "$unreproduced" -eq 0 ] || outcome="$outcome, $unreproduced saved inputs that did not crash alone"
        if [ "$found" -gt 0 ]; then outcome="FAILED: $found crashes outside libhdf5"; status=1; fi
    elif [ "$code" -ne 0 ]; then
        outcome="FAILED (exit $code): $(grep -m1 -E 'ERROR: |SUMMARY: |Fatal error' "$log" || true); input in $artifacts/"
        status=1
    fi
    line="$t: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}: $outcome"
    echo "fuzz: $line" >&2
    summary+=("$line")
    [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"
done
echo "fuzz: summary ($seconds s per target, log in $scratch/logs/)"
printf '  %s\n' "${summary[@]}"
exit "$status"
