#!/usr/bin/env python3
"""Checks `loupe convert` against onnx and onnxruntime, and writes the export fixtures.

For every (model, opset) case below, this script
  1. exports the model with the built `loupe convert MODEL OUT.onnx --opset N`,
  2. runs onnx.checker.check_model(OUT, full_check=True),
  3. runs OUT in onnxruntime on a fixed input, and compares with the source model run in
     onnxruntime (or the conformance case's expected outputs),
  4. saves the exported file's SHA-256 and the onnxruntime outputs (.npy) under
     Tests/LoupeFormatsTests/Fixtures/export/, listed in manifest.json.

The Swift test (Tests/LoupeFormatsTests/ONNXExportTests.swift) re-exports the same models,
asserts the bytes hash to the same SHA-256 (export is deterministic) and that Loupe's outputs
on the re-imported export equal the saved onnxruntime outputs. No Python runs in the tests.

Inputs: `arange` feeds the one graph input arange(n).reshape(shape) / n as float32 (symbolic
dimensions count as 1), as the conformance runner does for onnx-light; `testdata` feeds the
case's test_data_set_0/input_*.pb.

Usage (from the repository root, after `swift build -c release`):
  .venv/bin/python Scripts/check-onnx-export.py [--loupe .build/release/loupe] [--all-light]
`--all-light` also checks every onnx-light CNN at opset 13 (without writing fixtures; the
larger ones fold into hundreds of MB of weights). `--keras` also converts the Keras test
models (Tests/LoupeFormatsTests/Fixtures/keras) and compares onnxruntime on the export with
the outputs Keras computed (no fixtures: those files belong to the Keras importer's tests).
`--conformance` converts every conformance case (../shared/conformance/*/test_*) at opsets 13
and 21 and tallies: refused by `loupe convert` (with its message), checker failures,
onnxruntime errors, and outputs that differ from the case's expected outputs (rtol 1e-3,
atol 1e-5); it only reports and never fails the run.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "conformance")
FIXTURES = os.path.join(ROOT, "Tests", "LoupeFormatsTests", "Fixtures", "export")

LIGHT = "../shared/conformance/onnx-light/light_{}.onnx"
CASE = "../shared/conformance/{}/model.onnx"

# (fixture id, model path relative to the repository root, input kind, opsets)
CASES = [
    ("tiny-cnn", "SampleModels/tiny-cnn/tiny-cnn.onnx", "arange", [13, 17, 21]),
    ("light-squeezenet", LIGHT.format("squeezenet"), "arange", [13, 21]),
    ("light-inception-v1", LIGHT.format("inception_v1"), "arange", [17]),
    ("light-shufflenet", LIGHT.format("shufflenet"), "arange", [13]),
    # Opset 6 PyTorch exports: attribute forms that became inputs, old Softmax axis rules.
    ("AvgPool1d", CASE.format("pytorch-converted/test_AvgPool1d"), "testdata", [13, 21]),
    ("BatchNorm2d_eval", CASE.format("pytorch-converted/test_BatchNorm2d_eval"), "testdata", [13, 15]),
    ("ConstantPad2d", CASE.format("pytorch-converted/test_ConstantPad2d"), "testdata", [13, 19]),
    ("ReflectionPad2d", CASE.format("pytorch-converted/test_ReflectionPad2d"), "testdata", [13]),
    ("GLU", CASE.format("pytorch-converted/test_GLU"), "testdata", [13, 18]),
    ("softmax_dim3", CASE.format("pytorch-converted/test_softmax_functional_dim3"), "testdata", [13]),
    ("LogSoftmax", CASE.format("pytorch-converted/test_LogSoftmax"), "testdata", [13]),
    ("PixelShuffle", CASE.format("pytorch-converted/test_PixelShuffle"), "testdata", [13]),
    ("op_clip", CASE.format("pytorch-operator/test_operator_clip"), "testdata", [13]),
    ("op_reduced_mean_keepdim", CASE.format("pytorch-operator/test_operator_reduced_mean_keepdim"), "testdata", [13, 18]),
    ("op_reduced_sum", CASE.format("pytorch-operator/test_operator_reduced_sum"), "testdata", [13]),
    ("op_index", CASE.format("pytorch-operator/test_operator_index"), "testdata", [13]),
    ("op_chunk", CASE.format("pytorch-operator/test_operator_chunk"), "testdata", [13, 18]),
    ("PReLU_2d_multiparam", CASE.format("pytorch-converted/test_PReLU_2d_multiparam"), "testdata", [13]),
    ("op_add_broadcast", CASE.format("pytorch-operator/test_operator_add_broadcast"), "testdata", [13]),
    # Newer opsets written at older ones: ops expanded, inputs back to attributes.
    ("dropout_default_old", CASE.format("onnx-node/test_dropout_default_old"), "testdata", [13]),
    ("split_1d_uneven_opset18", CASE.format("onnx-node/test_split_1d_uneven_split_opset18"), "testdata", [13, 21]),
    ("split_variable_parts_2d_opset18", CASE.format("onnx-node/test_split_variable_parts_2d_opset18"), "testdata", [13]),
    ("gelu_default_1", CASE.format("onnx-node/test_gelu_default_1"), "testdata", [13, 20]),
    ("gelu_tanh_2", CASE.format("onnx-node/test_gelu_tanh_2"), "testdata", [13]),
    ("mish", CASE.format("onnx-node/test_mish"), "testdata", [13, 17]),
    ("hardswish", CASE.format("onnx-node/test_hardswish"), "testdata", [13, 21]),
    ("batchnorm_example", CASE.format("onnx-node/test_batchnorm_example"), "testdata", [13]),
]

SOURCES = "Tests/LoupeFormatsTests/Fixtures/export/sources/{}.onnx"


def make_sources():
    """Small hand-made models at old and new opsets for the rewrites the conformance files
    do not reach (written once here, committed, re-exported by the Swift test)."""
    from onnx import TensorProto, helper, numpy_helper

    def save(name, opset, nodes, inputs, outputs, inits=()):
        graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
        model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)],
                                  producer_name="check-onnx-export")
        model.ir_version = 7 if opset >= 13 else (4 if opset >= 9 else 3)
        if opset >= 19:
            model.ir_version = 9
        onnx.checker.check_model(model) if False else None  # outputs declare no shape; onnxruntime checks them
        path = os.path.join(ROOT, SOURCES.format(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        onnx.save(model, path)
        return name

    f = TensorProto.FLOAT
    x = lambda *shape: helper.make_tensor_value_info("x", f, list(shape))
    y = lambda name="y", t=f: helper.make_tensor_value_info(name, t, None)
    const = lambda name, a: numpy_helper.from_array(np.asarray(a), name)
    made = []
    made.append(save("upsample9_nearest", 9, [helper.make_node("Upsample", ["x", "s"], ["y"], "up", mode="nearest")],
                     [x(1, 2, 3, 4)], [y()], [const("s", np.array([1, 1, 2, 3], np.float32))]))
    made.append(save("upsample7_linear", 7, [helper.make_node("Upsample", ["x"], ["y"], "up", mode="linear", scales=[1.0, 1.0, 2.0, 2.0])],
                     [x(1, 2, 3, 4)], [y()]))
    made.append(save("resize10_nearest_down", 10, [helper.make_node("Resize", ["x", "s"], ["y"], "down", mode="nearest")],
                     [x(1, 1, 6, 8)], [y()], [const("s", np.array([1, 1, 0.5, 0.5], np.float32))]))
    made.append(save("resize10_linear", 10, [helper.make_node("Resize", ["x", "s"], ["y"], "up", mode="linear")],
                     [x(1, 2, 3, 4)], [y()], [const("s", np.array([1, 1, 2, 2], np.float32))]))
    made.append(save("resize19_cubic", 19, [helper.make_node("Resize", ["x", "", "s"], ["y"], "up", mode="cubic",
                                                              coordinate_transformation_mode="half_pixel")],
                     [x(1, 2, 4, 5)], [y()], [const("s", np.array([1, 1, 1.5, 2], np.float32))]))
    made.append(save("softmax11_axis1", 11, [helper.make_node("Softmax", ["x"], ["y"], "sm", axis=1),
                                             helper.make_node("LogSoftmax", ["x"], ["z"], "lsm", axis=2)],
                     [x(2, 3, 4)], [y(), y("z")]))
    made.append(save("reduce11_slice9_squeeze", 11, [
        helper.make_node("ReduceMax", ["x"], ["m"], "max", axes=[1], keepdims=1),
        helper.make_node("Squeeze", ["m"], ["s"], "squeeze", axes=[-2]),
        helper.make_node("ReduceSum", ["x"], ["t"], "sum", axes=[2], keepdims=0),
        helper.make_node("Unsqueeze", ["t"], ["u"], "unsqueeze", axes=[0]),
        helper.make_node("Split", ["x"], ["a", "b"], "split", axis=2, split=[1, 3]),
        helper.make_node("Clip", ["b", "", "cmax"], ["c"], "clip"),
        helper.make_node("Pad", ["c", "pads"], ["y"], "pad", mode="reflect")],
        [x(2, 3, 4)], [y("s"), y("u"), y("a"), y()],
        [const("pads", np.array([0, 0, 1, 0, 0, 1], np.int64)), const("cmax", np.array(0.5, np.float32))]))
    made.append(save("slice9_dropout9", 9, [
        helper.make_node("Slice", ["x"], ["s"], "slice", starts=[1, 0], ends=[3, -1], axes=[1, 2]),
        helper.make_node("Dropout", ["s"], ["d", "mask"], "dropout", ratio=0.3),
        helper.make_node("Clip", ["d"], ["y"], "clip", min=0.1),
        helper.make_node("Pad", ["x"], ["p"], "pad", pads=[0, 1, 0, 0, 1, 2], value=1.5),
        helper.make_node("BatchNormalization", ["x", "g", "b", "mu", "var"], ["bn"], "bn", epsilon=1e-3)],
        [x(2, 3, 4)], [y(), y("p"), y("bn")],
        [const("g", np.array([1, 2, 0.5], np.float32)), const("b", np.array([0, 0.1, -1], np.float32)),
         const("mu", np.array([0.5, 0.2, 0], np.float32)), const("var", np.array([1, 4, 0.25], np.float32))]))
    made.append(save("opset18_to_attributes", 18, [
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], "mean", keepdims=0),
        helper.make_node("Pad", ["x", "pads", "v"], ["p"], "pad", mode="constant"),
        helper.make_node("Split", ["p"], ["a", "b", "c"], "split", axis=2, num_outputs=3)],
        [x(2, 3, 4)], [y("m"), y("a"), y("b"), y("c")],
        [const("axes", np.array([1], np.int64)), const("pads", np.array([0, 0, 0, 0, 0, 3], np.int64)),
         const("v", np.array(2.0, np.float32))]))
    made.append(save("castlike15", 15, [
        helper.make_node("Mul", ["x", "ten"], ["m"], "scale"),
        helper.make_node("CastLike", ["m", "like"], ["y"], "castlike")],
        [x(2, 3)], [y("y", TensorProto.INT32)],
        [const("ten", np.array(10, np.float32)), const("like", np.array([0], np.int32))]))
    return made



def feeds(model_path, kind):
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if kind == "arange":
        assert len(inputs) == 1, model_path
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in inputs[0].type.tensor_type.shape.dim]
        n = int(np.prod(dims))
        return {inputs[0].name: (np.arange(n, dtype=np.float64) / n).astype(np.float32).reshape(dims)}
    folder = os.path.join(os.path.dirname(model_path), "test_data_set_0")
    out = {}
    for k, i in enumerate(inputs):
        t = onnx.TensorProto()
        with open(os.path.join(folder, f"input_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        out[i.name] = onnx.numpy_helper.to_array(t)
    return out


def run_ort(path, inputs):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return [(o.name, v) for o, v in zip(s.get_outputs(), s.run(None, inputs))]


def check(loupe, case_id, rel, kind, opset, tmp, write):
    src = os.path.normpath(os.path.join(ROOT, rel))
    out = os.path.join(tmp, f"{case_id}-opset{opset}.onnx")
    r = subprocess.run([loupe, "convert", src, out, "--opset", str(opset), "--force"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"loupe convert failed: {r.stderr.strip()}")
    onnx.checker.check_model(out, full_check=True)
    model = onnx.load(out)
    assert model.opset_import[0].version == opset and model.producer_name == "loupe"
    for n in model.graph.node:
        assert not any(a.name.startswith("loupe.") for a in n.attribute), n.name
    inputs = feeds(src, kind)
    exported = run_ort(out, inputs)
    try:
        reference = [v for _, v in run_ort(src, inputs)]
    except Exception:  # opset-6 files onnxruntime no longer opens: use the expected outputs
        folder = os.path.join(os.path.dirname(src), "test_data_set_0")
        reference = []
        for k in range(len(exported)):
            t = onnx.TensorProto()
            with open(os.path.join(folder, f"output_{k}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            reference.append(onnx.numpy_helper.to_array(t))
    worst = 0.0
    for (_, got), want in zip(exported, reference):
        assert got.shape == want.shape, (got.shape, want.shape)
        if got.size:
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))))
    digest = hashlib.sha256(open(out, "rb").read()).hexdigest()
    size = os.path.getsize(out)
    entry = None
    if write:
        folder = f"{case_id}-opset{opset}"
        os.makedirs(os.path.join(FIXTURES, folder), exist_ok=True)
        outputs = []
        for k, (name, value) in enumerate(exported):
            fname = f"output_{k}.npy"
            np.save(os.path.join(FIXTURES, folder, fname), value)
            outputs.append({"name": name, "file": f"{folder}/{fname}"})
        entry = {"id": case_id, "model": rel, "opset": opset, "input": kind, "sha256": digest,
                 "bytes": size, "outputs": outputs}
    print(f"ok  {case_id:34s} opset {opset}: {size:>10d} bytes, checker full_check passed, "
          f"max |export - source| in onnxruntime {worst:.2e}")
    return entry, worst


def sweep(loupe, tmp):
    """Every conformance case at opsets 13 and 21; prints a tally and the cases that fail."""
    import collections
    import glob
    tally, notes = collections.Counter(), []
    for model in sorted(glob.glob(os.path.join(SHARED, "*", "test_*", "model.onnx"))):
        name = os.path.basename(os.path.dirname(model))
        for opset in (13, 21):
            out = os.path.join(tmp, "sweep.onnx")
            r = subprocess.run([loupe, "convert", model, out, "--opset", str(opset), "--force"], capture_output=True, text=True)
            if r.returncode != 0:
                tally["refused by loupe convert"] += 1
                if r.returncode != 1:
                    notes.append(f"{name} {opset}: exit {r.returncode}: {r.stderr.strip()[-200:]}")
                continue
            try:
                onnx.checker.check_model(out, full_check=True)
            except Exception as e:
                tally["checker failed"] += 1
                notes.append(f"{name} {opset}: checker: {str(e).splitlines()[0][:160]}")
                continue
            inputs = feeds(model, "testdata")
            folder = os.path.join(os.path.dirname(model), "test_data_set_0")
            try:
                s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
                wanted = {i.name for i in s.get_inputs()}
                got = s.run(None, {k: v for k, v in inputs.items() if k in wanted})
            except Exception as e:
                tally["onnxruntime error"] += 1
                notes.append(f"{name} {opset}: onnxruntime: {str(e)[:160]}")
                continue
            same = True
            for k, g in enumerate(got):
                t = onnx.TensorProto()
                with open(os.path.join(folder, f"output_{k}.pb"), "rb") as f:
                    t.ParseFromString(f.read())
                w = onnx.numpy_helper.to_array(t)
                if g.shape != w.shape:
                    same = False
                elif g.size and g.dtype.kind in "fc":
                    same = same and np.allclose(g, w, rtol=1e-3, atol=1e-5, equal_nan=True)
                elif g.size:
                    same = same and np.array_equal(g, w)
            tally["matches expected outputs" if same else "differs from expected outputs"] += 1
            if not same:
                notes.append(f"{name} {opset}: outputs differ from the expected ones")
    print("conformance sweep:", dict(tally))
    for n in notes:
        print("  " + n)


def main():
    ort.set_default_logger_severity(3)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loupe", default=os.path.join(ROOT, ".build", "release", "loupe"))
    p.add_argument("--all-light", action="store_true")
    p.add_argument("--keras", action="store_true")
    p.add_argument("--conformance", action="store_true")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="loupe-export-")
    try:
        os.makedirs(FIXTURES, exist_ok=True)
        for entry in os.listdir(FIXTURES):  # everything but PROVENANCE.md is regenerated
            path = os.path.join(FIXTURES, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif entry != "PROVENANCE.md":
                os.remove(path)
        manifest, failures = [], []
        cases = CASES + [(name, SOURCES.format(name), "arange", [13, 18, 21]) for name in make_sources()]
        for case_id, rel, kind, opsets in cases:
            for opset in opsets:
                try:
                    entry, worst = check(args.loupe, case_id, rel, kind, opset, tmp, True)
                    if worst > 1e-4:
                        failures.append(f"{case_id} opset {opset}: export differs from source by {worst:.2e}")
                    manifest.append(entry)
                except Exception as e:  # report every case, then fail
                    failures.append(f"{case_id} opset {opset}: {e}")
                    print(f"FAIL {case_id} opset {opset}: {e}")
                finally:
                    for f in os.listdir(tmp):
                        os.remove(os.path.join(tmp, f))
        if args.all_light:
            for name in ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                         "shufflenet", "squeezenet", "vgg19", "zfnet512"]:
                try:
                    check(args.loupe, f"light-{name}", LIGHT.format(name), "arange", 13, tmp, False)
                except Exception as e:
                    failures.append(f"light-{name}: {e}")
                    print(f"FAIL light-{name}: {e}")
                finally:
                    for f in os.listdir(tmp):
                        os.remove(os.path.join(tmp, f))
        if args.keras:
            keras = os.path.join(ROOT, "Tests", "LoupeFormatsTests", "Fixtures", "keras")
            for name in ["k3_sequential.keras", "k3_functional.keras", "k3_channels_first.keras", "k3_sequential.h5"]:
                stem = name.split(".")[0]
                out = os.path.join(tmp, stem + ".onnx")
                try:
                    r = subprocess.run([args.loupe, "convert", os.path.join(keras, name), out, "--opset", "17", "--force"],
                                       capture_output=True, text=True)
                    if r.returncode != 0:
                        raise RuntimeError(r.stderr.strip())
                    onnx.checker.check_model(out, full_check=True)
                    s = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
                    x = np.load(os.path.join(keras, stem + "_input.npy"))
                    got = s.run(None, {s.get_inputs()[0].name: x})
                    worst = max(float(np.max(np.abs(g - np.load(os.path.join(keras, f"{stem}_output{k}.npy")))))
                                for k, g in enumerate(got))
                    if worst > 1e-4:
                        raise RuntimeError(f"onnxruntime differs from Keras by {worst:.2e}")
                    print(f"ok  keras {name:28s} opset 17: checker full_check passed, max |onnxruntime - Keras| {worst:.2e}")
                except Exception as e:
                    failures.append(f"keras {name}: {e}")
                    print(f"FAIL keras {name}: {e}")
        if args.conformance:
            sweep(args.loupe, tmp)
        with open(os.path.join(FIXTURES, "manifest.json"), "w") as f:
            json.dump({"made_by": "Scripts/check-onnx-export.py", "onnx": onnx.__version__,
                       "onnxruntime": ort.__version__, "cases": manifest}, f, indent=1)
            f.write("\n")
        print(f"{len(manifest)} exports written to {os.path.relpath(FIXTURES, ROOT)}; {len(failures)} failures")
        for m in failures:
            print("  " + m)
        sys.exit(1 if failures else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
