#!/usr/bin/env bash
# Installs what Loupe needs on a fresh Debian machine (C libraries from Debian's packages)
# and builds the `loupe` binary in release mode. Safe to run again: it only installs what
# is missing. Swift itself must already be installed (https://www.swift.org/install).
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/apt-get-wait.sh

packages=(libprotobuf-c-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev libhdf5-dev libfftw3-dev libdnnl-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    apt_get update -qq
    apt_get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH; install Swift 6 first" >&2; exit 1; }

echo "setup: building loupe (release)" >&2
swift build -c release --product loupe 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' >&2
echo "setup: built $(pwd)/.build/release/loupe" >&2
