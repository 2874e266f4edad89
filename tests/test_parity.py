"""Parity of `saliency explain` with the method's definition, computed in Python.

The reference follows keras-explainable's `ke.gradients` with
`filters.absolute_normalize` step by step on Keras' own model
(conftest.rebuild: keras.applications.Xception with the export's random seed
and keras.applications.xception.preprocess_input; for the demo model,
models/fashion.py's build_model with its trained weights file), differentiated
by TensorFlow's autodiff in graph mode (conftest.GraphReference). It never
imports the exporter nor calls an exported signature, so a mistake in the
exporter, in the Go binding or in Go's post-processing shows up as a difference.

Images at the model's input size (299x299 PNGs: no resizing, and both sides
decode the same pixels) are checked first. Then images of other sizes, 640x480
and 123x457 (width x height: one shrinks both axes, one stretches the width and
shrinks the height), PNGs made from testdata photos with Pillow so that the
input pixels are exact. The CLI resizes such an input to the model's size and
each map back to the image's size; the documented rules, implemented here
with other code (conftest.resize_input, conftest.resize_maps), are:

- input: Pillow's Image.resize(BILINEAR) (triangle filter on half-pixel
  centres, its support widened by the scale factor when shrinking, i.e.
  antialiased; tf.image.resize(bilinear, antialias=True) is the same filter,
  within 0.007 grey levels),
  computed without rounding to 8 bits, on the 1/257 grid of 16-bit samples;
- map: normalised at the model's size, then tf.image.resize's bilinear rule
  (half-pixel centres, no antialiasing).

test_input_resize_is_pil_bilinear checks the first rule alone, through the
CLI, with a model whose logits are input pixels; test_resized_images_match_definition
checks the whole pipeline on Xception (299x299; why not the demo model is
told above the test).

Tolerances: maps (in [0, 1]) max abs diff <= 5e-3 and mean abs diff <= 1e-5;
logits within 1e-4 relative (to the largest of the image's compared logits);
units identical. Why the max is 5e-3 (a ReLU at zero in a flat region flips with
the batch composition under TensorFlow 2.21) is told in tests/test_methods.py.
The resized inputs' tolerances are given, with their measurements, above
RESIZE_PIXEL_TOL and RESIZE_LOGIT_RTOL below.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras 3.15's np.array(copy=)

SIZE = 299
MAP_TOL = 5e-3
MAP_MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4


@pytest.fixture(scope="module")
def keras_ref(reference, model_path):
    """name -> conftest.GraphReference on the rebuilt Keras model; one model
    alive at a time (rebuild clears Keras' session)."""
    cache = {}

    def get(name):
        if name not in cache:
            folder = model_path(name)
            cache.clear()
            model, preprocess = reference.rebuild(name, folder)
            cache[name] = reference.GraphReference(lambda x: model(preprocess(x), training=False))
        return cache[name]

    yield get
    cache.clear()


@pytest.fixture(scope="module")
def images(reference, tmp_path_factory):
    """Five 299x299 PNGs: the four photos in testdata/ and a smooth synthetic one."""
    d = tmp_path_factory.mktemp("parity")
    paths = reference.write_photos(d, SIZE, SIZE, reference.PHOTOS)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    synthetic = np.stack([xx / SIZE * 255, yy / SIZE * 255, 128 + 100 * np.sin(xx / 17)], -1)
    p = d / "synthetic.png"
    Image.fromarray(synthetic.clip(0, 255).astype(np.uint8)).save(p)
    paths.append(p)
    return paths


def definition(ref, x, k=None, units=None):
    """Units [N, K], selected logits [N, K] and maps [N, K, H, W] by the
    definition, on Keras' model: top K by tf.math.top_k (ties: lower index)
    or the given units."""
    if units is None:
        units, _ = ref.top_k(x, k)
    else:
        units = np.tile(np.asarray(units, np.int32), (len(x), 1))
    picked, maps = ref.maps(x, units)
    return units, picked, maps


def assert_parity(results, units, logits, maps):
    for i, r in enumerate(results):
        assert r["units"] == units[i].tolist(), r["image"]
        # Relative to the largest logit compared: a logit near zero (random
        # Xception's are ~1e-6) may differ in its last bits with the batch.
        np.testing.assert_allclose(r["logits"], logits[i], rtol=LOGIT_RTOL,
                                   atol=LOGIT_RTOL * np.abs(logits[i]).max(), err_msg=r["image"])
        raw = np.load(r["raw"])
        assert raw.dtype == np.float32 and raw.shape == maps[i].shape, r["image"]
        diff = np.abs(raw - maps[i]).max()
        assert diff <= MAP_TOL, f"{r['image']}: max abs diff {diff:.2e}"
        mean = np.abs(raw - maps[i]).mean()
        assert mean <= MAP_MEAN_TOL, f"{r['image']}: mean abs diff {mean:.2e}"
        # The PNG is the same map quantised to 8 bits.
        for j, png in enumerate(r["maps"]):
            q = np.asarray(Image.open(png), dtype=np.float32) / 255
            assert q.shape == maps[i][j].shape
            assert np.abs(q - maps[i][j]).max() <= 0.5 / 255 + MAP_TOL, png
    diffs = [np.abs(np.load(r["raw"]) - maps[i]) for i, r in enumerate(results)]
    print(f"parity: over {len(results)} images, max abs map diff {max(d.max() for d in diffs):.2e}, "
          f"worst mean {max(d.mean() for d in diffs):.2e}")


@pytest.mark.parametrize("k,batch", [(1, 2), (3, 8), (5, 1)])
def test_top_k_matches_definition(keras_ref, images, cli, model_path, reference, tmp_path, k, batch):
    """Top-K units, their logits and maps; k=1 with more images than --batch-size;
    k=5 through the export's signature for five units from one forward pass."""
    results = cli.explain(model_path("xception"), images, tmp_path, "--top-k", str(k), "--batch-size", str(batch))
    units, logits, maps = definition(keras_ref("xception"), reference.pixels(images), k=k)
    assert_parity(results, units, logits, maps)


def test_fixed_units_match_definition(keras_ref, images, cli, model_path, reference, tmp_path):
    """Four units: the five-unit signature with the last unit repeated, two images a call."""
    chosen = [0, 417, 999, 5]
    results = cli.explain(model_path("xception"), images[:3], tmp_path,
                          "--units", ",".join(map(str, chosen)), "--batch-size", "2")
    units, logits, maps = definition(keras_ref("xception"), reference.pixels(images[:3]), units=chosen)
    assert_parity(results, units, logits, maps)


def test_maps_are_not_trivial(images, cli, model_path, tmp_path):
    """Guards the parity tests against passing on degenerate maps (all zero, or constant)."""
    results = cli.explain(model_path("xception"), images[:2], tmp_path, "--top-k", "1")
    for r in results:
        raw = np.load(r["raw"])
        assert raw.max() == pytest.approx(1.0) and raw.min() == 0.0
        assert raw.std() > 1e-3


# ---------------------------------------------------------------- images of other sizes

# width x height of the test images: both axes shrunk; width stretched, height shrunk.
SHAPES = [(640, 480), (123, 457)]

# The probe model's input (height, width), not square so that swapped axes
# show, and its sampling stride: it samples rows 0, 42, ..., 210 and columns
# 0, 42, ..., 294, every channel.
PROBE_HW = (224, 299)
PROBE_STRIDE = 42

# Input resize: |CLI - reference| <= one step of the 16-bit grid (1/257 grey
# levels), plus 1e-4 for float32. The reference (conftest.resize_input)
# computes Pillow's filter in float64 and rounds half up, as the Go side's
# 16-bit resampling does, but a value exactly on a half step (weights like 1/2
# make such ties) can go either way with the last bit of either sum. Measured
# 2026-11-27 against a standalone replica of the Go resize (x/image/draw
# BiLinear into RGBA64, /257) on all values of astronaut, chelsea, coffee and
# rocket at both shapes, resized to 128x128, 299x299 and 224x299: 0 to 47
# values of 49k-268k one step (0.0039) off, all ties; the rest equal. Through
# the CLI, on the probe's samples: 7e-6 (the logits' float32 printing). What
# it must reject, on the same samples: Pillow on the 8-bit RGB image (rounded
# to 8 bits after each pass) 0.74-0.88 grey levels max; tf.image.resize
# bilinear without antialiasing 0.30-10.5; nearest neighbour 5.6-24.
RESIZE_PIXEL_TOL = 1 / 257 + 1e-4

# Whole pipeline on resized images: maps MAP_TOL max and MAP_MEAN_TOL mean as
# above (the same reason: batch composition), logits RESIZE_LOGIT_RTOL of the
# image's largest |logit|. Measured 2026-11-27 (chelsea and coffee at both
# shapes, top 2): Xception maps max 6.0e-7, mean 3.7e-9, logits 1.8e-7
# relative; fashion maps 2.4e-7, 9.2e-9, logits 3.3e-7. What they reject,
# measured on the CLI's maps: Pillow's 8-bit resize moves Xception's maps by
# 4.2e-4 to 5.9e-4 on average (40x MAP_MEAN_TOL; fashion's 4.6e-3) and its
# logits by 1.2e-4 to 5.3e-4; tf.image.resize without antialiasing 3.9e-4 to
# 8.4e-4 and 3.0e-4 to 5.7e-3; nearest neighbour 1.1e-3 to 2.1e-3. The maps
# are that sensitive to the input: with Pillow's own float32 result rounded to
# the 16-bit grid (30 of 49k values a step off, not only ties) fashion's
# coffee_123x457 map was 6.6e-3 max and 3.3e-5 mean away (ReLUs flipping), and
# unrounded 5.4e-5 mean; so the rule is pinned to its last bit, and a failure
# of a few 1e-3 at a handful of pixels after a Pillow or numpy upgrade means
# ties first. RESIZE_LOGIT_RTOL is 1e-5, not LOGIT_RTOL, so that the logits
# alone reject the 8-bit resize too, with 30x over the measured 3.3e-7.
RESIZE_LOGIT_RTOL = 1e-5
RESIZE_K = 2
ALTERNATIVE_FACTOR = 10   # a wrong input resize must be this many tolerances away


@pytest.fixture(scope="module")
def resized_images(reference, tmp_path_factory):
    """chelsea and coffee (testdata: colour photos) at each of SHAPES, resized
    with Pillow and saved as PNG: the CLI decodes exactly these pixels."""
    d = tmp_path_factory.mktemp("resized")
    return [p for w, h in SHAPES for p in reference.write_photos(d, h, w, suffix=f"_{w}x{h}")]


def pil_8bit(a, height, width):
    """A wrong rule the tests must reject: Pillow on the 8-bit RGB image."""
    return np.asarray(Image.fromarray(a).resize((width, height), Image.BILINEAR), np.float32)


def tf_plain(a, height, width):
    """A wrong rule the tests must reject: tf.image.resize bilinear without antialiasing."""
    return tf.image.resize(a[None].astype(np.float32), (height, width), method="bilinear").numpy()[0]


def test_input_resize_is_pil_bilinear(export, cli, reference, resized_images, tmp_path):
    """The input resize alone, through the CLI: a model whose logits are its
    input pixels (a 1x1 convolution with the identity kernel and stride 42,
    flattened; no preprocessing), exported with `export.py --keras`; `--units`
    all of them prints the CLI's resized tensor at those points."""
    import keras
    h, w = PROBE_HW
    inputs = keras.Input((h, w, 3), name="images")
    sampled = keras.layers.Conv2D(3, 1, strides=PROBE_STRIDE, use_bias=False, name="sample",
                                  kernel_initializer=keras.initializers.Constant(np.eye(3)[None, None]))(inputs)
    probe = keras.Model(inputs, keras.layers.Flatten(name="pixels")(sampled))
    n = probe.output.shape[-1]
    rows, cols = range(0, h, PROBE_STRIDE), range(0, w, PROBE_STRIDE)
    assert n == len(rows) * len(cols) * 3

    def samples(x):
        return x[::PROBE_STRIDE, ::PROBE_STRIDE].ravel()

    # The probe is what it says: Keras' own output is the sampled pixels.
    x = np.random.default_rng(0).uniform(0, 255, (1, h, w, 3)).astype(np.float32)
    np.testing.assert_array_equal(probe(x).numpy()[0], samples(x[0]))
    probe.save(tmp_path / "probe.keras")
    export("--keras", tmp_path / "probe.keras", "--out", tmp_path / "probe")
    m = reference.manifest_of(tmp_path / "probe")
    assert (m["input"]["height"], m["input"]["width"]) == (h, w) and len(m["labels"]) == n

    proc = cli.run("explain", "--model", tmp_path / "probe", "--json", "-q", "--out-dir", tmp_path / "out",
                   "--units", ",".join(map(str, range(n))), *resized_images)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in results] == list(map(str, resized_images))
    worst = 0.0
    for r in results:
        a = np.asarray(Image.open(r["image"]).convert("RGB"))
        got = np.asarray(r["logits"], np.float64)
        assert r["units"] == list(range(n)) and got.shape == (n,)
        want = samples(reference.resize_input(a, h, w))
        d = float(np.abs(got - want).max())
        worst = max(worst, d)
        assert d <= RESIZE_PIXEL_TOL, f"{r['image']}: resized input {d:.4f} grey levels from Pillow's bilinear"
        # The tolerance tells the documented rule from the likely wrong ones.
        for name, alt in (("Pillow 8-bit", pil_8bit), ("tf.image.resize", tf_plain)):
            off = float(np.abs(samples(alt(a, h, w)) - want).max())
            assert off >= ALTERNATIVE_FACTOR * RESIZE_PIXEL_TOL, f"{r['image']}: {name} only {off:.4f} away"
    print(f"\ninput resize: max |CLI - Pillow bilinear (16-bit)| {worst:.1e} grey levels "
          f"over {len(results)} images x {n} samples")


# Xception only. The trained fashion model is too sensitive on these photos
# (far from its training data) for a 1e-5 mean bound to mean anything: measured
# 2026-11-28 on a freshly trained copy, a change of one 16-bit step in random
# input values moved its maps by 3e-4 to 4e-4 on average (up to 0.15 at a
# pixel), and with inputs bit-identical to the CLI's (dumped from
# imageio.ToTensor) the CLI's chelsea_640x480 maps were 1.3e-4 from Keras'
# (ReLUs within float32 rounding of zero, the graphs differing in their last
# bits). The resizing rules do not depend on the model; fashion's maps are
# compared at its input size, on its own composites, in test_methods.py.
@pytest.mark.parametrize("name", ["xception"])
def test_resized_images_match_definition(name, keras_ref, cli, model_path, reference, resized_images, tmp_path):
    """Images of other sizes through the whole pipeline, top 2: each input
    resized to the model's size by the documented rule (conftest.resize_input),
    Keras' logits and gradient maps there, normalised, and resized back to the
    image by tf.image.resize (conftest.resize_maps); one image per reference
    call."""
    size = reference.manifest_of(model_path(name))["input"]["height"]
    assert {"xception": SIZE, "fashion": 128}[name] == size
    results = cli.explain(model_path(name), resized_images, tmp_path, "--top-k", RESIZE_K)
    ref = keras_ref(name)
    units, logits, maps = [], [], []
    for i, p in enumerate(resized_images):
        a = np.asarray(Image.open(p).convert("RGB"))
        x = reference.resize_input(a, size, size)[None]
        u, all_logits = ref.top_k(x, RESIZE_K)
        _, m = ref.maps(x, u)
        units.append(u[0])
        logits.append(all_logits[0])
        maps.append(reference.resize_maps(m[0], *a.shape[:2]))
        if i == 0:
            # The tolerance tells the documented rule from Pillow's 8-bit resize.
            _, wrong = ref.maps(pil_8bit(a, size, size)[None], u)
            off = float(np.abs(reference.resize_maps(wrong[0], *a.shape[:2]) - maps[0]).mean())
            assert off >= ALTERNATIVE_FACTOR * MAP_MEAN_TOL, f"{name}: the 8-bit resize only {off:.1e} away"
    assert [np.load(r["raw"]).shape for r in results] == [(RESIZE_K, *m.shape[1:]) for m in maps]
    stats = reference.compare(results, units, logits, maps, MAP_TOL, MAP_MEAN_TOL, RESIZE_LOGIT_RTOL)
    print(f"\n{name} resized inputs: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}, "
          f"logits {stats[2]:.1e} relative; 8-bit resize mean diff {off:.1e}")
