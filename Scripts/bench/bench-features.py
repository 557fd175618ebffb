#!/usr/bin/env python3
"""Times `loupe features` (images/s, decoding and preprocessing included) on a ResNet-50 export
and on the shapes sample model, with 1 and 2 threads.

Run from the package root with the project's virtualenv (numpy, pillow; torch and torchvision
for the export), after building Loupe in release mode:

    swift build -c release
    .venv/bin/python Scripts/bench/bench-features.py [--images 200] [--runs 3] [--batch 16] \
        [--threads 1,2] [--models resnet50,shapes-gap] [--out bench-out/features] \
        [--loupe .build/release/loupe] [--extra "--some-flag"] [--coretypes default,SkylakeX]

The ResNet-50 is exported with random weights by Scripts/bench/export-torchvision.py into
OUT/models/resnet50.onnx (about 100 MB, under the ignored bench-out/; made once and reused).
The images are made once too: IMAGES pictures of 224x224 pixels, smooth random colour fields
plus noise from numpy's default_rng(0), every other one written as JPEG (quality 90), the
others as PNG, under OUT/images/. ResNet-50 runs with `--preprocess imagenet` (resize 256,
crop 224), shapes-gap.onnx with `--preprocess none` (resized to its 64x64 input).

Every run is `loupe features MODEL OUT/images -o OUT/feats.h5 --force --threads T --batch B`;
the rate is the one Loupe prints at the end (`N images in S s: R images/s`), which counts
from the first batch to the last (model loading and hashing excluded), and the images per
CPU-second it prints (all threads' CPU time over the same span: the rate per core, which a
machine shared with other jobs does not distort as much as wall time); the wall time of the
whole command is printed too. --coretypes runs everything once per OPENBLAS_CORETYPE value
(`default` leaves the variable as it is): OpenBLAS picks its kernels by CPU model, and a CPU
newer than the OpenBLAS build may get its slow generic (Prescott) kernels. Medians over --runs runs; there is no reference engine here, as
the number wanted is Loupe's images/s per core for docs/cluster.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from harness import cpu_model, cpu_details, openblas_core, load_average, git_revision

RATE = re.compile(r"(\d+) images in ([0-9.]+) s: ([0-9.]+) images/s")
PER_CPU = re.compile(r"([0-9.]+) images per CPU-s")


def make_images(folder, count):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        name = os.path.join(folder, f"{i:05d}." + ("jpg" if i % 2 == 0 else "png"))
        if os.path.exists(name):
            continue
        coarse = rng.uniform(0, 255, size=(8, 8, 3)).astype(np.float32)
        field = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((224, 224), Image.BICUBIC), dtype=np.float32)
        pixels = np.clip(field + rng.normal(0, 12, size=field.shape), 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels)
        if name.endswith(".jpg"):
            img.save(name, quality=90)
        else:
            img.save(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="resnet50,shapes-gap")
    ap.add_argument("--out", default="bench-out/features")
    ap.add_argument("--loupe", default=".build/release/loupe")
    ap.add_argument("--extra", default="", help="more arguments for every loupe run (split on spaces)")
    ap.add_argument("--coretypes", default="default", help="comma-separated OPENBLAS_CORETYPE values; default = unchanged")
    args = ap.parse_args()

    images = os.path.join(args.out, f"images-{args.images}")
    make_images(images, args.images)
    models = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name == "shapes-gap":
            models[name] = ("SampleModels/shapes/shapes-gap.onnx", "none")
        elif name == "resnet50":
            path = os.path.join(args.out, "models", "resnet50.onnx")
            if not os.path.exists(path):
                here = os.path.dirname(os.path.abspath(__file__))
                subprocess.run([sys.executable, os.path.join(here, "export-torchvision.py"),
                                os.path.dirname(path), "--models", "resnet50"], check=True)
            models[name] = (path, "imagenet")
        else:
            ap.error(f"unknown model {name}: choose resnet50 or shapes-gap")

    print(f"CPU: {cpu_model()} ({cpu_details()}), {os.cpu_count()} CPUs, load {load_average()}")
    print(f"Loupe {git_revision()}, {openblas_core(args.loupe)}")
    print(f"{args.images} images of 224x224 (half JPEG, half PNG) in {images}; batch {args.batch}; "
          f"median of {args.runs} runs")
    out = os.path.join(args.out, "feats.h5")
    print(f"{'model':<12} {'coretype':<10} {'threads':>7} {'images/s':>9} {'per CPU-s':>9} {'wall s':>7}   runs (images/s)")
    for name, (path, preprocess) in models.items():
        for coretype in [c.strip() for c in args.coretypes.split(",") if c.strip()]:
            env = dict(os.environ)
            if coretype != "default":
                env["OPENBLAS_CORETYPE"] = coretype
            for threads in [int(t) for t in args.threads.split(",")]:
                rates, per_cpu, walls = [], [], []
                for _ in range(args.runs):
                    cmd = [args.loupe, "features", path, images, "-o", out, "--force", "--preprocess", preprocess,
                           "--threads", str(threads), "--batch", str(args.batch)] + args.extra.split()
                    t0 = time.perf_counter()
                    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    walls.append(time.perf_counter() - t0)
                    if r.returncode != 0:
                        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
                    m = RATE.search(r.stderr)
                    if not m or int(m.group(1)) != args.images:
                        sys.exit(f"no rate for {args.images} images in:\n{r.stderr}")
                    rates.append(float(m.group(3)))
                    c = PER_CPU.search(r.stderr)
                    per_cpu.append(float(c.group(1)) if c else float("nan"))
                rate = statistics.median(rates)
                print(f"{name:<12} {coretype:<10} {threads:>7} {rate:>9.1f} {statistics.median(per_cpu):>9.2f} "
                      f"{statistics.median(walls):>7.2f}   " + ", ".join(f"{x:.1f}" for x in rates), flush=True)
    print(f"load at the end: {load_average()}")
    os.remove(out)


if __name__ == "__main__":
    main()
