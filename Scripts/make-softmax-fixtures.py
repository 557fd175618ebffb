#!/usr/bin/env python3
"""Writes Tests/loupeTests/Fixtures/softmax/: tiny ONNX classifiers (about 1 KB each) whose
class scores end in a Softmax followed by value-preserving ops, one whose output is a
probability without any Softmax op, and heads that are or are not CAM-ready, with
onnxruntime's outputs on one fixed input. Read by the Swift tests (issue #13, points 4 and 5).

Run: .venv/bin/python Scripts/make-softmax-fixtures.py   (deterministic; a second run writes
the same bytes)

Every model shares one trunk and one linear head:

    input [N, 3, 8, 8] -> Conv 3->4 3x3 pad 1 -> Relu -> GlobalAveragePool -> Flatten -> Gemm 4->5 -> logits [N, 5]

The Gemm bias is chosen so that on `input.npy` the logits are exactly LOGITS below: class 1
leads by 14.5, so the softmax saturates (p_1 = 1 - 7.5e-7 in float64).
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "loupeTests", "Fixtures", "softmax")
LOGITS = np.array([2.0, 16.5, 1.0, -1.0, 0.5])
CLASSES, K = 5, 4

rng = np.random.default_rng(13)
x = rng.random((1, 3, 8, 8), dtype=np.float32)
conv_w = (rng.standard_normal((K, 3, 3, 3)) * 0.5).astype(np.float32)
conv_b = rng.uniform(-0.1, 0.1, K).astype(np.float32)
fc_w = (rng.standard_normal((CLASSES, K)) * 2.0).astype(np.float32)
fc_w[1] = np.abs(fc_w[1])  # class 1 (the top one) weighs every channel positively: its CAM is not all zero


def features(x):
    """Relu(Conv(x)) [N, K, 8, 8] in float64, for the bias that gives LOGITS."""
    n, c, h, w = x.shape
    p = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, K, h, w))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,kc->nkhw", p[:, :, i:i + h, j:j + w], conv_w[:, :, i, j].astype(np.float64))
    return np.maximum(out + conv_b[None, :, None, None], 0)


pooled = features(x).mean(axis=(2, 3))[0]
fc_b = (LOGITS - fc_w.astype(np.float64) @ pooled).astype(np.float32)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def trunk():
    """Conv -> Relu: the spatial feature map 'features' [N, 4, 8, 8]."""
    nodes = [helper.make_node("Conv", ["input", "conv.w", "conv.b"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["features"], name="relu")]
    return nodes, [init("conv.w", conv_w), init("conv.b", conv_b)]


def gemm(src):
    return [helper.make_node("Gemm", [src, "fc.w", "fc.b"], ["logits"], name="fc", transB=1)], \
        [init("fc.w", fc_w), init("fc.b", fc_b)]


def gap_head():
    return [helper.make_node("GlobalAveragePool", ["features"], ["pooled"], name="gap"),
            helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1)]


def save(name, nodes, inits, output, out_shape):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, out_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make-softmax-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0]
    np.save(os.path.join(OUT, name + "-ort.npy"), y)
    return y


def after_softmax(ops):
    """Nodes and initializers for Softmax(logits) followed by `ops` (value-preserving)."""
    nodes = [helper.make_node("Softmax", ["logits"], ["s0"], name="softmax", axis=-1)]
    inits = []
    for i, op in enumerate(ops):
        a, b = f"s{i}", f"s{i + 1}"
        if op == "Reshape":
            inits.append(init(f"shape{i}", np.array([-1, CLASSES], dtype=np.int64)))
            nodes.append(helper.make_node("Reshape", [a, f"shape{i}"], [b], name=f"reshape{i}"))
        elif op == "Unsqueeze":
            inits.append(init(f"axes{i}", np.array([2], dtype=np.int64)))
            nodes.append(helper.make_node("Unsqueeze", [a, f"axes{i}"], [b], name=f"unsqueeze{i}"))
        elif op == "Squeeze":
            inits.append(init(f"axes{i}", np.array([2], dtype=np.int64)))
            nodes.append(helper.make_node("Squeeze", [a, f"axes{i}"], [b], name=f"squeeze{i}"))
        elif op == "Flatten":
            nodes.append(helper.make_node("Flatten", [a], [b], name=f"flatten{i}", axis=1))
        elif op == "Cast":
            nodes.append(helper.make_node("Cast", [a], [b], name=f"cast{i}", to=TensorProto.FLOAT))
        else:  # Identity, Dropout
            nodes.append(helper.make_node(op, [a], [b], name=f"{op.lower()}{i}"))
    return nodes, inits, f"s{len(ops)}"


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith((".npy", ".onnx")):
            os.remove(os.path.join(OUT, f))
    np.save(os.path.join(OUT, "input.npy"), x)
    t_nodes, t_inits = trunk()
    h_nodes = gap_head()
    g_nodes, g_inits = gemm("flat")
    base_nodes, base_inits = t_nodes + h_nodes + g_nodes, t_inits + g_inits

    logits = save("logits", base_nodes, base_inits, "logits", ["N", CLASSES])
    assert np.allclose(logits[0], LOGITS, atol=1e-4), logits

    chains = {
        "reshape": ["Reshape"],
        "identity": ["Identity"],
        "flatten": ["Flatten"],
        "dropout": ["Dropout"],
        "cast": ["Cast"],
        "unsqueeze": ["Unsqueeze"],
        "unsqueeze-squeeze": ["Unsqueeze", "Squeeze"],
        "chain": ["Unsqueeze", "Dropout", "Cast", "Squeeze", "Identity", "Flatten", "Reshape"],
    }
    for name, ops in chains.items():
        s_nodes, s_inits, out = after_softmax(ops)
        shape = ["N", CLASSES, 1] if ops[-1] == "Unsqueeze" else ["N", CLASSES]
        y = save("softmax-" + name, base_nodes + s_nodes, base_inits + s_inits, out, shape)
        assert np.allclose(y.reshape(1, CLASSES).sum(), 1, atol=1e-6)

    # Probabilities without a Softmax op: exp(z) / sum(exp(z)). Logits scaled down by 1/4
    # first so that no probability rounds to 0 or 1.
    p_nodes = [helper.make_node("Mul", ["logits", "quarter"], ["zq"], name="scale"),
               helper.make_node("Exp", ["zq"], ["e"], name="exp"),
               helper.make_node("ReduceSum", ["e", "axes"], ["total"], name="sum", keepdims=1),
               helper.make_node("Div", ["e", "total"], ["probs"], name="div")]
    p_inits = [init("quarter", np.array(0.25, dtype=np.float32)), init("axes", np.array([1], dtype=np.int64))]
    save("probabilities", base_nodes + p_nodes, base_inits + p_inits, "probs", ["N", CLASSES])

    # CAM-ready or not: the same trunk with different heads, each ending in Softmax.
    sm = [helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1)]
    # GlobalAveragePool -> Flatten -> Dropout -> Gemm (an ONNX Dropout node).
    g2_nodes, _ = gemm("dropped")
    save("cam-gap-dropout-dense",
         t_nodes + h_nodes + [helper.make_node("Dropout", ["flat"], ["dropped"], name="dropout")] + g2_nodes + sm,
         base_inits, "probs", ["N", CLASSES])
    # The graph Loupe's Keras importer makes of GlobalAveragePooling2D -> Dropout -> Dense(softmax):
    # GlobalAveragePool -> Flatten -> Identity -> Gemm -> Softmax.
    save("cam-gap-identity-dense",
         t_nodes + h_nodes + [helper.make_node("Identity", ["flat"], ["dropped"], name="dropout")] + g2_nodes + sm,
         base_inits, "probs", ["N", CLASSES])
    # An AveragePool covering the whole 8x8 map instead of GlobalAveragePool.
    save("cam-avgpool-dense",
         t_nodes + [helper.make_node("AveragePool", ["features"], ["pooled"], name="avgpool", kernel_shape=[8, 8]),
                    helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1)] + g_nodes + sm,
         base_inits, "probs", ["N", CLASSES])
    # Not CAM-ready: a 2x2 max pool (a spatial map, not a global pooling), then Flatten -> Gemm.
    flat_w = np.repeat(fc_w, 16, axis=1) / 16
    save("cam-maxpool-dense",
         t_nodes + [helper.make_node("MaxPool", ["features"], ["pooled"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
                    helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
                    helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1)] + sm,
         t_inits + [init("fc.w", flat_w.astype(np.float32)), init("fc.b", fc_b)], "probs", ["N", CLASSES])
    print("wrote", OUT, sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
