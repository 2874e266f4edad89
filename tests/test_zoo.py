"""Every `models/export.py --app` architecture against Keras' own model.

For each architecture the test builds the classifier itself,
`keras.applications.<Class>(weights=None, classifier_activation=None,
input_shape=...)` after `keras.utils.set_random_seed`, saves its weights with
`model.save_weights`, exports them with `models/export.py --app NAME --weights
FILE --size HxW` (a subprocess) and runs `bin/saliency explain --top-k 2 --raw
--json` on two colour photos resized to the input size (PNGs, so no resizing
on the Go side and exact decoding). The reference is the same Keras object in
this process with Keras' own `keras.applications.<module>.preprocess_input`,
differentiated by TensorFlow in graph mode (conftest.GraphReference); it never
imports the exporter nor loads the exported signatures.

Grad-CAM is checked the same way on the layer its definition picks, the last
convolutional feature map: the layer Keras' source names at that place
(CAM_LAYERS, e.g. Xception's `block14_sepconv2_act`), and, for the models
whose source leaves it an automatic name (MobileNetV3, ConvNeXt), the layer
that feeds the classifier head's pooling or flatten in the test's own model.
The manifest must name the same layer; it is checked, never used.

Tolerances (maps are in [0, 1]):
- max abs map diff <= MAP_TOL = 1e-4 and mean abs map diff <= MEAN_TOL = 1e-5.
  Both sides run the same float32 kernels as graphs, so they agree far closer
  than eager vs graph does (TOOLCHAIN.md, "Numerics"). Measured 2026-11-27 on
  this machine over the 12 architectures: gradients max 1.3e-6, mean 1.3e-7;
  Grad-CAM max 1.7e-6, mean 4.1e-7; logits 4.5e-7 of the largest |logit|:
  MAP_TOL leaves a 60x margin, MEAN_TOL 25x. What moves single pixels further
  is a ReLU kink flipping in a flat region when TensorFlow's kernels see a
  different batch (Xception 299x299 on astronaut.png's black sky: 6.8e-4 at
  226 pixels between one image per call and two); chelsea and coffee have no
  such flat areas. A wrong preprocessing or channel order moves the whole map:
  the channel-reversed photos' maps are 6e-3 (Xception) to 1.2e-1 (VGG16) away
  on average, 600x MEAN_TOL and more, which the test asserts for every
  architecture (SWAP_FACTOR), so the tolerance could not hide such a bug.
- logits within LOGIT_RTOL = 1e-4 of the image's largest |logit| (random
  networks' logits range from 1e-11 (MobileNets) to 10 (ConvNeXt), so the
  tolerance is relative to the image's own scale).

SALIENCY_ZOO=name,name runs a subset (default: all 12).
"""

import os
import time

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras 3.15's np.array(copy=)

MAP_TOL = 1e-4
MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4
SWAP_FACTOR = 10   # a channel-reversed reference must be this many MEAN_TOLs away
SEED = 2026
K = 2

# Grad-CAM's layer by the name keras.applications' source gives the last
# convolutional feature map (the input of the head's pooling or flatten), read
# in keras/src/applications/<module>.py; None where the source leaves it an
# automatic name (found structurally then, feeding_head).
CAM_LAYERS = {
    "xception": "block14_sepconv2_act",
    "resnet50": "conv5_block3_out",
    "resnet50_v2": "post_relu",
    "mobilenet_v2": "out_relu",
    "mobilenet_v3_small": None,
    "mobilenet_v3_large": None,
    "efficientnet_b0": "top_activation",
    "efficientnet_v2_b0": "top_activation",
    "densenet121": "relu",
    "inception_v3": "mixed10",
    "vgg16": "block5_pool",
    "convnext_tiny": None,
}


def feeding_head(model):
    """The layer whose output the classifier head's global pooling takes (its
    flatten in a model without one, VGG): the last spatial feature map, by
    the model's structure. The head's pooling is the model's last one
    (squeeze-and-excitation blocks pool too; MobileNetV3 flattens after it)."""
    import keras
    for kind in (keras.layers.GlobalAveragePooling2D, keras.layers.Flatten):
        for op in reversed(model.operations):
            if isinstance(op, kind):
                return op.input._keras_history.operation.name
    raise AssertionError("no pooling or flatten layer in the head")


# name for --app, keras.applications class, keras.applications module (its
# preprocess_input), input (height, width): small inputs to keep the time
# reasonable, most of them non-square and both orientations. Longest first
# (export and both tests, one process, 2026-11-28: ConvNeXt 330 s ... VGG16 70 s):
# each is a group of its own for the parallel run (conftest.LONGEST_FIRST).
ZOO = [
    ("convnext_tiny", "ConvNeXtTiny", "convnext", (96, 128)),
    ("densenet121", "DenseNet121", "densenet", (96, 128)),
    ("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnet_v2", (128, 96)),
    ("efficientnet_b0", "EfficientNetB0", "efficientnet", (96, 128)),
    ("inception_v3", "InceptionV3", "inception_v3", (128, 128)),
    ("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", (128, 128)),
    ("resnet50", "ResNet50", "resnet", (128, 96)),
    ("resnet50_v2", "ResNet50V2", "resnet_v2", (96, 128)),
    ("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", (96, 128)),
    ("xception", "Xception", "xception", (96, 128)),
    ("mobilenet_v2", "MobileNetV2", "mobilenet_v2", (128, 128)),
    ("vgg16", "VGG16", "vgg16", (64, 96)),
]

if os.environ.get("SALIENCY_ZOO"):
    _chosen = os.environ["SALIENCY_ZOO"].split(",")
    assert set(_chosen) <= {z[0] for z in ZOO}, f"SALIENCY_ZOO={_chosen}: unknown names"
    ZOO = [z for z in ZOO if z[0] in _chosen]

FIGURES = {}   # name -> measured figures, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def summary():
    t0 = time.time()
    yield
    if not FIGURES:
        return
    print(f"\n\nzoo: {len(FIGURES)} architectures in {time.time() - t0:.0f} s "
          f"(map tol max {MAP_TOL:.0e} / mean {MEAN_TOL:.0e}, logits {LOGIT_RTOL:.0e} relative)")
    print(f"{'architecture':20s} {'input':>8s} {'grad max':>9s} {'grad mean':>9s} {'logit rel':>9s} "
          f"{'swap mean':>9s} {'cam max':>9s} {'cam mean':>9s} {'export s':>8s} {'cli s':>6s} {'ref s':>6s}")
    for name, f in FIGURES.items():
        g = f.get("gradients", (np.nan,) * 3)
        c = f.get("gradcam", (np.nan,) * 3)
        print(f"{name:20s} {f['size']:>8s} {g[0]:9.1e} {g[1]:9.1e} {g[2]:9.1e} {f.get('swap', np.nan):9.1e} "
              f"{c[0]:9.1e} {c[1]:9.1e} {f.get('export', np.nan):8.1f} {f.get('cli', 0):6.1f} "
              f"{f.get('ref', 0):6.1f}")


class App:
    """One architecture: the test's own Keras model, its export and images."""

    def __init__(self, name, cls, module, size, folder, export, reference):
        import keras
        self.name, (self.h, self.w) = name, size
        # A fresh Keras session per model: memory, and layer names as a fresh
        # process (the exporter) gives them.
        keras.backend.clear_session()
        keras.utils.set_random_seed(SEED)
        self.model = getattr(keras.applications, cls)(
            weights=None, classifier_activation=None, input_shape=(self.h, self.w, 3))
        self.preprocess = getattr(keras.applications, module).preprocess_input
        weights = folder / "w.weights.h5"
        self.model.save_weights(weights)
        self.dir = folder / name
        t0 = time.time()
        export("--app", name, "--weights", weights, "--size", f"{self.h}x{self.w}", "--out", self.dir)
        self.figures = FIGURES.setdefault(name, {"size": f"{self.h}x{self.w}"})
        self.figures["export"] = time.time() - t0
        self.manifest = reference.manifest_of(self.dir)
        self.images = reference.write_photos(folder / "images", self.h, self.w)
        self.x = reference.pixels(self.images)

    def forward(self, x):
        return self.model(self.preprocess(x), training=False)

    def top(self, reference):
        """The reference's top-K units and all logits, computed once."""
        if not hasattr(self, "ref"):
            self.ref = reference.GraphReference(self.forward)
            self.units, self.logits = self.ref.top_k(self.x, K)
        return self.ref, self.units, self.logits


@pytest.fixture(scope="module", params=[pytest.param(z, id=z[0], marks=pytest.mark.xdist_group(f"zoo-{z[0]}"))
                                        for z in ZOO])
def app(request, tmp_path_factory, export, reference):
    name = request.param[0]
    a = App(*request.param, tmp_path_factory.mktemp(name), export, reference)
    yield a
    a.__dict__.pop("ref", None)
    del a.model


# The architectures whose head is not global average pooling then one Dense
# (keras/src/applications: MobileNetV3's head is pooling, a 1x1 convolution,
# hard-swish, dropout and a 1x1 convolution; ConvNeXt's has a LayerNormalization
# after the pooling; VGG16 flattens into two ReLU layers): class activation
# mapping (--method cam) is not defined for them, and the manifest must not say
# pooled_linear. Every other model here pools into its Dense (EfficientNets with
# a Dropout between).
NOT_POOLED_LINEAR = ("mobilenet_v3_small", "mobilenet_v3_large", "vgg16", "convnext_tiny")


def test_manifest(app, cli, tmp_path):
    m = app.manifest
    assert (m["input"]["height"], m["input"]["width"]) == (app.h, app.w)
    assert len(m["labels"]) == 1000
    assert m["output"]["kind"] == "logits"
    assert not m["output"].get("softmax_removed", False)  # built linear: nothing to remove
    assert m["signatures"]["gradcam"]["layer"]
    pooled = app.name not in NOT_POOLED_LINEAR
    assert m["signatures"]["gradcam"].get("pooled_linear", False) == pooled, app.name
    if not pooled:
        proc = cli.run("explain", "--model", app.dir, "--method", "cam", "--out-dir", tmp_path, app.images[0])
        assert proc.returncode == 2 and "--method cam" in proc.stderr, proc.stderr


def test_gradients_match_keras(app, cli, reference, tmp_path):
    t0 = time.time()
    results = cli.explain(app.dir, app.images, tmp_path, "--top-k", K)
    app.figures["cli"] = app.figures.get("cli", 0) + time.time() - t0

    t0 = time.time()
    ref, units, logits = app.top(reference)
    _, maps = ref.maps(app.x, units)
    # The same units' maps for the channel-reversed photos: what a BGR/RGB
    # mix-up would give. The tolerance must tell them apart.
    _, swapped = ref.maps(app.x[..., ::-1].copy(), units)
    app.figures["ref"] = app.figures.get("ref", 0) + time.time() - t0

    swap = float(np.abs(swapped - maps).mean())
    app.figures["swap"] = swap
    assert swap >= SWAP_FACTOR * MEAN_TOL, f"{app.name}: channel order barely matters ({swap:.1e})"
    stats = reference.compare(results, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    app.figures["gradients"] = stats
    print(f"\n{app.name} {app.h}x{app.w} gradients: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}, "
          f"logits {stats[2]:.1e} relative; channel-reversed mean diff {swap:.1e}")


def test_gradcam_matches_keras(app, cli, reference, tmp_path):
    """Grad-CAM on the published layer (or, without a published name, the one
    feeding the head's pooling in the test's own model); the manifest must
    name the same one."""
    layer = CAM_LAYERS[app.name] or feeding_head(app.model)
    assert feeding_head(app.model) == layer, f"{app.name}: {layer} does not feed the head"
    assert app.manifest["signatures"]["gradcam"]["layer"] == layer, \
        f"{app.name}: the manifest's Grad-CAM layer is not {layer}"
    t0 = time.time()
    results = cli.explain(app.dir, app.images, tmp_path, "--top-k", K, "--method", "gradcam")
    app.figures["cli"] = app.figures.get("cli", 0) + time.time() - t0
    t0 = time.time()
    _, units, logits = app.top(reference)
    maps = reference.gradcam_maps(app.model, layer, app.preprocess, app.x, units)
    app.figures["ref"] = app.figures.get("ref", 0) + time.time() - t0
    stats = reference.compare(results, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    app.figures["gradcam"] = stats
    print(f"\n{app.name} gradcam on {layer}: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}")
    if app.name in NONLINEAR_HEADS:
        other_cams(app, layer, maps, cli, reference, tmp_path)


# Architectures whose logits are not linear in the global average of the CAM
# layer (VGG16: flatten and two ReLU layers), so that d logit / d A varies over
# the positions and Grad-CAM, HiResCAM and XGrad-CAM give different maps. On a
# pooled-linear head (the other architectures) they coincide, and a test there
# could not tell them apart (internal/method's tests check that they coincide).
NONLINEAR_HEADS = ("vgg16",)


def other_cams(app, layer, gradcam, cli, reference, tmp_path):
    """The rest of the class activation maps against their paper references
    (conftest.CAM_FORMULAS); each must also differ from Grad-CAM by more than
    the tolerance, or the comparison proves nothing."""
    _, units, logits = app.top(reference)
    for name in reference.CAM_FORMULAS:
        if name == "gradcam":
            continue
        results = cli.explain(app.dir, app.images, tmp_path / name, "--top-k", K, "--method", name)
        maps = reference.cam_maps(app.model, layer, app.preprocess, app.x, units, name)
        away = float(np.abs(maps - gradcam).mean())
        assert away >= SWAP_FACTOR * MEAN_TOL, f"{app.name}: {name} is Grad-CAM here ({away:.1e})"
        stats = reference.compare(results, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
        app.figures[name] = stats
        print(f"{app.name} {name}: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}; "
              f"{away:.1e} from Grad-CAM on average")
