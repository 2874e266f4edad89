"""Parity of every `saliency explain --method` with its published definition.

Each reference below is written from the paper's definition with TensorFlow's
own autodiff on the Keras model rebuilt independently of the exporter
(conftest.rebuild; Xception: keras.applications.Xception after
keras.utils.set_random_seed(the export's seed), with
keras.applications.xception.preprocess_input; fashion: models/fashion.py's
build_model, the model's own definition, with the weights kept beside the
export and x / 127.5 - 1 as fashion.py documents it), differentiated in graph
mode (tf.function). None imports models/export.py or calls an exported
signature (serving_default included): every logit, gradient and class
activation map the CLI prints is compared with Keras' own. The class activation
maps (Grad-CAM, Grad-CAM++, LayerCAM, XGrad-CAM, HiResCAM, Eigen-CAM) are
conftest.CAM_FORMULAS, each written from its paper, on the layer the
architecture publishes (conftest.CAM_LAYERS: Keras' `block14_sepconv2_act`,
fashion.py's `exit_relu`), not the manifest's; test_manifest_names_the_cam_layer
checks the manifest against it. Both models pool that layer into a dense layer,
where Grad-CAM, HiResCAM and XGrad-CAM coincide: tests/test_zoo.py compares
them one by one on VGG16, whose head is not linear. Both models are checked: the random-weight
Xception (299x299) and the trained `fashion` model (128x128).

Tolerances: maps (in [0, 1]) max abs diff <= 5e-3 and mean abs diff <= 1e-5;
logits within 1e-4 relative. Why the max is not 1e-4 (it was, under TensorFlow
2.15): under 2.21 on this machine a ReLU sitting exactly at zero in a flat image
region (astronaut.png's black sky) flips when TensorFlow's kernels see another
batch composition, which moves a small block of pixels of a normalised map by up
to 2.5e-3 (the CLI with --batch-size 1 equals a one-image reference exactly, and
with the reference's batch to 7.5e-7). Such a flip is local; a wrong input,
preprocessing or unit moves the whole map, which the mean bound catches.
Measured 2026-11-27 against the Keras references (printed with -s): maps max
8.5e-4 (Xception's gradients, two images per reference call, one per CLI call),
mean 5.3e-7 at worst; logits 1.9e-7 relative.
Integrated gradients' completeness gap < 1% at 64 steps (Xception) and 256
steps (fashion: the trained model's paths bend more, 1.85% at 64, 0.2% at 256).
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

MAP_TOL = 5e-3
MAP_MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4
GAP_TOL = 0.01


class Model:
    """A model folder (conftest.model_path), and the Keras model behind it rebuilt
    by the test (conftest.rebuild): the references' forward pass, in graph mode."""

    def __init__(self, name, folder, reference):
        self.name, self.dir = name, folder
        self.manifest = reference.manifest_of(self.dir)
        # The input size of each architecture: Keras' Xception default, fashion.py's canvas.
        self.size = {"xception": 299, "fashion": reference.import_fashion().CANVAS}[name]
        self.cam_layer = reference.CAM_LAYERS[name]
        self.keras, self.preprocess = reference.rebuild(name, self.dir)

        @tf.function(reduce_retracing=True)
        def logits(x):
            return self.keras(self.preprocess(x), training=False)

        @tf.function(reduce_retracing=True)
        def grads(x, units):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                picked = tf.gather(self.keras(self.preprocess(x), training=False), units, batch_dims=1)
                total = tf.reduce_sum(picked)
            return tape.gradient(total, x), picked

        self._logits, self._grads = logits, grads

    def logits(self, x):
        return self._logits(tf.constant(x, tf.float32)).numpy()

    def grads(self, x, units):
        """d logit[units[i]] / d x[i] for every row i, and those logits; rows
        are independent (no batch statistics at inference), so one tape over
        the sum gives them all. In graph mode, as the Go side runs the
        SavedModel (TOOLCHAIN.md, Numerics)."""
        g, picked = self._grads(tf.constant(x, tf.float32), tf.constant(np.asarray(units, np.int32)))
        return g.numpy(), picked.numpy()


@pytest.fixture(scope="module", params=["xception", "fashion"])
def model(request, model_path, reference):
    m = Model(request.param, model_path(request.param), reference)
    yield m
    del m.keras, m._logits, m._grads


@pytest.fixture(scope="module")
def images(model, reference, tmp_path_factory):
    """Two images at the model's input size (so no resizing is involved): the
    first two photos from testdata/ for Xception, held-out composites for fashion."""
    d = tmp_path_factory.mktemp(model.name)
    if model.name == "xception":
        return reference.write_photos(d, model.size, model.size, reference.PHOTOS[:2])
    paths = []
    for i, a in enumerate(reference.import_fashion().composites("test", 11, 2)[0]):
        p = d / f"img{i}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


# ---------------------------------------------------------------- post-processing

def channel_map(attr, filt="absolute", reduce="mean"):
    """[N, H, W, C] attributions -> [N, H, W]: the filter per value, then the
    channel reduction (keras-explainable's absolute / positive / negative parts)."""
    attr = {"absolute": np.abs, "positive": lambda a: np.maximum(a, 0),
            "negative": lambda a: np.maximum(-a, 0)}[filt](attr)
    return attr.mean(-1) if reduce == "mean" else attr.max(-1)


def top1(model, x):
    return np.argmax(model.logits(x), axis=1).astype(np.int32)


def assert_maps(results, maps, logits=None):
    worst = worst_mean = worst_logit = 0.0
    for i, r in enumerate(results):
        raw = np.load(r["raw"])
        assert raw.shape == (1,) + maps[i].shape, r["image"]
        diff = float(np.abs(raw[0] - maps[i]).max())
        mean = float(np.abs(raw[0] - maps[i]).mean())
        worst, worst_mean = max(worst, diff), max(worst_mean, mean)
        assert diff <= MAP_TOL, f"{r['image']}: max abs diff {diff:.2e}"
        assert mean <= MAP_MEAN_TOL, f"{r['image']}: mean abs diff {mean:.2e}"
        assert raw.std() > 1e-3, f"{r['image']}: degenerate map"
        if logits is not None:
            worst_logit = max(worst_logit, abs(r["logits"][0] - logits[i]) / abs(logits[i]))
            np.testing.assert_allclose(r["logits"][0], logits[i], rtol=LOGIT_RTOL,
                                       atol=LOGIT_RTOL * abs(logits[i]))
    print(f"max abs map diff {worst:.2e}, mean {worst_mean:.2e}"
          + (f", logits {worst_logit:.1e} relative" if logits is not None else ""))


# ---------------------------------------------------------------- references

def splitmix_normals(n, seed, sample):
    """The Go side's noise (internal/method/noise.go), from its documented
    definition: SplitMix64 as a counter, uniforms from the top 53 bits,
    Box-Muller."""
    gamma = np.uint64(0x9E3779B97F4A7C15)
    pairs = (n + 1) // 2
    with np.errstate(over="ignore"):
        q = np.arange(1, 2 * pairs + 1, dtype=np.uint64)
        z = np.uint64(seed) + (np.uint64(sample) << np.uint64(32)) + q * gamma
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2 * np.log(1 - u1))
    out = np.empty(2 * pairs)
    out[0::2], out[1::2] = r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)
    return out[:n].astype(np.float32)


def smoothgrad(model, x, units, samples, noise, seed):
    """Smilkov et al. 2017: mean gradient over noisy copies, sigma = noise * range."""
    total = np.zeros_like(x)
    sigma = (noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))).astype(np.float32)
    for s in range(samples):
        z = splitmix_normals(x[0].size, seed, s).reshape(x.shape[1:])
        g, _ = model.grads(x + sigma[:, None, None, None] * z, units)
        total += g
    return total / samples


def gaussian_blur(img, sigma):
    """Separable Gaussian, truncated at 3 sigma, edge pixels repeated."""
    radius = int(np.ceil(3 * sigma))
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-d * d / (2 * sigma * sigma))
    k = (k / k.sum()).astype(np.float32)
    h, w, _ = img.shape
    padded = np.pad(img, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    rows = sum(k[i] * padded[:, i:i + w] for i in range(len(k)))
    padded = np.pad(rows, ((radius, radius), (0, 0), (0, 0)), mode="edge")
    return sum(k[i] * padded[i:i + h] for i in range(len(k)))


def baseline_of(x, kind):
    if kind == "black":
        return np.zeros_like(x)
    if kind == "white":
        return np.full_like(x, 255.0)
    h, w = x.shape[1:3]
    return np.stack([gaussian_blur(im, max(h, w) / 16) for im in x])


def integrated(model, x, units, steps, kind):
    """Sundararajan et al. 2017 with the trapezoidal rule on `steps` points."""
    base = baseline_of(x, kind)
    total = np.zeros_like(x)
    for s in range(steps):
        a = np.float32(s / (steps - 1))
        g, picked = model.grads(base + a * (x - base), units)
        total += (0.5 if s in (0, steps - 1) else 1.0) / (steps - 1) * g
        if s == 0:
            start = picked
    return (x - base) * total, picked - start


CAM_METHODS = ("gradcam", "gradcampp", "layercam", "xgradcam", "hirescam", "eigencam")


def cam_reference(model, x, units, reference, name):
    """A class activation map (conftest.CAM_FORMULAS, from the papers) on the
    architecture's published CAM layer, which must be the one feeding global
    average pooling in Keras' graph. units: [N] (one per image)."""
    import keras
    pools = [l for l in model.keras.layers if isinstance(l, keras.layers.GlobalAveragePooling2D)]
    assert pools and pools[-1].input._keras_history.operation.name == model.cam_layer
    return reference.cam_maps(model.keras, model.cam_layer, model.preprocess, x,
                              np.asarray(units)[:, None], name)[:, 0]


def occlusion(model, x, units, patch, stride, fill):
    """Zeiler & Fergus 2014 as README "Methods" defines it: a patch x patch
    square of `fill` at every stride (and at the far edges); each pixel gets the
    mean, over the positions covering it, of logit(x) - logit(occluded), with
    its sign. Keras' logits in graph mode, a batch of copies per call."""
    n, h, w, _ = x.shape

    def starts(size):
        s = list(range(0, size - patch + 1, stride))
        return s if s[-1] == size - patch else s + [size - patch]

    windows = [(r, c) for r in starts(h) for c in starts(w)]
    clean = model.logits(x)[np.arange(n), units]
    maps = np.zeros((n, h, w))
    for i in range(n):
        copies = np.repeat(x[i:i + 1], len(windows), axis=0)
        for v, (r, c) in enumerate(windows):
            copies[v, r:r + patch, c:c + patch] = fill
        drops = clean[i] - np.concatenate([model.logits(copies[lo:lo + 16])[:, units[i]]
                                           for lo in range(0, len(copies), 16)])
        total, count = np.zeros((h, w)), np.zeros((h, w))
        for (r, c), d in zip(windows, drops):
            total[r:r + patch, c:c + patch] += d
            count[r:r + patch, c:c + patch] += 1
        maps[i] = total / count
    return maps


def scorecam(model, x, units, max_channels):
    """Score-CAM (Wang et al. 2020) as README "Methods" defines it, on Keras'
    CAM-layer activations: each kept channel (all, or the max_channels with the
    largest standard deviation over positions) resized to the input with
    tf.image.resize (bilinear) and min-max normalised is a mask; the weight is
    softmax(Keras' logits of x * mask)[unit]; ReLU(sum_k w_k A_k) at the
    layer's size. Returns [N, h, w], before normalisation."""
    import keras
    features = keras.Model(model.keras.inputs, model.keras.get_layer(model.cam_layer).output)
    acts = tf.function(lambda t: features(model.preprocess(t), training=False))(tf.constant(x)).numpy()
    out = []
    for i, a in enumerate(acts.astype(np.float64)):
        c = a.shape[-1]
        std = a.reshape(-1, c).std(axis=0)
        kept = np.arange(c) if not max_channels else np.sort(np.argsort(-std, kind="stable")[:max_channels])
        masks = tf.image.resize(a[..., kept].astype(np.float32), x.shape[1:3]).numpy()   # [H, W, K]
        masks = masks - masks.min(axis=(0, 1))
        top = masks.max(axis=(0, 1))
        masks = np.divide(masks, top, out=np.zeros_like(masks), where=top > 0)
        masked = x[i][None] * masks.transpose(2, 0, 1)[..., None]                      # [K, H, W, 3]
        logits = np.concatenate([model.logits(masked[lo:lo + 16]) for lo in range(0, len(masked), 16)])
        w = tf.nn.softmax(logits.astype(np.float64)).numpy()[:, units[i]]
        out.append(np.maximum((a[..., kept] * w).sum(-1), 0))
    return np.stack(out)


# Score-CAM: every channel of fashion's 256, Xception's 16 most varying of 2048.
SCORECAM_CHANNELS = {"xception": 16, "fashion": 0}


# Xception: a large patch keeps the reference to 25 forward passes per image;
# fashion: the defaults (16-pixel patch, stride 8 on 128 x 128: 225 passes).
OCCLUSION = {"xception": (100, 50, 0.0), "fashion": (16, 8, 0.0)}


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("filt,reduce", [("absolute", "mean"), ("positive", "max"), ("negative", "mean")])
def test_gradients_filters_and_reductions(model, images, cli, reference, tmp_path, filt, reduce):
    x = reference.pixels(images)
    units = top1(model, x)
    g, picked = model.grads(x, units)
    results = cli.explain(model.dir, images, tmp_path, "--filter", filt, "--reduce", reduce)
    assert_maps(results, reference.normalize(channel_map(g, filt, reduce)), picked)


def test_gradxinput(model, images, cli, reference, tmp_path):
    x = reference.pixels(images)
    units = top1(model, x)
    g, picked = model.grads(x, units)
    results = cli.explain(model.dir, images, tmp_path, "--method", "gradxinput")
    assert all(r["maps"][0].endswith(".saliency.gradxinput.png") for r in results)
    assert_maps(results, reference.normalize(channel_map(g * x)), picked)


def test_smoothgrad(model, images, cli, reference, tmp_path):
    x = reference.pixels(images)
    units = top1(model, x)
    results = cli.explain(model.dir, images, tmp_path, "--method", "smoothgrad", "--samples", "4",
                          "--noise", "0.2", "--seed", "42", "--batch-size", "3")
    ref = smoothgrad(model, x, units, 4, 0.2, 42)
    # The logits printed are the clean image's: Keras' logits of x, not a noisy copy's.
    clean = model.logits(x)[np.arange(len(x)), units]
    assert_maps(results, reference.normalize(channel_map(ref)), clean)


@pytest.mark.parametrize("kind", ["black", "white", "blur"])
def test_integrated_gradients(model, images, cli, reference, tmp_path, kind):
    x = reference.pixels(images[:1])
    units = top1(model, x)
    results = cli.explain(model.dir, images[:1], tmp_path, "--method", "integrated", "--steps", "6",
                          "--baseline", kind, "--filter", "positive")
    attr, delta = integrated(model, x, units, 6, kind)
    assert_maps(results, reference.normalize(channel_map(attr, "positive")))
    c = results[0]["completeness"][0]
    np.testing.assert_allclose(c["logit_delta"], delta[0], rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(c["attribution_sum"], attr[0].sum(), rtol=1e-3, atol=1e-7)


COMPLETENESS_STEPS = {"xception": 64, "fashion": 256}


def test_integrated_gradients_completeness(model, images, cli, tmp_path):
    steps = COMPLETENESS_STEPS[model.name]
    results = cli.explain(model.dir, images[:1], tmp_path, "--method", "integrated", "--steps", str(steps),
                          "--batch-size", "16")
    c = results[0]["completeness"][0]
    print(f"{model.name}, {steps} steps: sum {c['attribution_sum']:.6g}, delta {c['logit_delta']:.6g}, gap {c['gap']:.2e}")
    assert abs(c["attribution_sum"] - c["logit_delta"]) < GAP_TOL * abs(c["logit_delta"])
    assert c["gap"] < GAP_TOL


@pytest.mark.parametrize("name", CAM_METHODS)
def test_class_activation_maps(model, images, cli, reference, tmp_path, name):
    x = reference.pixels(images)
    units = top1(model, x)
    results = cli.explain(model.dir, images, tmp_path, "--method", name)
    assert all(r["maps"][0].endswith(f".saliency.{name}.png") for r in results)
    assert_maps(results, cam_reference(model, x, units, reference, name),
                model.logits(x)[np.arange(len(x)), units])


def test_cam_from_the_dense_kernel(model, images, cli, reference, tmp_path):
    """CAM (Zhou et al. 2016) as keras-explainable's `cam` computes it: the CAM
    layer's activations weighted by the unit's column of the Dense kernel that
    makes the logits (read from the Keras model, not from gradients), then
    ReLU, min-max and the CLI's resize. Both models' heads are global average
    pooling then that Dense, which the manifest must say (pooled_linear)."""
    import keras
    assert model.manifest["signatures"]["gradcam"].get("pooled_linear") is True
    x = reference.pixels(images)
    units = top1(model, x)
    dense = model.keras.layers[-1]
    assert isinstance(dense, keras.layers.Dense), dense
    features = keras.Model(model.keras.inputs, model.keras.get_layer(model.cam_layer).output)
    acts = tf.function(lambda t: features(model.preprocess(t), training=False))(tf.constant(x)).numpy()
    kernel = np.asarray(dense.kernel)
    cams = np.maximum(np.einsum("nhwc,cn->nhw", acts, kernel[:, units]), 0)
    want = reference.resize_cams(reference.normalize(cams)[:, None], x.shape[1:3])[:, 0]
    results = cli.explain(model.dir, images, tmp_path, "--method", "cam")
    assert all(r["maps"][0].endswith(".saliency.cam.png") for r in results)
    assert_maps(results, want, model.logits(x)[np.arange(len(x)), units])


def test_occlusion(model, images, cli, reference, tmp_path):
    x = reference.pixels(images)
    units = top1(model, x)
    patch, stride, fill = OCCLUSION[model.name]
    flags = ["--patch", str(patch), "--stride", str(stride)] if model.name == "xception" else []
    results = cli.explain(model.dir, images, tmp_path, "--method", "occlusion", *flags)
    assert all(r["maps"][0].endswith(".saliency.occlusion.png") for r in results)
    assert_maps(results, reference.normalize(occlusion(model, x, units, patch, stride, fill)),
                model.logits(x)[np.arange(len(x)), units])


def noisy_copies(x, samples, noise, seed):
    """The CLI's noisy copies (README "Methods"): x + noise * range(x) * z_s."""
    sigma = (noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))).astype(np.float32)
    return [x + sigma[:, None, None, None] * splitmix_normals(x[0].size, seed, s).reshape(x.shape[1:])
            for s in range(samples)]


def test_smooth_around_gradcam(model, images, cli, reference, tmp_path):
    """--smooth N around a class activation map: the mean of the N noisy copies'
    maps at the layer's size, then normalised and resized; the logits are the
    clean images'."""
    x = reference.pixels(images)
    units = top1(model, x)
    results = cli.explain(model.dir, images, tmp_path, "--method", "layercam", "--smooth", "3",
                          "--noise", "0.1", "--seed", "7")
    assert all(r["method"] == "layercam-smooth" for r in results)
    raw = [reference.cam_layer_maps(model.keras, model.cam_layer, model.preprocess, c, units[:, None], "layercam")
           for c in noisy_copies(x, 3, 0.1, 7)]
    want = reference.resize_cams(reference.normalize(np.mean(raw, axis=0)), x.shape[1:3])[:, 0]
    assert_maps(results, want, model.logits(x)[np.arange(len(x)), units])


def test_vargrad(model, images, cli, reference, tmp_path):
    """--smooth N --vargrad around gradients: the variance over the N noisy
    copies of the filtered, reduced map (VarGrad, Adebayo et al. 2018)."""
    x = reference.pixels(images)
    units = top1(model, x)
    results = cli.explain(model.dir, images, tmp_path, "--smooth", "4", "--vargrad", "--noise", "0.2",
                          "--seed", "3", "--filter", "positive")
    assert all(r["method"] == "gradients-vargrad" for r in results)
    maps = [channel_map(model.grads(c, units)[0], "positive") for c in noisy_copies(x, 4, 0.2, 3)]
    assert_maps(results, reference.normalize(np.var(maps, axis=0)),
                model.logits(x)[np.arange(len(x)), units])


def tta_views(h, w, scales, flip):
    """--tta's views (README "Methods"), from its definition: each scale (1
    first), each also mirrored; a zoom keeps the input size: the window is
    int(h / s) x int(w / s) in the middle (s > 1, shown enlarged) or int(h s) x
    int(w s) (s < 1, the image shrunk into it on black)."""
    views = []
    for s in [1.0] + [s for s in scales if s != 1]:
        f = 1 / s if s > 1 else s
        wh, ww = max(int(f * h), 1), max(int(f * w), 1)
        window = ((h - wh) // 2, (w - ww) // 2, wh, ww)
        views += [(s, False, window)] + ([(s, True, window)] if flip else [])
    return views


def tta_reference(x, scales, flip, maps_of):
    """Test-time augmentation around a method: each view made with
    tf.image.resize (bilinear, half-pixel centres), its map (maps_of: [N, H, W]
    images -> [N, h, w] maps, before normalisation) upsampled to the input,
    mirrored back and resized onto what the view showed; per pixel the weighted
    mean over the views (a zoomed-in view's weight falls linearly to 0 over the
    outer eighth of its window: min(d + 1/2, ramp) / ramp at d pixels from its
    edge, ramp = max(shorter side // 8, 1)). Returns [N, H, W], not normalised."""
    n, h, w, _ = x.shape
    resize = lambda a, size: tf.image.resize(a, size, method="bilinear").numpy()  # noqa: E731
    total, weight = np.zeros((n, h, w)), np.zeros((n, h, w))
    for s, mirror, (y0, x0, wh, ww) in tta_views(h, w, scales, flip):
        if s > 1:
            shown = resize(x[:, y0:y0 + wh, x0:x0 + ww], (h, w))
        elif s < 1:
            shown = np.zeros_like(x)
            shown[:, y0:y0 + wh, x0:x0 + ww] = resize(x, (wh, ww))
        else:
            shown = x.copy()
        if mirror:
            shown = shown[:, :, ::-1].copy()
        mp = resize(maps_of(shown.astype(np.float32))[..., None], (h, w))[..., 0]
        if mirror:
            mp = mp[:, :, ::-1]
        if s > 1:
            ramp = max(min(wh, ww) // 8, 1)
            yy, xx = np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")
            edge = np.minimum(np.minimum(yy, xx), np.minimum(wh - 1 - yy, ww - 1 - xx))
            wt = np.minimum(edge + 0.5, ramp) / ramp
            total[:, y0:y0 + wh, x0:x0 + ww] += wt * resize(mp[..., None], (wh, ww))[..., 0]
            weight[:, y0:y0 + wh, x0:x0 + ww] += wt
        else:
            if s < 1:
                mp = resize(mp[:, y0:y0 + wh, x0:x0 + ww, None], (h, w))[..., 0]
            total += mp
            weight += 1
    return total / weight


def test_tta_around_gradcam(model, images, cli, reference, tmp_path):
    """--tta flip,0.5,2 around Grad-CAM (keras-explainable's tta with zooms at a
    fixed input size) against its definition (tta_reference) on Keras' CAMs."""
    x = reference.pixels(images)
    units = top1(model, x)
    results = cli.explain(model.dir, images, tmp_path, "--method", "gradcam", "--tta", "flip,0.5,2")
    assert all(r["method"] == "gradcam-tta" for r in results)
    maps = tta_reference(x, [0.5, 2], True, lambda v: reference.cam_layer_maps(
        model.keras, model.cam_layer, model.preprocess, v, units[:, None], "gradcam")[:, 0])
    assert_maps(results, reference.normalize(maps), model.logits(x)[np.arange(len(x)), units])


def test_scorecam(model, images, cli, reference, tmp_path):
    x = reference.pixels(images)
    units = top1(model, x)
    n = SCORECAM_CHANNELS[model.name]
    results = cli.explain(model.dir, images, tmp_path, "--method", "scorecam", "--max-channels", str(n))
    want = reference.resize_cams(reference.normalize(scorecam(model, x, units, n))[:, None], x.shape[1:3])[:, 0]
    assert_maps(results, want, model.logits(x)[np.arange(len(x)), units])


def test_manifest_names_the_cam_layer(model):
    """A test of the manifest: the exporter's record of the Grad-CAM layer (which
    the Go side reads) is the layer the architecture publishes, and the input
    size is the architecture's."""
    assert model.manifest["signatures"]["gradcam"]["layer"] == model.cam_layer
    assert model.manifest["gradcam"]["layer"] == model.cam_layer
    assert (model.manifest["input"]["height"], model.manifest["input"]["width"]) == (model.size,) * 2
