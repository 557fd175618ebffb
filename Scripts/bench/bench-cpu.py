#!/usr/bin/env python3
"""One-thread forward pass, Loupe against onnxruntime, in CPU time (for loaded machines).

On a machine shared with other jobs the wall-clock times of bench.py carry their load; on one
thread the process CPU time of a forward pass is what it costs whatever else runs (the
engine spike used the same measure, docs/engine-decision.md). For each model, in one run:

- Loupe: `loupe bench MODEL --threads 1 --runs R` for R = LOW and HIGH (same warm-up, same
  input); CPU time (user + system, from wait4) of the difference / (HIGH - LOW) = one pass.
  Repeated --repeat times; the median is printed.
- onnxruntime: intra_op_num_threads=1, time.process_time() around each session.run; median.

    .venv/bin/python Scripts/bench/bench-cpu.py [--models resnet50,resnet18] [--loupe .build/release/loupe]

The environment is passed to Loupe unchanged (LOUPE_CONV=blas times the im2col + OpenBLAS path).
"""
import argparse
import os
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort

from harness import cpu_model


def loupe_cpu(args, model, x_path, runs):
    cmd = [args.loupe, "bench", model, "--threads", "1", "--runs", str(runs), "--warmup", "2", "--input-npy", x_path, "--json"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status})")
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet50,resnet18,mobilenet_v2,vgg16")
    ap.add_argument("--models-dir", default="bench-out/models")
    ap.add_argument("--loupe", default=".build/release/loupe")
    ap.add_argument("--low", type=int, default=2)
    ap.add_argument("--high", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", default="bench-out/cpu")
    args = ap.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    print(f"CPU: {cpu_model()}; 1 thread; LOUPE_CONV={os.environ.get('LOUPE_CONV', '(unset)')}; "
          f"load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| model | Loupe CPU ms | ORT CPU ms | Loupe/ORT |")
    print("|---|---:|---:|---:|")
    for name in args.models.split(","):
        model = os.path.join(args.models_dir, name + ".onnx")
        x = np.random.default_rng(0).random([1, 3, 224, 224], dtype=np.float32)
        x_path = os.path.join(args.work_dir, name + ".npy")
        np.save(x_path, x)
        per = []
        for _ in range(args.repeat):
            per.append((loupe_cpu(args, model, x_path, args.high) - loupe_cpu(args, model, x_path, args.low))
                       / (args.high - args.low) * 1e3)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        feeds = {sess.get_inputs()[0].name: x}
        for _ in range(2):
            sess.run(None, feeds)
        t = []
        for _ in range(args.high):
            c0 = time.process_time()
            sess.run(None, feeds)
            t.append((time.process_time() - c0) * 1e3)
        lm, om = statistics.median(per), statistics.median(t)
        print(f"| {name} | {lm:.1f} | {om:.1f} | {lm / om:.2f} |", flush=True)


if __name__ == "__main__":
    main()
