#!/usr/bin/env bash
# Sets up everything (Scripts/setup.sh) and runs the whole test suite in release mode.
# Tests read the ONNX conformance vectors from ../shared/conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/setup.sh
swift build -c release --build-tests -Xswiftc -enable-testing 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]'
swift test -c release -Xswiftc -enable-testing --skip-build 2>&1
