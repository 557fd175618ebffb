#!/usr/bin/env python3
"""Runs the engine spike of issue 17 (see spike.c) and prints its tables as Markdown.

Run from the package root with the project's virtualenv (torch, torchvision, onnx, onnxruntime),
after `apt-get install libdnnl-dev libopenblas-dev` (Debian 12: oneDNN 2.6.3, OpenBLAS 0.3.21):

    .venv/bin/python Scripts/bench/engine-spike/run.py [--runs 21] [--warmup 3] [--threads 1,2] \
        [--out bench-out/engine-spike] [--markdown-out FILE] [--skip-check]

In one run, on the same machine state, for each thread count:
1. onnxruntime on the whole ResNet-50 (torchvision, random weights, batch 1, exported by
   Scripts/bench/export-torchvision.py), intra_op_num_threads = T, ORT_ENABLE_ALL;
2. `spike --threads T` over ResNet-50's distinct convolution shapes (listed here from
   torchvision's resnet50 with forward hooks), with OPENBLAS_CORETYPE set as Loupe sets it
   (SkylakeX with AVX-512, Haswell with AVX2): Loupe's im2col + OpenBLAS, oneDNN forward
   (with its reorders apart), its Winograd forward on the 3x3 stride-1 shapes (where it has
   one) and its backward-data, and the own NCHWc kernels for AVX-512 and AVX2;
3. `spike --onednn-isa avx2` (oneDNN capped at AVX2, the AVX2-only EPYC case) and, on one
   thread only, `--onednn-isa sse41` (oneDNN's lowest JIT level, the "baseline" path);
4. onnxruntime again (its two medians bracket the spike's).
Then MobileNetV2's convolutions (depthwise and dense) with oneDNN and Loupe's im2col path on
one thread beside onnxruntime's whole MobileNetV2, the FMA peak loops (1 and 2 threads, per
ISA; run first), the correctness checks against the naive reference kernels (forward and
backward-data, max |error| / max |reference|), and whether oneDNN's choice of kernels changes
with OPENBLAS_CORETYPE (ONEDNN_VERBOSE=1 with it set to SkylakeX and to Prescott: the
implementation names are compared).

Each measurement gives the wall-clock median, the fastest run and the median process CPU
time. On one thread the CPU time is the load-independent number and the tables use it; on
two threads the tables use the fastest run (a loaded machine stalls a parallel region
whenever one of its threads loses its core, and the median carries that).
Whole-network sums are the sum over shapes of (times the shape occurs) x (its time): the
convolutions alone, without pooling, adds, ReLU or the classifier.
"""
import argparse
import collections
import datetime
import os
import pickle
import re
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
from harness import cpu_model, cpu_details, load_average, git_revision  # noqa: E402


def conv_shapes(name):
    """Distinct (ic, h, w, oc, k, stride, pad, groups) of torchvision's `name` at 1x3x224x224, with counts."""
    import torch
    import torchvision
    model = getattr(torchvision.models, name)(weights=None).eval()
    shapes = collections.OrderedDict()

    def hook(mod, inp, _out):
        x = inp[0]
        assert mod.kernel_size[0] == mod.kernel_size[1] and mod.dilation == (1, 1)
        key = (mod.in_channels, x.shape[2], x.shape[3], mod.out_channels, mod.kernel_size[0],
               mod.stride[0], mod.padding[0], mod.groups)
        shapes[key] = shapes.get(key, 0) + 1

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(1, 3, 224, 224))
    return list(shapes.items())


def write_shapes(shapes, path):
    with open(path, "w") as f:
        for (ic, h, w, oc, k, s, p, g), count in shapes:
            f.write(f"{ic} {h} {w} {oc} {k} {s} {p} {count} {g}\n")
    return path


def shape_flops(shapes):
    return [2 * ic // g * oc * k * k * ((h + 2 * p - k) // s + 1) * ((w + 2 * p - k) // s + 1)
            for (ic, h, w, oc, k, s, p, g), _ in shapes]


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def loupe_coretype():
    """What Loupe sets OPENBLAS_CORETYPE to (Sources/LoupeTensor/OpenBLAS.swift)."""
    flags = cpu_flags()
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def run_spike(binary, args, env_extra=None):
    env = dict(os.environ)
    env.pop("ONEDNN_VERBOSE", None)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env.pop("OPENBLAS_CORETYPE", None)
    # no OpenBLAS thread pool at all (Loupe keeps OpenBLAS on one thread), so that its idle
    # workers neither take CPU time from the kernels nor count in the CPU-time columns
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.update(env_extra or {})
    proc = subprocess.run([binary] + args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"run.py: {binary} {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def parse(out):
    """{(shape, method): (median_ms, gflops, min_ms, cpu_ms, note)}, checks, peaks, header lines."""
    res, checks, peaks, header = {}, [], [], []
    for line in out.splitlines():
        f = line.split("\t")
        if line.startswith("shape"):
            res[(int(f[0][5:]), f[1])] = (float(f[2]), float(f[3]), float(f[4]), float(f[5]), f[6] if len(f) > 6 else "")
        elif line.startswith("check"):
            checks.append((int(f[1][5:]), f[2], float(f[3])))
        elif line.startswith("peak"):
            peaks.append((f[1], int(f[2]), float(f[4]), float(f[5]), float(f[6])))
        elif line.startswith("#"):
            header.append(line)
    return res, checks, peaks, header


def ort_median(model_path, threads, runs, warmup):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(warmup):
        sess.run(None, {name: x})
    times, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(times), min(times), statistics.median(cpu)


def total(res, shapes, method):
    """Whole-network sums (ms) of `method`'s wall medians, fastest runs and CPU-time medians;
    None if a shape is missing."""
    med = mn = cpu = 0.0
    for i, (_, count) in enumerate(shapes):
        r = res.get((i, method))
        if r is None:
            return None
        med += count * r[0]
        mn += count * r[2]
        cpu += count * r[3]
    return med, mn, cpu


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=21, help="timed runs per measurement (default 21)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out", "engine-spike"),
                    help="build and scratch folder (default bench-out/engine-spike)")
    ap.add_argument("--markdown-out", help="also write the Markdown report to this file")
    ap.add_argument("--skip-check", action="store_true", help="skip the checks against the naive kernels")
    ap.add_argument("--from-raw", action="store_true",
                    help="no measuring: print the report again from OUT/raw.pickle, written by the last run")
    args = ap.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    os.makedirs(args.out, exist_ok=True)

    subprocess.run(["bash", os.path.join(HERE, "build.sh"), args.out], check=True)
    binary = os.path.join(args.out, "spike")
    models = os.path.join(ROOT, "bench-out", "models")
    onnx_path = os.path.join(models, "resnet50.onnx")
    if not os.path.exists(onnx_path):
        subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "bench", "export-torchvision.py"), models,
                        "--models", "resnet50"], check=True)
    shapes = conv_shapes("resnet50")
    shapes_path = write_shapes(shapes, os.path.join(args.out, "resnet50-shapes.txt"))
    coretype = loupe_coretype()
    blas_env = {"OPENBLAS_CORETYPE": coretype} if coretype else {}
    common = ["--shapes", shapes_path, "--runs", str(args.runs), "--warmup", str(args.warmup)]
    flops = shape_flops(shapes)
    net_gflop = sum(c * fl for (_, c), fl in zip(shapes, flops)) / 1e9

    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = []
    say = lines.append
    say(f"CPU: {cpu_model()} ({cpu_details()}), {os.cpu_count()} logical CPUs; run started {started}; "
        f"load average at start {load_average()}; git {git_revision()}")
    say(f"OPENBLAS_CORETYPE for the Loupe column: {coretype or 'unset'}; medians of {args.runs} runs after "
        f"{args.warmup} warm-up runs; ResNet-50 convolutions: {len(shapes)} distinct shapes, "
        f"{sum(c for _, c in shapes)} layers, {net_gflop:.2f} GFLOP")
    print("\n".join(lines), file=sys.stderr)

    raw_path = os.path.join(args.out, "raw.pickle")
    if args.from_raw:
        with open(raw_path, "rb") as f:
            (lines, peaks, per_threads, mshapes, mres, mres2, mort1, mort2, checks, impls) = pickle.load(f)
        say = lines.append
        threads_list = list(per_threads)
    else:
        peaks = parse(run_spike(binary, ["--peak", "--runs", "5", "--warmup", "1"]))[2]
        per_threads = {}
        for t in threads_list:
            print(f"run.py: threads {t}", file=sys.stderr)
            ort1 = ort_median(onnx_path, t, args.runs, args.warmup)
            main_out = parse(run_spike(binary, common + ["--threads", str(t)], blas_env))
            avx2 = parse(run_spike(binary, common + ["--threads", str(t), "--methods", "onednn", "--onednn-isa", "avx2"]))
            sse = parse(run_spike(binary, common + ["--threads", str(t), "--methods", "onednn",
                                                    "--onednn-isa", "sse41"]))[0] if t == 1 else {}
            ort2 = ort_median(onnx_path, t, args.runs, args.warmup)
            per_threads[t] = (main_out, avx2, sse, ort1, ort2)

        # MobileNetV2 (depthwise and pointwise convolutions): oneDNN and Loupe's im2col path (not its
        # depthwise kernel, which is Swift) on one thread, beside onnxruntime's whole model
        mshapes = conv_shapes("mobilenet_v2")
        mpath = write_shapes(mshapes, os.path.join(args.out, "mobilenet_v2-shapes.txt"))
        monnx = os.path.join(models, "mobilenet_v2.onnx")
        if not os.path.exists(monnx):
            subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "bench", "export-torchvision.py"), models,
                            "--models", "mobilenet_v2"], check=True)
        print("run.py: MobileNetV2, one thread", file=sys.stderr)
        mort1 = ort_median(monnx, 1, args.runs, args.warmup)
        mres = parse(run_spike(binary, ["--shapes", mpath, "--runs", str(args.runs), "--warmup", str(args.warmup),
                                        "--threads", "1", "--methods", "onednn,loupe"], blas_env))[0]
        mres2 = parse(run_spike(binary, ["--shapes", mpath, "--runs", str(args.runs), "--warmup", str(args.warmup),
                                         "--threads", "1", "--methods", "onednn", "--onednn-isa", "avx2"]))[0]
        mort2 = ort_median(monnx, 1, args.runs, args.warmup)

        checks = []
        if not args.skip_check:
            print("run.py: checks against the naive kernels", file=sys.stderr)
            checks = parse(run_spike(binary, ["--shapes", shapes_path, "--runs", "1", "--warmup", "0", "--threads", "2",
                                              "--check"], blas_env))[1]
            checks += [(i, m + "@mobilenet_v2", e) for i, m, e in parse(run_spike(
                binary, ["--shapes", mpath, "--runs", "1", "--warmup", "0", "--threads", "2", "--check",
                         "--methods", "onednn"]))[1]]
            checks += [(i, m + "@avx2", e) for i, m, e in parse(run_spike(
                binary, ["--shapes", shapes_path, "--runs", "1", "--warmup", "0", "--threads", "2", "--check",
                         "--methods", "onednn", "--onednn-isa", "avx2"]))[1]]

        # oneDNN's kernel choice with OPENBLAS_CORETYPE set to two different families
        impls = {}
        for ct in ("SkylakeX", "Prescott"):
            out = run_spike(binary, ["--shapes", shapes_path, "--runs", "1", "--warmup", "0", "--threads", "2",
                                     "--methods", "onednn"], {"OPENBLAS_CORETYPE": ct, "ONEDNN_VERBOSE": "1"})
            impls[ct] = sorted(set(re.findall(r"onednn_verbose,exec,cpu,convolution,([^,]+),([^,]+)", out)))
            isa_line = [l for l in out.splitlines() if "onednn_verbose,info,cpu,isa" in l]
            impls[ct + "_isa"] = isa_line[0].split("isa:", 1)[1] if isa_line else "?"
        # the measurements, so that the report can be made again without measuring (--from-raw)
        with open(raw_path, "wb") as f:
            pickle.dump((lines, peaks, per_threads, mshapes, mres, mres2, mort1, mort2, checks, impls), f)

    # ---- report
    say("")
    say("FMA peak loop, GFLOP/s: at the median wall time / at the fastest run / per CPU-second "
        "(one core's rate, whatever the load):")
    for isa, t, g, gmax, gcpu in peaks:
        say(f"- {isa}, {t} thread{'s' if t > 1 else ''}: {g:.1f} / {gmax:.1f} / {gcpu:.1f}")
    core_peak = {isa: gcpu for isa, t, _g, _gmax, gcpu in peaks if t == 1}
    for t in threads_list:
        main_res, avx2_res, sse_res, ort1, ort2 = per_threads[t]
        res = main_res[0]
        # one thread: CPU time (robust to load); two: the fastest run (the median carries the load)
        col, col_name = (3, "median CPU time") if t == 1 else (2, "fastest of the runs (wall)")
        tcol = 2 if t == 1 else 1  # the same column in total()'s (median, fastest, CPU)
        say("")
        say(f"### {t} thread{'s' if t > 1 else ''}")
        say("")
        say(f"GFLOP/s per shape, from the {col_name}; reorders in ms. `Loupe` = im2col + OpenBLAS as Loupe does "
            "it; `oneDNN` = forward on its preferred layouts; `reorders` = NCHW → its source layout + its "
            "destination layout → NCHW; `bwd-data` = oneDNN backward-data; `oneDNN AVX2` = forward with max ISA "
            "AVX2; `own 512` / `own AVX2` = the NCHWc direct kernels (best register blocking).")
        say("")
        head = ("| # | conv (ic→oc, k/s, input) | × | MFLOP | Loupe | oneDNN | reorders ms | bwd-data | Winograd "
                "| Wino bwd-data | oneDNN AVX2 | own 512 | own AVX2 | oneDNN kernel |")
        say(head)
        say("|" + "---|" * (head.count("|") - 1))
        for i, ((ic, h, w, oc, k, s, p, _g), count) in enumerate(shapes):
            def g(r, m):
                v = r.get((i, m))
                return fmt(flops[i] / (v[col] * 1e6)) if v and v[col] > 0 else "-"
            reo = sum(res.get((i, m), (0, 0, 0, 0))[col] for m in ("onednn_src_reorder", "onednn_dst_reorder"))
            note = res.get((i, "onednn_fwd"), (0, 0, 0, 0, ""))[4].split(" ")[0]
            say(f"| {i} | {ic}→{oc}, {k}x{k}/{s}, {h}x{w} | {count} | {flops[i] / 1e6:.0f} | {g(res, 'loupe')} | "
                f"{g(res, 'onednn_fwd')} | {reo:.3f} | {g(res, 'onednn_bwd_data')} | {g(res, 'onednn_winograd')} | "
                f"{g(res, 'onednn_winograd_bwd_data')} | {g(avx2_res[0], 'onednn_fwd')} | "
                f"{g(res, 'own512')} | {g(res, 'own2')} | {note} |")
        say("")
        say("Whole network, convolutions only (sum of count × time), ms: wall median / fastest run / CPU median; "
            "GFLOP/s and the ratio to oneDNN forward from the " + col_name + ":")
        say("")
        say("| method | median | fastest | CPU | GFLOP/s | ratio to oneDNN fwd |")
        say("|---|---|---|---|---|---|")
        base = total(res, shapes, "onednn_fwd")
        reorders = None
        if total(res, shapes, "onednn_src_reorder"):
            reorders = tuple(a + b for a, b in zip(total(res, shapes, "onednn_src_reorder"),
                                                   total(res, shapes, "onednn_dst_reorder")))
        own_reorders = None
        if total(res, shapes, "own512_reorder_in"):
            own_reorders = tuple(a + b for a, b in zip(total(res, shapes, "own512_reorder_in"),
                                                       total(res, shapes, "own512_reorder_out")))
        # the faster of direct and Winograd per shape, as a plan could choose
        best = dict(res)
        for i in range(len(shapes)):
            wino = res.get((i, "onednn_winograd"))
            if wino and wino[col] < res[(i, "onednn_fwd")][col]:
                best[(i, "onednn_best")] = wino
            else:
                best[(i, "onednn_best")] = res[(i, "onednn_fwd")]
            wino = res.get((i, "onednn_winograd_bwd_data"))
            if wino and wino[col] < res[(i, "onednn_bwd_data")][col]:
                best[(i, "onednn_best_bwd")] = wino
            else:
                best[(i, "onednn_best_bwd")] = res[(i, "onednn_bwd_data")]
        rows = [("Loupe today (im2col + OpenBLAS)", total(res, shapes, "loupe"), True),
                ("oneDNN forward (blocked layouts)", base, True),
                ("oneDNN forward, Winograd where faster (3x3/1)", total(best, shapes, "onednn_best"), True),
                ("oneDNN reorders NCHW→src + dst→NCHW, every layer", reorders, False),
                ("oneDNN backward-data", total(res, shapes, "onednn_bwd_data"), True),
                ("oneDNN backward-data, Winograd where faster (3x3/1)", total(best, shapes, "onednn_best_bwd"), True),
                ("oneDNN forward, max ISA AVX2", total(avx2_res[0], shapes, "onednn_fwd"), True),
                ("oneDNN backward-data, max ISA AVX2", total(avx2_res[0], shapes, "onednn_bwd_data"), True)]
        if sse_res:
            rows += [("oneDNN forward, max ISA SSE4.1", total(sse_res, shapes, "onednn_fwd"), True)]
        rows += [("own NCHWc AVX-512 (best blocking per shape)", total(res, shapes, "own512"), True),
                 ("own NCHWc reorders NCHW→NCHW16c + back, every layer", own_reorders, False),
                 ("own NCHWc AVX2 (best blocking per shape)", total(res, shapes, "own2"), True)]
        for name, tot, rate in rows:
            if tot is None:
                say(f"| {name} | - | - | - | - | - |")
                continue
            gf = net_gflop / (tot[tcol] / 1e3) if rate else None
            ratio = tot[tcol] / base[tcol] if rate and base else None
            say(f"| {name} | {tot[0]:.1f} | {tot[1]:.1f} | {tot[2]:.1f} | {fmt(gf)} | {fmt(ratio, 2)} |")
        ort_cols = (min(ort1[0], ort2[0]), min(ort1[1], ort2[1]), min(ort1[2], ort2[2]))
        ort_sel = ort_cols[tcol]
        say(f"| onnxruntime, whole ResNet-50 (medians before / after the spike: {ort1[0]:.1f} / {ort2[0]:.1f}) | "
            f"{ort_cols[0]:.1f} | {ort_cols[1]:.1f} | {ort_cols[2]:.1f} | "
            f"{net_gflop / (ort_sel / 1e3):.1f} (convs' FLOP / whole model's time) | "
            f"{ort_sel / base[tcol]:.2f} |" if base else "")
        if base and core_peak:
            peak512 = core_peak.get("avx512", 0) * t
            peak2 = core_peak.get("avx2", 0) * t
            def frac(tot, pk):
                return f"{net_gflop / (tot[tcol] / 1e3) / pk:.0%}" if tot and pk else "-"
            say("")
            say(f"Fractions of the FMA peak ({t} × one core's rate: AVX-512 {peak512:.0f}, AVX2 {peak2:.0f} GFLOP/s), "
                f"from the {col_name}: oneDNN forward {frac(base, peak512)}, Loupe {frac(total(res, shapes, 'loupe'), peak512)}, "
                f"own 512 {frac(total(res, shapes, 'own512'), peak512)}, onnxruntime whole model "
                f"{net_gflop / (ort_sel / 1e3) / peak512:.0%}; of the AVX2 peak: oneDNN max-ISA AVX2 "
                f"{frac(total(avx2_res[0], shapes, 'onednn_fwd'), peak2)}, own AVX2 {frac(total(res, shapes, 'own2'), peak2)}.")
        say("")
        for h in main_res[3][:2] + avx2_res[3][:2]:
            say(f"    {h}")

    say("")
    say("### MobileNetV2, 1 thread (CPU-time medians, ms, summed over its convolutions)")
    say("")
    mflops = shape_flops(mshapes)
    say("| convolutions | layers | MFLOP | oneDNN fwd | oneDNN bwd-data | oneDNN fwd, max ISA AVX2 | Loupe im2col + OpenBLAS |")
    say("|---|---|---|---|---|---|---|")
    for label, pick in (("depthwise", lambda g: g > 1), ("dense (1x1 and the stem)", lambda g: g == 1)):
        idx = [i for i, (key, _c) in enumerate(mshapes) if pick(key[7])]

        def msum(r, m):
            vals = [mshapes[i][1] * r[(i, m)][3] for i in idx if (i, m) in r]
            return f"{sum(vals):.2f}" if len(vals) == len(idx) else "-"
        say(f"| {label} | {sum(mshapes[i][1] for i in idx)} | {sum(mshapes[i][1] * mflops[i] for i in idx) / 1e6:.0f} | "
            f"{msum(mres, 'onednn_fwd')} | {msum(mres, 'onednn_bwd_data')} | {msum(mres2, 'onednn_fwd')} | "
            f"{msum(mres, 'loupe')} |")
    say(f"onnxruntime whole MobileNetV2, 1 thread, CPU-time medians before / after: {mort1[2]:.2f} / {mort2[2]:.2f} ms "
        f"(wall medians {mort1[0]:.2f} / {mort2[0]:.2f}).")

    if checks:
        say("")
        say("Checks: max |error| / max |reference| against the naive kernels (double accumulation), per method, "
            "worst over the shapes:")
        worst = collections.OrderedDict()
        for i, m, e in checks:
            key = re.sub(r"_\d+x\d+$", "", m)
            worst[key] = max(worst.get(key, 0.0), e)
        for m, e in worst.items():
            say(f"- {m}: {e:.2e}")
    say("")
    say(f"oneDNN with OPENBLAS_CORETYPE=SkylakeX: isa {impls['SkylakeX_isa']}; with Prescott: isa "
        f"{impls['Prescott_isa']}; convolution implementations "
        f"{'identical' if impls['SkylakeX'] == impls['Prescott'] else 'DIFFERENT'}: "
        f"{', '.join(sorted(set(f'{a} ({b})' for a, b in impls['SkylakeX'])))}")
    say(f"Run finished {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; load average at the end {load_average()}")
    text = "\n".join(lines)
    print(text)
    if args.markdown_out:
        with open(args.markdown_out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
