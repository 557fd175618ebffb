#!/usr/bin/env python3
"""Forward pass, Loupe against onnxruntime, in CPU time per run (for loaded machines).

On a machine shared with other jobs the wall-clock times of bench.py carry their load; the
process CPU time of a forward pass is what it costs whatever else runs (the engine spike used
the same measure, docs/engine-decision.md). On 2 threads it is the sum over both threads: it
counts time a thread spends waiting for the other at a barrier only if it spins, so both
engines are set not to spin (Loupe is run with OMP_WAIT_POLICY=passive, unless the environment
sets OMP_WAIT_POLICY or GOMP_SPINCOUNT; its binary otherwise spins briefly, GOMP_SPINCOUNT=3000,
which is faster in wall time; onnxruntime gets session.intra_op.allow_spinning=0). For each model, batch size and thread count, in one run:

- Loupe: `loupe bench MODEL --threads T --batch B --runs R` for R = LOW and HIGH (same warm-up,
  same input); CPU time (user + system, from wait4) of the difference / (HIGH - LOW) = one pass.
  Repeated --repeat times; the median is printed. Several Loupe configurations can be timed in
  the same run (`--loupe NAME=BINARY[:ARG ARG...]`, repeatable), e.g. the binary before a
  change, after it, and after it with `--exact`.
- onnxruntime: intra_op_num_threads=T, time.process_time() around each session.run; median
  of HIGH runs after 2 warm-ups.

    .venv/bin/python Scripts/bench/bench-cpu.py [--models resnet50,resnet18] [--batch 1,8] [--threads 1,2] \\
        [--loupe after=.build/release/loupe --loupe exact=.build/release/loupe:--exact]

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


def loupe_cpu(cmd0, extra, model, x_path, runs, threads, batch):
    cmd = [cmd0, "bench", model, "--threads", str(threads), "--batch", str(batch), "--runs", str(runs),
           "--warmup", "1", "--input-npy", x_path, "--json"] + extra
    env = dict(os.environ)
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["OMP_WAIT_POLICY"] = "passive"
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status})")
    return ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet50,resnet18,mobilenet_v2,vgg16,squeezenet1_1")
    ap.add_argument("--models-dir", default="bench-out/models")
    ap.add_argument("--loupe", action="append",
                    help="NAME=BINARY[:ARGS] (repeatable; default loupe=.build/release/loupe)")
    ap.add_argument("--batch", default="1", help="batch sizes, comma-separated")
    ap.add_argument("--threads", default="1", help="thread counts, comma-separated")
    ap.add_argument("--low", type=int, default=2)
    ap.add_argument("--high", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", default="bench-out/cpu")
    args = ap.parse_args()
    configs = []
    for spec in args.loupe or ["loupe=.build/release/loupe"]:
        name, _, rest = spec.partition("=")
        binary, _, extra = rest.partition(":")
        configs.append((name, binary, extra.split()))
    os.makedirs(args.work_dir, exist_ok=True)
    print(f"CPU: {cpu_model()}; LOUPE_CONV={os.environ.get('LOUPE_CONV', '(unset)')}; "
          f"load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"runs {args.low}/{args.high}, repeat {args.repeat}; "
          + "; ".join(f"{n} = {b} {' '.join(e)}".strip() for n, b, e in configs))
    names = [n for n, _, _ in configs]
    print("| model | batch | threads | " + " | ".join(f"{n} ms" for n in names) + " | ORT ms | "
          + " | ".join(f"{n}/ORT" for n in names) + " |")
    print("|---|---:|---:|" + "---:|" * (2 * len(names) + 1))
    for name in args.models.split(","):
        model = os.path.join(args.models_dir, name + ".onnx")
        for batch in [int(b) for b in args.batch.split(",")]:
            x = np.random.default_rng(0).random([batch, 3, 224, 224], dtype=np.float32)
            x_path = os.path.join(args.work_dir, f"{name}-{batch}.npy")
            np.save(x_path, x)
            for threads in [int(t) for t in args.threads.split(",")]:
                times = []
                for _, binary, extra in configs:
                    per = []
                    for _ in range(args.repeat):
                        hi = loupe_cpu(binary, extra, model, x_path, args.high, threads, batch)
                        lo = loupe_cpu(binary, extra, model, x_path, args.low, threads, batch)
                        per.append((hi - lo) / (args.high - args.low) * 1e3)
                    times.append(statistics.median(per))
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 1
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
                feeds = {sess.get_inputs()[0].name: x}
                for _ in range(2):
                    sess.run(None, feeds)
                t = []
                for _ in range(args.high):
                    c0 = time.process_time()
                    sess.run(None, feeds)
                    t.append((time.process_time() - c0) * 1e3)
                om = statistics.median(t)
                print(f"| {name} | {batch} | {threads} | " + " | ".join(f"{v:.1f}" for v in times) + f" | {om:.1f} | "
                      + " | ".join(f"{v / om:.2f}" for v in times) + " |", flush=True)


if __name__ == "__main__":
    main()
