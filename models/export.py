#!/usr/bin/env python3
"""Exports an image classifier as a SavedModel that `saliency` can explain.

The classifier is a Keras application (--app), a whole Keras model file (--keras)
or someone else's SavedModel (--savedmodel). The export carries these signatures
and a manifest beside them, saliency.json, so the Go side needs no model-specific
code (H, W: the model's input size; pixels are raw RGB 0..255, the model's own
preprocessing is inside the graph):

  serving_default   images float32 [N, H, W, 3] -> logits float32 [N, classes]
  gradients         images, units int32 [N, K]
                    -> logits [N, K], the selected logits
                    -> gradients float32 [N, K, H, W, 3], d logit / d pixel
  top1              images
                    -> units int32 [N, 1], each image's highest logit (ties: lower
                       index, as tf.math.top_k)
                    -> logits [N, 1], gradients [N, 1, H, W, 3]
                    (one forward pass serves both the choice of the unit and its
                    gradient: a third cheaper than serving_default + gradients)
  gradcam           images, units
                    -> logits [N, K]
                    -> activations [N, h, w, C] of the CAM layer (by default the
                       layer feeding the global pooling; the manifest names it)
                    -> gradients [N, K, h, w, C], d logit / d activation
                    (Grad-CAM, Selvaraju et al. 2017; weighting, ReLU and
                    upsampling are done by the Go side; not for --savedmodel,
                    whose layers are out of reach)
  fullgrad          images, units
                    -> logits [N, K]
                    -> inputs [N, K, H, W, 3], d logit / d x~ * x~, x~ the image
                       after the preprocessing (in its channel order)
                    -> bias [N, K, H, W], FullGrad's bias maps summed
                    -> bias_total [N, K], every bias term summed
                    (FullGrad, Srinivas & Fleuret 2019: see fullgrad_fn; the
                    manifest's "fullgrad" lists the biased layers and says
                    whether the decomposition is exact; not for --savedmodel;
                    in a SavedModel of its own, fullgrad/, with serving_default:
                    see OWN_DIR)

The gradient signatures repeat each image K times and differentiate the sum of the
selected logits once: each row of the sum depends only on its own copy, so the
gradient of the sum with respect to a copy is the gradient of that copy's logit.
This gives the Jacobian rows without GradientTape.batch_jacobian's pfor fallback,
which on Xception runs the depthwise-convolution gradient as a sequential loop.

A model that ends in a softmax is exported on its logits (the softmax is removed);
where that is impossible (a SavedModel), on its log-probabilities. Before the
folder appears the export is loaded back and checked against the model on random
images; any refusal leaves nothing behind.

models/classifiers.py turns what the user has into what gets exported (a Net:
the logits and Grad-CAM activations as functions of raw images); this file
builds the signatures from it, checks and writes them, and holds the command line.

Usage (see --help and models/README.md):
  models/export.py --weights none --out models/xception
  models/export.py --app resnet50 --weights imagenet --out models/resnet50
  models/export.py --keras my.keras --labels names.txt --out models/mine
  models/export.py --savedmodel exported/ --out models/theirs
"""

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

MANIFEST = "saliency.json"
MANIFEST_VERSION = 1
DEFAULT_SEED = 1312
CHECK_RTOL = 1e-4         # logits: of the largest |logit|
CHECK_GRAD_RTOL = 1e-3    # gradients from two different graphs: of the largest |gradient|

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # imported by path rather than as models/'s script or module
    sys.path.insert(0, HERE)
from classifiers import (  # noqa: E402
    APPS, PREPROCESS, Refusal, app_name, build_app, choose_labels, first_line, keras_net,
    preprocess_mode, savedmodel_net,
    xception_preprocess,  # noqa: F401  (models/fashion.py uses export.xception_preprocess)
)


# ---------------------------------------------------------------- signatures

def gradient(tape, target, source, what, seed=None):
    g = tape.gradient(target, source, output_gradients=seed)
    if g is None:
        raise Refusal(f"the logits do not depend on the {what}")
    return g


def serve_fn(net):
    def serve(images):
        return {"logits": net.logits(images)}
    return serve


def gradients_fn(net):
    import tensorflow as tf

    def gradients(images, units):
        n, k = tf.shape(units)[0], tf.shape(units)[1]
        tiled = tf.repeat(images, k, axis=0)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(tiled)
            picked = tf.gather(net.logits(tiled), tf.reshape(units, [-1]), batch_dims=1)
            total = tf.reduce_sum(picked)
        grads = gradient(tape, total, tiled, "images")
        return {"logits": tf.reshape(picked, [n, k]),
                "gradients": tf.reshape(grads, [n, k, net.height, net.width, 3])}
    return gradients


def top1_fn(net):
    import tensorflow as tf

    def top1(images):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images)
            logits = net.logits(images)
            top = tf.math.top_k(logits, 1).indices
            picked = tf.gather(logits, top, batch_dims=1)
            total = tf.reduce_sum(picked)
        grads = gradient(tape, total, images, "images")
        return {"units": top, "logits": picked, "gradients": grads[:, None]}
    return top1


def gradcam_fn(net):
    import tensorflow as tf

    if net.features is None:
        return None

    def gradcam(images, units):
        n, k = tf.shape(units)[0], tf.shape(units)[1]
        tiled = tf.repeat(images, k, axis=0)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(tiled)
            acts, logits = net.features(tiled)
            picked = tf.gather(logits, tf.reshape(units, [-1]), batch_dims=1)
            total = tf.reduce_sum(picked)
        grads = gradient(tape, total, acts, f"CAM layer {net.cam['layer']!r}")
        return {"logits": tf.reshape(picked, [n, k]),
                "activations": acts[::k],
                "gradients": tf.reshape(grads, tf.concat([[n, k], tf.shape(acts)[1:]], 0))}
    return gradcam


# FullGrad's normalisation psi (the authors' FullGrad._postProcess, eps 1e-6):
# |t| less its minimum over the whole image-unit row (all channels and
# positions), over that row's new maximum plus FULLGRAD_EPS.
FULLGRAD_EPS = 1e-6


def fullgrad_fn(net):
    """The full-gradient decomposition (Srinivas & Fleuret 2019) of each selected
    score over the preprocessed input xt and the biases net.biased finds:
      inputs      d score / d xt * xt [N, K, H, W, 3] (psi and the channel sum
                  are left to the Go side, which also sums the raw terms);
      bias        sum over the biased layers whose output z_l is 4-D of the
                  channel sum of psi(d score / d z_l * b_l), resized to H x W
                  bilinearly with aligned corners (the authors' F.interpolate(
                  mode='bilinear', align_corners=True)) [N, K, H, W];
      bias_total  sum over every biased layer (Dense too) of sum(d score /
                  d z_l * b_l) [N, K]: with the inputs' sum, the score itself
                  where the decomposition is exact (manifest fullgrad.exact).
    Tiled like gradcam_fn (each image repeated K times, one backward pass for
    the sum). None without biases (manifest: fullgrad.unavailable)."""
    import tensorflow as tf

    if net.biased is None:
        return None
    h, w = net.height, net.width

    def psi(t):
        axes = list(range(1, len(t.shape)))
        a = tf.abs(t)
        a = a - tf.reduce_min(a, axis=axes, keepdims=True)
        return a / (tf.reduce_max(a, axis=axes, keepdims=True) + FULLGRAD_EPS)

    def fullgrad(images, units):
        n, k = tf.shape(units)[0], tf.shape(units)[1]
        tiled = tf.repeat(images, k, axis=0)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            xt = tf.cast(net.preprocess(tiled), tf.float32)
            tape.watch(xt)
            logits, parts = net.biased.forward(xt)
            picked = tf.gather(logits, tf.reshape(units, [-1]), batch_dims=1)
            total = tf.reduce_sum(picked)
        grads = tape.gradient(total, [xt] + [z for z, _ in parts],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        rows = tf.shape(tiled)[0]
        bias_map, bias_total = tf.zeros([rows, h, w, 1]), tf.zeros([rows])
        for g, (z, b) in zip(grads[1:], parts):
            gb = tf.cast(g, tf.float32) * b
            bias_total += tf.reduce_sum(gb, axis=list(range(1, len(gb.shape))))
            if len(gb.shape) == 4:
                m = tf.reduce_sum(psi(gb), axis=-1, keepdims=True)  # channels summed before the (linear) resize
                bias_map += tf.raw_ops.ResizeBilinear(images=m, size=[h, w], align_corners=True,
                                                      half_pixel_centers=False)
        return {"logits": tf.reshape(picked, [n, k]),
                "inputs": tf.reshape(grads[0] * xt, [n, k, h, w, 3]),
                "bias": tf.reshape(bias_map, [n, k, h, w]),
                "bias_total": tf.reshape(bias_total, [n, k])}
    return fullgrad


# The units per image of the one signature that explains several units of an
# image from ONE forward pass: the model runs forward once, then one backward
# pass per unit from the same activations, unrolled (the count is static), so K
# units cost 1 + K passes instead of the 2K of `gradients`, which repeats the
# image K times. The Go side sends an image's units in groups of this size,
# padding a last group of 4 (6 passes against 8) and sending a last group of 1
# to 3 to `gradients`. Measured (issue 15, Xception 299x299, 2 cores, Go
# session, one image, 5 units): 1.2-1.4 s against 1.8-1.9 s for the tiled call.
#
# It lives in a second SavedModel, SHARED_DIR inside the export, with only the
# roles a run of several units per image calls (logits, gradients) beside it:
# every signature in a SavedModel costs memory whether it is called or not
# (this one, in the main SavedModel, made K = 1 runs 120-160 MB heavier and
# 0.7 s slower to start), so Go loads this one only for runs that use it. One
# size only, for the same reason (sizes 2-5 for gradients and gradcam in one
# SavedModel made the load 4 s and 360 MB heavier). A tf.while_loop over the
# units keeps every activation alive for the whole loop and ran slower than
# repeating the image.
SHARED_UNITS = 5
SHARED_DIR = "shared"
SHARED_ROLES = ("logits", "gradients")
# Beside it, with top1's keys, the signature that also picks those units: each
# image's SHARED_UNITS highest logits, explained from the forward pass that
# found them. A --top-k 5 run would otherwise pay one more forward pass per
# image for the top-K logits (7 passes where this takes 6).
SHARED_TOP = f"top{SHARED_UNITS}"


def unrolled(tape, logits, source, units, k, what):
    """d logits[i, units[i, j]] / d source[i], [N, k, *source's shape[1:]]: one
    backward pass per column j of units, each seeded with the one-hot of every
    image's j-th unit, from the forward pass the persistent tape recorded."""
    import tensorflow as tf

    return tf.stack([gradient(tape, logits, source, what, tf.one_hot(units[:, j], logits.shape[-1], dtype=logits.dtype))
                     for j in range(k)], axis=1)


def shared_top_fn(net, k):
    """The top1 signature for each image's k highest logits (ties: the lower
    index first, as tf.math.top_k), from one forward pass; None where
    shared_gradients_fn is None or the model has fewer than k classes."""
    import tensorflow as tf

    if net.inline_logits is None or net.classes < k:
        return None

    def top(images):
        with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
            tape.watch(images)
            logits = net.inline_logits(images)
        units = tf.math.top_k(logits, k).indices
        return {"units": units, "logits": tf.gather(logits, units, batch_dims=1),
                "gradients": unrolled(tape, logits, images, units, k, "images")}
    return top


def shared_gradients_fn(net, k):
    """The gradients signature for k units per image from one forward pass, or
    None when the net's forward pass cannot be traced op by op (a loaded
    SavedModel's is a function call: under a persistent tape, TensorFlow then
    returns every intermediate activation from it and seeds each backward pass
    with zeros for all of them, which cost 4x the memory of the unrolled ops)."""
    import tensorflow as tf

    if net.inline_logits is None:
        return None

    def gradients(images, units):
        with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
            tape.watch(images)
            logits = net.inline_logits(images)
        return {"logits": tf.gather(logits, units, batch_dims=1),
                "gradients": unrolled(tape, logits, images, units, k, "images")}
    return gradients


# Roles exported in a SavedModel of their own, in this subfolder, beside the
# logits signature (which a run needs to pick each image's units): the Go side
# loads it instead of the main one only for the methods that call the role.
# FullGrad's signature (a backward pass to every biased layer's pre-activation)
# in the main SavedModel made every Xception run load 0.1-0.2 s slower and peak
# ~50 MB higher (705 vs 652 MB), for one method's sake.
OWN_DIR = {"fullgrad": "fullgrad"}
OWN_BESIDE = ("logits",)

Role = collections.namedtuple("Role", "role signature inputs outputs build")
ROLES = (  # the manifest's signature roles; build(net) -> the function, or None
    Role("logits", "serving_default", ("images",), ("logits",), serve_fn),
    Role("gradients", "gradients", ("images", "units"), ("logits", "gradients"), gradients_fn),
    Role("top1", "top1", ("images",), ("units", "logits", "gradients"), top1_fn),
    Role("gradcam", "gradcam", ("images", "units"), ("logits", "activations", "gradients"), gradcam_fn),
    Role("fullgrad", "fullgrad", ("images", "units"), ("logits", "inputs", "bias", "bias_total"), fullgrad_fn),
)


def endpoint(body, inputs):
    """A thin function with the input names, calling the traced body.

    ExportArchive traces each endpoint twice: once itself and again inside
    tf.saved_model.save, whose save context is part of tf.function's cache key.
    Tracing the real work once into body and registering this forwarder makes the
    second trace a single call op (measured: a tenth of a DenseNet121 export's
    tracing and writing; with the shared forward pass in keras_net, 35 s instead
    of 57 s).
    """
    if inputs == ("images",):
        return lambda images: body(images)
    if inputs == ("images", "units"):
        return lambda images, units: body(images, units)
    raise ValueError(f"no endpoint for inputs {inputs}")


def write_savedmodel(net, folder):
    """Writes net's signatures into folder with keras.export.ExportArchive and, when
    net's forward pass can be traced op by op, a second SavedModel in
    folder/SHARED_DIR with the SHARED_ROLES, the signature for SHARED_UNITS
    units from one forward pass and, when the model has that many classes,
    SHARED_TOP. Returns the roles written and the names of those two
    signatures (None for each one not written)."""
    import keras
    import tensorflow as tf

    specs = {"images": tf.TensorSpec([None, net.height, net.width, 3], tf.float32, name="images"),
             "units": tf.TensorSpec([None, None], tf.int32, name="units")}

    def trace(name, fn, inputs, specs):
        signature = [specs[k] for k in inputs]
        return name, tf.function(fn, autograph=False).get_concrete_function(*signature), inputs, signature

    def write_archive(endpoints, to):
        archive = keras.export.ExportArchive()
        for thing in net.track:
            archive.track(thing)
        for name, body, inputs, signature in endpoints:
            archive.add_endpoint(name, endpoint(body, inputs), input_signature=signature)
        archive.write_out(to, verbose=False)

    roles, traced = [], {}
    for role in ROLES:
        fn = role.build(net)
        if fn is None:
            continue
        traced[role.role] = trace(role.signature, fn, role.inputs, specs)
        roles.append(role)
    write_archive([t for r, t in traced.items() if r not in OWN_DIR], folder)
    for role, sub in OWN_DIR.items():
        if role in traced:
            own = os.path.join(folder, sub)
            write_archive([traced[r] for r in OWN_BESIDE] + [traced[role]], own)
            link_same_weights(os.path.join(folder, "variables"), os.path.join(own, "variables"))
    many = shared_gradients_fn(net, SHARED_UNITS)
    if many is None:
        return roles, None, None
    name = f"gradients_k{SHARED_UNITS}"
    units = tf.TensorSpec([None, SHARED_UNITS], tf.int32, name="units")
    shared = os.path.join(folder, SHARED_DIR)
    endpoints = [traced[r] for r in SHARED_ROLES] + [trace(name, many, ("images", "units"), dict(specs, units=units))]
    top = shared_top_fn(net, SHARED_UNITS)
    if top is not None:
        endpoints.append(trace(SHARED_TOP, top, ("images",), specs))
    write_archive(endpoints, shared)
    link_same_weights(os.path.join(folder, "variables"), os.path.join(shared, "variables"))
    return roles, name, None if top is None else SHARED_TOP


def link_same_weights(src, dst):
    """Makes dst's checkpoint (a variables/ folder) hard links to src's when both
    hold the same keys with the same values, so the weights are on disk once.
    Only their object graphs differ (the two SavedModels have different
    signatures); TensorFlow's C++ loader restores variables by key and
    tf.saved_model.load through the SavedModel's own object graph, and the
    self-check runs on the linked copy."""
    import numpy as np
    import tensorflow as tf

    a, b = (tf.train.load_checkpoint(os.path.join(d, "variables")) for d in (src, dst))
    keys = set(a.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
    if keys != set(b.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"} or \
            not all(np.array_equal(a.get_tensor(k), b.get_tensor(k)) for k in keys):
        return
    for name in os.listdir(dst):
        os.remove(os.path.join(dst, name))
        os.link(os.path.join(src, name), os.path.join(dst, name))


# ---------------------------------------------------------------- self-check

def load_signatures(folder, roles):
    """Each written role's concrete signature, by role, each from the SavedModel
    that holds it (the main one in folder, or its OWN_DIR subfolder), and the
    loaded SavedModels, which the caller keeps while it calls the signatures
    (they own the variables the signatures read)."""
    import tensorflow as tf

    loaded = {sub: tf.saved_model.load(os.path.join(folder, sub))
              for sub in {OWN_DIR.get(r.role, "") for r in roles}}
    return {r.role: loaded[OWN_DIR.get(r.role, "")].signatures[r.signature] for r in roles}, loaded


def signature_section(sigs, roles, shared, cam):
    """The manifest's signatures, from the keys the written SavedModels really have
    (sigs: load_signatures'); shared is (the loaded SHARED_DIR SavedModel, the
    name of its signature for SHARED_UNITS units from one forward pass, the name
    of its top signature or None), or None."""
    section = {}
    for role in roles:
        sig = sigs[role.role]
        inputs, outputs = set(sig.structured_input_signature[1]), set(sig.structured_outputs)
        if inputs != set(role.inputs) or outputs != set(role.outputs):
            raise RuntimeError(f"signature {role.signature} has inputs {sorted(inputs)} and outputs "
                               f"{sorted(outputs)}, not {role.inputs} and {role.outputs}")
        entry = {"name": role.signature, "inputs": {k: k for k in role.inputs if k in inputs},
                 "outputs": {k: k for k in role.outputs if k in outputs}}
        if role.role in OWN_DIR:
            entry["dir"] = OWN_DIR[role.role]
        if role.role == "gradcam":
            entry["layer"] = cam["layer"]
            if cam.get("pooled_linear"):
                entry["pooled_linear"] = True
        if shared is not None and role.role == "gradients":
            loaded_shared, many, top = shared
            outputs = {r.signature: r.outputs for r in roles if r.role in SHARED_ROLES}
            outputs[many] = role.outputs
            if top is not None:
                outputs[top] = next(r.outputs for r in ROLES if r.role == "top1")
            for name, want in outputs.items():
                keys = set(loaded_shared.signatures[name].structured_outputs)
                if keys != set(want):
                    raise RuntimeError(f"{SHARED_DIR}/ signature {name} has outputs {sorted(keys)}, not {want}")
            entry["shared_forward"] = {"units": SHARED_UNITS, "signature": many, "dir": SHARED_DIR}
            if top is not None:
                entry["shared_forward"]["top"] = top
        section[role.role] = entry
    return section


def close(what, got, want, rtol):
    import numpy as np

    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise Refusal(f"self-check failed: {what}: shape {got.shape}, want {want.shape}")
    scale = np.abs(want).max()
    diff = np.abs(got - want).max() if got.size else 0.0
    if not np.isfinite(got).all() or not diff <= rtol * scale:
        raise Refusal(f"self-check failed: {what} differ by {diff:.3g} "
                      f"(largest |value| {scale:.3g}, allowed {rtol:g} of it)")


def self_check(sig, net, roles, shared):
    """Checks the written signatures (sig: load_signatures') against the model on
    net.check_images; returns the CAM activations' [h, w, C] (or None)."""
    import numpy as np

    x, c, (h, w) = net.check_images, net.classes, (net.height, net.width)
    logits = sig["logits"](images=x)["logits"].numpy()
    for what, want, transform in net.checks:
        got = logits
        if transform == "softmax":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            got = e / e.sum(axis=1, keepdims=True)
        close(what, got, want, CHECK_RTOL)
    # The gradient signatures on two of the images (each image costs a backward
    # pass per unit): units [N, K] = [2, 2] still tell [n, k] from [k, n].
    n = 2
    top = logits[:n].argmax(axis=1)
    units = np.stack([top, (top + 1 + np.arange(n)) % c], axis=1).astype(np.int32)
    picked = np.take_along_axis(logits[:n], units, axis=1)
    g = sig["gradients"](images=x[:n], units=units)
    close("gradients' logits vs serving_default's", g["logits"], picked, CHECK_RTOL)
    if tuple(g["gradients"].shape) != (n, 2, h, w, 3) or not np.isfinite(g["gradients"]).all():
        raise Refusal(f"self-check failed: gradients shape {g['gradients'].shape} or not finite")
    if shared is not None:
        # the two units of each image, in SHARED_UNITS columns: u0 u0 u0 u1 u1 for 5
        loaded_shared, name, top_name = shared
        cols = np.arange(SHARED_UNITS) * 2 // SHARED_UNITS
        many = loaded_shared.signatures[name](images=x[:n], units=units[:, cols])
        first = [list(cols).index(j) for j in range(2)]
        close(f"{SHARED_DIR}/{name}'s logits vs serving_default's", many["logits"].numpy()[:, first],
              picked, CHECK_RTOL)
        close(f"{SHARED_DIR}/{name}'s gradients vs gradients'", many["gradients"].numpy()[:, first],
              g["gradients"], CHECK_GRAD_RTOL)
        close(f"{SHARED_DIR}/ serving_default vs serving_default",
              loaded_shared.signatures[ROLES[0].signature](images=x)["logits"], logits, CHECK_RTOL)
        if top_name is not None:
            check_shared_top(loaded_shared.signatures, name, top_name, x[:n], logits[:n])
    t = sig["top1"](images=x[:n])
    tu, rows = t["units"].numpy()[:, 0], np.arange(n)
    slack = CHECK_RTOL * np.abs(logits).max()
    if tu.shape != (n,) or (logits[rows, tu] < logits[:n].max(axis=1) - slack).any():
        raise Refusal(f"self-check failed: top1's units {tu.tolist()} are not the argmax {top.tolist()}")
    close("top1's logits vs serving_default's", t["logits"][:, 0], logits[rows, tu], CHECK_RTOL)
    same = tu == top
    if same.any():
        close("top1's gradients vs gradients'", t["gradients"].numpy()[same, 0],
              g["gradients"].numpy()[same, 0], CHECK_GRAD_RTOL)
    if "gradcam" not in sig:
        return None
    cam = sig["gradcam"](images=x[:1], units=units[:1])
    close("gradcam's logits vs serving_default's", cam["logits"], picked[:1], CHECK_RTOL)
    acts, grads = cam["activations"].numpy(), cam["gradients"].numpy()
    if acts.ndim != 4 or acts.shape[0] != 1 or grads.shape != (1, 2) + acts.shape[1:]:
        raise Refusal(f"self-check failed: gradcam activations {acts.shape}, gradients {grads.shape}")
    return list(acts.shape[1:])


# The full-gradient decomposition's check (the authors' checkCompleteness uses
# rel_tol 1e-4): the score against the sum of its parts, of the largest |score|.
# Measured 2026-11-28 on the self-check's noise images: 2.0e-6 (fashion),
# 4.4e-7 (random Xception), 1.7e-6 (VGG16 with random biases).
FULLGRAD_CHECK_RTOL = 1e-4


def check_fullgrad(sig, net, roles):
    """The fullgrad signature on two of net.check_images, two units each: its
    scores against serving_default's, its shapes, and the decomposition's
    completeness (sum of the input terms + bias_total = the score), which must
    hold within FULLGRAD_CHECK_RTOL where net.biased says it is exact. Returns
    the manifest's fullgrad section."""
    import numpy as np

    if not any(r.role == "fullgrad" for r in roles):
        return {"unavailable": net.biased_unavailable}
    x, n, (h, w) = net.check_images[:2], 2, (net.height, net.width)
    logits = sig["logits"](images=x)["logits"].numpy()
    top = logits.argmax(axis=1)
    units = np.stack([top, (top + 1 + np.arange(n)) % net.classes], axis=1).astype(np.int32)
    picked = np.take_along_axis(logits, units, axis=1)
    fg = {k: v.numpy() for k, v in sig["fullgrad"](images=x, units=units).items()}
    close("fullgrad's logits vs serving_default's", fg["logits"], picked, CHECK_RTOL)
    want = {"inputs": (n, 2, h, w, 3), "bias": (n, 2, h, w), "bias_total": (n, 2)}
    for key, shape in want.items():
        if fg[key].shape != shape or not np.isfinite(fg[key]).all():
            raise Refusal(f"self-check failed: fullgrad {key} has shape {fg[key].shape} (want {shape}) "
                          "or values that are not finite")
    if fg["bias"].min() < 0:
        raise Refusal(f"self-check failed: fullgrad bias map has a negative value {fg['bias'].min():.3g}")
    total = fg["inputs"].astype(np.float64).sum(axis=(2, 3, 4)) + fg["bias_total"]
    gap = float(np.abs(total - fg["logits"]).max() / np.abs(fg["logits"]).max())
    section = {"exact": net.biased.exact, "completeness_gap": gap,
               "spatial_layers": sum(layer["spatial"] for layer in net.biased.layers),
               "layers": net.biased.layers}
    if net.biased.exact:
        close("fullgrad's input and bias terms vs its score (completeness)", total, fg["logits"],
              FULLGRAD_CHECK_RTOL)
        section["tolerance"] = FULLGRAD_CHECK_RTOL
    else:
        section["not_exact"] = net.biased.not_exact
    return section


def check_shared_top(signatures, many, top, x, logits):
    """The top signature of SHARED_DIR against serving_default's logits (its units
    are the highest, its logits theirs) and against the five-unit gradients
    signature on those units."""
    import numpy as np

    t = signatures[top](images=x)
    tu = t["units"].numpy()
    n = len(x)
    slack = CHECK_RTOL * np.abs(logits).max()
    kth = np.sort(logits, axis=1)[:, -SHARED_UNITS]  # each image's 5th highest logit
    ok = tu.shape == (n, SHARED_UNITS) and all(len(set(r)) == SHARED_UNITS for r in tu)
    got = np.take_along_axis(logits, tu, axis=1) if ok else None
    if not ok or (got < kth[:, None] - slack).any() or (np.diff(got, axis=1) > slack).any():
        raise Refusal(f"self-check failed: {top}'s units {tu.tolist()} are not each image's "
                      f"{SHARED_UNITS} highest logits, highest first")
    close(f"{top}'s logits vs serving_default's", t["logits"], got, CHECK_RTOL)
    g = signatures[many](images=x, units=tu)
    close(f"{top}'s gradients vs {many}'s", t["gradients"], g["gradients"], CHECK_GRAD_RTOL)


# ---------------------------------------------------------------- export

RESERVED = ("version", "name", "architecture", "weights", "seed", "tensorflow", "keras", "source",
            "input", "output", "labels", "label_ids", "signatures", "gradcam", "fullgrad")


def export(model, preprocess, preprocess_doc, labels, label_ids, out, meta, write_extra=None,
           cam_layer=None, size=None):
    """Saves a Keras model with its signatures and the manifest into out, atomically.

    preprocess: a function on 0..255 images (e.g. xception_preprocess), a mode name
    ("none", "tf", "caffe", "torch") or None. meta: name, architecture, weights,
    seed, optionally extra (more top-level manifest fields) and source (the
    manifest's source; default {"kind": "model"}). write_extra(folder), when given,
    adds files to the folder before it appears. Returns the manifest.
    """
    if preprocess is None or isinstance(preprocess, str):
        mode = preprocess or "none"
        preprocess = PREPROCESS[mode][0]
    else:
        mode = preprocess_mode(preprocess)
    net = keras_net(model, preprocess, cam_layer, size)
    source = meta.get("source") or {"kind": "model", "model": model.name,
                                    "class": type(model).__name__}
    return write(net, out, meta, source, mode, preprocess_doc, labels, label_ids, write_extra)


def check_out(out):
    """Refuses an --out that exists and is not an export (it would be replaced)."""
    if os.path.lexists(out) and not (os.path.isdir(out) and (
            os.path.isfile(os.path.join(out, MANIFEST)) or not os.listdir(out))):
        raise Refusal(f"--out {out}: exists and is not an exported model (no {MANIFEST}); "
                      "remove it or choose another folder")


def write(net, out, meta, source, mode, preprocess_doc, labels, label_ids, write_extra=None):
    import keras
    import tensorflow as tf

    if len(labels) != net.classes:
        raise Refusal(f"{len(labels)} labels for {net.classes} classes")
    if label_ids is not None and len(label_ids) != len(labels):
        raise Refusal(f"{len(label_ids)} label ids for {len(labels)} labels")
    check_out(out)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        roles, many, top = write_savedmodel(net, tmp)
        sigs, loaded = load_signatures(tmp, roles)
        shared = None if many is None else (tf.saved_model.load(os.path.join(tmp, SHARED_DIR)), many, top)
        signatures = signature_section(sigs, roles, shared, net.cam)
        cam_shape = self_check(sigs, net, roles, shared)
        fullgrad = check_fullgrad(sigs, net, roles)
        del sigs, loaded, shared
        manifest = {
            "version": MANIFEST_VERSION,
            "name": meta["name"],
            "architecture": meta["architecture"],
            "weights": meta["weights"],
            "seed": meta.get("seed"),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "source": source,
            "input": {"height": net.height, "width": net.width, "channels": 3,
                      "range": [0.0, 255.0], "preprocessing": preprocess_doc, "preprocess": mode},
            "output": net.output,
            "labels": list(labels),
            "label_ids": list(label_ids) if label_ids is not None else None,
            "signatures": signatures,
            "gradcam": (dict(net.cam, activations=cam_shape) if net.cam
                        else {"unavailable": net.cam_unavailable}),
            "fullgrad": fullgrad,
        }
        for key, value in meta.get("extra", {}).items():  # e.g. a trained model's scores
            if key in RESERVED:
                raise ValueError(f"export: extra manifest field {key!r} is reserved")
            manifest[key] = value
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        if write_extra:
            write_extra(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the model from other users
        replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def replace(tmp, out):
    """Renames tmp to out; an existing out is moved aside first and removed after."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    old = tempfile.mkdtemp(prefix=".replaced-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        os.rename(out, os.path.join(old, "model"))
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(os.path.join(old, "model"), out)
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def sha256(path):
    """The file's sha256, or a folder's: over its files' relative paths and contents."""
    h = hashlib.sha256()
    files = [path] if os.path.isfile(path) else sorted(
        os.path.join(root, f) for root, _, names in os.walk(path) for f in names)
    for name in files:
        if name != path:
            h.update(os.path.relpath(name, path).encode() + b"\0")
        with open(name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- command line

class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"export.py: {message}\n")


def parse_args(argv):
    p = Parser(prog="export.py", description=__doc__.split("\n\n")[0],
               epilog="Refusals and bad usage print one line and exit with status 2.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--app", metavar="NAME",
                     help=f"a keras.applications model (default xception): {', '.join(APPS)}")
    src.add_argument("--keras", metavar="FILE", help="a whole Keras model (.keras; legacy .h5)")
    src.add_argument("--savedmodel", metavar="DIR", help="a classifier SavedModel (no Grad-CAM)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (replaced if an export)")
    p.add_argument("--name", help="the model's name (default: the app's name or the file's stem)")
    p.add_argument("--weights", default=None, metavar="none|imagenet|FILE",
                   help="--app weights: random (seeded; the default), Keras' ImageNet download, "
                        "or a file saved by model.save_weights (*.weights.h5; legacy .h5)")
    p.add_argument("--seed", type=int, help=f"seed for --weights none (default {DEFAULT_SEED})")
    p.add_argument("--preprocess", choices=list(PREPROCESS),
                   help="preprocessing put in the graph (default: the app's; none for --keras, --savedmodel)")
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument("--cam-layer", metavar="NAME", help="Grad-CAM layer (default: the layer feeding "
                   "the global pooling, else the last 4-D layer)")
    p.add_argument("--size", metavar="HxW", help="input height x width: for --app with weights "
                   "none or a file, or a model whose input size is open")
    p.add_argument("--alpha", type=float, help="width multiplier of the MobileNet apps")
    p.add_argument("--signature", default=None, help="--savedmodel signature (default serving_default)")
    p.add_argument("--output", default=None, metavar="KEY",
                   help="--savedmodel output key (needed when the signature has several)")
    a = p.parse_args(argv)

    if a.keras is None and a.savedmodel is None:
        a.app = app_name(a.app or "xception")
        a.weights = a.weights or "none"
        if a.weights not in ("none", "imagenet") and not os.path.isfile(a.weights):
            raise Refusal(f"--weights {a.weights}: no such file")
        if a.alpha is not None and not a.app.startswith("mobilenet"):
            raise Refusal(f"--alpha: only for the MobileNet apps, not {a.app}")
        if a.seed is not None and a.weights != "none":
            raise Refusal("--seed: only with --weights none")
        a.seed = DEFAULT_SEED if a.seed is None else a.seed
    else:
        given = [f for f, v in (("--weights", a.weights), ("--alpha", a.alpha), ("--seed", a.seed))
                 if v is not None]
        if given:
            raise Refusal(f"{' and '.join(given)}: only with --app (the file holds its weights)")
    if a.keras is not None and not os.path.isfile(a.keras):
        raise Refusal(f"--keras {a.keras}: no such file" + (
            " (a folder: a SavedModel? use --savedmodel)" if os.path.isdir(a.keras) else ""))
    if a.savedmodel is not None and not os.path.isfile(os.path.join(a.savedmodel, "saved_model.pb")):
        raise Refusal(f"--savedmodel {a.savedmodel}: no saved_model.pb there")
    if a.savedmodel is None:
        for flag, v in (("--signature", a.signature), ("--output", a.output)):
            if v is not None:
                raise Refusal(f"{flag}: only with --savedmodel")
    elif a.cam_layer:
        raise Refusal("--cam-layer: a SavedModel's layers are not reachable (no Grad-CAM for it)")
    if a.labels and not os.path.isfile(a.labels):
        raise Refusal(f"--labels {a.labels}: no such file")
    if a.size:
        m = re.fullmatch(r"(\d+)x(\d+)", a.size)
        if not m or min(int(m[1]), int(m[2])) < 1:
            raise Refusal(f"--size {a.size}: want HxW, e.g. 224x224")
        a.size = (int(m[1]), int(m[2]))
        if a.app and a.weights == "imagenet" and a.size != (APPS[a.app].size,) * 2:
            raise Refusal(f"--size: {a.app} with imagenet weights is {APPS[a.app].size}x{APPS[a.app].size}")
    check_out(a.out)
    return a


def from_app(a):
    """(net, meta, source, preprocessing mode and text, weights phrase) for --app."""
    app = APPS[a.app]
    mode = a.preprocess or app.preprocess
    model = build_app(a.app, a.weights, a.seed, a.size, a.alpha)
    net = keras_net(model, PREPROCESS[mode][0], a.cam_layer)
    weights, phrase = a.weights, f"{a.weights} weights"
    source = {"kind": "app", "app": a.app, "class": f"keras.applications.{app.cls}",
              "weights": a.weights}
    if a.weights not in ("none", "imagenet"):
        digest = sha256(a.weights)
        weights, phrase = "file sha256:" + digest, "weights file"
        source["weights"] = {"file": os.path.basename(a.weights), "sha256": digest}
    if a.alpha is not None:
        source["alpha"] = a.alpha
    meta = {"name": a.name or a.app, "weights": weights,
            "architecture": f"keras.applications.{app.cls}"
                            + (f" (alpha {a.alpha:g})" if a.alpha is not None else ""),
            "seed": a.seed if a.weights == "none" else None}
    doc = app.inside if mode == "none" and app.inside else PREPROCESS[mode][1]
    return net, meta, source, mode, doc, phrase


def from_keras(a):
    """The same for --keras."""
    import keras

    mode = a.preprocess or "none"
    try:
        model = keras.models.load_model(a.keras, compile=False)
    except Exception as e:
        hint = (" (a Keras 2 file: load it with tf-keras and save it as .keras, or export it "
                "as a SavedModel and use --savedmodel)" if a.keras.endswith((".h5", ".hdf5")) else "")
        raise Refusal(f"--keras {a.keras}: Keras {keras.__version__} cannot load it: "
                      f"{first_line(e)}{hint}") from None
    net = keras_net(model, PREPROCESS[mode][0], a.cam_layer, a.size)
    digest, file = sha256(a.keras), os.path.basename(a.keras)
    source = {"kind": "keras", "file": file, "sha256": digest, "model": model.name,
              "class": type(model).__name__}
    meta = {"name": a.name or file.split(".")[0], "weights": "file sha256:" + digest, "seed": None,
            "architecture": f"Keras {type(model).__name__} {model.name!r} ({file})"}
    return net, meta, source, mode, PREPROCESS[mode][1], "weights in the model file"


def from_savedmodel(a):
    """The same for --savedmodel."""
    mode = a.preprocess or "none"
    sig = a.signature or "serving_default"
    net = savedmodel_net(a.savedmodel, sig, a.output, PREPROCESS[mode][0], a.size)
    digest, folder = sha256(a.savedmodel), os.path.basename(os.path.normpath(a.savedmodel))
    source = {"kind": "savedmodel", "dir": folder, "sha256": digest, "signature": sig,
              "input": net.input_key, "output": net.output_key}
    meta = {"name": a.name or folder, "weights": "SavedModel sha256:" + digest, "seed": None,
            "architecture": f"SavedModel (signature {sig}, output {net.output_key})"}
    return net, meta, source, mode, PREPROCESS[mode][1], "weights in the SavedModel"


def run(a):
    t0 = time.time()
    build = from_keras if a.keras else from_savedmodel if a.savedmodel else from_app
    net, meta, source, mode, doc, phrase = build(a)
    labels, label_ids = choose_labels(net.classes, a.labels, imagenet=bool(a.app))
    manifest = write(net, a.out, meta, source, mode, doc, labels, label_ids)
    seed = f"seed {meta['seed']}, " if meta["seed"] is not None else ""
    sigs = " ".join(s["name"] for s in manifest["signatures"].values())
    print(f"exported {meta['name']} ({phrase}, {seed}{net.height}x{net.width}, "
          f"{net.classes} classes, {net.output['kind']}, signatures: {sigs}) to {a.out} "
          f"in {time.time() - t0:.0f} s")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        run(parse_args(argv))
    except Refusal as e:
        print(f"export.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
