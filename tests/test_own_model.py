"""Someone's own Keras model through `models/export.py --keras` and
`--savedmodel`, then `saliency explain` and `saliency models`.

The models are small functional CNNs built and saved by this test: a 72x96
(non-square) RGB input, Rescaling(1/255) inside, three convolutions, global
average pooling and Dense(5). The references load the saved `.keras` file with
Keras' own loader and differentiate in graph mode (conftest.GraphReference);
they never import the exporter nor call the exported signatures.

Tolerances: as tests/test_zoo.py (maps max abs 1e-4, mean abs 1e-5; logits
1e-4 of the image's largest |logit|): the same float32 kernels run as graphs on
both sides. The `--keras` and `--savedmodel` exports of one model are compared
with each other at the same tolerances. Measured 2026-11-27 (printed with -s):
softmax model gradients 2.7e-7 max / 2.9e-8 mean, its Grad-CAM 2.4e-6 / 4.8e-7,
logits 1.1e-7 relative; --keras vs --savedmodel identical (0.0), each 2.4e-7
from the reference. The probabilities' maps (an export that kept the softmax)
are 6.7e-2 away on average, which the test asserts is far outside the tolerance.
"""

import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

H, W = 72, 96
LABELS = ["heron", "teapot", "lighthouse", "tabby cat", "espresso"]
MAP_TOL = 1e-4
MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4
K = 2
CAM_LAYER = "conv3"


def build_cnn(activation, seed, name):
    """The test's own classifier: Dense(5) head with the given activation."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((H, W, 3), name="pixels")
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = layers.Conv2D(24, 3, activation="relu", name=CAM_LAYER)(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(len(LABELS), activation=activation, name="head",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=2.0))(x)
    return keras.Model(inputs, outputs, name=name)


def logits_model(path):
    """The saved model loaded by Keras, with its softmax replaced by a linear
    Dense sharing the head's weights: the pre-softmax logits."""
    import keras
    from keras import layers

    loaded = keras.saving.load_model(path)
    head = loaded.get_layer("head")
    linear = layers.Dense(len(LABELS), name="head_linear")
    logits = linear(head.input)
    linear.set_weights(head.get_weights())
    return keras.Model(loaded.inputs, logits, name="logits")


class Exported:
    """An exported model folder with its manifest."""

    def __init__(self, folder, manifest_of):
        self.dir = folder
        self.manifest = manifest_of(folder)


@pytest.fixture(scope="module")
def work(tmp_path_factory, reference):
    """Module folders: sources (the saved models, labels, images) and models
    (the exports, later the search path of `saliency models`)."""
    src = tmp_path_factory.mktemp("own_src")
    labels = src / "labels.txt"
    labels.write_text("".join(f"{n}\n" for n in LABELS))
    images = reference.write_photos(src / "images", H, W)
    return {"src": src, "models": tmp_path_factory.mktemp("own_models"), "labels": labels,
            "images": images, "x": reference.pixels(images)}


@pytest.fixture(scope="module")
def softmax_model(work, export, reference):
    path = work["src"] / "softmax.keras"
    build_cnn("softmax", 7, "own_softmax").save(path)
    out = work["models"] / "own_softmax"
    export("--keras", path, "--labels", work["labels"], "--out", out)
    e = Exported(out, reference.manifest_of)
    e.keras = path
    return e


@pytest.fixture(scope="module")
def linear_models(work, export, reference):
    """One linear-head model, saved as .keras and written by Keras 3's
    model.export (a SavedModel), each exported."""
    model = build_cnn(None, 11, "own_linear")
    path = work["src"] / "linear.keras"
    model.save(path)
    sm = work["src"] / "linear_savedmodel"
    model.export(str(sm), verbose=False)
    k = work["models"] / "own_linear"
    s = work["models"] / "own_savedmodel"
    export("--keras", path, "--labels", work["labels"], "--out", k)
    export("--savedmodel", sm, "--labels", work["labels"], "--out", s)
    ek, es = Exported(k, reference.manifest_of), Exported(s, reference.manifest_of)
    ek.keras = es.keras = path
    return ek, es


# ---------------------------------------------------------------- a. softmax head

def test_softmax_model_manifest(softmax_model):
    m = softmax_model.manifest
    assert m["output"]["softmax_removed"] is True
    assert m["output"]["kind"] == "logits"
    assert m["labels"] == LABELS
    assert (m["input"]["height"], m["input"]["width"]) == (H, W)
    assert m["signatures"]["gradcam"]["layer"] == CAM_LAYER   # the layer feeding pooling


def test_softmax_model_gradients_are_of_the_logits(softmax_model, work, cli, reference, tmp_path):
    """Units, pre-softmax logits and their maps; the maps of the probabilities
    (what an export that kept the softmax would give) are far from them."""
    import keras

    results = cli.explain(softmax_model.dir, work["images"], tmp_path, "--top-k", K)
    model = logits_model(softmax_model.keras)
    ref = reference.GraphReference(lambda x: model(x, training=False))
    units, logits = ref.top_k(work["x"], K)
    _, maps = ref.maps(work["x"], units)
    # The rebuilt logits are the saved model's: their softmax is its output.
    saved = keras.saving.load_model(softmax_model.keras)
    probs = reference.GraphReference(lambda x: saved(x, training=False))
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs.logits(work["x"]), e / e.sum(1, keepdims=True), rtol=1e-4, atol=1e-7)
    _, prob_maps = probs.maps(work["x"], units)
    away = float(np.abs(prob_maps - maps).mean())
    assert away >= 10 * MEAN_TOL, f"probability and logit maps too alike ({away:.1e}) to test this"
    stats = reference.compare(results, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    print(f"\nown softmax model, gradients: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}, "
          f"logits {stats[2]:.1e} relative; probability maps {away:.1e} away on average")


def test_softmax_model_gradcam(softmax_model, work, cli, reference, tmp_path):
    results = cli.explain(softmax_model.dir, work["images"], tmp_path, "--top-k", K, "--method", "gradcam")
    model = logits_model(softmax_model.keras)
    ref = reference.GraphReference(lambda x: model(x, training=False))
    units, logits = ref.top_k(work["x"], K)
    maps = reference.gradcam_maps(model, CAM_LAYER, lambda x: x, work["x"], units)
    stats = reference.compare(results, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    print(f"\nown softmax model, gradcam on {CAM_LAYER}: max abs map diff {stats[0]:.2e}, mean {stats[1]:.2e}")


# ---------------------------------------------------------------- b. --keras and --savedmodel

def test_linear_model_manifests(linear_models):
    k, s = (e.manifest for e in linear_models)
    for m in (k, s):
        assert m["output"]["kind"] == "logits" and m["output"]["softmax_removed"] is False
        assert m["labels"] == LABELS
        assert (m["input"]["height"], m["input"]["width"]) == (H, W)
    assert k["signatures"]["gradcam"]["layer"] == CAM_LAYER
    assert "gradcam" not in s["signatures"], "a wrapped SavedModel's layers are out of reach"


def test_keras_and_savedmodel_exports_agree(linear_models, work, cli, reference, tmp_path):
    """The same model from its .keras file and from its model.export SavedModel:
    same units, logits and maps, each equal to the reference."""
    k, s = linear_models
    rk = cli.explain(k.dir, work["images"], tmp_path / "keras", "--top-k", K)
    rs = cli.explain(s.dir, work["images"], tmp_path / "savedmodel", "--top-k", K)
    worst_map = worst_logit = 0.0
    for a, b in zip(rk, rs):
        assert a["units"] == b["units"], a["image"]
        scale = max(np.abs(a["logits"]).max(), 1e-30)
        dl = float(np.abs(np.subtract(a["logits"], b["logits"])).max() / scale)
        d = np.abs(np.load(a["raw"]) - np.load(b["raw"]))
        assert dl <= LOGIT_RTOL and d.max() <= MAP_TOL and d.mean() <= MEAN_TOL, \
            f"{a['image']}: logits {dl:.1e} relative, maps max {d.max():.1e} mean {d.mean():.1e}"
        worst_map, worst_logit = max(worst_map, float(d.max())), max(worst_logit, dl)
    import keras
    model = keras.saving.load_model(k.keras)
    ref = reference.GraphReference(lambda x: model(x, training=False))
    units, logits = ref.top_k(work["x"], K)
    _, maps = ref.maps(work["x"], units)
    sk = reference.compare(rk, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    ss = reference.compare(rs, units, logits, maps, MAP_TOL, MEAN_TOL, LOGIT_RTOL)
    print(f"\n--keras vs --savedmodel: max abs map diff {worst_map:.2e}, logits {worst_logit:.1e} relative; "
          f"vs reference: --keras {sk[0]:.2e} (mean {sk[1]:.1e}), --savedmodel {ss[0]:.2e} (mean {ss[1]:.1e})")


def test_savedmodel_export_refuses_gradcam(linear_models, work, cli, tmp_path):
    _, s = linear_models
    proc = cli.run("explain", "--model", s.dir, "--method", "gradcam", "--out-dir", tmp_path,
                   work["images"][0])
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "gradcam" in proc.stderr
    assert not list(tmp_path.iterdir()), "nothing is written for a usage error"


# ---------------------------------------------------------------- c. refusals

def two_inputs():
    import keras
    from keras import layers
    a, b = keras.Input((H, W, 3), name="left"), keras.Input((H, W, 3), name="right")
    x = layers.Conv2D(4, 3, activation="relu")(layers.Add()([a, b]))
    return keras.Model([a, b], layers.Dense(5)(layers.GlobalAveragePooling2D()(x)))


def scalar_output():
    import keras
    from keras import layers
    a = keras.Input((H, W, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(a))
    return keras.Model(a, layers.Reshape(())(layers.Dense(1)(x)))     # [N]


def sequence_output():
    import keras
    from keras import layers
    a = keras.Input((H, W, 3))
    x = layers.Conv2D(4, 3, strides=4)(a)
    return keras.Model(a, layers.Reshape((-1, 4))(x))                  # [N, T, 4]


@pytest.mark.parametrize("build,reason", [(two_inputs, "2 inputs"), (scalar_output, "output"),
                                          (sequence_output, "output")],
                         ids=["two-inputs", "1-D-output", "3-D-output"])
def test_refusals(build, reason, export, tmp_path):
    path = tmp_path / "model.keras"
    build().save(path)
    parent = tmp_path / "models"
    parent.mkdir()
    out = parent / "refused"
    proc = export("--keras", path, "--out", out, check=False)
    assert proc.returncode != 0, proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"want one line on stderr, got:\n{proc.stderr}"
    assert lines[0].startswith("export.py: ") and reason in lines[0], lines[0]
    print(f"\nrefused ({proc.returncode}): {lines[0]}")
    assert "Traceback" not in proc.stderr
    assert not os.path.lexists(out)
    assert list(parent.iterdir()) == [], f"left behind: {list(parent.iterdir())}"


# ---------------------------------------------------------------- d. saliency models

def test_models_command_lists_the_exports(softmax_model, linear_models, work, cli):
    folder = work["models"]
    proc = cli.run("models", "--json", env={"SALIENCY_MODELS": str(folder)})
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]
    ours = {r["name"]: r for r in records if os.path.dirname(os.path.abspath(r["path"])) == str(folder)}
    assert set(ours) == {"own_softmax", "own_linear", "own_savedmodel"}, records
    for r in ours.values():
        assert (r["height"], r["width"], r["classes"]) == (H, W, len(LABELS)), r
        assert r["scores"] == "logits" and not r.get("shadowed"), r
        assert "gradients" in r["methods"], r
        assert r["weights"], r
    assert "gradcam" in ours["own_softmax"]["methods"] and "gradcam" in ours["own_linear"]["methods"]
    assert "gradcam" not in ours["own_savedmodel"]["methods"], ours["own_savedmodel"]
