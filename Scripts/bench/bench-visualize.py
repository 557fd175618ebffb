"""Benchmark: `loupe visualize` against Lucent's `render_vis` on the same model, in the same run.

For each model, R rounds (default 3), alternating the two tools, each in a fresh process:

- Loupe: `loupe visualize MODEL --class C --steps S --seed R -o out.png --threads T --json`
  (its defaults otherwise: Fourier parameterisation with decorrelated colour, Lucent's standard
  transforms, Adam lr 0.05, inputs below 224 upsampled to 224); the time is the whole process's
  wall time, reading the model included.
- Lucent (torch-lucent 0.1.8, pinned in Scripts/requirements.txt): `render.render_vis(model,
  "LAYER:C", param_f=lambda: param.image(SIZE), thresholds=(S,))` with its defaults otherwise
  (`param.image`: Fourier basis, decorrelated colour; `transform.standard_transforms`; Adam lr
  0.05; upsampling below 224), `torch.set_num_threads(T)`; the time covers `render_vis` only,
  the model already built.

Models, both with random weights (the speed of one step does not depend on them):
- shapes: SampleModels/shapes/shapes-gap.onnx (64x64, no normalisation: Lucent's
  `preprocess=False`, Loupe's `--preprocess none`) and, for Lucent, the same architecture
  built by SampleModels/shapes/train.py's `gap_model(6)`;
- resnet18: torchvision's ResNet-18 (torch.manual_seed(0), weights=None), exported by
  Scripts/bench/export-torchvision.py to ONNX for Loupe (ImageNet normalisation on both sides:
  Lucent's `transform.normalize()`, Loupe's `--preprocess imagenet`), 224x224.

Prints per model the median seconds of each tool, the seconds per step, and the ratio
Loupe / Lucent, with the CPU and the OpenBLAS kernels Loupe ran. Run from the package root:
    .venv/bin/python Scripts/bench/bench-visualize.py [--models shapes resnet18] [--steps 512]
        [--rounds 3] [--threads 2] [--class 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LUCENT = r"""
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import torch, torchvision
from lucent.optvis import render, param
model_name, steps, threads, klass, seed, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
torch.set_num_threads(threads)
torch.manual_seed(0)
if model_name == "resnet18":
    model, size, layer, preprocess = torchvision.models.resnet18(weights=None), 224, "fc", True
else:
    sys.path.insert(0, os.path.join(root, "SampleModels", "shapes"))
    import train
    model, size, layer, preprocess = train.gap_model(6), 64, "15", False
model.eval()
torch.manual_seed(seed)
t0 = time.perf_counter()
images = render.render_vis(model, f"{layer}:{klass}", param_f=lambda: param.image(size), thresholds=(steps,), fixed_image_size=size,
                           preprocess=preprocess, show_image=False, progress=False)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0}))
"""


def lucent_once(model, steps, threads, klass, seed):
    out = subprocess.run([sys.executable, "-c", LUCENT, model, str(steps), str(threads), str(klass), str(seed), ROOT],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"Lucent failed on {model}: {harness.last_error_line(out)}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def loupe_once(loupe, path, preprocess, steps, threads, klass, seed, folder):
    png = os.path.join(folder, "vis.png")
    cmd = [loupe, "visualize", path, "--class", str(klass), "--steps", str(steps), "--seed", str(seed),
           "--preprocess", preprocess, "-o", png, "--threads", str(threads), "--json", "--force"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    t1 = time.perf_counter()
    if out.returncode != 0:
        sys.exit(f"loupe visualize failed on {path}: {harness.last_error_line(out)}\n  {' '.join(cmd)}")
    return t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["shapes", "resnet18"], choices=["shapes", "resnet18"])
    ap.add_argument("--steps", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--class", dest="klass", type=int, default=3)
    ap.add_argument("--loupe", default=os.path.join(ROOT, ".build", "release", "loupe"))
    args = ap.parse_args()
    if args.steps < 1 or args.rounds < 1 or args.threads < 1:
        ap.error("--steps, --rounds and --threads must be at least 1")
    if not os.path.exists(args.loupe):
        sys.exit(f"no loupe binary at {args.loupe}: run `swift build -c release` first")

    print(f"CPU: {harness.cpu_model()} ({harness.cpu_details()}); {harness.openblas_core(args.loupe)}")
    print(f"loupe {harness.git_revision()}, built {harness.binary_time(args.loupe)}; load average "
          f"{harness.load_average()}; {args.steps} steps, {args.threads} threads, class {args.klass}, "
          f"{args.rounds} rounds")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models:
            if model == "resnet18":
                subprocess.run([sys.executable, os.path.join(ROOT, "Scripts", "bench", "export-torchvision.py"),
                                folder, "--models", "resnet18"], check=True, capture_output=True)
                path, preprocess = os.path.join(folder, "resnet18.onnx"), "imagenet"
            else:
                path, preprocess = os.path.join(ROOT, "SampleModels", "shapes", "shapes-gap.onnx"), "none"
            loupe_s, lucent_s = [], []
            for r in range(args.rounds):
                loupe_s.append(loupe_once(args.loupe, path, preprocess, args.steps, args.threads, args.klass, r, folder))
                lucent_s.append(lucent_once(model, args.steps, args.threads, args.klass, r))
                print(f"  {model} round {r}: loupe {loupe_s[-1]:.2f} s, Lucent {lucent_s[-1]:.2f} s", flush=True)
            a, b = statistics.median(loupe_s), statistics.median(lucent_s)
            print(f"{model:>9}: loupe {a:7.2f} s ({1000 * a / args.steps:.1f} ms/step) | Lucent {b:7.2f} s "
                  f"({1000 * b / args.steps:.1f} ms/step) | ratio loupe/Lucent {a / b:.2f}")
            results.append({"model": model, "steps": args.steps, "loupe_s": loupe_s, "lucent_s": lucent_s,
                            "loupe_median_s": a, "lucent_median_s": b, "ratio": a / b})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
