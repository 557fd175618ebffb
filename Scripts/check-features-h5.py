"""Checks `loupe features` files with h5py and onnxruntime (no fixtures are written).

On the shapes sample set (SampleModels/shapes/test, 120 PNGs, 64x64) the script runs the built
`loupe features shapes-gap.onnx ... --preprocess none`, once whole and once as three shards
merged with `loupe features merge`, then with h5py:
  - checks the datasets (features N x D float32, paths strings, labels int32, index int64) and
    the attributes (model_sha256 of the model file, model_path, layer, preprocess JSON);
  - runs `loupe surgery strip-head` and onnxruntime on the stripped model with the images
    decoded by Pillow and scaled to [0, 1], and requires the features to agree within 1e-5
    relative to each row's largest value;
  - requires the merged file to equal the unsharded one.

Run from the repository root after building:
  swift build -c release --product loupe
  .venv/bin/python Scripts/check-features-h5.py [--loupe .build/release/loupe]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import onnxruntime as ort
from PIL import Image

MODEL = "SampleModels/shapes/shapes-gap.onnx"
IMAGES = "SampleModels/shapes/test"


def loupe(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"loupe {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loupe", default=".build/release/loupe")
    binary = ap.parse_args().loupe
    with tempfile.TemporaryDirectory() as tmp:
        whole = os.path.join(tmp, "whole.h5")
        loupe(binary, "features", MODEL, IMAGES, "--preprocess", "none", "-o", whole)
        shards = []
        for i in range(3):
            shards.append(os.path.join(tmp, f"s{i}.h5"))
            loupe(binary, "features", MODEL, IMAGES, "--preprocess", "none", "--shard", f"{i}/3", "-o", shards[-1])
        merged = os.path.join(tmp, "merged.h5")
        loupe(binary, "features", "merge", shards[2], shards[0], shards[1], "-o", merged)
        stripped = os.path.join(tmp, "stripped.onnx")
        loupe(binary, "surgery", "strip-head", MODEL, "-o", stripped)

        with h5py.File(whole, "r") as f:
            feats = f["features"][...]
            paths = [p.decode() for p in f["paths"][...]]
            assert feats.dtype == np.float32 and feats.shape == (120, 64), (feats.dtype, feats.shape)
            assert f["labels"].dtype == np.int32 and (f["labels"][...] == -1).all()
            assert f["index"].dtype == np.int64 and (f["index"][...] == np.arange(120)).all()
            want_paths = sorted(os.path.join(IMAGES, n) for n in os.listdir(IMAGES) if n.endswith(".png"))
            assert paths == want_paths, paths[:3]
            sha = hashlib.sha256(open(MODEL, "rb").read()).hexdigest()
            assert f.attrs["model_sha256"] == sha, f.attrs["model_sha256"]
            assert f.attrs["model_path"] == MODEL
            prep = json.loads(f.attrs["preprocess"])
            assert prep["height"] == 64 and prep["width"] == 64 and prep["scale"] == "unit", prep
            layer = f.attrs["layer"]
            print(f"{whole}: features {feats.shape} of '{layer}', attributes {sorted(f.attrs.keys())}")

        x = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255 for p in paths])
        sess = ort.InferenceSession(stripped, providers=["CPUExecutionProvider"])
        want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        rel = (np.abs(feats - want).max(axis=1) / np.abs(want).max(axis=1)).max()
        print(f"features vs onnxruntime on the strip-head model: largest row-relative difference {rel:.3g}")
        assert rel <= 1e-5, rel

        with h5py.File(merged, "r") as m, h5py.File(whole, "r") as w:
            for k in ["features", "paths", "labels", "index"]:
                assert np.array_equal(m[k][...], w[k][...]), k
            for k in ["model_sha256", "layer", "pool", "preprocess", "shard", "total_images"]:
                assert m.attrs[k] == w.attrs[k], k
        print("merged shards (given 2, 0, 1) equal the unsharded file")
    print("ok")


if __name__ == "__main__":
    main()
