#!/usr/bin/env python3
"""Times `loupe neighbors` against PyTorch's `addmm` + `topk` on the same features, same run.

Run from the package root with the project's virtualenv (numpy, h5py, torch), after
`swift build -c release`:

    .venv/bin/python Scripts/bench/bench-neighbors.py [--items 10000] [--dim 2048] [--queries 100]
        [--k 10] [--threads 2] [--runs 7] [--metrics l2,cosine] [--loupe .build/release/loupe]
        [--coretype Haswell]

The features: `--items` x `--dim` float32 values uniform in [0, 1) (numpy default_rng(0); non-negative
like pooled ReLU features), written as a Loupe features file with h5py (the datasets and attributes
docs/features.md lists). The queries are items 0 .. queries-1, each excluded from its own list:
Loupe gets them as `#0 ... #99`, PyTorch as the first rows, with the query's own score set to +inf
(-inf for cosine similarity) before `topk`.

What is timed (medians over `--runs` after one untimed warm-up run):
- Loupe "search": the time `loupe neighbors --timing` reports on stderr for the search alone
  (the item norms, the blocked GEMM screening and the float64 re-ranking), without process start,
  reading the HDF5 file or printing. Loupe "end-to-end": the wall time of the whole process.
- PyTorch "search" (torch.set_num_threads(--threads), tensors already in memory):
  l2: `xn = (X * X).sum(1)`, `torch.addmm(xn, Q, X.T, alpha=-2)`, self scores to +inf,
  `topk(k, largest=False)` (the squared distance up to the per-query constant ||q||^2);
  cosine: `F.normalize` of X and Q, `Q @ X.T`, self to -inf, `topk(k)`.
  The item norms (or normalisation) are inside the timing, as they are in Loupe's.
  PyTorch "addmm+topk only": the same with the norms / normalised X computed beforehand.
  PyTorch "end-to-end": reading the file with h5py, then the search.
The ratio printed is Loupe search / PyTorch search (below 1: Loupe is faster). PyTorch's answer is
float32 and not exact; the script reports how many of its neighbour lists equal Loupe's, and checks
Loupe's against a float64 numpy brute force (ties by index) for every query.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_features(path, X):
    with h5py.File(path, "w") as f:
        n = X.shape[0]
        f.create_dataset("features", data=X)
        f.create_dataset("paths", data=np.array([f"random/{i:05d}.png" for i in range(n)], dtype=h5py.string_dtype()))
        f.create_dataset("labels", data=np.full(n, -1, dtype=np.int32))
        f.create_dataset("index", data=np.arange(n, dtype=np.int64))
        attrs = {
            "format": "loupe-features 1", "model_sha256": "0" * 64, "model_path": "none.onnx",
            "layer": "random", "pool": "none",
            "preprocess": '{"channel_order":"rgb","grayscale":false,"height":1,"layout":"nchw","mean":[],"scale":"unit","std":[],"width":1}',
            "shard": "0/1", "total_images": str(n), "images_sha256": "0" * 64, "rows": str(n), "processed": str(n),
        }
        for k, v in attrs.items():
            f.attrs[k] = v


def reference(X, nq, k, metric):
    """float64 brute force, ties by index: the exact lists Loupe must return."""
    X64 = X.astype(np.float64)
    out = []
    for q in range(nq):
        if metric == "l2":
            d = ((X64 - X64[q]) ** 2).sum(1)
        else:
            n = np.sqrt((X64 ** 2).sum(1))
            d = 1 - (X64 @ X64[q]) / (n * n[q])
        d[q] = np.inf
        out.append(list(np.lexsort((np.arange(len(d)), d))[:k]))
    return out


def torch_search(X, Q, k, metric, pre=None):
    nq = Q.shape[0]
    rows = torch.arange(nq)
    if metric == "l2":
        xn = pre if pre is not None else (X * X).sum(1)
        s = torch.addmm(xn, Q, X.T, alpha=-2)
        s[rows, rows] = float("inf")
        return s.topk(k, largest=False).indices
    Xn = pre if pre is not None else F.normalize(X, dim=1)
    s = F.normalize(Q, dim=1) @ Xn.T
    s[rows, rows] = float("-inf")
    return s.topk(k).indices


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--metrics", default="l2,cosine")
    ap.add_argument("--loupe", default=".build/release/loupe")
    ap.add_argument("--coretype", default=None,
                    help="run Loupe with OPENBLAS_CORETYPE set to this (e.g. Haswell); default: the environment's")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); torch {torch.__version__}, {a.threads} threads each")
    print(f"{a.queries} queries (items #0..#{a.queries - 1}, self excluded) against {a.items} x {a.dim} float32 features, k = {a.k}; "
          f"medians of {a.runs} runs after 1 warm-up")
    rng = np.random.default_rng(0)
    X = rng.random((a.items, a.dim), dtype=np.float32)
    tmp = tempfile.mkdtemp(prefix="bench-neighbors-")
    path = os.path.join(tmp, "feats.h5")
    write_features(path, X)
    Xt = torch.from_numpy(X)
    queries = [f"#{i}" for i in range(a.queries)]
    env = dict(os.environ)
    if a.coretype:
        env["OPENBLAS_CORETYPE"] = a.coretype
    probe = subprocess.run([a.loupe, "neighbors", path, "#0", "--threads", "1"], capture_output=True, text=True,
                           env=dict(env, OPENBLAS_VERBOSE="2"))
    core = re.search(r"Core: (\S+)", probe.stdout + probe.stderr)
    print(f"Loupe's OpenBLAS kernels: {core.group(1) if core else '?'} (OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}); "
          f"PyTorch: {torch.backends.mkl.is_available() and 'MKL' or 'BLAS'}")

    for metric in a.metrics.split(","):
        want = reference(X, a.queries, a.k, metric)
        loupe_search, loupe_wall, answer = [], [], None
        for run in range(a.runs + 1):
            t0 = time.perf_counter()
            r = subprocess.run([a.loupe, "neighbors", path, *queries, "-k", str(a.k), "--metric", metric,
                                "--threads", str(a.threads), "--timing", "--json"], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit(f"loupe failed: {r.stderr}")
            m = re.search(r"searched .* in ([0-9.]+) s", r.stderr)
            if run > 0:
                loupe_search.append(float(m.group(1)))
                loupe_wall.append(wall)
            answer = r.stdout
        import json
        got = [[n["index"] for n in q["neighbors"]] for q in json.loads(answer)["queries"]]
        exact = sum(g == list(map(int, w)) for g, w in zip(got, want))

        def timed(fn):
            fn()
            ts = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            return statistics.median(ts)

        Q = Xt[: a.queries]
        pre = (Xt * Xt).sum(1) if metric == "l2" else F.normalize(Xt, dim=1)
        t_search = timed(lambda: torch_search(Xt, Q, a.k, metric))
        t_only = timed(lambda: torch_search(Xt, Q, a.k, metric, pre))

        def end_to_end():
            with h5py.File(path, "r") as f:
                Xr = torch.from_numpy(f["features"][...])
            return torch_search(Xr, Xr[: a.queries], a.k, metric)

        t_e2e = timed(end_to_end)
        tq = torch_search(Xt, Q, a.k, metric).tolist()
        same = sum(g == t for g, t in zip(got, tq))
        ls, lw = statistics.median(loupe_search), statistics.median(loupe_wall)
        print(f"\n[{metric}] Loupe exact vs float64 brute force: {exact}/{a.queries} lists equal; "
              f"PyTorch float32 lists equal to Loupe's: {same}/{a.queries}")
        print(f"  Loupe search          {ls * 1e3:8.1f} ms   | PyTorch search (norms + addmm/mm + topk) {t_search * 1e3:8.1f} ms"
              f"   ratio {ls / t_search:.2f}")
        print(f"                                   | PyTorch addmm/mm + topk only              {t_only * 1e3:8.1f} ms"
              f"   ratio {ls / t_only:.2f}")
        print(f"  Loupe end-to-end      {lw * 1e3:8.1f} ms   | PyTorch h5py read + search              {t_e2e * 1e3:8.1f} ms"
              f"   ratio {lw / t_e2e:.2f}")
        if exact != a.queries:
            sys.exit("Loupe's lists differ from the float64 brute force")
    os.remove(path)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
