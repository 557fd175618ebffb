#!/usr/bin/env python3
"""Exports torchvision CNNs to ONNX for the forward-pass benchmark (Scripts/bench/bench.py).

Run from the package root with the project's virtualenv (torch, torchvision, onnx):

    .venv/bin/python Scripts/bench/export-torchvision.py [OUT_DIR] [--models resnet18,vgg16]

Each model gets random weights (weights=None, torch.manual_seed(0) before it is built),
eval mode, opset 17, input 'input' [N,3,224,224] and output 'logits' [N,1000] with a
dynamic batch axis. The classic TorchScript-based exporter (dynamo=False) is used, as it
writes the graphs most users have; if it is unavailable the dynamo exporter is used and
the script says so. Nothing is downloaded: the weights are random, which is fine for timing
and for comparing two engines on the same file.

The exporter folds BatchNorm into the convolutions. `--keep-batchnorm` writes NAME-bn.onnx
instead, with every BatchNormalization node kept (TrainingMode.PRESERVE in eval mode, no
constant folding), for timing Loupe's own BatchNorm folding at plan time.
"""
import argparse
import os
import sys
import time
import warnings

import onnx
import torch
import torchvision

MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "vgg16": torchvision.models.vgg16,
    "squeezenet1_1": torchvision.models.squeezenet1_1,
}
OPSET = 17


def export(name, out_dir, keep_batchnorm=False):
    torch.manual_seed(0)
    model = MODELS[name](weights=None).eval()
    x = torch.rand(1, 3, 224, 224)
    path = os.path.join(out_dir, name + ("-bn" if keep_batchnorm else "") + ".onnx")
    kwargs = dict(
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=not keep_batchnorm,
    )
    if keep_batchnorm:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    exporter = "classic (dynamo=False)"
    # The legacy exporter is what we want here; its deprecation notice is noise.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    with torch.no_grad():
        try:
            torch.onnx.export(model, (x,), path, dynamo=False, **kwargs)
        except Exception as e:  # noqa: BLE001 - report and fall back
            print(f"  classic exporter failed for {name}: {type(e).__name__}: {e}", file=sys.stderr)
            print("  falling back to the dynamo exporter", file=sys.stderr)
            exporter = "dynamo"
            batch = torch.export.Dim("batch")
            torch.onnx.export(model, (x,), path, dynamo=True, input_names=["input"],
                              output_names=["logits"], opset_version=OPSET,
                              dynamic_shapes={"x": {0: batch}}, external_data=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    return path, exporter, ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", nargs="?", default="bench-out/models/")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ", ".join(MODELS))
    ap.add_argument("--keep-batchnorm", action="store_true",
                    help="keep the BatchNormalization nodes (writes NAME-bn.onnx)")
    args = ap.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    os.makedirs(args.out_dir, exist_ok=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}, opset {OPSET}")
    for name in names:
        t0 = time.time()
        path, exporter, ops = export(name, args.out_dir, args.keep_batchnorm)
        size = os.path.getsize(path) / 2**20
        print(f"{name}: {path} ({size:.1f} MiB, {exporter} exporter, {time.time() - t0:.1f} s)")
        print(f"  ops: {', '.join(ops)}")


if __name__ == "__main__":
    main()
