"""Runs Google PAIR's `saliency` 0.2.1 (saliency.core) on the images it is given,
for the peers' parity test (tests/test_peers.py), and writes its masks to one .npz.

Run by build/bench/venv/bin/python (PAIR's package, scipy and scikit-image live
there, never in .venv), on Keras 3: PAIR is framework-free and sees the model only
through the call_model_function its README describes, which here runs the test's
own Keras rebuild (tests/conftest.py `rebuild`, never the exporter or the
SavedModel) in graph mode on raw 0..255 pixels, the preprocessing inside, and
returns what PAIR asks for: the unit's logit, its gradient with respect to the
input, or the CAM layer's values and gradients.

Guided IG and XRAI are given the SavedModel's own gradients (its `gradients`
signature, one image per call, as the CLI's --batch-size 1): both make greedy
choices on the gradients. Guided IG's path picks, at every step, the features
of smallest |gradient|, so two graphs' gradients a few 1e-7 apart flip a
near-tie somewhere and the paths part (by 0.18 on a freshly trained demo model
even at 20 steps); XRAI adds, at every step, the region of highest attribution
density, and two near-equal densities swapped give other regions (CI's freshly
trained demo model, 2026-11-28). What those comparisons prove is PAIR's
algorithm against the CLI's on the same gradients; that those gradients are
Keras' autodiff to float32 is test_parity's proof.

    pair_methods.py --kind fashion --model-dir models/fashion --units 3,7
                    --methods gradcam,occlusion,blurig,guidedig,xrai --occlusion-size 80
                    --guidedig-steps 20 --xrai-steps 20 --out pair.npz a.png b.png

The .npz holds, per method M, M: [N, H, W, C] or [N, h, w] as GetMask returns it.

XRAI is given its segments (GetMaskWithDetails' segments=): PAIR's own
_get_segments_felzenszwalb with resize_image=False, i.e. at the input size. By
default PAIR resizes the image to 224x224 to segment it; the CLI segments at the
model's input size (internal/method/xrai.go), and this is how PAIR does that.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("TF_USE_LEGACY_KERAS", None)  # Keras 3, the test's rebuild
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", choices=("xception", "fashion"), required=True)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--units", required=True, help="one unit per image, comma-separated")
    p.add_argument("--methods", required=True, help="comma-separated: gradcam, occlusion")
    p.add_argument("--occlusion-size", type=int, default=15, help="Occlusion's size (PAIR's default 15)")
    p.add_argument("--guidedig-steps", type=int, default=200, help="Guided IG's x_steps (PAIR's default 200)")
    p.add_argument("--xrai-steps", type=int, default=100, help="XRAI's IG steps (PAIR's default 100)")
    p.add_argument("--out", required=True)
    p.add_argument("images", nargs="+")
    args = p.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf
    from PIL import Image
    import saliency.core as pair
    from saliency.core import xrai as pair_xrai

    # PAIR 0.2.1's guided_ig.py calls np.quantile(..., interpolation=...), which
    # numpy 2.4 removed; it is the same argument as method=.
    quantile = np.quantile

    def quantile_compat(a, q, *args, interpolation=None, **kw):
        if interpolation is not None:
            kw["method"] = interpolation
        return quantile(a, q, *args, **kw)

    np.quantile = quantile_compat

    sys.path.insert(0, TESTS)
    import conftest

    model, preprocess = conftest.rebuild(args.kind, args.model_dir)
    layer = conftest.CAM_LAYERS[args.kind]
    features = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])

    @tf.function
    def logits_of(x, unit):
        return tf.gather(model(preprocess(x), training=False), unit, axis=1)

    @tf.function
    def input_gradients(x, unit):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            picked = tf.gather(model(preprocess(x), training=False), unit, axis=1)
        return tape.gradient(picked, x), picked

    @tf.function
    def layer_and_gradients(x, unit):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            acts, out = features(preprocess(x), training=False)
            picked = tf.gather(out, unit, axis=1)
        return acts, tape.gradient(picked, acts)

    saved = tf.saved_model.load(args.model_dir).signatures["gradients"]

    def saved_model_function(x, call_model_args=None, expected_keys=None):
        """The SavedModel's gradients of the unit, one image per call."""
        assert expected_keys == [pair.INPUT_OUTPUT_GRADIENTS], expected_keys
        out = saved(images=tf.constant(np.asarray(x, np.float32)),
                    units=tf.constant([[call_model_args["unit"]]] * len(x), tf.int32))
        return {pair.INPUT_OUTPUT_GRADIENTS: out["gradients"].numpy()[:, 0]}

    def call_model_function(x, call_model_args=None, expected_keys=None):
        unit = tf.constant(call_model_args["unit"])
        x = tf.constant(np.asarray(x, np.float32))
        if pair.CONVOLUTION_LAYER_VALUES in expected_keys:
            acts, grads = layer_and_gradients(x, unit)
            return {pair.CONVOLUTION_LAYER_VALUES: acts.numpy(),
                    pair.CONVOLUTION_OUTPUT_GRADIENTS: grads.numpy()}
        if pair.INPUT_OUTPUT_GRADIENTS in expected_keys:
            grads, _ = input_gradients(x, unit)
            return {pair.INPUT_OUTPUT_GRADIENTS: grads.numpy()}
        return {pair.OUTPUT_LAYER_VALUES: logits_of(x, unit).numpy()}

    units = [int(u) for u in args.units.split(",")]
    images = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) for f in args.images]
    assert len(units) == len(images), "one unit per image"
    makers = {
        # The layer's map before PAIR's own resize (should_resize=False), as for the
        # CLI's: PAIR's resize is scikit-image's, with another edge rule.
        "gradcam": lambda x, args_: pair.GradCam().GetMask(x, call_model_function, args_,
                                                           should_resize=False, three_dims=False),
        "occlusion": lambda x, args_: pair.Occlusion().GetMask(x, call_model_function, args_,
                                                               size=args.occlusion_size, value=0),
        # Blur IG at its defaults (max_sigma 50, steps 100, grad_step 0.01).
        "blurig": lambda x, args_: pair.BlurIG().GetMask(x, call_model_function, args_),
        # Guided IG from black (PAIR's zeros: these models take raw 0..255 pixels),
        # on the SavedModel's gradients (see above).
        "guidedig": lambda x, args_: pair.GuidedIG().GetMask(x, saved_model_function, args_,
                                                             x_steps=args.guidedig_steps),
        # XRAI at its defaults but the IG steps (baselines min(x) and max(x),
        # algorithm "full"), on PAIR's segments at the input size and the
        # SavedModel's gradients (see above).
        "xrai": lambda x, args_: pair.XRAI().GetMaskWithDetails(
            x, saved_model_function, args_,
            segments=pair_xrai._get_segments_felzenszwalb(x, resize_image=False),
            extra_parameters=pair.XRAIParameters(steps=args.xrai_steps)).attribution_mask,
    }
    out = {}
    for m in args.methods.split(","):
        out[m] = np.stack([makers[m](x, {"unit": u}) for x, u in zip(images, units)])
    np.savez(args.out, units=np.asarray(units), **out)


if __name__ == "__main__":
    main()
