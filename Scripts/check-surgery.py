"""Checks `loupe surgery` against onnx and onnxruntime, and writes the fixtures the Swift
tests (Tests/LoupeSurgeryTests) compare with.

For each case below the script runs the built `loupe surgery ...`, checks the written model
with onnx.checker.check_model(full_check=True), runs it with onnxruntime on a fixed seeded
input, runs the same input through `loupe run`, and requires the two to agree within 1e-5.
It then writes into Tests/LoupeSurgeryTests/Fixtures:
  bn-fixed-batch.onnx    a small model with BatchNormalization and a Reshape that
                         hard-codes batch 1 (made here with onnx.helper)
  cases.json             per case: model, arguments, SHA-256 of the written bytes, input and
                         output fixture files
  CASE-input.npy, CASE-output-K.npy   the input and onnxruntime's outputs

Run from the repository root after building:
  swift build -c release --scratch-path .build-surgery
  .venv/bin/python Scripts/check-surgery.py [--loupe PATH]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "LoupeSurgeryTests", "Fixtures")
TINY = "SampleModels/tiny-cnn/tiny-cnn.onnx"
BN = "Tests/LoupeSurgeryTests/Fixtures/bn-fixed-batch.onnx"
VGG = "Tests/LoupeSurgeryTests/Fixtures/shapes-vgg-head.onnx"  # Scripts/make-surgery-vgg.py
SHAPES_TEST = "SampleModels/shapes/test"

# name, model, surgery arguments (after the model), batch of the fixture input
CASES = [
    ("strip-head", TINY, ["strip-head"], 2),
    ("cut-avg", TINY, ["strip-head", "--at", "/6/Relu", "--pool", "avg"], 2),
    ("cut-spatial", TINY, ["strip-head", "--at", "/7/MaxPool"], 1),
    ("expose", TINY, ["expose", "--outputs", "/9/Relu,/10/GlobalAveragePool"], 1),
    ("set-batch-4", TINY, ["set-batch", "4"], 4),
    ("bn-fold", BN, ["fold-bn"], 1),
    ("bn-set-batch-dynamic", BN, ["set-batch", "dynamic"], 3),
    ("vgg-strip-head", VGG, ["strip-head"], 2),
    # One thread: convolution results (hence the fitted weights' last bits) depend on how the
    # work is split across threads, and the Swift test must reproduce the bytes on any machine.
    ("vgg-cam", VGG, ["cam", "--images", SHAPES_TEST, "--preprocess", "none", "--holdout", "0.4", "--seed", "1",
                      "--threads", "1"], 2),
]


def make_bn_model(path):
    """Conv → BatchNorm → Relu → MaxPool → Reshape([1, -1]) → Gemm → BatchNorm, batch fixed at 1."""
    rng = np.random.default_rng(7)

    def init(name, arr):
        return numpy_helper.from_array(np.asarray(arr, dtype=np.float32 if arr.dtype.kind == "f" else arr.dtype), name)

    inits = [
        init("w", rng.standard_normal((4, 3, 3, 3)) * 0.5), init("b", rng.standard_normal(4) * 0.1),
        init("g1", rng.uniform(0.5, 2, 4)), init("be1", rng.standard_normal(4) * 0.1),
        init("m1", rng.standard_normal(4) * 0.1), init("v1", rng.uniform(0.2, 2, 4)),
        numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat_shape"),
        init("fw", rng.standard_normal((5, 64)) * 0.2), init("fb", rng.standard_normal(5) * 0.1),
        init("g2", rng.uniform(0.5, 2, 5)), init("be2", rng.standard_normal(5) * 0.1),
        init("m2", rng.standard_normal(5) * 0.1), init("v2", rng.uniform(0.2, 2, 5)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g1", "be1", "m1", "v1"], ["n"], name="bn1", epsilon=1e-3),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "flat_shape"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["z"], name="fc", transB=1),
        helper.make_node("BatchNormalization", ["z", "g2", "be2", "m2", "v2"], ["y"], name="bn2"),
    ]
    graph = helper.make_graph(nodes, "bn-fixed-batch",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], producer_name="check-surgery.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def concrete_shape(value_info, batch):
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else batch for d in dims]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loupe", default=os.path.join(ROOT, ".build-surgery", "release", "loupe"))
    args = ap.parse_args()
    os.makedirs(FIX, exist_ok=True)
    make_bn_model(os.path.join(ROOT, BN))
    work = tempfile.mkdtemp(prefix="check-surgery-")
    cases = []
    try:
        for name, model, sargs, batch in CASES:
            if not os.path.exists(os.path.join(ROOT, model)):
                print(f"skip {name}: {model} missing", file=sys.stderr)
                continue
            out = os.path.join(work, name + ".onnx")
            cmd = [args.loupe, "surgery", sargs[0], os.path.join(ROOT, model)] + sargs[1:] + ["-o", out]
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{name}: loupe failed: {r.stderr}")
            print(f"== {name}\n{r.stdout.strip()}")
            onnx.checker.check_model(out, full_check=True)
            m = onnx.load(out)
            inits = {i.name for i in m.graph.initializer}
            inp = [i for i in m.graph.input if i.name not in inits][0]
            rng = np.random.default_rng(sum(map(ord, name)))
            x = rng.uniform(0, 1, concrete_shape(inp, batch)).astype(np.float32)
            sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
            outs = sess.run(None, {inp.name: x})
            # Loupe's own run of the written file on the same input.
            xin = os.path.join(work, name + "-input.npy")
            np.save(xin, x)
            lout = os.path.join(work, name + "-loupe")
            r = subprocess.run([args.loupe, "run", out, "--input", f"{inp.name}={xin}", "--output-dir", lout],
                               cwd=ROOT, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{name}: loupe run failed: {r.stderr}")
            worst = 0.0
            outputs = []
            for k, (o, v) in enumerate(zip(m.graph.output, outs)):
                safe = re.sub(r"[^A-Za-z0-9._-]", "_", o.name)
                mine = np.load(os.path.join(lout, safe + ".npy"))
                d = float(np.max(np.abs(mine - v) / np.maximum(1, np.abs(v))))
                worst = max(worst, d)
                fname = f"{name}-output-{k}.npy"
                np.save(os.path.join(FIX, fname), v.astype(np.float32))
                outputs.append({"name": o.name, "file": fname, "shape": list(v.shape)})
            if worst > 1e-5:
                sys.exit(f"{name}: loupe and onnxruntime differ by {worst:.3g}")
            np.save(os.path.join(FIX, f"{name}-input.npy"), x)
            data = open(out, "rb").read()
            cases.append({"name": name, "model": model, "arguments": sargs, "input": inp.name,
                          "inputFile": f"{name}-input.npy", "outputs": outputs,
                          "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                          "maxRelativeDifference": worst})
            print(f"   checker ok, {len(data)} bytes, loupe vs onnxruntime max diff {worst:.3g}")
            if sargs[0] == "cam":
                rep = os.path.join(work, name + ".cam.json")
                shutil.copy(rep, os.path.join(FIX, f"{name}.cam.json"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(FIX, "cases.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(FIX, ROOT)}")


if __name__ == "__main__":
    main()
