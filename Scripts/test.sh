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
swift build -c release --build-tests -Xswiftc -enable-testing 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals of XCTest's final summary.
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -1)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
if [ -n "$summary" ]; then
    echo "tests: $((total - failed)) passed, $failed failed"
fi
exit "$status"
