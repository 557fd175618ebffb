#!/usr/bin/env python3
"""Writes the tiny image and .npy fixtures read by Tests/LoupeFormatsTests.

Run from the package root with the project's virtualenv (numpy and Pillow):

    .venv/bin/python Scripts/make-format-fixtures.py

PNGs are written chunk by chunk with zlib here (so that every colour type and bit depth,
including 16-bit RGB/RGBA that Pillow cannot write, is covered, and no gAMA/sRGB chunk is
added). JPEGs are written by Pillow; their decoded pixels, as Pillow's libjpeg sees them,
are saved next to them as .npy files. Every pixel value is a formula the Swift tests
recompute (see `px8`, `px16` below and their twins in ImageTests.swift).
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "LoupeFormatsTests", "Fixtures")


def px8(x, y, c):
    """8-bit sample at column x, row y, channel c."""
    return (x * 37 + y * 71 + c * 101 + 5) % 256


def px16(x, y, c):
    """16-bit sample at column x, row y, channel c."""
    return (x * 4099 + y * 1543 + c * 20011 + 7) % 65536


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(path, width, height, bit_depth, color_type, rows, extra=b""):
    """rows: list of bytes objects, one per scanline (already packed), filter 0 prepended here."""
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)
    return data


def raw_npy(header, data):
    """A version 1.0 .npy file with a hand-written header dict (padded to 64 bytes)."""
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * (pad % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def main():
    os.makedirs(OUT, exist_ok=True)

    # 16-bit RGB, 4x3 (colour type 2).
    w, h = 4, 3
    rows = [b"".join(struct.pack(">H", px16(x, y, c)) for x in range(w) for c in range(3)) for y in range(h)]
    png("rgb16.png", w, h, 16, 2, rows)

    # 16-bit RGBA, 3x2 (colour type 6); alpha = px16(x, y, 3) but forced opaque at (0, 0).
    w, h = 3, 2
    def a16(x, y):
        return 65535 if (x, y) == (0, 0) else px16(x, y, 3)
    rows = [b"".join(struct.pack(">HHHH", px16(x, y, 0), px16(x, y, 1), px16(x, y, 2), a16(x, y))
                     for x in range(w)) for y in range(h)]
    png("rgba16.png", w, h, 16, 6, rows)

    # 16-bit gray, 2x2 (colour type 0).
    rows = [b"".join(struct.pack(">H", px16(x, y, 0)) for x in range(2)) for y in range(2)]
    png("gray16.png", 2, 2, 16, 0, rows)

    # 8-bit gray + alpha, 3x2 (colour type 4).
    w, h = 3, 2
    rows = [bytes(v for x in range(w) for v in (px8(x, y, 0), px8(x, y, 1))) for y in range(h)]
    png("gray_alpha.png", w, h, 8, 4, rows)

    # 8-bit RGB, 5x4 (colour type 2): also the source of the truncated file.
    w, h = 5, 4
    rows = [bytes(px8(x, y, c) for x in range(w) for c in range(3)) for y in range(h)]
    data = png("rgb8.png", w, h, 8, 2, rows)
    # Cut in the middle of the IDAT chunk.
    idat = data.index(b"IDAT")
    with open(os.path.join(OUT, "truncated.png"), "wb") as f:
        f.write(data[: idat + 4 + 20])

    # 4-bit palette with tRNS, 4x2 (colour type 3). Palette entry i = (px8(i,0,0), px8(i,0,1),
    # px8(i,0,2)); alpha of entry i = 255 - 40 * i for i < 3, entries 3.. opaque.
    # Pixel (x, y) uses index (x + 2 * y) % 5.
    w, h = 4, 2
    palette = b"".join(bytes((px8(i, 0, 0), px8(i, 0, 1), px8(i, 0, 2))) for i in range(5))
    trns = bytes(255 - 40 * i for i in range(3))
    rows = []
    for y in range(h):
        idx = [(x + 2 * y) % 5 for x in range(w)]
        rows.append(bytes((idx[i] << 4) | idx[i + 1] for i in range(0, w, 2)))
    png("palette.png", w, h, 4, 3, rows, chunk(b"PLTE", palette) + chunk(b"tRNS", trns))

    # 1-bit gray, 8x2: bit (x, y) = (x + y) % 3 == 0.
    rows = [bytes([sum(((1 if (x + y) % 3 == 0 else 0) << (7 - x)) for x in range(8))]) for y in range(2)]
    png("gray1.png", 8, 2, 1, 0, rows)

    # JPEGs: smooth content so that the lossy codec stays close to the formula.
    w, h = 16, 8
    rgb = np.zeros((h, w, 3), np.uint8)
    for y in range(h):
        for x in range(w):
            rgb[y, x] = (40 + 8 * x, 60 + 10 * y, 200 - 4 * x - 5 * y)
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.jpg"), quality=95, subsampling=0)
    np.save(os.path.join(OUT, "rgb_jpg_decoded.npy"), np.asarray(Image.open(os.path.join(OUT, "rgb.jpg"))))
    gray = np.zeros((h, w), np.uint8)
    for y in range(h):
        for x in range(w):
            gray[y, x] = 30 + 9 * x + 6 * y
    Image.fromarray(gray, "L").save(os.path.join(OUT, "gray_progressive.jpg"), quality=95, progressive=True)
    np.save(os.path.join(OUT, "gray_progressive_jpg_decoded.npy"),
            np.asarray(Image.open(os.path.join(OUT, "gray_progressive.jpg"))))
    with open(os.path.join(OUT, "rgb.jpg"), "rb") as f:
        jpg = f.read()
    with open(os.path.join(OUT, "truncated.jpg"), "wb") as f:
        sos = jpg.index(b"\xff\xda")  # cut inside the entropy-coded scan data
        f.write(jpg[: sos + (len(jpg) - sos) // 2])
    Image.new("CMYK", (8, 8), (10, 20, 30, 40)).save(os.path.join(OUT, "cmyk.jpg"), quality=90)

    # .npy files. Values: arange-based, so the tests recompute them.
    def save(name, arr, version=None):
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arr, version=version, allow_pickle=False)

    a = np.arange(6).reshape(2, 3)
    save("f4.npy", (a * 0.5 - 1).astype("<f4"))
    save("f8.npy", (a * 0.25 + 1e-3).astype("<f8"))
    save("f2.npy", (a * 0.5 - 1).astype("<f2"))
    save("i8.npy", (a * 1000000007 - 3000000000).astype("<i8"))
    save("i4.npy", (a * 100000 - 250000).astype("<i4"))
    save("i2.npy", (a * 1000 - 2500).astype("<i2"))
    save("i1.npy", (a * 40 - 128).astype("i1"))
    save("u1.npy", (a * 50).astype("u1"))
    save("u2.npy", (a * 13000).astype("<u2"))
    save("u4.npy", (a * 800000000).astype("<u4"))
    save("b1.npy", (a % 2 == 1))
    save("be_i4.npy", (a * 100000 - 250000).astype(">i4"))
    save("be_f8.npy", (a * 0.25 + 1e-3).astype(">f8"))
    # Fortran order: value at [i, j, k] = 100 i + 10 j + k.
    b = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (2, 3, 4)).astype("<f4")
    save("fortran_f4.npy", np.asfortranarray(b))
    save("v2_f4.npy", (a * 0.5 - 1).astype("<f4"), version=(2, 0))
    save("v3_f4.npy", (a * 0.5 - 1).astype("<f4"), version=(3, 0))
    save("scalar_f8.npy", np.array(2.5, "<f8"))
    save("empty_f4.npy", np.zeros((0, 3), "<f4"))
    save("c8.npy", np.zeros(2, "<c8"))
    # What NPY.write must produce byte for byte.
    np.save(os.path.join(OUT, "expected_write_f4.npy"), np.array([[1.5, -2], [0.25, 1e6]], "<f4"))
    np.save(os.path.join(OUT, "expected_write_i8.npy"), np.array([7, -1, 1 << 40], "<i8"))
    np.save(os.path.join(OUT, "expected_write_scalar_f4.npy"), np.array(3.0, "<f4"))

    with open(os.path.join(OUT, "f4.npy"), "rb") as f:
        npy = f.read()
    with open(os.path.join(OUT, "truncated.npy"), "wb") as f:
        f.write(npy[:-5])  # data cut short
    with open(os.path.join(OUT, "truncated_header.npy"), "wb") as f:
        f.write(npy[:30])  # header cut short
    garbled = npy.replace(b"'shape': (2, 3)", b"'shape': (2, x)")
    with open(os.path.join(OUT, "garbled.npy"), "wb") as f:
        f.write(garbled)
    # A header claiming a huge shape; the file has 24 bytes of data.
    with open(os.path.join(OUT, "huge.npy"), "wb") as f:
        f.write(raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 3), }", npy[-24:]))

    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote fixtures to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
