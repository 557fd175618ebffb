"""Writes Tests/LoupeExplainTests/Fixtures: reference explanation maps computed with
PyTorch + Captum + pytorch-grad-cam on four small CNNs exported to ONNX, read by the
LoupeExplain tests (no Python runs in the test suite).

Run: .venv/bin/python Scripts/make-explain-fixtures.py

What it does, per model (see Fixtures/PROVENANCE.md for the conventions):
  1. builds the model with torch.manual_seed(0) (random init), calibrates BatchNorm
     running statistics on random inputs (models with BN only), switches to eval mode;
  2. exports it with torch.onnx.export(opset 17, dynamo=False, do_constant_folding=True),
     which folds every BatchNorm into the preceding Conv;
  3. builds the *reference* torch model: a copy with each (Conv2d, BatchNorm2d) pair
     folded, whose Conv weights and biases are then overwritten with the exported
     ONNX initializers, so the reference runs the same math as the ONNX graph;
  4. checks onnxruntime's logits and the named layer's activation against that model;
  5. computes saliency, deconvnet, guided backprop, Grad-CAM (three ways, checked
     against each other), guided Grad-CAM (Captum nearest + our bilinear), CAM,
     occlusion and the layer activation, and writes .npy files and manifest.json.
"""
import copy
import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch.nn.utils.fusion import fuse_conv_bn_eval

import captum
from captum.attr import (Deconvolution, GuidedBackprop, GuidedGradCam, LayerGradCam,
                         Occlusion, Saliency)
import pytorch_grad_cam
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from importlib.metadata import version as _pkg_version

warnings.filterwarnings("ignore")
torch.set_num_threads(1)  # deterministic reductions; the machine is shared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "LoupeExplainTests", "Fixtures")
# A photo plus a little seeded Gaussian noise: every pixel value distinct, so no max-pool
# window ties and no gradient hinges on which of two equal values a kernel's summation order
# makes larger (a flat synthetic image gave thousands of exactly tied windows, and maps that
# moved by 10 % between OpenBLAS kernel families; see Fixtures/PROVENANCE.md).
IMAGE = os.path.join(ROOT, "SampleModels", "photos", "chelsea.jpg")
NOISE_STD, NOISE_SEED = 0.05, 7
H = W = 96
OPSET = 17
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
EXPLICIT_TARGET = 3
OCC_WINDOW, OCC_STRIDE = 16, 8
MAX_TOTAL_BYTES = 20_000_000


# ----------------------------------------------------------------------------- models

def he_init(model):
    """He-normal weights (fan_in, ReLU gain) and U(-0.1, 0.1) biases, so activations, logits
    and gradients stay O(1) through the small nets (PyTorch's default init shrinks them)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__(nn.Conv2d(cin, cout, k, stride, padding, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """conv-bn-relu, conv-bn, + identity or (1x1 conv-bn) downsample, relu.
    Each ReLU is its own module (Captum's guided rules hook nn.ReLU modules)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = ConvBN(cin, cout, 3, stride, 1)
        self.relu1 = nn.ReLU()
        self.c2 = ConvBN(cout, cout, 3, 1, 1)
        self.downsample = ConvBN(cin, cout, 1, stride, 0) if (stride != 1 or cin != cout) else None
        self.relu2 = nn.ReLU()

    def forward(self, x):
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu2(self.c2(self.relu1(self.c1(x))) + skip)


class TinyResNet(nn.Module):
    """CAM-ready: stem, maxpool, two BasicBlocks (the second downsamples), GAP, one Linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2, 1)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, num_classes)
        he_init(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.stem(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TinyVGG(nn.Module):
    """(conv-relu-maxpool) x3, Flatten, Linear-ReLU-Linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(16 * (H // 8) * (W // 8), 32), nn.ReLU(), nn.Linear(32, num_classes))
        he_init(self)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


# name -> (constructor, Grad-CAM/activation layer module path, CAM spec or None, note)
MODELS = {
    "squeezenet1_1": dict(
        make=lambda: torchvision.models.squeezenet1_1(weights=None),
        layer="features.12",
        cam=dict(kind="conv1x1-relu-gap", classifier="classifier.1"),
        note="torchvision squeezenet1_1; head = Dropout, Conv1x1(512->1000), ReLU, "
             "GlobalAveragePool, Flatten (no Linear); logits are >= 0."),
    "mobilenet_v3_small": dict(
        make=lambda: torchvision.models.mobilenet_v3_small(weights=None),
        layer="features.12",
        cam=None,
        note="torchvision mobilenet_v3_small; Hardswish, SE blocks (ReLU + Hardsigmoid), "
             "head = GAP, Linear, Hardswish, Dropout, Linear."),
    "tiny-resnet": dict(
        make=lambda: TinyResNet(10),
        layer="layer2",
        cam=dict(kind="gap-linear", classifier="fc"),
        note="defined in this script: ConvBN-ReLU stem (s2), MaxPool, BasicBlock(16), "
             "BasicBlock(32, s2, 1x1 downsample), GAP, Linear(32->10)."),
    "tiny-vgg": dict(
        make=lambda: TinyVGG(10),
        layer="features.7",
        cam=None,
        note="defined in this script: (Conv3x3-ReLU-MaxPool2) x3 (8, 16, 16 channels), Flatten, "
             "Linear(2304->32)-ReLU-Linear(32->10); "
             "layer = the ReLU after the last conv."),
}


def module_at(model, path):
    m = model
    for part in path.split("."):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


def no_inplace(model):
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False


def calibrate_bn(model):
    """Cumulative running mean/var over 8 batches of N(0,1) inputs (train mode), so the
    folded convs get non-trivial scales and biases. Returns whether the model has BN."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return False
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    g = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(8):
            model(torch.randn(8, 3, H, W, generator=g))
    return True


def fold_bn(model):
    """Copy of `model` with every (Conv2d, BatchNorm2d) pair that sits consecutively in an
    nn.Sequential folded into the Conv (BN replaced by Identity). Returns (copy, folded conv paths)."""
    folded = copy.deepcopy(model).eval()
    paths = []
    for name, m in folded.named_modules():
        if isinstance(m, nn.Sequential):
            for i in range(len(m) - 1):
                if isinstance(m[i], nn.Conv2d) and isinstance(m[i + 1], nn.BatchNorm2d):
                    m[i] = fuse_conv_bn_eval(m[i], m[i + 1])
                    m[i + 1] = nn.Identity()
                    paths.append(f"{name}.{i}" if name else str(i))
    left = [n for n, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise SystemExit(f"BatchNorm not folded: {left}")
    return folded, paths


# ----------------------------------------------------------------------------- ONNX helpers

def scope_path(node_name):
    """'/features/features.1/block/block.0/block.0.0/Conv' -> 'features.1.block.0.0'.
    TorchScript export names a node by its module scopes; each component is a child's
    attribute name, prefixed by the previous component when the parent is a container."""
    path, last = "", ""
    for comp in node_name.split("/")[1:-1]:
        if last and comp.startswith(last + "."):
            path += comp[len(last):]
        else:
            path = f"{path}.{comp}" if path else comp
        last = comp
    return path


def in_scope(node_path, module_path):
    return node_path == module_path or node_path.startswith(module_path + ".")


def export(model, path):
    x = torch.zeros(1, 3, H, W)
    torch.onnx.export(model, (x,), path, opset_version=OPSET, dynamo=False,
                      do_constant_folding=True, input_names=["input"], output_names=["logits"])
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def copy_onnx_conv_weights(ref, onnx_model):
    """Overwrite every Conv2d of `ref` with the exported initializers (bitwise). Returns the
    largest |fold_bn - onnx| weight difference seen (how far torch's folding was from the exporter's)."""
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx_model.graph.initializer}
    # The exporter de-duplicates equal initializers (e.g. all-zero biases) and re-creates the
    # other names with Identity nodes: follow those.
    for n in onnx_model.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    by_path = {}
    for n in onnx_model.graph.node:
        if n.op_type == "Conv":
            by_path.setdefault(scope_path(n.name), []).append(n)
    max_diff = 0.0
    for name, m in ref.named_modules():
        if not isinstance(m, nn.Conv2d):
            continue
        nodes = by_path.get(name, [])
        if len(nodes) != 1:
            raise SystemExit(f"conv '{name}': expected one ONNX Conv node in its scope, found "
                             f"{[n.name for n in nodes]}")
        node = nodes[0]
        w = inits[node.input[1]]
        if tuple(w.shape) != tuple(m.weight.shape):
            raise SystemExit(f"conv '{name}': ONNX weight {w.shape} vs torch {tuple(m.weight.shape)}")
        max_diff = max(max_diff, float(np.abs(w - m.weight.detach().numpy()).max()))
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(w.copy()))
            if len(node.input) > 2 and node.input[2]:
                b = inits[node.input[2]]
                if m.bias is None:
                    m.bias = nn.Parameter(torch.zeros(m.out_channels))
                max_diff = max(max_diff, float(np.abs(b - m.bias.detach().numpy()).max()))
                m.bias.copy_(torch.from_numpy(b.copy()))
            elif m.bias is not None:
                raise SystemExit(f"conv '{name}': torch has a bias, ONNX node {node.name} has none")
    return max_diff


def layer_node(onnx_model, module_path):
    """The last node (graph order) inside the module's scope: it produces the module output."""
    nodes = [n for n in onnx_model.graph.node if in_scope(scope_path(n.name), module_path)]
    if not nodes:
        raise SystemExit(f"no ONNX node in scope '{module_path}'")
    return nodes[-1]


def ort_run(onnx_path, x, extra_outputs=()):
    m = onnx.load(onnx_path)
    for name in extra_outputs:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = ["logits", *extra_outputs]
    return sess.run(names, {"input": x})


# ----------------------------------------------------------------------------- methods

def forward_with_layer(model, layer, x, target):
    """Forward + backward of logit[target]; returns (logits, A, dA) at the layer output."""
    store = {}

    def hook(_m, _i, out):
        store["A"] = out
        out.register_hook(lambda g: store.__setitem__("G", g))

    h = module_at(model, layer).register_forward_hook(hook)
    try:
        xx = x.clone().requires_grad_(True)
        logits = model(xx)
        model.zero_grad()
        logits[0, target].backward()
    finally:
        h.remove()
    return logits.detach(), store["A"].detach()[0], store["G"].detach()[0]


def gradcam_raw(A, G):
    w = G.mean(dim=(1, 2))                          # alpha_k = spatial mean of dScore/dA_k
    return F.relu((w[:, None, None] * A).sum(0))    # ReLU(sum_k alpha_k A_k), h x w, unnormalised


def pgc_scaling(raw):
    """pytorch-grad-cam's post-processing of one layer's map (BaseCAM.compute_cam_per_layer +
    aggregate_multi_layers): min-max normalise, cv2.resize to (W, H), clamp, normalise again."""
    scaled = scale_cam_image(np.maximum(raw, 0)[None], (W, H))
    return scale_cam_image(np.maximum(scaled, 0))[0]


def bilinear_up(m):
    return F.interpolate(m[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]


def occlusion_by_hand(model, x, target):
    """Mean, over the windows covering each pixel, of score(x) - score(x with the window zeroed)."""
    with torch.no_grad():
        base = float(model(x)[0, target])
        total = torch.zeros(H, W, dtype=torch.float64)
        count = torch.zeros(H, W, dtype=torch.float64)
        for i in range(0, H - OCC_WINDOW + 1, OCC_STRIDE):
            for j in range(0, W - OCC_WINDOW + 1, OCC_STRIDE):
                xo = x.clone()
                xo[:, :, i:i + OCC_WINDOW, j:j + OCC_WINDOW] = 0
                total[i:i + OCC_WINDOW, j:j + OCC_WINDOW] += base - float(model(xo)[0, target])
                count[i:i + OCC_WINDOW, j:j + OCC_WINDOW] += 1
    if bool((count == 0).any()):
        raise SystemExit("occlusion windows do not cover the image")
    return (total / count).numpy()


def check_close(what, got, want, atol, rtol=0.0):
    got, want = np.asarray(got), np.asarray(want)
    err = float(np.abs(got - want).max()) if got.size else 0.0
    bound = atol + rtol * float(np.abs(want).max())
    if not (got.shape == want.shape and err <= bound):
        raise SystemExit(f"CHECK FAILED {what}: shapes {got.shape} vs {want.shape}, max|diff| {err:.3g} > {bound:.3g}")
    return err


def maxpool_ties(model, x):
    """For every nn.MaxPool2d: how many windows attain a non-zero maximum more than once on
    this input (all-zero windows, common after a ReLU, are not counted). Backward routes such a window's gradient
    to ONE element (PyTorch CPU: the first maximum in row-major order of the window); only
    deconvnet, which ignores the forward ReLU mask, can see the choice."""
    found = {}

    def hook(name):
        def f(m, inp, _out):
            a = inp[0].detach()[0].numpy()
            k, st, p = (m.kernel_size, m.stride, m.padding)
            k, st, p = [(v, v) if isinstance(v, int) else tuple(v) for v in (k, st, p)]
            C, Hi, Wi = a.shape
            dims = []
            for n, kk, ss, pp in ((Hi, k[0], st[0], p[0]), (Wi, k[1], st[1], p[1])):
                num = n + 2 * pp - kk
                o = (-(-num // ss) if m.ceil_mode else num // ss) + 1
                if m.ceil_mode and (o - 1) * ss >= n + pp:
                    o -= 1
                dims.append(o)
            ties = 0
            for oh in range(dims[0]):
                h0, h1 = max(oh * st[0] - p[0], 0), min(oh * st[0] - p[0] + k[0], Hi)
                for ow in range(dims[1]):
                    w0, w1 = max(ow * st[1] - p[1], 0), min(ow * st[1] - p[1] + k[1], Wi)
                    win = a[:, h0:h1, w0:w1].reshape(C, -1)
                    top = win.max(1, keepdims=True)
                    # An all-zero window (common after a ReLU) is exact in any summation
                    # order; only ties between non-zero values depend on the last bit.
                    ties += int((((win == top).sum(1) > 1) & (top[:, 0] != 0)).sum())
            found[name] = {"windows": int(C * dims[0] * dims[1]), "tied": ties}
        return f

    hs = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, nn.MaxPool2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hs:
            h.remove()
    return found


# ----------------------------------------------------------------------------- main

def load_input():
    img = Image.open(IMAGE).convert("RGB").resize((W, H), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32) / 255.0
    a = (a - MEAN) / STD
    a = a + np.random.default_rng(NOISE_SEED).normal(0.0, NOISE_STD, a.shape)
    x = np.ascontiguousarray(a.transpose(2, 0, 1)[None].astype(np.float32))
    assert not (x[..., 1:] == x[..., :-1]).any(), "horizontally adjacent input values must differ"
    return x


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):  # regenerate from scratch (only files this script writes)
        if f.endswith((".npy", ".onnx")) or f == "manifest.json":
            os.remove(os.path.join(OUT, f))

    def ver(p):
        try:
            return _pkg_version(p)
        except Exception:
            return None

    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                "captum": captum.__version__, "grad-cam": ver("grad-cam"),
                "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                "numpy": np.__version__, "python": sys.version.split()[0]}
    x_np = load_input()
    x = torch.from_numpy(x_np)
    manifest = {
        "generator": "Scripts/make-explain-fixtures.py",
        "versions": versions,
        "input_image": "SampleModels/photos/chelsea.jpg", "input_noise": {"std": NOISE_STD, "seed": NOISE_SEED, "generator": "numpy default_rng normal, added after normalisation"},
        "preprocess": {"resize": [H, W], "resample": "PIL bilinear", "scale": "1/255",
                       "mean": MEAN.tolist(), "std": STD.tolist(), "layout": "NCHW float32"},
        "export": {"opset": OPSET, "dynamo": False, "do_constant_folding": True,
                   "input": "input", "output": "logits"},
        "score": "logit (pre-softmax) of the target class, batch 0",
        "occlusion": {"sliding_window_shapes": [3, OCC_WINDOW, OCC_WINDOW],
                      "strides": [3, OCC_STRIDE, OCC_STRIDE], "baselines": 0},
        "models": {},
    }
    summary = []

    for name, spec in MODELS.items():
        print(f"== {name}")
        torch.manual_seed(0)
        model = spec["make"]()
        no_inplace(model)
        has_bn = calibrate_bn(model)
        model.eval()

        onnx_file = f"{name}.onnx"
        onnx_path = os.path.join(OUT, onnx_file)
        om = export(model, onnx_path)
        onnx_bytes = os.path.getsize(onnx_path)
        if onnx_bytes > 12 * 1024 * 1024:
            raise SystemExit(f"{onnx_file} is {onnx_bytes} bytes (> 12 MB)")

        ref, folded_paths = fold_bn(model)
        fold_vs_onnx = copy_onnx_conv_weights(ref, om)
        ref.eval()

        layer = spec["layer"]
        lnode = layer_node(om, layer)
        ltensor = lnode.output[0]

        with torch.no_grad():
            logits_ref = ref(x).numpy()
            logits_orig = model(x).numpy()
        ort_logits, ort_act = ort_run(onnx_path, x_np, [ltensor])
        np.save(os.path.join(OUT, f"{name}-input.npy"), x_np)
        np.save(os.path.join(OUT, f"{name}-logits-ort.npy"), ort_logits.astype(np.float32))
        ort_err = check_close(f"{name} ORT vs folded torch logits", ort_logits, logits_ref, 1e-4)
        unfolded_err = float(np.abs(logits_orig - logits_ref).max())

        ties = maxpool_ties(ref, x)
        if any(v["tied"] for v in ties.values()):
            raise SystemExit(f"CHECK FAILED {name}: max-pool windows tied on the fixture input: {ties}")
        top = int(np.argmax(logits_ref[0]))
        entry = {
            "note": spec["note"],
            "onnx": onnx_file, "onnx_bytes": onnx_bytes,
            "input": f"{name}-input.npy", "input_shape": list(x_np.shape),
            "logits_ort": f"{name}-logits-ort.npy", "num_classes": int(logits_ref.shape[1]),
            "reference_graph": {
                "identical": True,
                "has_batchnorm": has_bn,
                "bn_folded_convs": folded_paths,
                "how": ("torch copy with (Conv2d, BatchNorm2d) folded by torch.nn.utils.fusion."
                        "fuse_conv_bn_eval, then every Conv2d weight/bias overwritten with the "
                        "exported ONNX initializer (bitwise)") if has_bn else
                       "no BatchNorm: the eval-mode torch model is the exported graph; Conv "
                       "weights re-copied from the ONNX initializers (bitwise)",
                "max_abs_fold_bn_vs_onnx_weights": fold_vs_onnx,
                "max_abs_logits_unfolded_vs_reference": unfolded_err,
                "max_abs_logits_ort_vs_reference": ort_err,
            },
            "maxpool_tied_windows": ties,
            "layer": {"module": layer, "onnx_node": lnode.name, "onnx_op": lnode.op_type,
                      "onnx_tensor": ltensor, "shape": list(ort_act.shape)},
            "targets": [],
            "methods": {},
        }
        if spec["cam"]:
            entry["cam"] = dict(spec["cam"])

        def save(method, target, arr, **extra):
            arr = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))
            fname = f"{name}-{method}" + (f"-t{target}" if target is not None else "") + ".npy"
            np.save(os.path.join(OUT, fname), arr)
            rec = {"file": fname, "shape": list(arr.shape), "max_abs": float(np.abs(arr).max()),
                   "all_zero": bool(not np.any(arr)), "reference_on_identical_graph": True}
            if target is not None:
                rec["target"] = target
            rec.update(extra)
            entry["methods"].setdefault(method, []).append(rec)
            return arr

        layer_mod = module_at(ref, layer)
        layer_info = {"layer_module": layer, "layer_onnx_node": lnode.name, "layer_onnx_tensor": ltensor}

        # Activation map of the named layer (target-independent); checked against ORT.
        _, A0, _ = forward_with_layer(ref, layer, x, top)
        act_err = check_close(f"{name} layer activation ORT vs torch", A0.numpy(), ort_act[0], 1e-4, 1e-5)
        entry["layer"]["max_abs_activation_ort_vs_reference"] = act_err
        save("activations", None, A0.numpy(), **layer_info)

        def second_target():
            """EXPLICIT_TARGET, or the next class index after it, skipping the top class and
            classes whose saliency or Grad-CAM map is identically zero."""
            for c in list(range(EXPLICIT_TARGET, entry["num_classes"])) + list(range(EXPLICIT_TARGET)):
                if c == top:
                    continue
                _, A, G = forward_with_layer(ref, layer, x, c)
                sal = Saliency(ref).attribute(x, target=c, abs=True)
                if torch.any(sal != 0) and torch.any(gradcam_raw(A, G) > 0):
                    return c
            raise SystemExit(f"{name}: no usable second target")

        targets = [top, second_target()]
        for role, t in zip(["top", "explicit"], targets):
            entry["targets"].append({"class": t, "role": role, "logit": float(logits_ref[0, t])})
        print(f"   targets {targets}, logits {[round(float(logits_ref[0, t]), 4) for t in targets]}")

        for t in targets:
            full = t == top
            # Saliency: |dScore/dx|, C x H x W.
            sal = Saliency(ref).attribute(x, target=t, abs=True)[0].detach().numpy()
            save("saliency", t, sal, source="captum.attr.Saliency(abs=True)")

            # Deconvnet and guided backprop (Captum hooks every nn.ReLU module).
            gbp = GuidedBackprop(ref).attribute(x, target=t)[0].detach()
            if full:
                dec = Deconvolution(ref).attribute(x, target=t)[0].detach().numpy()
                save("deconvnet", t, dec, source="captum.attr.Deconvolution")
                save("guided-backprop", t, gbp.numpy(), source="captum.attr.GuidedBackprop")

            # Grad-CAM: our hooks, pytorch-grad-cam, Captum LayerGradCam.
            logits_t, A, G = forward_with_layer(ref, layer, x, t)
            raw = gradcam_raw(A, G)
            with GradCAM(model=ref, target_layers=[layer_mod]) as cam:
                pgc = cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])[0]
            pgc_err = check_close(f"{name} t{t} grad-cam hooks (pgc-scaled) vs pytorch-grad-cam",
                                  pgc_scaling(raw.numpy()), pgc, 2e-5)
            lgc = LayerGradCam(ref, layer_mod).attribute(x, target=t, relu_attributions=True)[0, 0].detach()
            lgc_err = check_close(f"{name} t{t} grad-cam hooks vs captum LayerGradCam",
                                  raw.numpy(), lgc.numpy(), 1e-6, 1e-5)
            save("gradcam-raw", t, raw.numpy(), **layer_info,
                 definition="ReLU(sum_k mean_ij(dScore/dA_kij) * A_k) at the layer's own resolution, unnormalised",
                 max_abs_vs_captum_layergradcam=lgc_err,
                 max_abs_vs_pytorch_grad_cam_after_its_scaling=pgc_err)
            save("gradcam-pgc", t, pgc, **layer_info,
                 source="pytorch_grad_cam.GradCAM output: min-max normalised, cv2.resize (bilinear) to HxW, normalised again")
            save("gradcam-captum", t, lgc.numpy(), **layer_info,
                 source="captum.attr.LayerGradCam(relu_attributions=True)")

            # Guided Grad-CAM: ours (bilinear, align_corners=False), Captum's (nearest).
            ggc = (gbp * bilinear_up(raw)).numpy()
            ggc_cap_bil = GuidedGradCam(ref, layer_mod).attribute(x, target=t, interpolate_mode="bilinear")[0].detach().numpy()
            ggc_err = check_close(f"{name} t{t} guided-gradcam bilinear vs captum(bilinear)", ggc, ggc_cap_bil,
                                  1e-6, 1e-5)
            save("guided-gradcam-bilinear", t, ggc, **layer_info,
                 definition="GuidedBackprop x F.interpolate(gradcam-raw, (H,W), bilinear, align_corners=False)",
                 max_abs_vs_captum_guidedgradcam_bilinear=ggc_err)
            if full:
                ggc_cap = GuidedGradCam(ref, layer_mod).attribute(x, target=t)[0].detach().numpy()
                save("guided-gradcam-captum", t, ggc_cap, **layer_info,
                     source="captum.attr.GuidedGradCam default interpolate_mode='nearest'")

            # CAM (models whose head is GAP + linear map of the layer's channels).
            if spec["cam"]:
                clf = module_at(ref, spec["cam"]["classifier"])
                wc = clf.weight.detach()[t].reshape(-1)          # [K]
                bc = float(clf.bias.detach()[t])
                cam_map = (wc[:, None, None] * A).sum(0)          # sum_k w_k^c A_k, no bias, no ReLU
                if spec["cam"]["kind"] == "gap-linear":
                    recon = float(cam_map.mean()) + bc
                else:  # conv1x1 -> ReLU -> GAP: logit = mean(ReLU(cam + b))
                    recon = float(F.relu(cam_map + bc).mean())
                check_close(f"{name} t{t} CAM reconstructs the logit", recon, float(logits_t[0, t]), 1e-5, 1e-5)
                save("cam", t, cam_map.numpy(), **layer_info, classifier_module=spec["cam"]["classifier"],
                     classifier_bias=bc,
                     definition="sum_k W[c,k] * A_k at the layer output; no bias, no ReLU, unnormalised")

            # Occlusion (window spans all channels -> same value in every channel).
            occ = Occlusion(ref).attribute(
                x, target=t, sliding_window_shapes=(3, OCC_WINDOW, OCC_WINDOW),
                strides=(3, OCC_STRIDE, OCC_STRIDE), baselines=0, perturbations_per_eval=16)[0].detach().numpy()
            if not (np.array_equal(occ[0], occ[1]) and np.array_equal(occ[0], occ[2])):
                raise SystemExit(f"{name} t{t}: occlusion channels differ")
            check_close(f"{name} t{t} occlusion vs by-hand", occ[0], occlusion_by_hand(ref, x, t), 1e-5, 1e-4)
            save("occlusion", t, occ[0], source="captum.attr.Occlusion, channel 0 (all channels equal)")

        # Squeezenet: record the ONNX names of the CAM pieces.
        if spec["cam"]:
            cnode = layer_node(om, spec["cam"]["classifier"])
            entry["cam"].update({"classifier_onnx_node": cnode.name, "classifier_onnx_op": cnode.op_type,
                                 "feature_onnx_tensor": ltensor})

        manifest["models"][name] = entry
        summary.append((name, onnx_bytes, targets, ort_err, unfolded_err, fold_vs_onnx, lnode.name, ltensor,
                        list(ort_act.shape)))

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print()
    print(f"{'model':20} {'onnx MB':>8} {'targets':>10} {'ort-vs-ref':>11} {'unfold-vs-ref':>13} "
          f"{'fold-w':>9}  layer node -> tensor [shape]")
    for (n, b, t, e, u, fw, ln, lt, sh) in summary:
        print(f"{n:20} {b / 1e6:8.2f} {str(t):>10} {e:11.2e} {u:13.2e} {fw:9.2e}  {ln} -> {lt} {sh}")
    print(f"\nwrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB, to {OUT}")
    if total > MAX_TOTAL_BYTES:
        raise SystemExit(f"fixtures are {total} bytes (> {MAX_TOTAL_BYTES})")


if __name__ == "__main__":
    main()
