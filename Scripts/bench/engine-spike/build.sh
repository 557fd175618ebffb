#!/usr/bin/env bash
# Builds the engine spike (spike.c + the NCHWc direct kernels) into OUT_DIR (default
# bench-out/engine-spike/, not committed). Needs gcc, libopenblas-dev and libdnnl-dev
# (Debian 12: oneDNN 2.6). Runtime dispatch: only direct_avx512.c and direct_avx2.c are
# compiled for their instruction sets; spike.c is compiled for baseline x86-64 and calls
# them only when CPUID reports the ISA (__builtin_cpu_supports). No -march=native anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../../bench-out/engine-spike}"
mkdir -p "$out"
cflags=(-O3 -std=gnu11 -fopenmp -Wall -Wno-unknown-pragmas)
gcc "${cflags[@]}" -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -c "$here/direct_avx512.c" -o "$out/direct_avx512.o"
gcc "${cflags[@]}" -mavx2 -mfma -c "$here/direct_avx2.c" -o "$out/direct_avx2.o"
gcc "${cflags[@]}" -c "$here/spike.c" -I/usr/include/x86_64-linux-gnu/openblas-pthread -o "$out/spike.o"
gcc -fopenmp "$out/spike.o" "$out/direct_avx512.o" "$out/direct_avx2.o" -o "$out/spike" -lopenblas -ldnnl -lm
echo "built $out/spike" >&2
