"""Parity with the peers' own implementations: the CLI's maps against tf-keras-vis
0.8.7 and Google PAIR's `saliency` 0.2.1, run from their published packages, and
keras-explainable (6ceae98, from its source: it is not on PyPI, so those tests
skip where its source is absent, CI included), on the same model and images.

The peers live in build/bench/venv (`make peers`, bench/requirements.txt), not in
.venv: each runs in its own process (tests/peers/), on the test's own Keras
rebuild of the export (conftest.rebuild, never the exporter or the SavedModel):
tf-keras-vis on a tf-keras copy of it (TF_USE_LEGACY_KERAS=1; weights copied from
the Keras 3 model, logits checked), PAIR on the Keras 3 model through its
call_model_function, keras-explainable on the tf-keras copy (bench/ke_compat.py
answers its Keras 2 imports). Both models: the random-weight Xception (299x299) and the
trained `fashion` model (128x128); two images each at the model's input size, each
explained for its top unit.

What is compared is each peer's map at the resolution it computes it (the CAM
layer's 10x10 or 8x8; occlusion's input size), put through the CLI's
post-processing (min-max, then tf.image.resize bilinear with half-pixel centres),
against the CLI's --raw maps. The peers' own upsampling is left out and measured
apart (printed with -s): tf-keras-vis zooms with scipy.ndimage.zoom (order 1,
corner-aligned), PAIR with scikit-image's resize (mirror edges); both are other
interpolations of the same map.

Differences of definition, each proven here:
- Grad-CAM++: tf-keras-vis (like the authors' code) divides each channel's alphas
  by their sum over the positions; the paper (eq. 19, which the CLI and
  keras-explainable follow) does not. tf-keras-vis must equal the paper's formula
  with that normalisation, computed on the test's Keras model, and the CLI the
  formula without it (test_methods.py).
- Score-CAM: tf-keras-vis upsamples the masks with scipy.ndimage.zoom (order 1,
  corner-aligned, "nearest" edges), the CLI bilinearly with half-pixel centres (as
  tf.image.resize): tf-keras-vis with its zoom replaced by tf.image.resize must
  equal the CLI; with its own zoom it differs by what that changes in the weights.
- Occlusion: PAIR sums the logit drops of every window covering a pixel at stride
  1; the CLI averages them (mean drop): PAIR's mask divided by the number of
  windows covering each pixel must equal the CLI's at --stride 1.
- keras-explainable returns maps before post-processing: its CAM, Grad-CAM and
  Grad-CAM++ with the ReLU of its default post-processing equal the CLI's; its
  Score-CAM departs from the paper in four ways, proven by one reference written
  with either set of choices (scorecam_of); its FullGrad in five
  (tests/test_fullgrad.py).

Tolerances: CAM_TOL (max abs, maps in [0, 1]) 1e-4, CAM_MEAN_TOL 1e-5: two
float32 graphs of the same network (Keras 2 and the SavedModel; Keras 3 and the
SavedModel) give the CAM layer's values to ~1e-6 relative; the maps are min-max
normalised by values of ~1e-6 (random Xception) to ~1 (fashion), so a few 1e-7
after normalisation is the float floor, and a wrong formula, channel or unit
moves the whole map by far more than 1e-4 (Grad-CAM++'s normalisation moves
fashion's by 2.8e-2, below).

Measured 2026-11-28 (printed with -s), max / mean abs diff, Xception and fashion:
Grad-CAM vs tf-keras-vis 2.4e-7 / 5.2e-8 and 2.4e-7 / 1.9e-8; LayerCAM 2.4e-7 /
4.0e-8 and 2.4e-7 / 1.6e-8; tf-keras-vis' Grad-CAM++ vs the normalised formula
2.4e-7 / 2.2e-8 and 2.4e-7 / 1.8e-8 (CLI vs tf-keras-vis on fashion: 2.8e-2 /
2.1e-3; on the random Xception every alpha is ~1/2, so there the normalisation
changes nothing); Score-CAM vs tf-keras-vis with bilinear masks 1.2e-7 / 2.1e-8
and 1.8e-7 / 1.6e-8 (with its zoom, fashion: 1.3e-1 / 1.0e-2); Grad-CAM vs PAIR
1.6e-6 / 3.5e-7 and 3.6e-7 / 1.8e-8; occlusion vs PAIR (fashion, window 64)
1.8e-6 / 2.9e-7. The peers' own upsampled outputs differ from the CLI's by up to
0.38 (fashion Grad-CAM, scipy zoom): another interpolation, not another map.
"""

import numpy as np
import pytest
from PIL import Image

from conftest import run_peer

CAM_TOL = 1e-4
CAM_MEAN_TOL = 1e-5
# Score-CAM's channels on Xception: the 16 that vary most (its 2048 would be
# 2048 forward passes an image); fashion's 256, all of them.
MAX_CHANNELS = {"xception": 16, "fashion": 0}


class Case:
    """One model, its two images, the test's Keras rebuild and the units the CLI
    chose (each image's top unit)."""

    def __init__(self, name, folder, reference, tmp):
        import tensorflow as tf

        self.name, self.dir, self.tmp = name, folder, tmp
        self.layer = reference.CAM_LAYERS[name]
        self.keras, self.preprocess = reference.rebuild(name, folder)
        if name == "xception":
            self.paths = reference.write_photos(tmp / "images", 299, 299, reference.PHOTOS[:2])
        else:
            (tmp / "images").mkdir()
            self.paths = []
            for i, a in enumerate(reference.import_fashion().composites("test", 11, 2)[0]):
                p = tmp / "images" / f"img{i}.png"
                Image.fromarray(a).save(p)
                self.paths.append(p)
        self.x = reference.pixels(self.paths)
        self.logits = self.keras(self.preprocess(tf.constant(self.x)), training=False).numpy()
        self.units = np.argmax(self.logits, axis=1)

    def cli_maps(self, cli, method, *flags):
        """The CLI's --raw maps of each image's top unit: [N, H, W]."""
        out = self.tmp / "cli" / method
        results = cli.explain(self.dir, self.paths, out, "--method", method, *flags)
        assert [r["units"][0] for r in results] == list(self.units), "the CLI's top units are Keras'"
        return np.stack([np.load(r["raw"])[0] for r in results])

    def weights_file(self):
        """The Keras 3 model's weights and logits, for the tf-keras copy."""
        path = self.tmp / "keras3.npz"
        if not path.exists():
            arrays = {f"w{i}": w for i, w in enumerate(self.keras.get_weights())}
            np.savez(path, logits=self.logits, **arrays)
        return path


@pytest.fixture(scope="module", params=["xception", "fashion"])
def case(request, model_path, reference, tmp_path_factory):
    c = Case(request.param, model_path(request.param), reference, tmp_path_factory.mktemp(request.param))
    yield c
    del c.keras


@pytest.fixture(scope="module")
def tfkv(case, peers_python):
    """tf-keras-vis' CAMs on the case (tests/peers/tfkv_cams.py)."""
    out = case.tmp / "tfkv.npz"
    run_peer(peers_python, "tfkv_cams.py", "--kind", case.name, "--model-dir", case.dir,
             "--weights", case.weights_file(), "--layer", case.layer,
             "--units", ",".join(map(str, case.units)), "--max-channels", MAX_CHANNELS[case.name],
             "--out", out, *case.paths, legacy=True)
    return dict(np.load(out))


def as_cli(reference, layer_maps, size):
    """A peer's maps at the layer's size [N, h, w] through the CLI's post-processing."""
    return reference.resize_cams(reference.normalize(np.asarray(layer_maps, np.float32)[:, None]), size)[:, 0]


def diff(a, b):
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return float(d.max()), float(d.mean())


def assert_close(what, got, want, tol=CAM_TOL, mean_tol=CAM_MEAN_TOL):
    worst, mean = diff(got, want)
    print(f"{what}: max abs diff {worst:.2e}, mean {mean:.2e}")
    assert np.asarray(want).std() > 1e-3, f"{what}: degenerate peer map"
    assert worst <= tol, f"{what}: max abs diff {worst:.2e} > {tol:.0e}"
    assert mean <= mean_tol, f"{what}: mean abs diff {mean:.2e} > {mean_tol:.0e}"


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_cams_match_tf_keras_vis(case, tfkv, cli, reference, method):
    """Grad-CAM and LayerCAM: the same definition in both; the maps must agree."""
    size = case.x.shape[1:3]
    mine = case.cli_maps(cli, method)
    assert_close(f"{case.name} {method} vs tf-keras-vis", mine, as_cli(reference, tfkv[method], size))
    full, mean = diff(mine, tfkv[method + "_full"])
    print(f"{case.name} {method} vs tf-keras-vis' own output (scipy zoom): max {full:.2e}, mean {mean:.2e}")


def gradcampp_normalized_of(acts, g, s):
    """Grad-CAM++ as tf-keras-vis and the authors' code compute it: the paper's
    alphas (conftest.gradcampp_of) divided by their sum over the positions, per
    channel (1 where that sum is 0), before w_c = sum_ij alpha relu(exp(S) g)."""
    import tensorflow as tf
    d2, d3 = g ** 2, g ** 3
    spatial = lambda t: tf.reduce_sum(t, axis=(1, 2), keepdims=True)  # noqa: E731
    alpha = tf.math.divide_no_nan(d2, 2.0 * d2 + spatial(acts) * d3)
    total = spatial(alpha)
    alpha = alpha / tf.where(total == 0, tf.ones_like(total), total)
    w = spatial(alpha * tf.nn.relu(tf.exp(s)[:, None, None, None] * g))
    return tf.nn.relu(tf.reduce_sum(w * acts, axis=-1))


def test_gradcampp_against_tf_keras_vis(case, tfkv, cli, reference):
    """tf-keras-vis' Grad-CAM++ is the paper's with its alphas normalised per
    channel; the CLI's is the paper's (test_methods.py holds it to the formula)."""
    size = case.x.shape[1:3]
    units = case.units[:, None]
    theirs = as_cli(reference, tfkv["gradcampp"], size)
    normalized = reference.cam_layer_maps(case.keras, case.layer, case.preprocess, case.x, units,
                                          gradcampp_normalized_of)[:, 0]
    assert_close(f"{case.name} tf-keras-vis Grad-CAM++ vs the paper's with normalised alphas", theirs,
                 as_cli(reference, normalized, size))
    paper = reference.cam_layer_maps(case.keras, case.layer, case.preprocess, case.x, units, "gradcampp")[:, 0]
    mine = case.cli_maps(cli, "gradcampp")
    assert_close(f"{case.name} CLI Grad-CAM++ vs the paper's", mine, as_cli(reference, paper, size))
    gap, mean = diff(mine, theirs)
    print(f"{case.name} Grad-CAM++, CLI vs tf-keras-vis (the normalisation): max {gap:.2e}, mean {mean:.2e}")


def test_scorecam_against_tf_keras_vis(case, tfkv, cli, reference):
    """Score-CAM: tf-keras-vis with bilinear (half-pixel) mask upsampling equals
    the CLI; its own scipy zoom is the only difference."""
    size = case.x.shape[1:3]
    flags = ["--max-channels", str(MAX_CHANNELS[case.name])] if MAX_CHANNELS[case.name] else []
    mine = case.cli_maps(cli, "scorecam", *flags)
    assert_close(f"{case.name} Score-CAM vs tf-keras-vis with bilinear masks", mine,
                 as_cli(reference, tfkv["scorecam_bilinear"], size))
    gap, mean = diff(mine, as_cli(reference, tfkv["scorecam"], size))
    print(f"{case.name} Score-CAM vs tf-keras-vis with its zoom masks: max {gap:.2e}, mean {mean:.2e}")


# Occlusion's window (PAIR's `size`): stride 1, so (H - size + 1)^2 forward passes
# an image in PAIR (one call each): 80 on fashion's 128x128 is 2401.
OCCLUSION_SIZE = 80


# Guided IG's steps in the comparison. Its path picks, at every step, the
# features of smallest |gradient|, so where two graphs' float32 gradients differ
# in the last bits a near-tie flips and the paths part (Keras' and the
# SavedModel's first did at step 19 of 50 on one demo model, at fewer on a
# freshly trained one, by up to 0.2): PAIR is given the SavedModel's gradients,
# one image per call like the CLI's --batch-size 1 (tests/peers/pair_methods.py).
# 20 steps rather than PAIR's 200: each is a gradient call an image in PAIR.
GUIDEDIG_STEPS = 20

# XRAI's integrated-gradient points per baseline in the comparison (PAIR's
# default 100 is 200 gradient calls an image in PAIR, one at a time).
XRAI_STEPS = 20


@pytest.fixture(scope="module")
def pair(case, peers_python):
    """PAIR's masks on the case (tests/peers/pair_methods.py): Grad-CAM on both
    models; occlusion, Blur IG, Guided IG and XRAI on fashion (on Xception,
    occlusion's (299-size+1)^2 calls of one image each would take an hour, and
    Blur IG's 100 blurs of 299x299 in scipy minutes)."""
    methods = "gradcam" + (",occlusion,blurig,guidedig,xrai" if case.name == "fashion" else "")
    out = case.tmp / "pair.npz"
    run_peer(peers_python, "pair_methods.py", "--kind", case.name, "--model-dir", case.dir,
             "--units", ",".join(map(str, case.units)), "--methods", methods,
             "--occlusion-size", OCCLUSION_SIZE, "--guidedig-steps", GUIDEDIG_STEPS,
             "--xrai-steps", XRAI_STEPS, "--out", out, *case.paths)
    return dict(np.load(out))


def test_gradcam_matches_pair(case, pair, cli, reference):
    size = case.x.shape[1:3]
    assert_close(f"{case.name} Grad-CAM vs PAIR", case.cli_maps(cli, "gradcam"), as_cli(reference, pair["gradcam"], size))


def windows_covering(h, w, size):
    """How many size x size windows at stride 1 cover each pixel."""
    rows = np.convolve(np.ones(h - size + 1), np.ones(size))
    cols = np.convolve(np.ones(w - size + 1), np.ones(size))
    return np.outer(rows, cols)


@pytest.mark.parametrize("case", ["fashion"], indirect=True)
def test_occlusion_matches_pair(case, pair, cli, reference):
    """PAIR's occlusion sums the drops of the windows covering a pixel; the CLI
    averages them: PAIR / windows covering = the CLI's at --stride 1."""
    h, w = case.x.shape[1:3]
    mine = case.cli_maps(cli, "occlusion", "--patch", str(OCCLUSION_SIZE), "--stride", "1")
    theirs = pair["occlusion"].mean(-1) / windows_covering(h, w, OCCLUSION_SIZE)
    assert_close(f"{case.name} occlusion vs PAIR / windows", mine, reference.normalize(theirs))


@pytest.mark.parametrize("case", ["fashion"], indirect=True)
def test_path_methods_match_pair(case, pair, cli, reference):
    """Blur IG at PAIR's defaults and Guided IG at GUIDEDIG_STEPS: PAIR's
    attributions [H, W, 3] reduced as the CLI's defaults do (|a|, mean over
    channels, min-max). Tolerance: Blur IG sums 100 steps of float32 products of
    two graphs' gradients (Keras in PAIR, the SavedModel in the CLI), each a few
    1e-7 apart, through scipy's and the CLI's blur (bit-identical): max 5e-4,
    mean 1e-5 (measured 2.1e-5 / 5.4e-7). Guided IG, on the same gradients in
    both (see GUIDEDIG_STEPS), differs only by the order of float32 sums: the
    same bound, which a path that parted (0.2) exceeds 400 times."""
    guided = ["--steps", str(GUIDEDIG_STEPS), "--batch-size", "1"]
    for name, flags in (("blurig", []), ("guidedig", guided)):
        mine = case.cli_maps(cli, name, *flags)
        theirs = reference.normalize(np.abs(pair[name]).mean(-1))
        assert_close(f"{case.name} {name} vs PAIR", mine, theirs, tol=5e-4)


def same_regions(a, b):
    """Whether two maps have the same regions: pixels of equal value in one are
    those of equal value in the other (whatever the values)."""
    _, ra = np.unique(a, return_inverse=True)
    _, rb = np.unique(b, return_inverse=True)
    pairs = np.unique(np.stack([ra.ravel(), rb.ravel()]), axis=1).shape[1]
    return pairs == ra.max() + 1 == rb.max() + 1


@pytest.mark.parametrize("case", ["fashion"], indirect=True)
def test_xrai_matches_pair(case, pair, cli, reference):
    """XRAI at XRAI_STEPS, PAIR given its own segments at the input size
    (_get_segments_felzenszwalb(resize_image=False), the CLI's deviation from
    PAIR's 224x224 resize) and the SavedModel's gradients one image per call, as
    the CLI's --batch-size 1: the same regions, with the same values.

    The regions must be identical: a wrong baseline, channel aggregation, gain
    or segmentation changes them. On two graphs' gradients (Keras in PAIR, the
    SavedModel in the CLI, a few 1e-7 apart) XRAI's greedy choice of the densest
    region flipped on a near-tie on CI's freshly trained demo model (other
    regions on its second image, 2026-11-28), as Guided IG's path did: so PAIR
    runs on the SavedModel's gradients (tests/peers/pair_methods.py) and what is
    compared is the algorithm; that those gradients are Keras' autodiff is
    test_parity's proof. What is left is the order of float32 sums in the
    integrated gradients (numpy's and the CLI's): measured 3.3e-8 max / 5.2e-9
    mean after min-max; the CAM bounds (1e-4 / 1e-5) hold it with room, and a
    value off by its formula (a sum for a mean, one baseline) exceeds them many
    times over, its regions differing by then as well."""
    mine = case.cli_maps(cli, "xrai", "--steps", str(XRAI_STEPS), "--batch-size", "1")
    theirs = pair["xrai"]
    for i in range(len(mine)):
        assert same_regions(mine[i], theirs[i]), f"{case.name} XRAI image {i}: other regions than PAIR's"
    assert_close(f"{case.name} xrai vs PAIR", mine, reference.normalize(theirs))


# ---------------------------------------------------------------- keras-explainable
# keras-explainable (lucasdavid/keras-explainable, last commit 6ceae98 of
# 2022-11-29) is not on PyPI: these tests need its source (conftest
# `keras_explainable`: KE_SRC or the fetched mirror) and skip without it, saying so.
# Its methods, read in methods/cams.py and methods/gradient.py, return maps
# before any post-processing: no ReLU (ke.explain's default post-processing,
# filters.positive_normalize, takes the positive part and min-max normalises).


@pytest.fixture(scope="module")
def ke(case, peers_python, keras_explainable):
    """keras-explainable's maps on the case (tests/peers/ke_methods.py): CAM,
    Grad-CAM and Grad-CAM++ on both models, Score-CAM on fashion (on Xception
    its loop is 2048 forward passes, a quarter of an hour here)."""
    methods = "cam,gradcam,gradcampp" + (",scorecam" if case.name == "fashion" else "")
    out = case.tmp / "ke.npz"
    run_peer(peers_python, "ke_methods.py", "--ke-path", keras_explainable, "--kind", case.name,
             "--model-dir", case.dir, "--weights", case.weights_file(), "--layer", case.layer,
             "--units", ",".join(map(str, case.units)), "--methods", methods, "--out", out,
             *case.paths, legacy=True)
    return dict(np.load(out))


@pytest.mark.parametrize("method", ["cam", "gradcam", "gradcampp"])
def test_cams_match_keras_explainable(case, ke, cli, reference, method):
    """CAM, Grad-CAM and Grad-CAM++: keras-explainable's maps, ReLU'd as its
    default post-processing does, through the CLI's post-processing, equal the
    CLI's. Its Grad-CAM++ scores with exp(logit) (the paper's eq. 19), which
    scales every weight of a map by the same positive number: the CLI leaves it
    out (a logit above 88 overflows float32), the normalised map is the same.
    Tolerance CAM_TOL (Keras 2 and the SavedModel, the float floor)."""
    size = case.x.shape[1:3]
    assert_close(f"{case.name} {method} vs keras-explainable", case.cli_maps(cli, method),
                 as_cli(reference, np.maximum(ke[method], 0), size))


def scorecam_of(case, units, *, as_keras_explainable):
    """Score-CAM from its definition on the test's Keras model, float64 sums:

    - the paper's (Wang et al. 2020, as the CLI and tf-keras-vis): each channel
      A_k upsampled to the input (tf.image.resize, bilinear, half-pixel) and then
      min-max normalised to a mask M_k; w_k = softmax(f(x * M_k))_u; the map is
      ReLU(sum_k w_k A_k) at the layer's size;
    - keras-explainable's (methods/cams.py scorecam): A_k min-max normalised at
      the layer's size and then upsampled to M_k; s_k = f(x * M_k)_u, the logit
      (no softmax); the map is sum_k s_k M_k at the input's size (the masks
      summed, not the activations), no ReLU.

    Returns [N, h, w] maps (the layer's size or the input's)."""
    import keras
    import tensorflow as tf

    features = keras.Model(case.keras.inputs, case.keras.get_layer(case.layer).output)
    acts = features(case.preprocess(tf.constant(case.x)), training=False).numpy()   # [N, h, w, C]
    size = case.x.shape[1:3]
    model = tf.function(lambda x: case.keras(case.preprocess(x), training=False))
    maps = []
    for i, unit in enumerate(units):
        a = acts[i]
        if as_keras_explainable:
            masks = tf.image.resize(normalize_channels(a), size).numpy()
        else:
            masks = normalize_channels(tf.image.resize(a, size).numpy())
        scores = []
        for lo in range(0, masks.shape[-1], 64):
            m = np.moveaxis(masks[..., lo:lo + 64], -1, 0)[..., None]   # [64, H, W, 1]
            out = model(tf.constant(case.x[i] * m, tf.float32)).numpy().astype(np.float64)
            scores.append(out[:, unit] if as_keras_explainable else tf.nn.softmax(out).numpy()[:, unit])
        scores = np.concatenate(scores)
        if as_keras_explainable:
            maps.append(np.einsum("hwk,k->hw", masks.astype(np.float64), scores))
        else:
            maps.append(np.maximum(np.einsum("hwk,k->hw", a.astype(np.float64), scores), 0))
    return np.stack(maps)


def normalize_channels(a):
    """Each channel of [h, w, C] min-max normalised over the positions, 0 where
    constant."""
    a = a - a.min(axis=(0, 1), keepdims=True)
    top = a.max(axis=(0, 1), keepdims=True)
    return np.divide(a, top, out=np.zeros_like(a), where=top > 0)


@pytest.mark.parametrize("case", ["fashion"], indirect=True)
def test_scorecam_keras_explainable_departs_from_the_paper(case, ke, cli, reference):
    """keras-explainable's Score-CAM departs from the paper in four ways (see
    scorecam_of): logits for softmax, the masks summed for the activations, no
    ReLU, masks normalised before the upsampling. Proven by one reference
    written from both definitions: with keras-explainable's choices it equals
    keras-explainable, with the paper's it equals the CLI. The CLI follows the
    paper (README). Tolerance CAM_TOL: two float32 graphs, 256 masked images each
    (the maps are sums of 256 scores, each a few 1e-7 apart)."""
    size = case.x.shape[1:3]
    theirs = ke["scorecam"]
    assert_close(f"{case.name} keras-explainable Score-CAM vs its definition", reference.normalize(theirs),
                 reference.normalize(scorecam_of(case, case.units, as_keras_explainable=True)))
    mine = case.cli_maps(cli, "scorecam")
    assert_close(f"{case.name} CLI Score-CAM vs the paper's", mine,
                 as_cli(reference, scorecam_of(case, case.units, as_keras_explainable=False), size))
    gap, mean = diff(mine, reference.normalize(theirs))
    print(f"{case.name} Score-CAM, CLI vs keras-explainable (the departures): max {gap:.2e}, mean {mean:.2e}")
