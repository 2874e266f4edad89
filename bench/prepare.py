"""Prepares what the benchmark's runners read: the images and the Keras model.

  prepare.py images --count N --out build/bench/images [--check-out build/bench/check]
      N JPEGs of mixed sizes (200x150 .. 1024x768), made deterministically from
      testdata/*.jpg by cropping and rescaling; the same N always gives the same files.
      --check-out also writes check_299x299.png, for the agreement check.

  prepare.py model --saved-model models/xception --out build/bench/model/xception.keras
                   [--out-tf-keras build/bench/model/xception.h5]
      Rebuilds the exported classifier as a Keras model for the Python peers, the
      way models/export.py builds it (Keras 3: keras.utils.set_random_seed(1312),
      then keras.applications.Xception(weights=None, classifier_activation=None)),
      with the preprocessing x / 127.5 - 1 as a Rescaling layer in front, so that
      every peer computes the function of the SavedModel the Go CLI runs, and saves
      it in Keras 3's format (--out) for the peers that run on Keras 3.
      --out-tf-keras also writes the same network as a tf-keras (Keras 2) model in
      HDF5, for the peers that run on tf-keras: a tf-keras Xception into which the
      Keras 3 model's weights are copied layer by layer, by name (Keras 2 and 3 do
      not draw the same initial weights from the same seed).
      Each model's logits are checked against the SavedModel's serving_default on two
      images, and no file is written unless they agree.
"""

import argparse
import glob
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The rebuild must be Keras 3's, as the exporter's: tf.keras must not be tf-keras here.
os.environ.pop("TF_USE_LEGACY_KERAS", None)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (width, height), cycled; the first is what the latency run explains.
SIZES = [
    (640, 480), (200, 150), (1024, 768), (320, 240), (800, 600), (299, 299),
    (480, 640), (400, 300), (768, 1024), (256, 256), (512, 384), (300, 400),
    (960, 540), (224, 224), (600, 800), (720, 480),
]


def make_images(count, out, sources):
    import numpy as np
    from PIL import Image

    if not sources:
        sys.exit("prepare.py: no source images (testdata/*.jpg)")
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "*")):
        os.remove(old)
    rng = np.random.default_rng(1312)
    for i in range(count):
        src = Image.open(sources[i % len(sources)]).convert("RGB")
        w, h = SIZES[i % len(SIZES)]
        # A crop of 60..100% of the source's sides at a random place, then the size.
        cw = int(src.width * rng.uniform(0.6, 1.0))
        ch = int(src.height * rng.uniform(0.6, 1.0))
        x0 = int(rng.integers(0, src.width - cw + 1))
        y0 = int(rng.integers(0, src.height - ch + 1))
        img = src.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
        img.save(os.path.join(out, f"img{i:03d}_{w}x{h}.jpg"), quality=90)
    print(f"prepare.py: {count} images in {out}")


def make_check(out, sources):
    """A 299x299 PNG for the agreement check: no resize and no JPEG decoder on the
    way in, so the peers' maps can differ only by arithmetic order."""
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    src = Image.open(sources[0]).convert("RGB")
    src.resize((299, 299), Image.BICUBIC).save(os.path.join(out, "check_299x299.png"))


def build_keras(manifest):
    """The exported classifier as a Keras 3 model taking raw 0..255 RGB."""
    import keras

    if manifest.get("architecture") != "keras.applications.Xception":
        sys.exit(f"prepare.py: can rebuild only keras.applications.Xception, "
                 f"not {manifest.get('architecture')}")
    seed = manifest.get("seed") or 1312
    keras.utils.set_random_seed(seed)
    base = keras.applications.Xception(weights=None, classifier_activation=None)
    inputs = keras.Input((299, 299, 3), name="images")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    return keras.Model(inputs, base(x, training=False), name="bench_xception"), base


def build_tf_keras(base3):
    """The same network in tf-keras (Keras 2), with base3's weights copied in by layer
    name (the layer names are keras.applications' own, the same in both)."""
    import tf_keras

    base = tf_keras.applications.Xception(weights=None, classifier_activation=None)
    src = {layer.name: layer for layer in base3.layers}
    copied = 0
    for layer in base.layers:
        if not layer.weights:
            continue
        if layer.name not in src:
            sys.exit(f"prepare.py: the Keras 3 Xception has no layer {layer.name!r}")
        values = src[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != shapes:
            sys.exit(f"prepare.py: layer {layer.name!r}: weight shapes differ between "
                     f"Keras 3 and tf-keras")
        layer.set_weights(values)
        copied += len(values)
    if copied != len(base3.weights):
        sys.exit(f"prepare.py: copied {copied} of the Keras 3 model's "
                 f"{len(base3.weights)} weights into tf-keras")
    inputs = tf_keras.Input((299, 299, 3), name="images")
    x = tf_keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    return tf_keras.Model(inputs, base(x, training=False), name="bench_xception")


def copy_weights(base, serve):
    """Copies the variables that the SavedModel's logits signature captures into base
    (a Keras 3 model) by path, e.g. block1_conv1/kernel (for weights that a seed
    cannot rebuild: --weights imagenet or a file)."""
    by_name = {}
    for v in serve.variables:
        name = v.name[:-2] if v.name.endswith(":0") else v.name
        by_name.setdefault(name, v)
    missing = [w.path for w in base.weights if w.path not in by_name]
    if missing:
        sys.exit(f"prepare.py: the SavedModel lacks {len(missing)} of the Keras "
                 f"model's variables, e.g. {missing[:3]}")
    for w in base.weights:
        w.assign(by_name[w.path])


def make_model(saved_dir, out, out_tf_keras=None):
    import numpy as np
    import tensorflow as tf

    with open(os.path.join(saved_dir, "saliency.json")) as f:
        manifest = json.load(f)
    model, base = build_keras(manifest)
    saved = tf.saved_model.load(saved_dir)
    sig = manifest.get("signatures", {}).get("logits", {})
    serve = saved.signatures[sig.get("name", "serving_default")]
    in_name = sig.get("inputs", {}).get("images", "images")
    out_name = sig.get("outputs", {}).get("logits", "logits")

    rng = np.random.default_rng(7)
    x = rng.uniform(0, 255, size=(2, 299, 299, 3)).astype("float32")
    want = serve(**{in_name: tf.constant(x)})[out_name].numpy()

    def diff(m):
        got = np.asarray(m(x, training=False))
        return float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))

    rel = diff(model)
    how = f"seed {manifest.get('seed')}"
    if rel > 1e-4:
        copy_weights(base, serve)
        rel = diff(model)
        how = "variables copied from the SavedModel"
    if rel > 1e-4:
        sys.exit(f"prepare.py: the Keras rebuild differs from {saved_dir}: "
                 f"max relative logit difference {rel:.3g}")
    outputs = [(out, model)]
    rel2 = None
    if out_tf_keras:
        model2 = build_tf_keras(base)
        rel2 = diff(model2)
        if rel2 > 1e-4:
            sys.exit(f"prepare.py: the tf-keras copy differs from {saved_dir}: "
                     f"max relative logit difference {rel2:.3g}")
        outputs.append((out_tf_keras, model2))
    for path, m in outputs:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        ext = os.path.splitext(path)[1]
        tmp = path + ".tmp" + ext  # Keras picks the format from the extension
        with warnings.catch_warnings():
            # tf-keras calls HDF5 legacy; it is the format that is unambiguously Keras 2's.
            warnings.simplefilter("ignore", UserWarning)
            m.save(tmp)
        os.replace(tmp, path)
    import keras

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    if out_tf_keras:
        import tf_keras

        versions["tf-keras"] = tf_keras.__version__
    info = {"saved_model": os.path.abspath(saved_dir), "weights": manifest.get("weights"),
            "seed": manifest.get("seed"), "rebuilt_by": how, "keras_file": out,
            "max_rel_logit_diff": rel, **versions}
    if out_tf_keras:
        info.update({"tf_keras_file": out_tf_keras,
                     "tf_keras_weights": "copied from the Keras 3 rebuild, layer by layer",
                     "tf_keras_max_rel_logit_diff": rel2})
    with open(out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(f"prepare.py: Keras 3 model in {out} ({how}; logits match the SavedModel "
          f"to {rel:.2g} relative)")
    if out_tf_keras:
        print(f"prepare.py: tf-keras model in {out_tf_keras} (weights copied from it; "
              f"logits match the SavedModel to {rel2:.2g} relative)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    pi = sub.add_parser("images")
    pi.add_argument("--count", type=int, default=64)
    pi.add_argument("--out", required=True)
    pi.add_argument("--check-out", help="also write the agreement check's 299x299 PNG here")
    pi.add_argument("--sources", default=os.path.join(ROOT, "testdata"))
    pm = sub.add_parser("model")
    pm.add_argument("--saved-model", required=True)
    pm.add_argument("--out", required=True, help="the Keras 3 model (.keras)")
    pm.add_argument("--out-tf-keras", help="also write the tf-keras (Keras 2) model (.h5)")
    args = p.parse_args()
    if args.what == "images":
        sources = sorted(glob.glob(os.path.join(args.sources, "*.jpg")))
        make_images(args.count, args.out, sources)
        if args.check_out:
            make_check(args.check_out, sources)
    else:
        make_model(args.saved_model, args.out, args.out_tf_keras)


if __name__ == "__main__":
    main()
