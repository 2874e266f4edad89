"""Exports a Keras image classifier as a SavedModel that `saliency` can explain.

The SavedModel carries two signatures and a manifest beside them, so the Go side
needs no model-specific code:

  serving_default   images float32 [N, H, W, 3], raw RGB 0..255
                    -> logits float32 [N, classes]
  gradients         images float32 [N, H, W, 3], units int32 [N, K]
                    -> logits float32 [N, K], the selected logits
                    -> gradients float32 [N, K, H, W, 3], d logit / d pixel
  top1              images float32 [N, H, W, 3]
                    -> units int32 [N, 1], each image's highest logit (ties: lower
                       index, as tf.math.top_k)
                    -> logits float32 [N, 1], gradients float32 [N, 1, H, W, 3]
                    (one forward pass serves both the choice of the unit and its
                    gradient: a third cheaper than serving_default + gradients)
  gradcam           images float32 [N, H, W, 3], units int32 [N, K]
                    -> logits float32 [N, K], the selected logits
                    -> activations float32 [N, h, w, C] of the last convolutional
                       block (the layer feeding global average pooling; the
                       manifest names it)
                    -> gradients float32 [N, K, h, w, C], d logit / d activation
                    (Grad-CAM, Selvaraju et al. 2017; the weighting, ReLU and
                    upsampling are done by the Go side)

The gradient signature repeats each image K times and differentiates the sum of
the selected logits once: each row of the sum depends only on its own copy, so the
gradient of the sum with respect to a copy is the gradient of that copy's logit.
This gives the same Jacobian rows as GradientTape.batch_jacobian without its pfor
fallback, which on Xception runs the depthwise-convolution gradient as a sequential
while_loop.

Usage:
  python models/export.py --weights none --out models/xception
  python models/export.py --weights imagenet --out models/xception
  python models/export.py --weights path/to/weights.h5 --out models/xception
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile

MANIFEST = "saliency.json"
MANIFEST_VERSION = 1


def imagenet_labels():
    """ImageNet-1k class ids and names in Keras' class order.

    Keras fetches its class index from the network at run time; timm's wheel ships
    the same 1000 WordNet ids (sorted, which is Keras' order) with their lemmas.
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("export.py: the timm package (installed by `make setup`, without "
                 "its dependencies) is needed for the ImageNet label names")
    info = os.path.join(spec.submodule_search_locations[0], "data", "_info")
    with open(os.path.join(info, "imagenet_synsets.txt")) as f:
        synsets = [line.strip() for line in f if line.strip()]
    lemmas = {}
    with open(os.path.join(info, "imagenet_synset_to_lemma.txt")) as f:
        for line in f:
            wnid, _, lemma = line.rstrip("\n").partition("\t")
            lemmas[wnid] = lemma
    if len(synsets) != 1000:
        sys.exit(f"export.py: expected 1000 ImageNet synsets, found {len(synsets)}")
    names = [lemmas[w].split(",")[0].strip() for w in synsets]
    return synsets, names


def build_xception(weights, seed):
    import tensorflow as tf

    if weights == "none":
        tf.keras.utils.set_random_seed(seed)
        model = tf.keras.applications.Xception(weights=None, classifier_activation=None)
    elif weights == "imagenet":
        model = tf.keras.applications.Xception(weights="imagenet", classifier_activation=None)
    else:
        model = tf.keras.applications.Xception(weights=None, classifier_activation=None)
        model.load_weights(weights)
    return model


def last_conv_layer(model):
    """The layer whose output the model's global average pooling reads: the last
    convolutional block, where Grad-CAM looks (block14_sepconv2_act in Xception)."""
    import tensorflow as tf

    pools = [l for l in model.layers if isinstance(l, tf.keras.layers.GlobalAveragePooling2D)]
    if len(pools) != 1:
        raise ValueError(f"{model.name}: want one GlobalAveragePooling2D layer, found {len(pools)}")
    return pools[0].input._keras_history.layer


class Explainable:
    """Wraps a Keras classifier with the signatures saliency calls."""

    def __init__(self, model, preprocess):
        import tensorflow as tf

        self.module = tf.Module()
        self.module.model = model
        self.cam_layer = last_conv_layer(model)
        features = tf.keras.Model(model.inputs, [self.cam_layer.output, model.output])
        self.module.features = features
        _, h, w, c = model.input_shape
        images = tf.TensorSpec([None, h, w, c], tf.float32, name="images")
        units = tf.TensorSpec([None, None], tf.int32, name="units")

        @tf.function(input_signature=[images])
        def serve(images):
            return {"logits": model(preprocess(images), training=False)}

        @tf.function(input_signature=[images, units])
        def gradients(images, units):
            n, k = tf.shape(units)[0], tf.shape(units)[1]
            tiled = tf.repeat(images, k, axis=0)
            flat_units = tf.reshape(units, [-1])
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(tiled)
                logits = model(preprocess(tiled), training=False)
                picked = tf.gather(logits, flat_units, batch_dims=1)
                total = tf.reduce_sum(picked)
            grads = tape.gradient(total, tiled)
            return {
                "logits": tf.reshape(picked, [n, k]),
                "gradients": tf.reshape(grads, [n, k, h, w, c]),
            }

        @tf.function(input_signature=[images])
        def top1(images):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(images)
                logits = model(preprocess(images), training=False)
                top = tf.math.top_k(logits, 1).indices
                picked = tf.gather(logits, top, batch_dims=1)
                total = tf.reduce_sum(picked)
            grads = tape.gradient(total, images)
            return {"units": top, "logits": picked, "gradients": grads[:, None]}

        @tf.function(input_signature=[images, units])
        def gradcam(images, units):
            n, k = tf.shape(units)[0], tf.shape(units)[1]
            tiled = tf.repeat(images, k, axis=0)
            flat_units = tf.reshape(units, [-1])
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(tiled)
                acts, logits = features(preprocess(tiled), training=False)
                picked = tf.gather(logits, flat_units, batch_dims=1)
                total = tf.reduce_sum(picked)
            grads = tape.gradient(total, acts)
            shape = tf.shape(acts)[1:]
            return {
                "logits": tf.reshape(picked, [n, k]),
                "activations": acts[::k],
                "gradients": tf.reshape(grads, tf.concat([[n, k], shape], 0)),
            }

        self.module.serve = serve
        self.module.gradients = gradients
        self.module.gradcam = gradcam
        self.module.top1 = top1
        self.signatures = {"serving_default": serve, "gradients": gradients, "gradcam": gradcam,
                           "top1": top1}
        self.input_shape = (h, w, c)


def xception_preprocess(x):
    # keras.applications.xception.preprocess_input, mode "tf": scale to [-1, 1].
    return x / 127.5 - 1.0


def export(model, preprocess, preprocess_doc, labels, label_ids, out, meta, write_extra=None):
    """Saves model with its signatures and the manifest into out, atomically;
    write_extra(folder), when given, adds files to the folder before it appears."""
    import tensorflow as tf

    wrapped = Explainable(model, preprocess)
    h, w, c = wrapped.input_shape
    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        tf.saved_model.save(wrapped.module, tmp, signatures=wrapped.signatures)
        manifest = {
            "version": MANIFEST_VERSION,
            "name": meta["name"],
            "architecture": meta["architecture"],
            "weights": meta["weights"],
            "seed": meta.get("seed"),
            "tensorflow": tf.__version__,
            "input": {
                "height": h,
                "width": w,
                "channels": c,
                "range": [0.0, 255.0],
                "preprocessing": preprocess_doc,
            },
            "labels": labels,
            "label_ids": label_ids,
            "signatures": {
                "logits": {
                    "name": "serving_default",
                    "inputs": {"images": "images"},
                    "outputs": {"logits": "logits"},
                },
                "gradients": {
                    "name": "gradients",
                    "inputs": {"images": "images", "units": "units"},
                    "outputs": {"logits": "logits", "gradients": "gradients"},
                },
                "top1": {
                    "name": "top1",
                    "inputs": {"images": "images"},
                    "outputs": {"units": "units", "logits": "logits", "gradients": "gradients"},
                },
                "gradcam": {
                    "name": "gradcam",
                    "inputs": {"images": "images", "units": "units"},
                    "outputs": {"logits": "logits", "activations": "activations",
                                "gradients": "gradients"},
                    "layer": wrapped.cam_layer.name,
                },
            },
        }
        # Optional extra top-level fields from the caller (a trained model's scores).
        for key, value in meta.get("extra", {}).items():
            if key in manifest:
                raise ValueError(f"export: extra manifest field {key!r} is reserved")
            manifest[key] = value
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        if write_extra:
            write_extra(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the model from other users
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="none",
                        help="'none' (random, seeded), 'imagenet' (downloaded by Keras) or a .h5 file")
    parser.add_argument("--seed", type=int, default=1312,
                        help="seed of the random initialisation for --weights none")
    parser.add_argument("--out", required=True, help="folder to write the SavedModel to")
    parser.add_argument("--name", default="xception")
    args = parser.parse_args(argv)

    if args.weights not in ("none", "imagenet") and not os.path.isfile(args.weights):
        parser.error(f"--weights {args.weights}: no such file")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    label_ids, labels = imagenet_labels()
    model = build_xception(args.weights, args.seed)
    weights = args.weights
    if weights not in ("none", "imagenet"):
        with open(weights, "rb") as f:
            weights = "file sha256:" + hashlib.sha256(f.read()).hexdigest()
    export(model, xception_preprocess, "x / 127.5 - 1 (inside the graph)",
           labels, label_ids, args.out,
           {"name": args.name, "architecture": "keras.applications.Xception",
            "weights": weights, "seed": args.seed if args.weights == "none" else None})
    print(f"exported {args.name} ({weights} weights) to {args.out}")


if __name__ == "__main__":
    main()
