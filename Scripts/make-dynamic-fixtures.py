"""Writes Tests/loupeTests/Fixtures/dynamic: the bundled tiny-cnn sample model with its
input and output shapes declared in the ways exporters mark dynamic sizes, for the tests of
issue #13 (dynamic dimensions). Weights and nodes are the original's; only the declared
shapes differ. All variants share one external weights file, so each .onnx is ~1 KB.

  neg1.onnx          batch written as dim_value -1 (Paddle2ONNX style), plus value_info
                     entries for intermediates with -1 in batch and spatial positions
  zero.onnx          batch written as dim_value 0 (some TensorFlow exporters), plus
                     value_info entries with 0
  nhw.onnx           input [N, 3, H, W] with dim_param (fully dynamic spatial size)
  neg1-spatial.onnx  input [-1, 3, -1, -1], output [-1, 5] (Paddle2ONNX, dynamic size)
  neg2.onnx          input batch written as -2: not a dynamic size, an invalid file
  flatten-head.onnx  a tiny synthetic model (not from tiny-cnn) that declares [N, 3, H, W]
                     but flattens into a Gemm sized for 4x4: it runs at one size only, so
                     its shapes cannot be worked out without that size
  empty.pb           a TensorProto of shape [0, 3]: in a tensor, 0 is a real (empty) size

Each variant is checked with onnxruntime: it runs on the CLI tests' input batch and gives
exactly the original's output; the two spatially dynamic ones also run at 40x48 and agree.

Run: .venv/bin/python Scripts/make-dynamic-fixtures.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import external_data_helper, helper, numpy_helper

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "Tests", "loupeTests", "Fixtures")
out = os.path.join(fixtures, "dynamic")
os.makedirs(out, exist_ok=True)
original = os.path.join(root, "SampleModels", "tiny-cnn", "tiny-cnn.onnx")
weights = "tiny-cnn.weights"


def set_dims(value_info, dims):
    """Rewrites a value info's shape: ints become dim_value (also -1 and 0), strings dim_param."""
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d


def intermediate_infos(model, fill):
    """value_info entries for every Conv/Relu/MaxPool output: [fill, C, fill, fill]."""
    inferred = onnx.shape_inference.infer_shapes(model).graph.value_info
    infos = []
    for v in inferred:
        dims = [d.dim_value for d in v.type.tensor_type.shape.dim]
        if len(dims) == 4:
            vi = onnx.ValueInfoProto()
            vi.CopyFrom(v)
            set_dims(vi, [fill, dims[1], fill, fill])
            infos.append(vi)
    return infos


def variant(name, input_dims, output_dims, value_fill=None):
    m = onnx.load(original)
    set_dims(m.graph.input[0], input_dims)
    set_dims(m.graph.output[0], output_dims)
    if value_fill is not None:
        m.graph.value_info.extend(intermediate_infos(onnx.load(original), value_fill))
    m.producer_name = "make-dynamic-fixtures.py"
    external_data_helper.convert_model_to_external_data(
        m, all_tensors_to_one_file=True, location=weights, size_threshold=0)
    path = os.path.join(out, name)
    # onnx appends to an existing data file: start afresh, so that the shared file holds
    # the weights once (every variant writes the same bytes at the same offsets).
    if os.path.exists(os.path.join(out, weights)):
        os.remove(os.path.join(out, weights))
    onnx.save(m, path)
    return path


def run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


x = np.load(os.path.join(fixtures, "tiny-cnn-input.npy"))
small = np.random.default_rng(13).random((1, 3, 40, 48), dtype=np.float32)
want = run(original, x)

paths = {
    "neg1.onnx": variant("neg1.onnx", [-1, 3, 64, 64], [-1, 5], value_fill=-1),
    "zero.onnx": variant("zero.onnx", [0, 3, 64, 64], [0, 5], value_fill=0),
    "nhw.onnx": variant("nhw.onnx", ["N", 3, "H", "W"], ["N", 5]),
    "neg1-spatial.onnx": variant("neg1-spatial.onnx", [-1, 3, -1, -1], [-1, 5]),
}
for name, path in paths.items():
    if name == "zero.onnx":
        # onnxruntime takes dim_value 0 on a graph input literally (a feed of batch 2 is
        # refused: "Got: 2 Expected: 0"); Loupe reads it as a dynamic size, like -1. Check
        # here that the graph and weights are the original's and that onnxruntime's
        # verdict is still that one, so the note in PROVENANCE.md stays true.
        z, o = onnx.load(path), onnx.load(original)
        assert [n.SerializeToString() for n in z.graph.node] == [n.SerializeToString() for n in o.graph.node]
        try:
            run(path, x)
            raise AssertionError("onnxruntime now accepts batch 2 on a dim_value 0 input; update PROVENANCE.md")
        except ort.capi.onnxruntime_pybind11_state.InvalidArgument as e:
            assert "Expected: 0" in str(e), e
        print(f"{name}: {os.path.getsize(path)} bytes, nodes equal the original's; onnxruntime refuses batch 2 on it")
        continue
    got = run(path, x)
    assert np.array_equal(got, want), f"{name}: onnxruntime output differs from the original"
    print(f"{name}: {os.path.getsize(path)} bytes, onnxruntime output equals the original's")
a, b = run(paths["nhw.onnx"], small), run(paths["neg1-spatial.onnx"], small)
assert a.shape == (1, 5) and np.array_equal(a, b), "the dynamic variants disagree at 40x48"
print("nhw.onnx and neg1-spatial.onnx: run at 1x3x40x48 in onnxruntime and agree")
paths["neg2.onnx"] = variant("neg2.onnx", [-2, 3, 64, 64], [-2, 5])
assert os.path.getsize(os.path.join(out, weights)) == sum(
    len(t.raw_data) for t in onnx.load(original).graph.initializer), "the weights file holds more than one copy"

# The flatten head: Conv 1x1 (3 -> 2), Flatten, Gemm (2*4*4 -> 3); weights inline (~600 bytes).
rng = np.random.default_rng(7)
init = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
        for n, s in [("w", (2, 3, 1, 1)), ("b", (2,)), ("fc_w", (3, 32)), ("fc_b", (3,))]]
nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
         helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
         helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1)]
graph = helper.make_graph(nodes, "flatten-head",
                          [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 3])], init)
fh = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make-dynamic-fixtures.py")
fh.ir_version = 8
onnx.checker.check_model(fh)
path = os.path.join(out, "flatten-head.onnx")
onnx.save(fh, path)
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
assert s.run(None, {"x": rng.random((1, 3, 4, 4), dtype=np.float32)})[0].shape == (1, 3)
try:
    s.run(None, {"x": rng.random((1, 3, 8, 8), dtype=np.float32)})
    raise AssertionError("flatten-head.onnx ran at 8x8")
except ort.capi.onnxruntime_pybind11_state.InvalidArgument:
    pass
print(f"flatten-head.onnx: {os.path.getsize(path)} bytes, onnxruntime runs it at 4x4 and fails at 8x8")
with open(os.path.join(out, "empty.pb"), "wb") as f:
    f.write(numpy_helper.from_array(np.zeros((0, 3), dtype=np.float32), "empty").SerializeToString())
print("wrote", out)
