"""A real Keras model with the GAP -> Dropout -> Dense(softmax) head that issue 13 names
(`explain --method cam` and `surgery cam` must both call it CAM-ready), and Keras's own
numbers for it: probabilities, and the CAM map of each class computed from Keras's last
conv activations and the Dense kernel (relu(sum_k w[k, c] A_k), no bias, as Loupe's CAM).

Writes Tests/LoupeSurgeryTests/Fixtures/keras-cam/ (about 30 KB). Run with the fixture venv:
    .venv/bin/python Scripts/make-keras-cam-fixture.py
Needs tf-keras and tensorflow-cpu (Scripts/requirements.txt). Deterministic for the seeds.
"""
import json
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
import tf_keras as keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "LoupeSurgeryTests", "Fixtures", "keras-cam")


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(3)
    inp = keras.layers.Input((24, 24, 3), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="conv_a")(inp)
    x = keras.layers.MaxPooling2D(name="pool_a")(x)
    feats = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(feats)
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    out = keras.layers.Dense(4, activation="softmax", name="dense")(x)
    model = keras.Model(inp, out)
    model.save(os.path.join(OUT, "gap-dropout-dense.h5"))

    rng = np.random.default_rng(0)
    x_nhwc = rng.random((1, 24, 24, 3), dtype=np.float32)
    np.save(os.path.join(OUT, "input-nhwc.npy"), x_nhwc)
    probs = model.predict(x_nhwc, verbose=0)
    np.save(os.path.join(OUT, "probs.npy"), probs.astype(np.float32))
    a = keras.Model(inp, feats).predict(x_nhwc, verbose=0)[0]          # [12, 12, 16]
    w = model.get_layer("dense").get_weights()[0]                        # [16, 4]
    for c in range(w.shape[1]):
        cam = np.maximum(np.tensordot(a, w[:, c], axes=([2], [0])), 0)   # [12, 12]
        np.save(os.path.join(OUT, f"cam-t{c}.npy"), cam.astype(np.float32))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "Scripts/make-keras-cam-fixture.py", "tensorflow": tf.__version__,
                   "tf_keras": keras.__version__, "classes": int(w.shape[1]), "features_layer": "conv_b",
                   "probs": probs[0].tolist()}, f, indent=1)
    print("wrote", OUT, probs)


if __name__ == "__main__":
    main()
