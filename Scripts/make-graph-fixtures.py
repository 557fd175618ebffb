"""Writes Tests/LoupeGraphTests/Fixtures: small models and reference outputs for the
importer and graph-pass tests (no Python runs in the test suite).

- shape-chain.onnx: a PyTorch export whose `x.view(x.size(0), -1)` becomes the
  Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain; dynamic batch. Reference outputs
  from onnxruntime for batch 1 and 3.
- external/: the same kind of model saved with its weights in an external data file, and
  escape.onnx whose initializer points outside its folder.
- legacy-opset6.onnx: opset 6 (attributes that later became inputs: Clip min/max, Pad pads,
  Reshape's opset-1 `shape` attribute is not in opset 6, Upsample scales attribute of
  opset 7 is not either; Sum/Add legacy broadcast) with a NumPy reference, since
  onnxruntime no longer runs opsets below 7.
- typed-fields.onnx: initializers stored in typed fields (float_data, int64_data,
  int32_data for float16) rather than raw_data.

Run: .venv/bin/python Scripts/make-graph-fixtures.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "LoupeGraphTests", "Fixtures")
os.makedirs(os.path.join(out, "external"), exist_ok=True)
torch.manual_seed(0)


class ViewNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 3 * 3, 6)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(y.view(y.size(0), -1))


net = ViewNet().eval()
path = os.path.join(out, "shape-chain.onnx")
torch.onnx.export(net, torch.rand(1, 3, 8, 8), path, opset_version=13, input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, dynamo=False,
                  do_constant_folding=False)
ops = [n.op_type for n in onnx.load(path).graph.node]
assert "Shape" in ops and "Gather" in ops and "Concat" in ops, ops
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
for b in (1, 3):
    x = rng.random((b, 3, 8, 8), dtype=np.float32)
    np.save(os.path.join(out, f"shape-chain-x{b}.npy"), x)
    np.save(os.path.join(out, f"shape-chain-y{b}.npy"), sess.run(None, {"x": x})[0])

# External data.
m = onnx.load(path)
onnx.save_model(m, os.path.join(out, "external", "model.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
bad = onnx.load(os.path.join(out, "external", "model.onnx"), load_external_data=False)
for t in bad.graph.initializer:
    for e in t.external_data:
        if e.key == "location":
            e.value = "../../shape-chain-x1.npy"
onnx.save_model(bad, os.path.join(out, "external", "escape.onnx"))

# Opset 6 with attributes that later became inputs.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3])
b = numpy_helper.from_array(np.array([0.5, -1.0, 2.0], dtype=np.float32), "b")
nodes = [
    helper.make_node("Add", ["x", "b"], ["a"], name="add_legacy", broadcast=1, axis=2),
    helper.make_node("Clip", ["a"], ["c"], name="clip_attr", min=-0.5, max=1.5),
    helper.make_node("Pad", ["c"], ["p"], name="pad_attr", pads=[0, 0, 1, 0, 0, 2], mode="constant", value=9.0),
    helper.make_node("Softmax", ["p"], ["y"], name="softmax_2d", axis=1),
]
g = helper.make_graph(nodes, "legacy", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6])], [b])
legacy = helper.make_model(g, opset_imports=[helper.make_opsetid("", 6)], ir_version=3)
onnx.save(legacy, os.path.join(out, "legacy-opset6.onnx"))
xv = np.arange(6, dtype=np.float32).reshape(1, 2, 3) / 3 - 1
a = xv + np.array([0.5, -1.0, 2.0], dtype=np.float32)
c = np.clip(a, -0.5, 1.5)
p = np.pad(c, [(0, 0), (0, 0), (1, 2)], constant_values=9.0)
flat = p.reshape(1, -1)  # opset < 13: softmax over everything after axis 1, coerced to 2-D
e = np.exp(flat - flat.max(axis=1, keepdims=True))
y = (e / e.sum(axis=1, keepdims=True)).reshape(p.shape)
np.save(os.path.join(out, "legacy-opset6-x.npy"), xv)
np.save(os.path.join(out, "legacy-opset6-y.npy"), y.astype(np.float32))

# Typed fields instead of raw_data.
w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0])
h = helper.make_tensor("h", TensorProto.FLOAT16, [2], np.array([0.5, -2.0], dtype=np.float16))
assert list(h.int32_data) == list(np.array([0.5, -2.0], dtype=np.float16).view(np.uint16)), h
shape = helper.make_tensor("s", TensorProto.INT64, [2], [1, 4])
nodes = [
    helper.make_node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["x", "w"], ["m"]),
    helper.make_node("Add", ["m", "hf"], ["a"]),
    helper.make_node("Reshape", ["a", "s"], ["y"]),
]
g = helper.make_graph(nodes, "typed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w, h, shape])
typed = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
assert not any(t.raw_data for t in typed.graph.initializer)
onnx.save(typed, os.path.join(out, "typed-fields.onnx"))
xt = np.array([[1, -1], [0.5, 2]], dtype=np.float32)
ref = ort.InferenceSession(os.path.join(out, "typed-fields.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": xt})[0]
np.save(os.path.join(out, "typed-fields-x.npy"), xt)
np.save(os.path.join(out, "typed-fields-y.npy"), ref)
print("wrote", out)
