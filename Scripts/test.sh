#!/usr/bin/env bash
# Sets up everything (Scripts/setup.sh) and runs the whole test suite in release mode
# (XCTest; numeric tests need release speed). Tests read the ONNX conformance vectors from
# ../shared/conformance and their fixtures from the repository; no Python runs here.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/apt-get-wait.sh
bash Scripts/setup.sh
# The report test (Tests/loupeTests/ReportTests.swift) opens a page in Debian's headless
# Chromium; only the tests need it.
if ! command -v chromium >/dev/null; then
    echo "test: installing chromium (for the report test)" >&2
    apt_get update -qq
    apt_get install -y -qq chromium >/dev/null
fi
# The Slurm job-array test (Tests/loupeTests/SlurmArrayTests.swift) starts a one-node cluster
# from Debian's slurm-wlm and munge (Scripts/slurm/one-node.sh); here it fails if they are missing.
if ! command -v sbatch >/dev/null || ! [ -x /usr/sbin/munged ]; then
    echo "test: installing slurm-wlm and munge (for the Slurm job-array test)" >&2
    apt_get update -qq
    apt_get install -y -qq slurm-wlm munge >/dev/null
fi
export LOUPE_REQUIRE_SLURM=1
swift build -c release --build-tests -Xswiftc -enable-testing 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
total=0
failed=0
# Runs the test targets matching $2 (all when empty) and adds XCTest's totals to the count.
run() {
    local what=$1 filter=${2:-} log
    log="$logs/$((total + failed))-$RANDOM.log"
    echo "test: $what" >&2
    set +e
    swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing \
        ${filter:+--filter "$filter"} 2>&1 | tee "$log"
    local s=${PIPESTATUS[0]}
    set -e
    [ "$s" -eq 0 ] || status=$s
    # XCTest's final summary of this run is its last "Executed" line.
    local summary
    summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -1)
    if [ -z "$summary" ]; then
        [ "$s" -ne 0 ] || status=1
        return
    fi
    total=$((total + $(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')))
    failed=$((failed + $(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')))
}
run "the whole suite (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"

# The numeric tests once more with OpenBLAS forced to another kernel family, so that a
# result that holds for one summation order only fails in CI (docs/conformance.md).
# Sandybridge's kernels (AVX, no FMA) differ from those OpenBLAS picks on any FMA machine;
# when the first run used them already, Haswell's (AVX2 + FMA) are the other family.
case "${OPENBLAS_CORETYPE:-}" in
    [Ss]andy[Bb]ridge | SANDYBRIDGE) other=Haswell ;;
    *) other=Sandybridge ;;
esac
OPENBLAS_CORETYPE=$other run "the numeric tests again with OPENBLAS_CORETYPE=$other" \
    'LoupeTensorTests|LoupeGraphTests|LoupeFormatsTests|LoupeExplainTests|LoupeSurgeryTests'

# The kernel tests, and the explanation methods against their references (Captum,
# pytorch-grad-cam), once per ISA path this CPU supports: oneDNN fixes its path per process,
# so each path is a separate run with LOUPE_ISA set (docs/engine.md).
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has_flags() { for f in "$@"; do [[ "$cpu_flags" == *" $f "* ]] || return 1; done; }
isa_paths=(baseline)
has_flags avx2 fma && isa_paths+=(avx2)
has_flags avx512f avx512cd avx512bw avx512dq avx512vl && isa_paths+=(avx512)
for isa in "${isa_paths[@]}"; do
    LOUPE_ISA=$isa run "the kernel and explanation reference tests with LOUPE_ISA=$isa" \
        'LoupeTensorTests|LoupeExplainTests.ReferenceTests|CAMVariantReferenceTests|CaptumGradientTests|CarriedLayoutTests|PlanFusionTests|NearestNeighborsTests'
done

# Every reader under libFuzzer and AddressSanitizer, 60 s a target (docs/fuzzing.md); a crash fails.
for target in $(bash Scripts/fuzz.sh list); do
    bash Scripts/fuzz.sh "$target" 60 || status=1
done

# One closing line with the totals of all runs.
echo "tests: $((total - failed)) passed, $failed failed"
exit "$status"
