#!/usr/bin/env python3
"""Writes the Keras fixtures of Tests/LoupeFormatsTests/Fixtures/keras/.

Tiny models covering every layer Loupe imports, saved in each format Loupe reads, with
inputs and Keras's own outputs as .npy files. Run twice:

  KERAS_BACKEND=torch .venv/bin/python Scripts/make-keras-fixtures.py          # Keras 3 files
  .venv-keras2/bin/python Scripts/make-keras-fixtures.py --keras2              # Keras 2.x files

(.venv-keras2 is a separate venv with `pip install tf-keras tensorflow-cpu`.) The second
run also rewrites one Keras 2 file with its name lists split into chunked attributes
(`layer_names0`, `layer_names1`, ...), as Keras 2 writes lists over 64 KiB.
"""
import io
import os
import shutil
import sys
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoupeFormatsTests", "Fixtures", "keras")
KERAS2 = "--keras2" in sys.argv

if KERAS2:
    import tf_keras as keras
    import tensorflow as tf
    tf.random.set_seed(1)
else:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    keras.utils.set_random_seed(1)

L = keras.layers
rng = np.random.default_rng(0)


def path(name):
    return os.path.join(OUT, name)


def randomize(model):
    """Non-trivial BN statistics and biases, so that every weight matters."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            randomize(layer)
            continue
        ws = layer.get_weights()
        if not ws:
            continue
        names = [w.name for w in layer.weights]
        new = []
        for n, w in zip(names, ws):
            if "variance" in n:
                new.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
            elif "gamma" in n:
                new.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
            elif "alpha" in n:
                new.append(rng.uniform(0.05, 0.4, w.shape).astype("float32"))
            elif any(k in n for k in ("bias", "beta", "mean")):
                new.append(rng.normal(0, 0.2, w.shape).astype("float32"))
            else:
                new.append(w)
        layer.set_weights(new)


def save_io(name, model, x):
    np.save(path(f"{name}_input.npy"), x)
    ys = model.predict(x, verbose=0)
    if not isinstance(ys, list):
        ys = [ys]
    for i, y in enumerate(ys):
        np.save(path(f"{name}_output{i}.npy"), np.asarray(y, dtype="float32"))


def functional_k3():
    inp = keras.Input((16, 16, 3), name="image")
    x = L.Rescaling(scale=2.0, offset=-1.0)(inp)
    x = L.Normalization(mean=[0.1, 0.2, -0.1], variance=[0.5, 1.5, 0.9])(x)
    a = L.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(x)
    a = L.BatchNormalization(name="bn_a")(a)
    b = L.ZeroPadding2D(((1, 2), (0, 1)))(a)
    b = L.Cropping2D(((2, 1), (1, 0)))(b)
    b = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", strides=2, name="dw")(b)
    b = L.SeparableConv2D(6, 3, padding="same", activation="swish", name="sep")(b)
    # Symmetric `same` padding here: with padding split unevenly, Keras's torch backend pads
    # with zeros that enter the average (TensorFlow excludes them, as Loupe does; the
    # Keras 2 model below checks that case).
    c = L.MaxPooling2D(2)(L.AveragePooling2D(3, strides=1, padding="same")(a))
    d = L.MaxPooling2D(2)(a)
    shared = L.Conv2D(6, 1, name="shared_conv")
    s1, s2 = shared(c), shared(d)
    m = L.Concatenate()([
        L.Add()([b, s1, s2]), L.Subtract()([b, s1]), L.Multiply()([b, s2, c]),
        L.Average()([b, c]), L.Maximum()([b, c]), L.Minimum()([b, d])])
    cat = L.Conv2D(8, 3, padding="valid", name="mix")(m)  # 6x6x8
    e = L.ReLU(max_value=4.0, threshold=0.2, negative_slope=0.1)(cat)
    f = L.LeakyReLU(negative_slope=0.2)(cat)
    g = L.PReLU()(cat)
    h = L.ELU(0.7)(cat)
    acts = [L.Activation(k)(cat) for k in ["relu", "relu6", "softmax", "sigmoid", "hard_sigmoid", "tanh", "elu",
                                            "selu", "swish", "silu", "gelu", "softplus", "linear"]]
    acts = L.Concatenate(name="acts")(acts + [L.Softmax(axis=-1)(cat), L.ReLU(max_value=1.5)(cat)])
    u = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="deconv_same")(e)
    v = L.Conv2DTranspose(4, 2, strides=2, padding="valid", name="deconv_valid")(f)
    w = L.UpSampling2D(2)(g)
    w2 = L.UpSampling2D(2, interpolation="bilinear")(h)
    y = L.Concatenate()([u, v, w, w2])
    block = keras.Sequential([
        keras.Input((12, 12, 24)),
        L.Conv2D(8, 3, strides=2, padding="same", name="block_conv"),
        L.BatchNormalization(center=False, name="block_bn"),
        L.Activation("relu"), L.SpatialDropout2D(0.3), L.GaussianNoise(0.1), L.GaussianDropout(0.1),
    ], name="block")
    y = block(y)
    y = L.Dropout(0.5, name="features")(y)
    dense4d = L.Dense(3, name="dense_4d")(y)  # Dense on the last axis of an image
    nobias = L.Conv2D(2, 1, use_bias=False, name="conv_nobias")(y)
    r = L.Flatten()(L.Permute((2, 1))(L.Reshape((36, 8))(y)))
    z = L.Concatenate()([L.GlobalAveragePooling2D()(y), L.GlobalMaxPooling2D()(y),
                         L.Flatten()(L.GlobalAveragePooling2D(keepdims=True)(y)), r,
                         L.GlobalAveragePooling2D()(acts), L.GlobalAveragePooling2D()(dense4d),
                         L.GlobalMaxPooling2D()(nobias)])
    z = L.Dense(16, activation="tanh")(z)
    probs = L.Softmax(name="probs")(L.Dense(10, name="logits")(z))
    return keras.Model(inp, [probs, y, acts], name="k3_functional")


def sequential():
    return keras.Sequential([
        keras.Input((20, 20, 3)),
        L.Conv2D(4, 5, strides=2, padding="same", activation="relu", name="c1"),
        L.Conv2D(4, 3, dilation_rate=2, groups=2, name="c2"),
        L.MaxPooling2D(3, strides=2, padding="same"),
        L.Flatten(),
        L.Dense(8, activation="relu"),
        L.BatchNormalization(),
        L.Dense(5, activation="softmax", name="out"),
    ], name="seq")


def channels_first():
    cf = "channels_first"
    inp = keras.Input((3, 16, 16), name="x")
    x = L.Conv2D(4, 3, padding="same", data_format=cf, activation="relu", name="conv")(inp)
    x = L.BatchNormalization(axis=1)(x)
    x = L.MaxPooling2D(2, data_format=cf)(x)
    x = L.ZeroPadding2D(1, data_format=cf)(x)
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", data_format=cf)(x)
    x = L.UpSampling2D(2, data_format=cf)(x)
    x = L.AveragePooling2D(4, data_format=cf)(x)
    x = L.Flatten(data_format=cf)(x)
    x = L.Dense(6, activation="softmax")(x)
    return keras.Model(inp, x, name="k3_channels_first")


def nested_shared():
    """A functional model nested in another and called twice (its weights shared)."""
    i2 = keras.Input((8, 8, 4))
    t = L.Conv2D(4, 3, padding="same", activation="relu", name="inner_conv")(i2)
    t = L.BatchNormalization(name="inner_bn")(t)
    inner = keras.Model(i2, L.Add()([t, i2]), name="inner")
    inp = keras.Input((8, 8, 3), name="x")
    x = L.Conv2D(4, 1, name="stem")(inp)
    a = inner(x)
    b = inner(L.ReLU()(a))
    y = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(L.Concatenate()([a, b])))
    return keras.Model(inp, y, name="k3_nested")


def functional_k2():
    inp = keras.Input((16, 16, 3), name="image")
    a = L.Conv2D(6, 3, padding="same", activation="relu", name="conv2d_1")(inp)
    a = L.BatchNormalization()(a)
    b = L.DepthwiseConv2D(3, padding="same", strides=2)(a)
    b = L.SeparableConv2D(6, 3, padding="same", activation="elu")(b)
    c = L.AveragePooling2D(3, strides=2, padding="same")(a)  # padding split 0/1
    c = L.LeakyReLU(alpha=0.2)(c)
    m = L.Concatenate()([L.Add()([b, c]), L.Multiply()([b, c])])
    block = keras.Sequential([L.Conv2D(6, 1, use_bias=False, input_shape=(8, 8, 12)), L.BatchNormalization(),
                              L.Activation("relu")], name="k2_block")
    m = block(m)
    m = L.Conv2D(4, 3, activation="hard_sigmoid", name="hs")(m)
    t = L.Conv2DTranspose(4, 3, strides=2, padding="same")(m)
    t = L.ReLU(max_value=6.0)(t)
    y = L.Flatten()(L.AveragePooling2D(2)(t))
    y = L.Dense(10, activation="softmax", name="probs")(y)
    return keras.Model(inp, y, name="k2_functional")


def sequential_k2():
    """Keras 2 style: no InputLayer, the first layer carries the input shape."""
    return keras.Sequential([
        L.Conv2D(3, 3, input_shape=(12, 12, 1), activation="relu"),
        L.GlobalMaxPooling2D(),
        L.Dense(4, activation="softmax"),
    ], name="k2_sequential")


def chunk_attributes(src, dst):
    """Rewrites layer_names and one weight_names as chunked attributes, as Keras 2's
    save_attributes_to_hdf5_group does for lists over HDF5's 64 KiB header limit, and
    stores them and model_config as fixed-length byte strings, as Keras 2 releases before
    tf-keras wrote them (tf-keras writes variable-length strings)."""
    import h5py
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        g = f["model_weights"]
        config = f.attrs["model_config"]
        del f.attrs["model_config"]
        f.attrs["model_config"] = np.bytes_(config.encode("utf8") if isinstance(config, str) else config)
        names = np.array([n.encode("utf8") if isinstance(n, str) else n for n in g.attrs["layer_names"]], dtype="S")
        del g.attrs["layer_names"]
        for i, part in enumerate(np.array_split(names, 3)):
            g.attrs[f"layer_names{i}"] = part
        lg = g["conv2d_1"]
        wn = np.array([n.encode("utf8") if isinstance(n, str) else n for n in lg.attrs["weight_names"]], dtype="S")
        del lg.attrs["weight_names"]
        for i, part in enumerate(np.array_split(wn, 2)):
            lg.attrs[f"weight_names{i}"] = part


def main():
    os.makedirs(OUT, exist_ok=True)
    if KERAS2:
        m = functional_k2()
        randomize(m)
        m.save(path("k2_functional.h5"), save_format="h5")
        m.save_weights(path("k2_weights_only.h5"), save_format="h5")
        with open(path("k2_config.json"), "w") as f:
            f.write(m.to_json())
        save_io("k2_functional", m, rng.uniform(0, 1, (2, 16, 16, 3)).astype("float32"))
        chunk_attributes(path("k2_functional.h5"), path("k2_chunked.h5"))
        s = sequential_k2()
        randomize(s)
        s.save(path("k2_sequential.h5"), save_format="h5")
        save_io("k2_sequential", s, rng.uniform(0, 1, (2, 12, 12, 1)).astype("float32"))
        return

    m = functional_k3()
    randomize(m)
    m.save(path("k3_functional.keras"))
    m.save(path("k3_functional.h5"))
    save_io("k3_functional", m, rng.uniform(0, 1, (2, 16, 16, 3)).astype("float32"))

    s = sequential()
    randomize(s)
    s.save(path("k3_sequential.keras"))
    s.save(path("k3_sequential.h5"))
    s.save_weights(path("k3_sequential.weights.h5"))
    with open(path("k3_sequential_config.json"), "w") as f:
        f.write(s.to_json())
    save_io("k3_sequential", s, rng.uniform(0, 1, (2, 20, 20, 3)).astype("float32"))

    c = channels_first()
    randomize(c)
    c.save(path("k3_channels_first.keras"))
    save_io("k3_channels_first", c, rng.uniform(0, 1, (2, 3, 16, 16)).astype("float32"))

    n = nested_shared()
    randomize(n)
    n.save(path("k3_nested.keras"))
    save_io("k3_nested", n, rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32"))

    # Bad input: a Lambda layer, a deflated archive, an archive with an escaping entry.
    lam = keras.Sequential([keras.Input((4, 4, 1)), L.Conv2D(1, 1, name="conv"), L.Lambda(lambda t: t * 2, name="double")])
    lam.save(path("lambda.keras"))
    src = zipfile.ZipFile(path("k3_sequential.keras"))
    with zipfile.ZipFile(path("deflated.keras"), "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n in src.namelist():
            z.writestr(n, src.read(n))
    with zipfile.ZipFile(path("escape.keras"), "w") as z:
        z.writestr("../escaped.txt", b"outside")
        for n in src.namelist():
            z.writestr(n, src.read(n))


if __name__ == "__main__":
    main()
