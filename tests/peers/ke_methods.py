"""Runs keras-explainable's CAM, Grad-CAM, Grad-CAM++, Score-CAM and FullGrad
on the images it is given, for the peers' parity tests (tests/test_peers.py,
tests/test_fullgrad.py), and writes their raw outputs to one .npz.

keras-explainable is not on PyPI; its source folder (KE_SRC, or the fetched
mirror, as bench/run.sh finds it) is passed with --ke-path. It is a Keras 2
library: run by build/bench/venv/bin/python with TF_USE_LEGACY_KERAS=1, its
`keras` imports answered by tf-keras through bench/ke_compat.py, on the same
tf-keras copy of the test's Keras 3 model that tfkv_cams.py builds (weights
copied, logits checked, x / 127.5 - 1 as a layer in front: raw pixels in).

Called as its docs show, the methods themselves (not ke.explain, so that the
maps come back before any post-processing, at the resolution each computes):
  exposed = ke.inspection.expose(model, LAYER)      # [logits, A]
  ke.methods.cams.{cam,gradcam,gradcampp,scorecam}(exposed, x, units[:, None])
  inters, biases = ke.inspection.layers_with_biases(model, exclude=[logits layer])
  ke.methods.gradient.full_gradients(ke.inspection.expose(model, inters, logits layer),
                                     x, units[:, None], biases=biases)

    ke_methods.py --ke-path DIR --kind fashion --model-dir models/fashion
                  --weights keras3.npz --layer exit_relu --units 3,7
                  --methods cam,gradcam,gradcampp,scorecam,fullgrad --out ke.npz a.png b.png

The .npz holds, per method M, M: [N, h, w] (the CAMs at the layer's size,
FullGrad at the input's), and fullgrad_layers: the names of the layers whose
biases keras-explainable's FullGrad counts.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ke-path", required=True, help="the folder holding the keras_explainable package")
    p.add_argument("--kind", choices=("xception", "fashion"), required=True)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--layer", required=True)
    p.add_argument("--units", required=True, help="one unit per image, comma-separated")
    p.add_argument("--methods", required=True, help="comma-separated: cam, gradcam, gradcampp, scorecam, fullgrad")
    p.add_argument("--out", required=True)
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("ke_methods.py: run with TF_USE_LEGACY_KERAS=1 (keras-explainable runs on Keras 2)")
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import ke_compat
    ke_compat.install()
    sys.path.insert(0, args.ke_path)
    sys.path.insert(0, HERE)

    import numpy as np
    import tensorflow as tf
    from PIL import Image
    import keras_explainable as ke
    from tfkv_cams import build, load_weights, with_pixels_input

    given = np.load(args.weights)
    bare = build(tf.keras, args.kind, args.model_dir)
    load_weights(bare, [given[f"w{i}"] for i in range(len(given.files) - 1)])
    model = with_pixels_input(tf.keras, bare)
    x = tf.constant(np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32)
                              for f in args.images]))
    want, got = given["logits"], model(x, training=False).numpy()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max(), "tf-keras copy's logits"
    units = np.asarray([int(u) for u in args.units.split(",")])[:, None]
    assert len(units) == len(x), "one unit per image"

    methods = args.methods.split(",")
    out = {}
    exposed = ke.inspection.expose(model, args.layer)
    for name in ("cam", "gradcam", "gradcampp", "scorecam"):
        if name in methods:
            _, maps = getattr(ke.methods.cams, name)(exposed, x, units)
            out[name] = maps.numpy()[..., 0]
    if "fullgrad" in methods:
        logits_layer = ke.inspection.get_logits_layer(model)
        inters, biases = ke.inspection.layers_with_biases(model, exclude=[logits_layer])
        full = ke.inspection.expose(model, inters, logits_layer)
        _, maps = ke.methods.gradient.full_gradients(full, x, units, biases=biases)
        out["fullgrad"] = maps.numpy()[..., 0]
        out["fullgrad_layers"] = np.asarray([layer.name for layer in inters])
    np.savez(args.out, units=units[:, 0], **out)


if __name__ == "__main__":
    main()
