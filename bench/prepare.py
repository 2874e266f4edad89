"""Prepares what the benchmark's runners read: the images and the Keras model.

  prepare.py images --count N --out build/bench/images [--check-out build/bench/check]
      N JPEGs of mixed sizes (200x150 .. 1024x768), made deterministically from
      testdata/*.jpg by cropping and rescaling; the same N always gives the same files.
      --check-out also writes check_299x299.png, for the agreement check.

  prepare.py model --saved-model models/xception --out build/bench/model/xception.keras
      Rebuilds the exported classifier as a Keras model for the Python peers, the
      way models/export.py builds it (tf.keras.utils.set_random_seed(1312), then
      tf.keras.applications.Xception(weights=None, classifier_activation=None)),
      with the preprocessing x / 127.5 - 1 as a Rescaling layer in front, so that
      every peer computes the function of the SavedModel the Go CLI runs. It then
      checks that the Keras model's logits equal the SavedModel's serving_default on
      two images and refuses to write the file if they do not.
"""

import argparse
import glob
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
    """The exported classifier as a Keras model taking raw 0..255 RGB."""
    import tensorflow as tf

    if manifest.get("architecture") != "keras.applications.Xception":
        sys.exit(f"prepare.py: can rebuild only keras.applications.Xception, "
                 f"not {manifest.get('architecture')}")
    seed = manifest.get("seed") or 1312
    tf.keras.utils.set_random_seed(seed)
    base = tf.keras.applications.Xception(weights=None, classifier_activation=None)
    inputs = tf.keras.Input((299, 299, 3), name="images")
    x = tf.keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    return tf.keras.Model(inputs, base(x, training=False), name="bench_xception"), base


def copy_weights(base, saved):
    """Copies the SavedModel's variables into base by name (for weights that a seed
    cannot rebuild: --weights imagenet or a file)."""
    by_name = {v.name: v for v in saved.model.variables}
    missing = [w.name for w in base.weights if w.name not in by_name]
    if missing:
        sys.exit(f"prepare.py: the SavedModel lacks {len(missing)} of the Keras "
                 f"model's variables, e.g. {missing[:3]}")
    for w in base.weights:
        w.assign(by_name[w.name])


def make_model(saved_dir, out):
    import numpy as np
    import tensorflow as tf

    with open(os.path.join(saved_dir, "saliency.json")) as f:
        manifest = json.load(f)
    model, base = build_keras(manifest)
    saved = tf.saved_model.load(saved_dir)
    serve = saved.signatures["serving_default"]

    rng = np.random.default_rng(7)
    x = rng.uniform(0, 255, size=(2, 299, 299, 3)).astype("float32")
    want = serve(images=tf.constant(x))["logits"].numpy()

    def diff():
        got = model(x, training=False).numpy()
        return float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))

    rel = diff()
    how = f"seed {manifest.get('seed')}"
    if rel > 1e-4:
        copy_weights(base, saved)
        rel = diff()
        how = "variables copied from the SavedModel"
    if rel > 1e-4:
        sys.exit(f"prepare.py: the Keras rebuild differs from {saved_dir}: "
                 f"max relative logit difference {rel:.3g}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, out)
    info = {"saved_model": os.path.abspath(saved_dir), "weights": manifest.get("weights"),
            "seed": manifest.get("seed"), "rebuilt_by": how,
            "max_rel_logit_diff": rel, "tensorflow": tf.__version__}
    with open(out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(f"prepare.py: Keras model in {out} ({how}; logits match the SavedModel "
          f"to {rel:.2g} relative)")


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
    pm.add_argument("--out", required=True)
    args = p.parse_args()
    if args.what == "images":
        sources = sorted(glob.glob(os.path.join(args.sources, "*.jpg")))
        make_images(args.count, args.out, sources)
        if args.check_out:
            make_check(args.check_out, sources)
    else:
        make_model(args.saved_model, args.out)


if __name__ == "__main__":
    main()
