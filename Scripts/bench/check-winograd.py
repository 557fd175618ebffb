#!/usr/bin/env python3
"""Winograd against the direct kernels on the benchmark models: Loupe's logits by default
(Winograd on 3x3 stride-1 layers where oneDNN has it) and with `--exact`, on the same input,
beside onnxruntime's. Issue 17 point 3 asks for max |winograd - direct| / max |direct| <= 1e-4.

    .venv/bin/python Scripts/bench/check-winograd.py [--models resnet18,vgg16] [--batch 1,8] [--loupe .build/release/loupe]

Inputs: numpy default_rng(0), uniform [0, 1), float32 [batch, 3, 224, 224], as bench.py draws them.
"""
import argparse
import os
import subprocess

import numpy as np
import onnxruntime as ort

from harness import cpu_model


def loupe_logits(args, model, x_path, out_dir, extra):
    cmd = [args.loupe, "run", model, "--input", f"input={x_path}", "--output-dir", out_dir, "--force"] + extra
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(os.path.join(out_dir, "logits.npy"))


def rel(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b)) / np.max(np.abs(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet50,resnet18,mobilenet_v2,vgg16,squeezenet1_1")
    ap.add_argument("--models-dir", default="bench-out/models")
    ap.add_argument("--batch", default="1")
    ap.add_argument("--loupe", default=".build/release/loupe")
    ap.add_argument("--work-dir", default="bench-out/winograd")
    args = ap.parse_args()
    print(f"CPU: {cpu_model()}; LOUPE_ISA={os.environ.get('LOUPE_ISA', '(unset)')}")
    print("| model | batch | winograd vs exact | winograd vs ORT | exact vs ORT |")
    print("|---|---:|---:|---:|---:|")
    worst = 0.0
    for name in args.models.split(","):
        model = os.path.join(args.models_dir, name + ".onnx")
        for batch in [int(b) for b in args.batch.split(",")]:
            d = os.path.join(args.work_dir, f"{name}-{batch}")
            os.makedirs(d, exist_ok=True)
            x = np.random.default_rng(0).random([batch, 3, 224, 224], dtype=np.float32)
            x_path = os.path.join(d, "x.npy")
            np.save(x_path, x)
            w = loupe_logits(args, model, x_path, os.path.join(d, "winograd"), [])
            e = loupe_logits(args, model, x_path, os.path.join(d, "exact"), ["--exact"])
            sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
            o = sess.run(None, {sess.get_inputs()[0].name: x})[0].astype(np.float64)
            r = rel(w, e.astype(np.float64))
            worst = max(worst, r)
            print(f"| {name} | {batch} | {r:.2e} | {rel(w, o):.2e} | {rel(e, o):.2e} |", flush=True)
    print(f"worst winograd vs exact: {worst:.2e} ({'within' if worst <= 1e-4 else 'OVER'} 1e-4)")


if __name__ == "__main__":
    main()
