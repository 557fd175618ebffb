"""Writes Tests/loupeTests/Fixtures: reference outputs from onnxruntime for the bundled
sample model, read by the CLI tests (no Python runs in the test suite).

Run: .venv/bin/python Scripts/make-cli-fixtures.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image
from onnx import helper, TensorProto

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "loupeTests", "Fixtures")
os.makedirs(out, exist_ok=True)
model = os.path.join(root, "SampleModels", "tiny-cnn", "tiny-cnn.onnx")
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])

# 1. A random batch of 2, for `loupe run`.
rng = np.random.default_rng(1)
x = rng.random((2, 3, 64, 64), dtype=np.float32)
np.save(os.path.join(out, "tiny-cnn-input.npy"), x)
np.save(os.path.join(out, "tiny-cnn-logits-ort.npy"), sess.run(None, {"input": x})[0])

# 2. The disc image with `--preprocess none` (values in [0, 1], no resize at 64x64).
img = np.asarray(Image.open(os.path.join(root, "SampleModels", "tiny-cnn", "images", "disc.png")).convert("RGB"))
t = (img.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
np.save(os.path.join(out, "disc-logits-ort.npy"), sess.run(None, {"input": t})[0])

# 3. A model with an op Loupe does not know (custom domain), for the error path.
node = helper.make_node("FancyOp", ["x"], ["y"], name="my_fancy_node", domain="com.example")
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
onnx.save(m, os.path.join(out, "unknown-op.onnx"))
print("wrote", out)
