"""Writes Tests/LoupeGraphTests/Fixtures/conformance-errata: corrected expected outputs for
conformance cases whose shipped data (ONNX 1.17.0) later ONNX releases and onnxruntime
disagree with. Each is kept only when onnxruntime and onnx's current reference
implementation agree with each other (to 1e-6) and differ from the shipped output.

- test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True: the 1.17
  data divides by the full kernel volume at windows that ceil_mode adds past the padding;
  onnxruntime (PRs 16752, 29629) and onnx.reference now leave those positions out.

Run: .venv/bin/python Scripts/make-conformance-errata.py
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
conf = os.path.join(os.path.dirname(root), "shared", "conformance")
out = os.path.join(root, "Tests", "LoupeGraphTests", "Fixtures", "conformance-errata")
cases = ["onnx-node/test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True"]

for case in cases:
    d = os.path.join(conf, case)
    m = onnx.load(os.path.join(d, "model.onnx"))
    ds = os.path.join(d, "test_data_set_0")
    names = [i.name for i in m.graph.input]
    feeds = {n: numpy_helper.to_array(onnx.load_tensor(os.path.join(ds, f"input_{i}.pb"))) for i, n in enumerate(names)}
    shipped = numpy_helper.to_array(onnx.load_tensor(os.path.join(ds, "output_0.pb")))
    a = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    b = ReferenceEvaluator(m).run(None, feeds)[0]
    agree, differ = np.abs(a - b).max(), np.abs(a - shipped).max()
    print(case, f"ort vs onnx.reference {agree:.3g}, vs shipped {differ:.3g}")
    if agree > 1e-6 or differ < 1e-4:
        sys.exit(f"{case}: not an erratum (agree {agree}, differ {differ})")
    target = os.path.join(out, case)
    os.makedirs(target, exist_ok=True)
    t = numpy_helper.from_array(a.astype(shipped.dtype), "y")
    with open(os.path.join(target, "output_0.pb"), "wb") as f:
        f.write(t.SerializeToString())
print("wrote", out)
