"""Writes Tests/LoupeGraphTests/Fixtures/receptive-field: torchvision's ResNet-18 and VGG-16
architectures as weight-free ONNX graphs, for the receptive-field known answers.

A receptive field depends on the graph's structure and shapes only, so the weights (45 and
528 MB) are left out: each initializer becomes a graph input with its declared shape, and
every Conv gets an explicit `kernel_shape`. The files stay a few tens of KB.

Exported with random weights (weights=None), batch 1, 224x224, opset 17, the TorchScript
exporter (dynamo=False).

Run: /work/main/.venv/bin/python Scripts/make-receptive-field-fixtures.py
"""
import io
import os

import onnx
import torch
import torchvision
from onnx import helper

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests", "LoupeGraphTests", "Fixtures", "receptive-field")
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)


def weight_free(model: onnx.ModelProto) -> onnx.ModelProto:
    g = model.graph
    shapes = {t.name: list(t.dims) for t in g.initializer}
    types = {t.name: t.data_type for t in g.initializer}
    for n in g.node:
        n.doc_string = ""
        if n.op_type == "Conv" and not any(a.name == "kernel_shape" for a in n.attribute):
            n.attribute.append(helper.make_attribute("kernel_shape", shapes[n.input[1]][2:]))
    declared = {i.name for i in g.input}
    for name, dims in shapes.items():
        if name not in declared:
            g.input.append(helper.make_tensor_value_info(name, types[name], dims))
    del g.initializer[:]
    del g.value_info[:]
    onnx.checker.check_model(model)
    return model


for name, make in [("resnet18", torchvision.models.resnet18), ("vgg16", torchvision.models.vgg16)]:
    net = make(weights=None).eval()
    buf = io.BytesIO()
    torch.onnx.export(net, torch.randn(1, 3, 224, 224), buf, opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["logits"])
    m = weight_free(onnx.load_from_string(buf.getvalue()))
    path = os.path.join(out, f"{name}-structure.onnx")
    onnx.save(m, path)
    print(path, os.path.getsize(path), "bytes")
