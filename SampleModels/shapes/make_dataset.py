"""Synthetic "shapes" images whose right explanation is known.

Each image (64x64 RGB) holds one object of a class in CLASSES at a random place, size,
rotation and colour, on a cluttered background: a colour gradient with pixel noise, random
lines, and distractor marks that are not class shapes (elongated ellipses, scribbles, dots).
The object's tight bounding box is recorded, so a good explanation of the predicted class
should point inside it.

Everything is deterministic: image i of a split is drawn from numpy's PCG64 seeded with
(split seed, i), so the same command always writes the same bytes.

Usage (from the repository root):
  .venv/bin/python SampleModels/shapes/make_dataset.py test      # writes SampleModels/shapes/test/
  .venv/bin/python SampleModels/shapes/make_dataset.py preview   # a contact sheet in .build-samples/

train.py imports `generate` to make its training and validation sets in memory.
"""
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64
SUPER = 4  # shapes are drawn at 4x and downsampled, for anti-aliased edges
CLASSES = ["circle", "square", "triangle", "star", "cross", "ring"]
SEEDS = {"train": 1, "val": 2, "test": 3}
TEST_COUNT = 120


def _polygon(cx, cy, radii, angle0):
    n = len(radii)
    return [(cx + r * math.cos(angle0 + 2 * math.pi * k / n), cy + r * math.sin(angle0 + 2 * math.pi * k / n))
            for k, r in enumerate(radii)]


def _shape_mask(cls, cx, cy, r, angle):
    """Boolean SIZE x SIZE coverage (float in [0, 1]) of a class shape with circumradius r (pixels)."""
    s = SUPER
    im = Image.new("L", (SIZE * s, SIZE * s), 0)
    d = ImageDraw.Draw(im)
    cx, cy, r = cx * s, cy * s, r * s
    if cls == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif cls == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        ri = r * 0.55
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif cls == "square":
        d.polygon(_polygon(cx, cy, [r] * 4, angle), fill=255)
    elif cls == "triangle":
        d.polygon(_polygon(cx, cy, [r] * 3, angle), fill=255)
    elif cls == "star":
        d.polygon(_polygon(cx, cy, [r, r * 0.42] * 5, angle), fill=255)
    elif cls == "cross":
        t = r * 0.36  # half the arm width
        arm = [(-r, -t), (-t, -t), (-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t), (-r, t)]
        ca, sa = math.cos(angle), math.sin(angle)
        d.polygon([(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in arm], fill=255)
    else:
        raise ValueError(cls)
    im = im.resize((SIZE, SIZE), Image.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def _distractor_mask(rng, avoid):
    """A mark that is no class shape: an elongated ellipse, a scribble or a few dots."""
    s = SUPER
    im = Image.new("L", (SIZE * s, SIZE * s), 0)
    d = ImageDraw.Draw(im)
    kind = rng.integers(3)
    for _ in range(20):  # place it away from the object's box
        cx, cy = rng.uniform(4, SIZE - 4, size=2)
        x0, y0, x1, y1 = avoid
        if not (x0 - 6 < cx < x1 + 6 and y0 - 6 < cy < y1 + 6):
            break
    else:
        return None
    if kind == 0:  # ellipse with aspect 3..5, rotated
        a = rng.uniform(6, 14)
        b = a / rng.uniform(3, 5)
        ang = rng.uniform(0, math.pi)
        pts = [(cx + a * math.cos(t) * math.cos(ang) - b * math.sin(t) * math.sin(ang),
                cy + a * math.cos(t) * math.sin(ang) + b * math.sin(t) * math.cos(ang))
               for t in np.linspace(0, 2 * math.pi, 40, endpoint=False)]
        d.polygon([(x * s, y * s) for x, y in pts], fill=255)
    elif kind == 1:  # scribble: a smooth random walk
        pts, ang, x, y = [], rng.uniform(0, 2 * math.pi), cx, cy
        for _ in range(int(rng.integers(6, 14))):
            pts.append((x * s, y * s))
            ang += rng.normal(0, 0.7)
            x += 2.5 * math.cos(ang)
            y += 2.5 * math.sin(ang)
        d.line(pts, fill=255, width=int(rng.integers(1, 3)) * s, joint="curve")
    else:  # a cluster of small dots
        for _ in range(int(rng.integers(3, 7))):
            px, py = cx + rng.normal(0, 4), cy + rng.normal(0, 4)
            pr = rng.uniform(0.8, 1.8) * s
            d.ellipse([px * s - pr, py * s - pr, px * s + pr, py * s + pr], fill=255)
    im = im.resize((SIZE, SIZE), Image.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def _colour_far_from(rng, ref, min_dist=90.0):
    for _ in range(50):
        c = rng.uniform(0, 255, size=3)
        if np.linalg.norm(c - ref) >= min_dist:
            return c
    return 255.0 - ref


def make_image(seed, index, label=None):
    """Returns (uint8 image HxWx3, label index, box (x0, y0, x1, y1) with x1, y1 exclusive)."""
    rng = np.random.Generator(np.random.PCG64([seed, index]))
    if label is None:
        label = int(rng.integers(len(CLASSES)))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)

    # Background: a gradient between two random colours plus noise.
    c0, c1 = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    ang = rng.uniform(0, 2 * math.pi)
    t = ((xx - SIZE / 2) * math.cos(ang) + (yy - SIZE / 2) * math.sin(ang)) / SIZE + 0.5
    t = np.clip(t, 0, 1)[..., None]
    img = c0 * (1 - t) + c1 * t
    img += rng.normal(0, rng.uniform(6, 18), size=img.shape)

    # The object: placed so it stays inside the image.
    r = rng.uniform(8, 16)  # circumradius: boxes of roughly 14..32 pixels
    cx, cy = rng.uniform(r + 1, SIZE - r - 1, size=2)
    mask = _shape_mask(CLASSES[label], cx, cy, r, rng.uniform(0, 2 * math.pi))
    ys, xs = np.nonzero(mask > 0.25)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

    # Random straight lines, drawn under the object.
    lines = Image.new("L", (SIZE * SUPER, SIZE * SUPER), 0)
    ld = ImageDraw.Draw(lines)
    line_cols = []
    for _ in range(int(rng.integers(1, 5))):
        p = rng.uniform(-8, SIZE + 8, size=4) * SUPER
        ld.line(list(p), fill=len(line_cols) + 1, width=int(rng.integers(1, 3)) * SUPER)
        line_cols.append(rng.uniform(0, 255, size=3))
    lines = np.asarray(lines.resize((SIZE, SIZE), Image.NEAREST))
    for k, col in enumerate(line_cols):
        img[lines == k + 1] = col * 0.7 + img[lines == k + 1] * 0.3

    # Distractors: 1..4 marks that are not class shapes, away from the object.
    for _ in range(int(rng.integers(1, 5))):
        m = _distractor_mask(rng, box)
        if m is None:
            continue
        col = _colour_far_from(rng, img[m > 0.5].mean(axis=0) if (m > 0.5).any() else img.mean(axis=(0, 1)))
        img = img * (1 - m[..., None]) + col * m[..., None]

    # The object's colour differs clearly from the background under it.
    ref = img[mask > 0.5].mean(axis=0)
    col = _colour_far_from(rng, ref, 110.0)
    shade = col + rng.normal(0, 6, size=img.shape)  # slight texture on the object
    img = img * (1 - mask[..., None]) + shade * mask[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label, box


def generate(split, count, start=0):
    """count images of a split: (uint8 [N, H, W, 3], labels [N], boxes [N, 4])."""
    seed = SEEDS[split]
    xs, ys, bs = [], [], []
    for i in range(start, start + count):
        # Labels cycle through the classes so every split is balanced.
        im, lab, box = make_image(seed, i, label=i % len(CLASSES))
        xs.append(im)
        ys.append(lab)
        bs.append(box)
    return np.stack(xs), np.array(ys), np.array(bs)


def write_test_set(out=os.path.join(HERE, "test")):
    os.makedirs(out, exist_ok=True)
    x, y, b = generate("test", TEST_COUNT)
    rows = []
    for i in range(len(x)):
        name = f"{i:03d}-{CLASSES[y[i]]}.png"
        Image.fromarray(x[i]).save(os.path.join(out, name), optimize=True)
        rows.append({"file": name, "label": int(y[i]), "name": CLASSES[y[i]],
                     "box": [int(v) for v in b[i]]})
    with open(os.path.join(out, "annotations.json"), "w") as f:
        json.dump({"image_size": [SIZE, SIZE], "classes": CLASSES,
                   "box_convention": "x0, y0, x1, y1 in pixels; x0, y0 inclusive, x1, y1 exclusive",
                   "images": rows}, f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    print(f"wrote {len(rows)} images to {out}")


def preview(path):
    x, y, b = generate("val", 48)
    sheet = Image.new("RGB", (8 * (SIZE + 2) * 2, 6 * (SIZE + 2) * 2), (255, 255, 255))
    for i in range(48):
        im = Image.fromarray(x[i]).resize((SIZE * 2, SIZE * 2), Image.NEAREST)
        ImageDraw.Draw(im).rectangle([v * 2 for v in b[i][:2]] + [v * 2 - 1 for v in b[i][2:]], outline=(255, 0, 255))
        sheet.paste(im, ((i % 8) * (SIZE + 2) * 2, (i // 8) * (SIZE + 2) * 2))
    sheet.save(path)
    print("wrote", path)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "test"
    if cmd == "test":
        write_test_set()
    elif cmd == "preview":
        preview(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "..", ".build-samples", "preview.png"))
    else:
        sys.exit(f"unknown command {cmd!r}; use test or preview")
