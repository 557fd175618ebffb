"""Benchmark: `loupe tsne` against openTSNE on the same features, in the same run.

The features: a mixture of 10 Gaussians in 512 dimensions (numpy seed 0; centres N(0, 1),
points centre + N(0, 1)), written once as a Loupe features file (HDF5, as `loupe features`
writes it, with labels). For each size N (default 5,000 and 20,000: the first N rows):

- Loupe: `loupe tsne feats.h5 --json --threads 2 --seed S` (its defaults: PCA to 50,
  perplexity 30, 250 + 750 iterations, Barnes-Hut below 10,000 points, FFT from 10,000);
  the time is the whole process's wall time (reading the file included).
- openTSNE (pinned in Scripts/requirements.txt): scikit-learn's PCA to 50 dimensions, then
  `openTSNE.TSNE(perplexity=30, n_iter=750, early_exaggeration_iter=250, early_exaggeration=12,
  initial_momentum=0.5, final_momentum=0.8, n_jobs=2, random_state=S)` with its defaults
  otherwise (neighbors="auto": Annoy from 1,000 points; negative_gradient_method="auto";
  learning_rate="auto"; max_step_norm=5); the time covers the PCA and `fit`, in a fresh
  process, the data already in memory.

Run r of --repeats uses seed r in both tools (Loupe's --seed, openTSNE's random_state: the
KL divergence varies by a few thousandths with the seed). Prints per size the median wall time
of each, the median KL divergence each reports for its final embedding, and the ratios
Loupe / openTSNE. Run from the package root:
    .venv/bin/python Scripts/bench/bench-tsne.py [--sizes 5000 20000] [--repeats 1]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import harness

OPENTSNE = r"""
import json, sys, time
import h5py, numpy as np
from sklearn.decomposition import PCA
import openTSNE
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with h5py.File(path) as f:
    x = np.asarray(f["features"][:n], dtype=np.float32)
t0 = time.perf_counter()
x50 = PCA(n_components=50, random_state=0).fit_transform(x)
emb = openTSNE.TSNE(perplexity=30, n_iter=750, early_exaggeration_iter=250, early_exaggeration=12,
                    initial_momentum=0.5, final_momentum=0.8, n_jobs=2, random_state=seed).fit(x50)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "kl": float(emb.kl_divergence), "version": openTSNE.__version__}))
"""


def write_features(path, n, d=512, classes=10):
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (classes, d))
    labels = rng.integers(0, classes, n).astype(np.int32)
    x = (centres[labels] + rng.normal(0, 1, (n, d))).astype(np.float32)
    s = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f["features"] = x
        f.create_dataset("paths", data=[f"g{i:06d}" for i in range(n)], dtype=s)
        f["labels"] = labels
        f["index"] = np.arange(n, dtype=np.int64)
        f.create_dataset("label_names", data=[f"class{k}" for k in range(classes)], dtype=s)
        for k, v in {"format": "loupe-features 1", "model_sha256": "0" * 64, "model_path": "gaussian-mixture",
                     "layer": "none", "pool": "none", "preprocess": "{}", "shard": "0/1",
                     "total_images": str(n), "images_sha256": "0" * 64, "processed": str(n), "rows": str(n)}.items():
            f.attrs[k] = v


def subset(src, dst, n):
    with h5py.File(src) as f, h5py.File(dst, "w") as g:
        s = h5py.string_dtype()
        g["features"] = f["features"][:n]
        g.create_dataset("paths", data=f["paths"][:n], dtype=s)
        g["labels"] = f["labels"][:n]
        g["index"] = f["index"][:n]
        g.create_dataset("label_names", data=f["label_names"][:], dtype=s)
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for k in ("total_images", "processed", "rows"):
            g.attrs[k] = str(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--loupe", default=".build/release/loupe")
    args = ap.parse_args()

    print(f"CPU: {harness.cpu_model()} ({harness.cpu_details()}), {os.cpu_count()} cores; loupe {harness.git_revision()}")
    tmp = tempfile.mkdtemp(prefix="bench-tsne-")
    full = os.path.join(tmp, "all.h5")
    write_features(full, max(args.sizes))
    rows = []
    for n in args.sizes:
        path = os.path.join(tmp, f"f{n}.h5")
        subset(full, path, n)
        lt, lk, ot, ok = [], [], [], []
        method = version = None
        for seed in range(args.repeats):
            t0 = time.perf_counter()
            p = subprocess.run([args.loupe, "tsne", path, "--json", "--threads", "2", "--seed", str(seed)],
                               capture_output=True, text=True)
            lt.append(time.perf_counter() - t0)
            if p.returncode != 0:
                sys.exit(f"loupe failed: {harness.last_error_line(p)}")
            j = json.loads(p.stdout)
            lk.append(j["kl_divergence"])
            method = j["method"]
            o = subprocess.run([sys.executable, "-c", OPENTSNE, path, str(n), str(seed)], capture_output=True, text=True)
            if o.returncode != 0:
                sys.exit(f"openTSNE failed: {o.stderr[-2000:]}")
            oj = json.loads(o.stdout.strip().splitlines()[-1])
            ot.append(oj["seconds"])
            ok.append(oj["kl"])
            version = oj["version"]
            print(f"  N={n} seed {seed}: loupe {lt[-1]:.2f} s KL {lk[-1]:.5f} | openTSNE {ot[-1]:.2f} s KL {ok[-1]:.5f}",
                  file=sys.stderr, flush=True)
        row = (n, method, statistics.median(lt), statistics.median(ot), statistics.median(lk), statistics.median(ok))
        rows.append(row)
        print(f"N={n:6d} ({method}): loupe {row[2]:7.2f} s  KL {row[4]:.4f} | openTSNE {version} {row[3]:7.2f} s  "
              f"KL {row[5]:.4f} | time ratio loupe/openTSNE {row[2] / row[3]:.2f}, KL difference {row[4] - row[5]:+.4f}",
              flush=True)
    print(json.dumps([dict(zip(["points", "method", "loupe_s", "opentsne_s", "loupe_kl", "opentsne_kl"], r)) for r in rows]))


if __name__ == "__main__":
    main()
