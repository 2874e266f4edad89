"""Parity of `saliency explain --method fullgrad` with FullGrad as its authors
compute it (Srinivas & Fleuret 2019; github.com/idiap/fullgrad-saliency,
saliency/fullgrad.py and saliency/tensor_extractor.py), on Keras models the
test builds or rebuilds itself, never through the exporter's code or the
exported signatures:

  S(x) = sum_c psi(d f / d x~ * x~)_c + sum_l sum_c up(psi(d f / d z_l * b_l))_c

- x~: the network's input, the image after the model's preprocessing (Keras'
  own preprocess_input, or fashion.py's documented x / 127.5 - 1);
- l: the layers with a bias whose output z_l is 4-D (the authors' criterion
  len(bias_grad.size()) == len(im_size)), found here by isinstance on
  keras.layers: convolutions with use_bias (b_l their bias), and
  BatchNormalization at inference, b_l = beta - gamma * mean / sqrt(var +
  epsilon) (their _extract_layer_bias for nn.BatchNorm2d), gamma and beta as
  the layer's scale and center flags keep them; d f / d z_l from TensorFlow's
  tape at the layer's output, which is where the bias is added when the layer
  has no activation of its own (asserted);
- psi: |t| less its minimum over the whole map (channels and positions), over
  the new maximum + 1e-6 (their _postProcess);
- up: bilinear resizing with aligned corners (their F.interpolate(...,
  mode='bilinear', align_corners=True)), written here in numpy as weights (the
  output pixel i samples the input at i (n_in - 1) / (n_out - 1)) and checked
  against tf.compat.v1.image.resize(..., align_corners=True).

Forward and backward passes run in graph mode (tf.function), as the SavedModel
does (TOOLCHAIN.md, Numerics); the sums are in float64. The CLI's --raw maps
are min-max normalised (README "What is computed"), so the reference is too.

Models: the random-weight Xception (299x299; Keras initialises every
BatchNormalization to an effective bias of 0 and Dense biases to 0, so its
FullGrad is the input term alone), the trained `fashion` model (128x128, 16
BatchNormalization layers with real biases) and `tiny`, a model built here
with what those two lack: biases on convolutions of every kind (Conv2D,
DepthwiseConv2D, SeparableConv2D, Conv2DTranspose) with their ReLU fused in the
layer, BatchNormalization without center or without scale, a Dense layer
with a fused ReLU, random non-zero biases and statistics, exported with
--keras and Keras' caffe preprocessing (channels reversed, ImageNet means
subtracted). Its reference is the same network with every activation written
as a separate layer (the same weights), so that the layer's output is z_l.

Tolerances: maps max 5e-3 and mean 1e-5 (the other methods' tolerances,
test_methods.py: a ReLU at exactly zero may flip between two graphs);
measured 2026-11-28 at most 5.8e-7 / 8.4e-8 (printed with -s; a resize without
aligned corners is 0.19 away on `tiny`, psi per channel 0.41). Logits 1e-4 of
the image's largest. The full-gradient decomposition is exact for these
networks (piecewise linear, biases all counted): the CLI's --json completeness
gap must be under 1e-4 (the authors' checkCompleteness uses rel_tol 1e-4;
measured at most 1.5e-6), and its attribution sum must equal the reference's
sum of input and bias terms within 1e-4 of the logit (measured 1.4e-6).
"""

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_peer

MAP_TOL = 5e-3
MAP_MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4
GAP_TOL = 1e-4
EPS = 1e-6  # the authors' _postProcess(eps=1e-6)
K = 2


# ---------------------------------------------------------------- the definition

def aligned_bilinear(n_in, n_out):
    """[n_out, n_in] weights of bilinear resampling with aligned corners: output
    i samples the input at i * (n_in - 1) / (n_out - 1) (0 for one output)."""
    src = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    lo = np.minimum(np.floor(src).astype(int), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    w = np.zeros((n_out, n_in))
    np.add.at(w, (np.arange(n_out), lo), 1 - frac)
    np.add.at(w, (np.arange(n_out), hi), frac)
    return w


def psi(t):
    """The authors' _postProcess on one map (all its channels and positions)."""
    a = np.abs(np.asarray(t, np.float64))
    a = a - a.min()
    return a / (a.max() + EPS)


def psi_per_channel(t):
    """keras-explainable's filters.absolute_normalize on one [h, w, C] map: each
    channel over its positions, no epsilon (divide-no-nan)."""
    a = np.abs(np.asarray(t, np.float64))
    a = a - a.min(axis=(0, 1), keepdims=True)
    top = a.max(axis=(0, 1), keepdims=True)
    return np.divide(a, top, out=np.zeros_like(a), where=top > 0)


def half_pixel_resize(m, h, w):
    """keras-explainable's upsampling: tf.image.resize, bilinear, half-pixel."""
    return tf.image.resize(m[..., None], (h, w), method="bilinear").numpy()[..., 0].astype(np.float64)


def biased_layers(model, bn_epsilon=None):
    """[(layer, b)]: the model's layers that add a bias, with b, float64; a
    BatchNormalization's with bn_epsilon in place of its own if given."""
    import keras
    L = keras.layers
    convs = (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D, L.Conv2DTranspose, L.Dense)
    found = []
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            assert layer.axis in (-1, 3), layer.name
            gamma = layer.gamma.numpy().astype(np.float64) if layer.scale else 1.0
            beta = layer.beta.numpy().astype(np.float64) if layer.center else 0.0
            mean, var = (v.numpy().astype(np.float64) for v in (layer.moving_mean, layer.moving_variance))
            eps = layer.epsilon if bn_epsilon is None else bn_epsilon
            found.append((layer, beta - gamma * mean / np.sqrt(var + eps)))
        elif isinstance(layer, convs) and layer.use_bias:
            # d f / d z is taken at the layer's output: that is where the bias
            # is added only if the layer applies no activation after it.
            assert layer.activation.__name__ == "linear", f"{layer.name}: fused {layer.activation.__name__}"
            found.append((layer, layer.bias.numpy().astype(np.float64)))
    return found


class FullGrad:
    """FullGrad of a Keras model (raw 0..255 pixels -> preprocess -> model),
    by the definition above; with as_keras_explainable, by keras-explainable's
    (methods/gradient.py full_gradients, see test_keras_explainable_departs_from_the_authors)."""

    def __init__(self, model, preprocess, as_keras_explainable=False):
        import keras
        self.ke = as_keras_explainable
        self.layers = biased_layers(model, bn_epsilon=1e-7 if self.ke else None)
        # keras-explainable's get_logits_layer: the last layer with a kernel
        self.logits_layer = [l for l in model.layers if hasattr(l, "kernel")][-1]
        assert self.layers, f"{model.name}: no biased layer"
        parts = keras.Model(model.inputs[0], [l.output for l, _ in self.layers] + [model.outputs[0]])

        @tf.function(reduce_retracing=True)
        def logits(x):
            return model(preprocess(x), training=False)

        # Traced per shape: K must stay static for the loop over columns.
        @tf.function
        def gradients(x, units):
            with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
                tape.watch(x)
                xt = preprocess(x)
                tape.watch(xt)
                *zs, y = parts(xt, training=False)
                picked = tf.gather(y, units, batch_dims=1)
                columns = [tf.reduce_sum(picked[:, j]) for j in range(units.shape[1])]
            # keras-explainable's input term is at the model's input: raw pixels here
            first = x if self.ke else xt
            grads = [tape.gradient(c, [first] + zs) for c in columns]
            del tape
            # [N, K, ...] per source: the input first, then each layer's z
            return first, picked, [tf.stack([g[s] for g in grads], axis=1) for s in range(len(zs) + 1)]

        self._logits, self._gradients = logits, gradients

    def logits(self, x):
        return self._logits(tf.constant(x, tf.float32)).numpy()

    def __call__(self, x, units):
        """Maps [N, K, H, W] (not normalised), the sums of the decomposition
        [N, K] and the selected logits [N, K]."""
        xt, picked, grads = self._gradients(tf.constant(x, tf.float32), tf.constant(np.asarray(units, np.int32)))
        xt = xt.numpy().astype(np.float64)
        n, k, h, w = *np.asarray(units).shape, *x.shape[1:3]
        maps, sums = np.zeros((n, k, h, w)), np.zeros((n, k))
        for i in range(n):
            for j in range(k):
                term = grads[0][i, j].numpy().astype(np.float64) * xt[i]
                if self.ke:
                    maps[i, j] = self._keras_explainable_map(term, grads[1:], i, j, h, w)
                    continue
                maps[i, j] = psi(term).sum(-1)
                sums[i, j] = term.sum()
                for (_, b), g in zip(self.layers, grads[1:]):
                    gb = g[i, j].numpy().astype(np.float64) * b
                    sums[i, j] += gb.sum()
                    if gb.ndim == 3:  # [h, w, C]: a 4-D bias gradient
                        # sum_c up(psi)_c = up(sum_c psi_c): the resize is linear per channel
                        wy, wx = aligned_bilinear(gb.shape[0], h), aligned_bilinear(gb.shape[1], w)
                        maps[i, j] += wy @ psi(gb).sum(-1) @ wx.T
        return maps, sums, picked.numpy()

    def _keras_explainable_map(self, term, grads, i, j, h, w):
        """keras-explainable's map: each term psi'd per channel, averaged over
        the channels and resized half-pixel, summed, over the biased layers but
        the logits layer (the only non-spatial one it handles)."""
        total = psi_per_channel(term).mean(-1)
        for (layer, b), g in zip(self.layers, grads):
            if layer is self.logits_layer:  # its exclude=[the logits layer]
                continue
            gb = g[i, j].numpy().astype(np.float64) * b
            assert gb.ndim == 3, f"{layer.name}: keras-explainable resizes spatial bias terms only"
            total += half_pixel_resize(psi_per_channel(gb).mean(-1), h, w)
        return total


# ---------------------------------------------------------------- the models

def tiny_model(split):
    """The model `tiny` (see the module's doc); split: every activation as a
    layer of its own (the reference's form), else fused into its layer (the
    exported form). Same weights either way (Activation layers have none)."""
    import keras
    L = keras.layers
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)

    def act(layer_cls, *args, **kw):
        def apply(x):
            if split:
                return L.ReLU()(layer_cls(*args, **kw)(x))
            return layer_cls(*args, activation="relu", **kw)(x)
        return apply

    inputs = keras.Input((40, 56, 3))
    x = act(L.Conv2D, 8, 3, padding="same")(inputs)
    x = L.BatchNormalization(center=False)(x)
    x = act(L.DepthwiseConv2D, 3, strides=2, padding="same", use_bias=True)(x)
    x = L.BatchNormalization(scale=False)(x)
    y = act(L.SeparableConv2D, 12, 3, padding="same")(x)
    y = L.MaxPooling2D(2)(y)
    x = L.Add()([y, L.Conv2DTranspose(12, 3, padding="same")(y)])
    x = act(L.Dense, 16)(L.Flatten()(x))
    model = keras.Model(inputs, L.Dense(5)(x), name="tiny")
    rng = np.random.default_rng(0)
    for layer in model.layers:
        for v in layer.weights:
            kind = v.path.rsplit("/", 1)[-1]
            if kind == "moving_variance":
                v.assign(rng.uniform(0.5, 2, v.shape).astype(np.float32))
            elif kind in ("bias", "beta", "moving_mean"):
                v.assign(rng.normal(0, 0.5, v.shape).astype(np.float32))
            elif kind == "gamma":
                v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
    return model


class Case:
    """A model under test: its export folder, the test's own Keras model and
    preprocessing, and two images at its input size."""

    def __init__(self, name, folder, keras_model, preprocess, images):
        self.name, self.dir, self.keras, self.preprocess, self.images = name, folder, keras_model, preprocess, images


@pytest.fixture(scope="module", params=["xception", "fashion", "tiny"])
def case(request, model_path, reference, export, tmp_path_factory):
    from PIL import Image
    name = request.param
    d = tmp_path_factory.mktemp(name)
    if name == "tiny":
        import keras
        fused = tiny_model(split=False)
        fused.save(d / "tiny.keras")
        export("--keras", d / "tiny.keras", "--preprocess", "caffe", "--out", d / "export")
        model = tiny_model(split=True)
        model.set_weights(fused.get_weights())
        images = reference.write_photos(d / "images", 40, 56, reference.PHOTOS[:2])
        yield Case(name, d / "export", model, keras.applications.vgg16.preprocess_input, images)
        return
    folder = model_path(name)
    model, preprocess = reference.rebuild(name, folder)
    if name == "xception":
        images = reference.write_photos(d, 299, 299, reference.PHOTOS[:2])
    else:
        images = []
        for i, a in enumerate(reference.import_fashion().composites("test", 11, 2)[0]):
            images.append(d / f"img{i}.png")
            Image.fromarray(a).save(images[-1])
    yield Case(name, folder, model, preprocess, images)


# ---------------------------------------------------------------- tests

def test_aligned_bilinear_is_tensorflows_align_corners():
    """The reference's resizing weights are tf.compat.v1.image.resize with
    align_corners=True (the authors' F.interpolate(align_corners=True)), up and down."""
    m = np.random.default_rng(0).normal(size=(7, 10, 3)).astype(np.float32)
    for h, w in ((299, 299), (128, 96), (4, 5), (7, 10)):
        tf_up = tf.compat.v1.image.resize(m[None], (h, w), method=tf.compat.v1.image.ResizeMethod.BILINEAR,
                                          align_corners=True).numpy()[0]
        ours = np.einsum("Yy,yxc,Xx->YXc", aligned_bilinear(7, h), m, aligned_bilinear(10, w))
        assert np.abs(ours - tf_up).max() < 1e-5, (h, w)
    # and it is not the half-pixel rule the rest of the tool uses
    half = tf.image.resize(m[None], (128, 96), method="bilinear").numpy()[0]
    assert np.abs(np.einsum("Yy,yxc,Xx->YXc", aligned_bilinear(7, 128), m, aligned_bilinear(10, 96)) - half).max() > 1e-2


def test_fullgrad_matches_the_definition(case, cli, reference, tmp_path):
    x = reference.pixels(case.images)
    ref = FullGrad(case.keras, case.preprocess)
    all_logits = ref.logits(x)
    units = tf.math.top_k(all_logits, K).indices.numpy()
    maps, sums, picked = ref(x, units)
    results = cli.explain(case.dir, case.images, tmp_path, "--method", "fullgrad", "--top-k", K)
    worst = reference.compare(results, units, all_logits, reference.normalize(maps), MAP_TOL, MAP_MEAN_TOL, LOGIT_RTOL)
    gaps, sum_diffs = [], []
    for i, r in enumerate(results):
        assert r["method"] == "fullgrad" and len(r["completeness"]) == K, r
        for j, c in enumerate(r["completeness"]):
            logit = float(picked[i, j])
            gaps.append(c["gap"])
            sum_diffs.append(abs(c["attribution_sum"] - sums[i, j]) / abs(logit))
            np.testing.assert_allclose(c["logit_delta"], logit, rtol=LOGIT_RTOL)
            assert c["gap"] < GAP_TOL, f"{r['image']} unit {units[i, j]}: completeness {c}"
            assert sum_diffs[-1] < GAP_TOL, f"{r['image']} unit {units[i, j]}: sum {c['attribution_sum']}, reference {sums[i, j]}"
            # the reference's decomposition is exact too (the definition, not the CLI)
            assert abs(sums[i, j] - logit) < GAP_TOL * abs(logit), (sums[i, j], logit)
    print(f"\n{case.name}: maps max {worst[0]:.2e} mean {worst[1]:.2e}, logits {worst[2]:.1e}; "
          f"completeness gap max {max(gaps):.1e}, attribution sum vs reference {max(sum_diffs):.1e} of the logit; "
          f"{len(ref.layers)} biased layers, {sum(len(l.output.shape) == 4 for l, _ in ref.layers)} spatial")


def test_manifest_describes_the_biased_layers(case, reference):
    """The manifest's fullgrad section names the layers the test finds itself
    (by class and output rank, and by name for models rebuilt in a fresh Keras
    session), calls the decomposition exact and says how close its self-check came."""
    m = reference.manifest_of(case.dir)
    assert m["signatures"]["fullgrad"]["inputs"] == {"images": "images", "units": "units"}
    assert set(m["signatures"]["fullgrad"]["outputs"]) == {"logits", "inputs", "bias", "bias_total"}
    fg = m["fullgrad"]
    assert fg["exact"] is True and fg["completeness_gap"] < fg["tolerance"] <= 1e-4, fg
    mine = sorted((type(l).__name__, len(l.output.shape) == 4) for l, _ in biased_layers(case.keras))
    theirs = sorted((e["class"], e["spatial"]) for e in fg["layers"])
    assert theirs == mine
    assert fg["spatial_layers"] == sum(s for _, s in mine)
    # In the model's order, by name where the names are the architecture's own
    # (Xception's); Keras numbers unnamed layers per session (the demo model
    # exported in the process that trained it has batch_normalization_17 where
    # a fresh rebuild has batch_normalization), and the tiny reference's split
    # copy names its layers on its own: there, by class.
    ours = [(l.name if case.name == "xception" else type(l).__name__) for l, _ in biased_layers(case.keras)]
    assert [e["layer"] if case.name == "xception" else e["class"] for e in fg["layers"]] == ours


def test_without_biases_or_layers_no_fullgrad(cli, export, reference, tmp_path):
    """A model with no bias and a wrapped SavedModel are exported without the
    fullgrad signature, the manifest says why, and the CLI refuses the method."""
    import keras
    L = keras.layers
    keras.backend.clear_session()
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(4, 3, use_bias=False, activation="relu")(inputs)
    plain = keras.Model(inputs, L.Dense(3, use_bias=False)(L.GlobalAveragePooling2D()(x)))
    plain.save(tmp_path / "plain.keras")
    export("--keras", tmp_path / "plain.keras", "--out", tmp_path / "plain")
    tiny_model(split=False).export(str(tmp_path / "tiny_sm"), verbose=False)
    export("--savedmodel", tmp_path / "tiny_sm", "--out", tmp_path / "wrapped")
    img = reference.write_photos(tmp_path / "img", 32, 32, reference.PHOTOS[:1])[0]
    for folder, why in (("plain", "no biased layer"), ("wrapped", "not reachable")):
        m = reference.manifest_of(tmp_path / folder)
        assert "fullgrad" not in m["signatures"] and why in m["fullgrad"]["unavailable"], m["fullgrad"]
        proc = cli.run("explain", "--model", tmp_path / folder, "--method", "fullgrad", "--out-dir", tmp_path, img)
        assert proc.returncode == 2 and "fullgrad" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", ["fashion"], indirect=True)
def test_keras_explainable_departs_from_the_authors(case, cli, reference, peers_python, keras_explainable, tmp_path):
    """keras-explainable's full_gradients (methods/gradient.py, run from its
    source by tests/peers/ke_methods.py on a tf-keras copy of the model) departs
    from the authors' FullGrad, which the CLI follows (README), in five ways:
    psi min-max normalises each channel over the positions (the authors': the
    whole map) and without their epsilon; the channels are averaged (summed);
    the bias maps are resized with half-pixel centres (aligned corners); the
    input term is taken at the model's input, raw pixels here, not at the
    preprocessed x~; a BatchNormalization's bias uses epsilon 1e-7 (the layer's
    own, 1e-3). The layers counted are the same (every layer with a bias or a
    normalisation but the logits layer). Proven by FullGrad with those choices:
    it equals keras-explainable on the demo model (16 BatchNormalization layers
    with real biases), while test_fullgrad_matches_the_definition proves the CLI
    equals it without them. Tolerance after min-max: MAP_TOL / MAP_MEAN_TOL,
    5e-3 / 1e-5, as the CLI's own comparison above. Two float32 graphs (Keras
    2 and Keras 3) of one network differ by ~1e-7 of a layer's values, but psi
    stretches each channel's term to [0, 1] on its own, so a channel whose term
    spans a tiny range carries its float noise up by that stretch (measured
    2026-11-28 on two trainings of the demo model: 6.6e-5 and 5.0e-4 max, 5.2e-7
    and 1.7e-6 mean); the departures move the map by 0.27-0.30 / 0.056-0.064
    (CLI vs keras-explainable), 50 and 5000 times the bounds.
    """
    x = reference.pixels(case.images)
    ref = FullGrad(case.keras, case.preprocess, as_keras_explainable=True)
    logits = ref.logits(x)
    units = logits.argmax(1)
    weights = tmp_path / "keras3.npz"
    np.savez(weights, logits=logits, **{f"w{i}": w for i, w in enumerate(case.keras.get_weights())})
    out = tmp_path / "ke.npz"
    run_peer(peers_python, "ke_methods.py", "--ke-path", keras_explainable, "--kind", case.name,
             "--model-dir", case.dir, "--weights", weights, "--layer", reference.CAM_LAYERS[case.name],
             "--units", ",".join(map(str, units)), "--methods", "fullgrad", "--out", out, *case.images,
             legacy=True)
    ke = np.load(out)
    assert list(ke["fullgrad_layers"]) == [l.name for l, _ in ref.layers if l is not ref.logits_layer]
    maps, _, _ = ref(x, units[:, None])
    want, theirs = reference.normalize(maps[:, 0]), reference.normalize(ke["fullgrad"].astype(np.float64))
    d = np.abs(theirs - want)
    print(f"\n{case.name} keras-explainable FullGrad vs the authors' with its departures: "
          f"max abs diff {d.max():.2e}, mean {d.mean():.2e}")
    assert want.std() > 1e-3, "degenerate reference"
    assert d.max() <= MAP_TOL and d.mean() <= MAP_MEAN_TOL, (d.max(), d.mean())
    results = cli.explain(case.dir, case.images, tmp_path / "cli", "--method", "fullgrad")
    assert [r["units"][0] for r in results] == list(units), "the CLI's top units are Keras'"
    mine = np.stack([np.load(r["raw"])[0] for r in results])
    gap = np.abs(mine - theirs)
    print(f"{case.name} FullGrad, CLI vs keras-explainable (the departures): max {gap.max():.2e}, mean {gap.mean():.2e}")
