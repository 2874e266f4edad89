"""Runs tf-keras-vis 0.8.7's class activation maps on the images it is given, for
the peers' parity test (tests/test_peers.py), and writes them to one .npz.

Run by build/bench/venv/bin/python (tf-keras-vis and tf-keras live there, never in
.venv) with TF_USE_LEGACY_KERAS=1: tf-keras-vis was written for tf.keras = Keras 2,
so it runs on a tf-keras copy of the test's Keras 3 model: the same architecture
built in tf-keras, the Keras 3 model's weights copied in, its logits checked
against Keras 3's on the images, and x / 127.5 - 1 as a layer in front so that it
takes the raw pixels the CLI takes. Called the way tf-keras-vis' README shows:
`Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)` and so on, with a
CategoricalScore of each image's unit and the layer named.

For every method M the .npz holds M: the CAM at the layer's size as tf-keras-vis
computes it, before its normalisation and upsampling (expand_cam=False,
normalize_cam=False), [N, h, w]; and (but Score-CAM) M_full: its default output
(upsampled with scipy's zoom, normalised), [N, H, W]. For Score-CAM also scorecam_bilinear: the
same call with its mask upsampling (scipy.ndimage.zoom, order 1, mode "nearest")
replaced by tf.image.resize (bilinear, half-pixel centres), the CLI's and the
paper's ("upsample"), to show that this is the only difference.

    tfkv_cams.py --kind fashion --model-dir models/fashion --weights keras3.npz
                 --layer exit_relu --units 3,7 --max-channels 16 --out cams.npz a.png b.png
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(keras, kind, model_dir):
    """The architecture in tf-keras: keras.applications' Xception, or
    models/fashion.py's build_model (written against tf.keras, which is tf-keras
    here) with the manifest's recipe."""
    if kind == "xception":
        return keras.applications.Xception(weights=None, classifier_activation=None)
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import fashion
    with open(os.path.join(model_dir, "saliency.json")) as f:
        recipe = json.load(f)["recipe"]["model"]
    return fashion.build_model(**recipe)


def load_weights(model, weights):
    """The test's Keras 3 model's weights (get_weights(), in layer order), layer by
    layer in order, each layer's shapes checked."""
    layers = [layer for layer in model.layers if layer.weights]
    at = 0
    for layer in layers:
        values = weights[at:at + len(layer.weights)]
        assert [v.shape for v in values] == [tuple(w.shape) for w in layer.weights], layer.name
        layer.set_weights(values)
        at += len(values)
    assert at == len(weights), f"{len(weights) - at} weights left over"


def with_pixels_input(keras, model):
    """model, taking raw 0..255 pixels: x / 127.5 - 1 (both models' preprocessing)
    as a Rescaling layer before its first layer, then a copy of each of its layers
    (same config, same weights) in order, so that the result is one flat model of
    layers used once: tf-keras-vis looks its layer up among the model's own layers
    and rebuilds the model up to that layer's output, and Score-CAM masks the raw
    pixels, as the CLI does."""
    inputs = keras.Input(model.input_shape[1:], name="pixels")
    out = {model.layers[0].name: keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)}
    for layer in model.layers[1:]:
        inbound = layer.inbound_nodes[0].inbound_layers
        parents = [out[p.name] for p in (inbound if isinstance(inbound, list) else [inbound])]
        copy = layer.__class__.from_config(layer.get_config())
        out[layer.name] = copy(parents if len(parents) > 1 else parents[0])
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, out[model.layers[-1].name])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", choices=("xception", "fashion"), required=True)
    p.add_argument("--model-dir", required=True, help="the export (its manifest's recipe)")
    p.add_argument("--weights", required=True,
                   help=".npz: the Keras 3 model's weights (w0, w1, ...) and its logits on the images")
    p.add_argument("--layer", required=True)
    p.add_argument("--units", required=True, help="one unit per image, comma-separated")
    p.add_argument("--max-channels", type=int, default=0, help="Score-CAM's max_N (0: all)")
    p.add_argument("--out", required=True)
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("tfkv_cams.py: run with TF_USE_LEGACY_KERAS=1 (tf-keras-vis runs on Keras 2)")

    import numpy as np
    import tensorflow as tf
    from PIL import Image
    import tf_keras_vis.scorecam as scorecam_module
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    given = np.load(args.weights)
    weights = [given[f"w{i}"] for i in range(len(given.files) - 1)]
    bare = build(tf.keras, args.kind, args.model_dir)
    load_weights(bare, weights)
    model = with_pixels_input(tf.keras, bare)
    x = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) for f in args.images])
    want, got = given["logits"], model(x, training=False).numpy()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max(), (
        f"tf-keras model's logits differ from Keras 3's by {np.abs(got - want).max():.2e}")
    units = [int(u) for u in args.units.split(",")]
    assert len(units) == len(x), "one unit per image"
    score = CategoricalScore(units)
    layer = args.layer
    max_n = args.max_channels or None
    out = {}
    for name, cls in (("gradcam", Gradcam), ("gradcampp", GradcamPlusPlus), ("layercam", Layercam)):
        tool = cls(model, model_modifier=ReplaceToLinear(), clone=True)
        out[name] = np.asarray(tool(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False, expand_cam=False,
                                    normalize_cam=False))
        out[name + "_full"] = np.asarray(tool(score, x, penultimate_layer=layer, seek_penultimate_conv_layer=False))
    # Score-CAM applies a softmax to the masked images' outputs itself (the model's
    # last layer is linear, so ReplaceToLinear changes nothing); one image a call,
    # as its max_N picks channels over the batch's union.
    tool = Scorecam(model, clone=True)

    def scorecam(**kw):
        return np.concatenate([np.asarray(tool(CategoricalScore([u]), x[i:i + 1], penultimate_layer=layer, seek_penultimate_conv_layer=False,
                                               max_N=max_n, **kw)) for i, u in enumerate(units)])

    out["scorecam"] = scorecam(expand_cam=False, normalize_cam=False)
    original_zoom = scorecam_module.zoom

    def bilinear(a, factor, order=1, mode=None):
        size = [int(round(s * f)) for s, f in zip(a.shape[1:3], factor[1:3])]
        return tf.image.resize(a, size, method="bilinear").numpy()

    scorecam_module.zoom = bilinear
    try:
        out["scorecam_bilinear"] = scorecam(expand_cam=False, normalize_cam=False)
    finally:
        scorecam_module.zoom = original_zoom
    np.savez(args.out, units=np.asarray(units), **out)


if __name__ == "__main__":
    main()
