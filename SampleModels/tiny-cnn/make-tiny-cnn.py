"""Writes SampleModels/tiny-cnn: a small, untrained (seeded) CNN exported to ONNX, three
generated images and a labels file. A stand-in for the demo until the trained sample
models land; its predictions carry no meaning.

Run: .venv/bin/python SampleModels/tiny-cnn/make-tiny-cnn.py
"""
import os

import numpy as np
import torch
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)

model = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(64, 5),
).eval()
x = torch.rand(1, 3, 64, 64)
torch.onnx.export(model, x, os.path.join(here, "tiny-cnn.onnx"), opset_version=17,
                  input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)

with open(os.path.join(here, "labels.txt"), "w") as f:
    f.write("circle\nsquare\ntriangle\nstar\ncross\n")

# Three 64x64 images: a disc, a square and a triangle on noise.
from PIL import Image  # noqa: E402

rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:64, 0:64]
shapes = {
    "disc": (xx - 32) ** 2 + (yy - 30) ** 2 < 15 ** 2,
    "square": (abs(xx - 30) < 13) & (abs(yy - 34) < 13),
    "triangle": (yy > 12) & (yy < 52) & (abs(xx - 32) < (yy - 12) / 2),
}
for i, (name, mask) in enumerate(shapes.items()):
    img = rng.integers(0, 90, size=(64, 64, 3)).astype(np.uint8)
    img[mask] = [(230, 60, 40), (40, 200, 80), (50, 80, 230)][i]
    Image.fromarray(img).save(os.path.join(here, "images", f"{name}.png"))
print("wrote", here)
