#!/usr/bin/env python3
"""Times Loupe's forward pass against onnxruntime on the same ONNX files and inputs.

Run from the package root with the project's virtualenv (numpy, onnxruntime), after
building Loupe in release mode and exporting the models:

    swift build -c release
    .venv/bin/python Scripts/bench/export-torchvision.py            # -> bench-out/models/*.onnx
    .venv/bin/python Scripts/bench/bench.py [--models resnet18,vgg16] [--batch 1] [--threads 2] \
        [--runs 20] [--warmup 3] [--loupe .build/release/loupe] [--markdown-out FILE]

For each model and batch size, one input is drawn (numpy default_rng(0), uniform [0, 1),
float32 [batch,3,224,224]) and saved as .npy. Then, one model at a time so both engines see
the same machine state:

1. `loupe bench MODEL --input-npy X --batch B --runs R --warmup W --threads T --json`
   (Loupe times the forward pass alone: W untimed runs, then R timed runs);
2. onnxruntime on the same file and input, timed the same way around `session.run`, with
   intra_op_num_threads=T, inter_op_num_threads=1, sequential execution and graph
   optimisation level ORT_ENABLE_ALL;
3. `loupe run MODEL --input input=X --output-dir D` and the largest absolute difference
   between D/logits.npy and onnxruntime's output.

A model Loupe cannot load or run is reported with Loupe's error message and the script goes
on with the next one. The environment is passed to Loupe unchanged (OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE, when set, are what users get); their values are printed in the header.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from harness import cpu_model, cpu_details, openblas_core, binary_time, load_average, git_revision, last_error_line, fmt
import onnxruntime as ort

DEFAULT_MODELS = ["resnet18", "resnet50", "mobilenet_v2", "vgg16", "squeezenet1_1"]
ORT_LEVEL_NAME = "ORT_ENABLE_ALL"
ORT_LEVEL = ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def run_loupe_bench(args, model_path, input_path, batch):
    cmd = [args.loupe, "bench", model_path, "--batch", str(batch), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--threads", str(args.threads),
           "--input-npy", input_path, "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"loupe bench timed out after {args.timeout} s"
    except OSError as e:
        return None, f"cannot run {args.loupe}: {e}"
    if proc.returncode != 0:
        return None, last_error_line(proc)
    try:
        r = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None, f"loupe bench printed no JSON: {proc.stdout.strip()[:200]!r}"
    if r.get("threads") != args.threads:
        print(f"  note: loupe reports {r.get('threads')} threads, asked for {args.threads}")
    return r, None


def run_loupe_output(args, model_path, input_path, out_dir):
    cmd = [args.loupe, "run", model_path, "--input", f"input={input_path}", "--output-dir", out_dir,
           "--threads", str(args.threads), "--force"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"loupe run timed out after {args.timeout} s"
    except OSError as e:
        return None, f"cannot run {args.loupe}: {e}"
    if proc.returncode != 0:
        return None, last_error_line(proc)
    path = os.path.join(out_dir, "logits.npy")
    try:
        return np.load(path), None
    except (OSError, ValueError) as e:
        return None, f"cannot read {path}: {e}"


def ort_session(args, model_path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ORT_LEVEL
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def run_ort(args, sess, x):
    """Times session.run like `loupe bench` times its executor: warm-up, then timed runs."""
    feeds = {sess.get_inputs()[0].name: x}
    out = None
    for _ in range(args.warmup):
        out = sess.run(None, feeds)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter_ns()
        out = sess.run(None, feeds)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}, out[0]


def combine(rounds):
    """Several rounds of one engine: median of the round medians, overall min and max."""
    if not rounds:
        return None
    return {"median_ms": statistics.median(r["median_ms"] for r in rounds),
            "min_ms": min(r["min_ms"] for r in rounds), "max_ms": max(r["max_ms"] for r in rounds)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help="comma-separated model names (files MODELS_DIR/NAME.onnx); default: all five")
    ap.add_argument("--models-dir", default="bench-out/models", help="where the .onnx files are")
    ap.add_argument("--batch", default="1", help="batch size, or a comma-separated list (e.g. 1,8)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both engines (default 2)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs (default 3)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate Loupe and ORT this many times per model; the table shows the median "
                         "of the round medians and the overall min/max (default 1)")
    ap.add_argument("--loupe", default=".build/release/loupe", help="the loupe binary")
    ap.add_argument("--work-dir", default="bench-out", help="inputs and outputs go under here")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per loupe command")
    ap.add_argument("--markdown-out", help="also write the report (header and table) to this file")
    args = ap.parse_args()

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        batches = [int(b) for b in args.batch.split(",") if b.strip()]
    except ValueError:
        ap.error(f"--batch expects integers, got {args.batch!r}")
    if not batches or min(batches) < 1 or args.threads < 1 or args.runs < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--batch, --threads, --runs and --rounds must be at least 1, --warmup at least 0")

    header = [
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()} ({cpu_details()}), {platform.system()} {platform.release()}",
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')} (passed to Loupe unchanged)",
        f"- Loupe's BLAS: {openblas_core(args.loupe)}",
        f"- loupe: {args.loupe}, built {binary_time(args.loupe)}; working tree at git {git_revision()}",
        f"- onnxruntime {ort.__version__}, CPUExecutionProvider, graph optimisation level {ORT_LEVEL_NAME}, "
        f"intra_op_num_threads={args.threads}, inter_op_num_threads=1, sequential execution",
        f"- {args.warmup} warm-up runs, then {args.runs} timed runs per engine"
        + (f", {args.rounds} alternating rounds (median of round medians)" if args.rounds > 1 else "") + ";"
        f" times in ms, forward pass only "
        f"(Loupe: its own timer around the executor; ORT: around session.run from Python)",
        f"- input: numpy default_rng(0).random([batch,3,224,224], float32); max |diff| compares "
        f"`loupe run` logits with ORT's on that input",
        f"- load average at start: {load_average()}",
    ]
    print("\n".join(header), flush=True)

    input_dir = os.path.join(args.work_dir, "inputs")
    out_root = os.path.join(args.work_dir, "loupe-outputs")
    os.makedirs(input_dir, exist_ok=True)
    if not os.path.exists(args.loupe):
        print(f"warning: {args.loupe} does not exist (build it with `swift build -c release`); "
              "only onnxruntime will be timed", flush=True)

    rows, errors = [], []
    for model in models:
        model_path = os.path.join(args.models_dir, model + ".onnx")
        if not os.path.exists(model_path):
            errors.append((model, "-", f"{model_path} not found (run Scripts/bench/export-torchvision.py)"))
            print(f"{model}: {model_path} not found", flush=True)
            continue
        for batch in batches:
            x = np.random.default_rng(0).random((batch, 3, 224, 224), dtype=np.float32)
            input_path = os.path.join(input_dir, f"{model}_b{batch}.npy")
            np.save(input_path, x)
            lrounds, orounds, lerr, ort_out, sess = [], [], None, None, None
            for rnd in range(args.rounds):
                tag = f"{model} batch {batch}" + (f" round {rnd + 1}/{args.rounds}" if args.rounds > 1 else "")
                if lerr is None:
                    print(f"{tag}: loupe bench ...", flush=True)
                    lr, lerr = run_loupe_bench(args, model_path, input_path, batch)
                    if lerr:
                        print(f"  loupe error: {lerr}", flush=True)
                    else:
                        lrounds.append(lr)
                print(f"{tag}: onnxruntime ...", flush=True)
                try:
                    if sess is None:
                        sess = ort_session(args, model_path)
                    orr, ort_out = run_ort(args, sess, x)
                    orounds.append(orr)
                except Exception as e:  # noqa: BLE001 - report and go on
                    errors.append((model, batch, f"onnxruntime: {type(e).__name__}: {e}"))
                    print(f"  onnxruntime error: {e}", flush=True)
                    break
            del sess
            lr, orr = combine(lrounds), combine(orounds)
            diff, derr = None, None
            if lerr is None and ort_out is not None:
                out_dir = os.path.join(out_root, f"{model}_b{batch}")
                lo, derr = run_loupe_output(args, model_path, input_path, out_dir)
                if lo is not None:
                    if lo.shape != ort_out.shape:
                        derr = f"loupe output shape {list(lo.shape)} != ORT {list(ort_out.shape)}"
                    else:
                        diff = float(np.max(np.abs(lo.astype(np.float64) - ort_out.astype(np.float64))))
            if lerr:
                errors.append((model, batch, "loupe: " + lerr))
            if derr:
                errors.append((model, batch, "loupe run: " + derr))
            ratio = lr["median_ms"] / orr["median_ms"] if lr and orr else None
            scale = float(np.max(np.abs(ort_out))) if ort_out is not None else None
            rows.append((model, batch, args.threads, lr, orr, ratio, diff, scale))
            print(f"  loupe {fmt(lr and lr['median_ms'])} ms, ORT {fmt(orr and orr['median_ms'])} ms, "
                  f"ratio {fmt(ratio, 2)}, max|diff| {'—' if diff is None else f'{diff:.2e}'}, "
                  f"load {load_average()}", flush=True)

    table = [
        "| model | batch | threads | Loupe median ms | ORT median ms | Loupe/ORT | Loupe min ms | ORT min ms "
        "| Loupe max ms | ORT max ms | max \\|diff\\| (max \\|logit\\|) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for model, batch, threads, lr, orr, ratio, diff, scale in rows:
        table.append(
            f"| {model} | {batch} | {threads} | {fmt(lr and lr['median_ms'])} | {fmt(orr and orr['median_ms'])} "
            f"| {fmt(ratio, 2)} | {fmt(lr and lr['min_ms'])} | {fmt(orr and orr['min_ms'])} "
            f"| {fmt(lr and lr['max_ms'])} | {fmt(orr and orr['max_ms'])} "
            f"| {'—' if diff is None else f'{diff:.1e}'} ({'—' if scale is None else f'{scale:.2g}'}) |")
    header.append(f"- load average at end: {load_average()} (other work on the machine inflates both engines' times)")
    report = ["## Forward pass: Loupe vs onnxruntime", ""] + header + [""] + table
    if errors:
        report += ["", "Errors:", ""] + [f"- {m} (batch {b}): {e}" for m, b, e in errors]
    text = "\n".join(report) + "\n"
    print()
    print(text, end="")
    if args.markdown_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown_out)), exist_ok=True)
        with open(args.markdown_out, "w") as f:
            f.write(text)
        print(f"\nwrote {args.markdown_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
