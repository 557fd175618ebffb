"""Makes the VGG-style model the CAM-surgery evidence tests use:
Tests/LoupeSurgeryTests/Fixtures/shapes-vgg-head.onnx.

It is SampleModels/shapes/shapes-gap.onnx's trained convolution trunk (up to its last ReLU,
64 x 16 x 16) followed by a VGG-style head that CAM cannot use as it is:
MaxPool 2x2 -> Flatten (64 * 8 * 8) -> Gemm 4096 -> 64 -> Relu -> Gemm 64 -> 6, the head of
SampleModels/shapes/train.py's vgg_model. Only the head is trained here (the trunk's features
are computed once with onnxruntime), on the shapes "train" split drawn by make_dataset.py
with left-right and up-down mirrors; deterministic (fixed seeds, one thread).

Run from the repository root:  .venv/bin/python Scripts/make-surgery-vgg.py
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "SampleModels", "shapes"))
import make_dataset as data  # noqa: E402

GAP = os.path.join(ROOT, "SampleModels", "shapes", "shapes-gap.onnx")
OUT = os.path.join(ROOT, "Tests", "LoupeSurgeryTests", "Fixtures", "shapes-vgg-head.onnx")
FEATURES = "/12/Relu_output_0"
TRAIN = 6000


def trunk_features(sess, x_u8):
    x = x_u8.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    out = []
    for i in range(0, len(x), 200):
        out.append(sess.run([FEATURES], {"input": x[i:i + 200]})[0])
    return np.concatenate(out)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gap = onnx.load(GAP)
    # The trunk: the gap model with its last ReLU as the output.
    trunk = onnx.load(GAP)
    trunk.graph.output.pop()
    trunk.graph.output.append(helper.make_tensor_value_info(FEATURES, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(trunk.SerializeToString(), providers=["CPUExecutionProvider"])

    x, y, _ = data.generate("train", TRAIN)
    feats = [trunk_features(sess, x), trunk_features(sess, x[:, :, ::-1]), trunk_features(sess, x[:, ::-1, :])]
    f = torch.from_numpy(np.concatenate(feats))
    labels = torch.from_numpy(np.concatenate([y, y, y])).long()
    pool = nn.MaxPool2d(2)
    with torch.no_grad():
        f = pool(f).flatten(1)
    head = nn.Sequential(nn.Linear(64 * 8 * 8, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 6))
    opt = torch.optim.Adam(head.parameters(), 1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    for ep in range(15):
        head.train()
        perm = torch.randperm(len(f), generator=g)
        for i in range(0, len(f), 128):
            idx = perm[i:i + 128]
            loss = nn.functional.cross_entropy(head(f[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()

    # The ONNX model: gap's nodes up to FEATURES, then the head.
    g_ = gap.graph
    keep, seen = [], False
    for n in g_.node:
        if not seen:
            keep.append(n)
        if FEATURES in n.output:
            seen = True
    used = {i for n in keep for i in n.input}
    inits = [t for t in g_.initializer if t.name in used]
    w1, b1 = head[0].weight.detach().numpy(), head[0].bias.detach().numpy()
    w2, b2 = head[3].weight.detach().numpy(), head[3].bias.detach().numpy()
    inits += [numpy_helper.from_array(a.astype(np.float32), n) for a, n in
              [(w1, "head.fc1.weight"), (b1, "head.fc1.bias"), (w2, "head.fc2.weight"), (b2, "head.fc2.bias")]]
    nodes = keep + [
        helper.make_node("MaxPool", [FEATURES], ["head/pool"], name="/head/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["head/pool"], ["head/flat"], name="/head/Flatten", axis=1),
        helper.make_node("Gemm", ["head/flat", "head.fc1.weight", "head.fc1.bias"], ["head/fc1"], name="/head/fc1/Gemm", transB=1),
        helper.make_node("Relu", ["head/fc1"], ["head/relu"], name="/head/Relu"),
        helper.make_node("Gemm", ["head/relu", "head.fc2.weight", "head.fc2.bias"], ["logits"], name="/head/fc2/Gemm", transB=1),
    ]
    graph = helper.make_graph(nodes, "shapes-vgg-head", list(g_.input), list(g_.output), inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make-surgery-vgg.py")
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, OUT)

    # Test accuracy of both models on the committed test set.
    ann = json.load(open(os.path.join(ROOT, "SampleModels", "shapes", "test", "annotations.json")))
    from PIL import Image
    xt = np.stack([np.asarray(Image.open(os.path.join(ROOT, "SampleModels", "shapes", "test", r["file"])).convert("RGB"))
                   for r in ann["images"]]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    yt = np.array([r["label"] for r in ann["images"]])
    for p in (GAP, OUT):
        s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        acc = (s.run(None, {"input": xt})[0].argmax(1) == yt).mean()
        print(f"{os.path.relpath(p, ROOT)}: test accuracy {acc:.4f} ({len(yt)} images)")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
