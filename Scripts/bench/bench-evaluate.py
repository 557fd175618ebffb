#!/usr/bin/env python3
"""Times `loupe evaluate` against the Python references of its metrics on the shapes GAP model.

Run from the package root after `swift build -c release`:

    .venv/bin/python Scripts/bench/bench-evaluate.py [--images 8] [--runs 3] [--threads 1]

Both sides evaluate the same images (the first N of SampleModels/shapes/test, 64x64, RGB / 255)
with a map of uniform noise (Loupe's `random` method; numpy default_rng(0) on the Python side:
the timings do not depend on the values), in the same process state, one metric at a time:

- road: `loupe evaluate --methods random --metrics road` vs pytorch-grad-cam's ROADCombined
  (percentiles 10..90, MoRF and LeRF: 18 imputations solved by scipy's spsolve, 19 forward
  passes by onnxruntime) per image;
- deletion,insertion: `--metrics deletion,insertion --step 224` vs the numpy/torch
  reimplementation of RISE's CausalMetric in Scripts/fixtures/make-evaluate-fixtures.py
  (2 x 20 forward passes by onnxruntime, one image at a time).

Loupe's time is the whole command (process start, model import included). Prints the
median of --runs runs per side and the ratio Python / Loupe.
"""
import argparse
import importlib.util
import os
import statistics
import subprocess
import time

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "Scripts/fixtures/make-evaluate-fixtures.py"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loupe", default=os.path.join(ROOT, ".build/release/loupe"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    from pytorch_grad_cam.metrics import road
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
    road.NoisyLinearImputer = fx.road.NoisyLinearImputer.__mro__[1]  # the original, with noise
    test = os.path.join(ROOT, "SampleModels/shapes/test")
    names = sorted(f for f in os.listdir(test) if f.endswith(".png"))[:a.images]
    paths = [os.path.join(test, n) for n in names]
    xs = [torch.from_numpy(np.ascontiguousarray((np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255).transpose(2, 0, 1))[None]) for p in paths]
    rng = np.random.default_rng(0)
    maps = [rng.random((64, 64)).astype(np.float32) for _ in xs]

    def python(metric):
        for x, m in zip(xs, maps):
            c = int(np.argmax(fx.model(x).numpy()[0]))
            if metric == "road":
                road.ROADCombined()(x, m[None], [ClassifierOutputSoftmaxTarget(c)], fx.model)
            else:
                fx.causal_metric("del", x.clone(), m, c, 224)
                fx.causal_metric("ins", x.clone(), m, c, 224)

    def loupe(metric):
        subprocess.run([a.loupe, "evaluate", os.path.join(ROOT, "SampleModels/shapes/shapes-gap.onnx"), *paths,
                        "--preprocess", "none", "--methods", "random", "--metrics", metric, "--threads", str(a.threads)],
                       check=True, capture_output=True)

    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][:1]
    print(f"CPU: {cpu[0] if cpu else '?'}; {len(paths)} images 64x64; {a.threads} thread(s); median of {a.runs} runs")
    for metric in ["road", "deletion,insertion"]:
        t = {}
        for side, f in [("loupe", loupe), ("python", python)]:
            f(metric)  # warm-up
            runs = []
            for _ in range(a.runs):
                s = time.perf_counter()
                f(metric)
                runs.append(time.perf_counter() - s)
            t[side] = statistics.median(runs)
        print(f"{metric:20s} loupe {t['loupe']:.3f} s  python {t['python']:.3f} s  python/loupe {t['python'] / t['loupe']:.2f}")


if __name__ == "__main__":
    main()
