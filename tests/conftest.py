"""Shared fixtures for the Python tests: running the CLI and the exporter as
subprocesses, the exported models under test ($SALIENCY_BIN,
$SALIENCY_TEST_MODEL, $SALIENCY_TEST_FASHION: read here and nowhere else), test
images, and the reference arithmetic of the map definition.

The references here take a *forward* function written by the test itself (a
Keras model and Keras' own preprocessing) and differentiate it with
TensorFlow's autodiff inside `tf.function` (graph mode: the SavedModel the Go
side runs is a graph too, see /work/shared/TOOLCHAIN.md, "Numerics"). Nothing
here imports models/export.py or calls an exported signature: the Keras models
are rebuilt from Keras' own classes (or models/fashion.py, the demo model's
definition, and the weights file its training kept), with the preprocessing and
the Grad-CAM layer their sources publish (CAM_LAYERS), not what the exporter
wrote into the manifest.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SALIENCY_BIN", str(ROOT / "bin" / "saliency"))
EXPORTER = ROOT / "models" / "export.py"
# The exported models the tests run on, by name: $SALIENCY_TEST_MODEL (random
# Xception) and $SALIENCY_TEST_FASHION (the trained demo model), by default
# where `make setup` exports them.
MODELS = {
    "xception": os.environ.get("SALIENCY_TEST_MODEL", str(ROOT / "models" / "xception")),
    "fashion": os.environ.get("SALIENCY_TEST_FASHION", str(ROOT / "models" / "fashion")),
}


def _env(extra=None):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


class Cli:
    """bin/saliency as a subprocess."""

    def __init__(self, path):
        self.path = path

    def run(self, *args, env=None, timeout=900):
        return subprocess.run([self.path, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=_env(env))

    def start(self, *args, env=None):
        """Started, not waited for: a Popen with stdout and stderr piped (text)."""
        return subprocess.Popen([self.path, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=_env(env))

    def explain(self, model, paths, out_dir, *flags):
        """`explain --raw --json` on paths; the parsed objects, in input order."""
        proc = self.run("explain", "--model", model, "--raw", "--json", "--out-dir", out_dir,
                        *flags, *paths)
        assert proc.returncode == 0, f"saliency explain failed ({proc.returncode}):\n{proc.stderr}"
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["image"] for r in results] == [str(p) for p in paths], proc.stdout
        return results


@pytest.fixture(scope="session")
def cli():
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"{BIN} missing: run `make build`")
    return Cli(BIN)


class Exporter:
    """models/export.py as a subprocess (its command line is what is tested;
    its Python helpers are never imported by a reference)."""

    def __call__(self, *args, check=True, timeout=900):
        proc = subprocess.run([sys.executable, str(EXPORTER), *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, env=_env())
        if check:
            assert proc.returncode == 0, (f"export.py {' '.join(map(str, args))} failed "
                                          f"({proc.returncode}):\n{proc.stderr}")
        return proc


@pytest.fixture(scope="session")
def export():
    if not EXPORTER.is_file():
        pytest.fail(f"{EXPORTER} missing")
    return Exporter()


@pytest.fixture(scope="session")
def model_path():
    """name ("xception", "fashion") -> the folder of that exported model (MODELS);
    fails the test when it is missing."""
    def get(name):
        path = MODELS[name]
        if not os.path.isdir(path):
            pytest.fail(f"{path} missing: run `make setup`")
        return path
    return get


def manifest_of(model_dir):
    with open(pathlib.Path(model_dir) / "saliency.json") as f:
        return json.load(f)


def import_fashion():
    """models/fashion.py, the demo model's definition (never export.py)."""
    if str(ROOT / "models") not in sys.path:
        sys.path.insert(0, str(ROOT / "models"))
    import fashion
    return fashion


# ---------------------------------------------------------------- images

# The photos in testdata/ (NAME.jpg), by name, sorted.
PHOTOS = tuple(p.stem for p in sorted((ROOT / "testdata").glob("*.jpg")))


def photo(name):
    """testdata/NAME.jpg as an RGB Pillow image."""
    return Image.open(ROOT / "testdata" / f"{name}.jpg").convert("RGB")


def write_photos(folder, height, width, photos=("chelsea", "coffee"), suffix=""):
    """testdata photos resized (Pillow, bilinear) to height x width and saved as
    PNG (folder/NAME{suffix}.png), which the Go side decodes exactly: colour
    photos, so that a channel-order or preprocessing mistake changes the maps."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in photos:
        im = photo(name)
        p = folder / f"{name}{suffix}.png"
        im.resize((width, height), Image.BILINEAR).save(p)
        paths.append(p)
    return paths


def pixels(paths):
    return np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths])


# ---------------------------------------------------------------- the models, rebuilt

# Grad-CAM's layer of each model, by the name its source publishes (the last
# convolutional block's activation, which feeds the global average pooling);
# the exporter's manifest may be checked against these, never used instead.
CAM_LAYERS = {
    # keras.applications.Xception (keras/src/applications/xception.py):
    # layers.Activation("relu", name="block14_sepconv2_act"), then avg_pool.
    "xception": "block14_sepconv2_act",
    # models/fashion.py build_model: L.ReLU(name="exit_relu"), then the pooling.
    "fashion": "exit_relu",
}


def fashion_preprocess(x):
    """The demo model's input as models/fashion.py build_model documents it
    (x / 127.5 - 1; Keras' "tf" mode), written here rather than imported."""
    return x / 127.5 - 1.0


def rebuild(kind, model_dir):
    """The Keras model behind an export, rebuilt without the exporter, and its
    preprocessing (raw 0..255 pixels -> the model's input):

    - "xception": keras.applications.Xception(weights=None,
      classifier_activation=None) after keras.utils.set_random_seed(seed), the
      seed the export was made with (an input of the export, which the manifest
      records), with keras.applications.xception.preprocess_input;
    - "fashion": models/fashion.py build_model with the manifest's recipe (the
      architecture's hyper-parameters) and the trained weights that training
      keeps beside the export (fashion.WEIGHTS), with fashion_preprocess.
    """
    import keras
    keras.backend.clear_session()   # memory, and layer names as a fresh process gives them
    if kind == "xception":
        keras.utils.set_random_seed(manifest_of(model_dir)["seed"])
        m = keras.applications.Xception(weights=None, classifier_activation=None,
                                        input_shape=(299, 299, 3))
        return m, keras.applications.xception.preprocess_input
    if kind == "fashion":
        fashion = import_fashion()  # the demo model's definition; never export.py
        m = fashion.build_model(**manifest_of(model_dir)["recipe"]["model"])
        m.load_weights(os.path.join(model_dir, fashion.WEIGHTS))
        return m, fashion_preprocess
    raise ValueError(kind)


# ---------------------------------------------------------------- resizing

def _triangle_weights(n_in, n_out):
    """[n_out, n_in] weights of the bilinear (triangle) filter as Pillow's
    Resample.c precompute_coeffs defines it: output i centred on source
    coordinate (i + 0.5) * n_in / n_out - 0.5 (half-pixel centres), support
    widened to the scale factor when shrinking (so every source pixel counts),
    each row renormalised to sum 1 (at the edges too)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale - 0.5
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centre[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


# A resized value this close to a half step of the 16-bit grid (in steps) is a
# tie for rounding: float64 sums in another order differ by ~1e-11 steps
# (measured: chelsea 640x480 -> 128x128 has 3 values 4e-12 to 1e-11 below a
# half step, which the Go side rounds up; plain floor(x + 0.5) here took them
# down, and the trained fashion model's maps moved by 1.3e-4 on average).
NEAR_TIE = 1e-6


def resize_input(pixels_u8, height, width, ties="up"):
    """The documented resize of an input to the model's size: Pillow's
    Image.resize(BILINEAR), not rounded to 8 bits (Pillow's RGB resize rounds
    after each of its two passes) but to the 1/257 grid of 16-bit samples, the
    precision the Go side resamples into (README "Formats"); rounding half up.
    Computed in float64 here (_triangle_weights, horizontal pass then vertical,
    as Pillow does) and checked against Pillow itself on float ("F") images,
    whose float32 arithmetic alone would put a value within 1e-5 of a rounding
    boundary on the wrong side. ties="down" rounds values within NEAR_TIE of a
    half step down instead (test_parity.py, RESIZE_PIXEL_TOL). float32 [height, width, 3]."""
    a = np.asarray(pixels_u8)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, (a.dtype, a.shape)
    rows = np.tensordot(a.astype(np.float64), _triangle_weights(a.shape[1], width), axes=([1], [1]))
    out = np.tensordot(_triangle_weights(a.shape[0], height), rows, axes=([1], [0])).transpose(0, 2, 1)
    pillow = np.stack([np.asarray(Image.fromarray(a[..., c].astype(np.float32), "F")
                                  .resize((width, height), Image.BILINEAR)) for c in range(3)], -1)
    # Pillow's float32 accumulation: measured 1.5e-5 grey levels at most.
    assert np.abs(out - pillow).max() <= 1e-4, f"resize_input is not Pillow's bilinear: {np.abs(out - pillow).max()}"
    # Half up, a value within NEAR_TIE of a half step counting as one (the Go
    # side's float sums, in another order, can land on either side of it);
    # ties="down" takes the lower neighbour at those instead.
    steps = out * 257
    if ties == "down":
        return (np.ceil(steps - 0.5 - NEAR_TIE) / 257).astype(np.float32)
    return (np.floor(steps + 0.5 + NEAR_TIE) / 257).astype(np.float32)


def resize_maps(maps, height, width):
    """Maps [..., h, w] resized to height x width the documented way (README
    "What is computed" step 5): tf.image.resize's bilinear rule, half-pixel
    centres, no antialiasing."""
    import tensorflow as tf
    maps = np.asarray(maps, np.float32)
    lead, (h, w) = maps.shape[:-2], maps.shape[-2:]
    flat = maps.reshape(-1, h, w)[..., None]
    up = tf.image.resize(flat, (height, width), method="bilinear").numpy()[..., 0]
    return up.reshape(*lead, height, width)


# ---------------------------------------------------------------- references

def normalize(maps):
    """Min-max per map over its last two axes, 0 where a map is constant
    (divide-no-nan), as README "What is computed" step 4."""
    maps = maps - maps.min(axis=(-2, -1), keepdims=True)
    top = maps.max(axis=(-2, -1), keepdims=True)
    return np.divide(maps, top, out=np.zeros_like(maps), where=top > 0)


class GraphReference:
    """Logits and gradient maps of forward (raw 0..255 pixels -> logits), by
    the definition, with TensorFlow's autodiff in graph mode.

    The K gradients come from one forward pass under a persistent tape and one
    tape.gradient per selected column (summed over the batch: rows are
    independent at inference), a different formulation from the exporter's
    tiled copies, so a slip in either shows up.
    """

    def __init__(self, forward):
        import tensorflow as tf
        self.tf = tf

        @tf.function(reduce_retracing=True)
        def logits(x):
            return forward(x)

        # Traced per shape (no reduce_retracing): the number of columns K must
        # stay a static dimension for the Python loop below.
        @tf.function
        def grads(x, units):
            with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
                tape.watch(x)
                picked = tf.gather(forward(x), units, batch_dims=1)          # [N, K]
                columns = [tf.reduce_sum(picked[:, j]) for j in range(units.shape[1])]
            g = tf.stack([tape.gradient(c, x) for c in columns], axis=1)   # [N, K, H, W, C]
            del tape
            return picked, g

        self._logits, self._grads = logits, grads

    def logits(self, x):
        return self._logits(self.tf.constant(x, self.tf.float32)).numpy()

    def top_k(self, x, k):
        """Each image's k highest logits' units (ties: lower index) and all logits."""
        all_logits = self._logits(self.tf.constant(x, self.tf.float32))
        return self.tf.math.top_k(all_logits, k).indices.numpy(), all_logits.numpy()

    def maps(self, x, units):
        """Selected logits [N, K] and normalised maps [N, K, H, W]: mean over
        channels of |d logit / d pixel|, min-max per map."""
        picked, g = self._grads(self.tf.constant(x, self.tf.float32),
                                self.tf.constant(np.asarray(units, np.int32)))
        return picked.numpy(), normalize(np.abs(g.numpy()).mean(-1))


# The class activation maps from their papers, as functions of the CAM layer's
# activations A ([N, h, w, C]), the gradients g = d logit / d A ([N, h, w, C],
# one unit) and that unit's logits S ([N]); each returns the map before
# normalisation, [N, h, w], in TensorFlow.

def _spatial_sum(t):
    import tensorflow as tf
    return tf.reduce_sum(t, axis=(1, 2), keepdims=True)


def gradcam_of(acts, g, s):
    """Selvaraju et al. 2017: alpha_c = spatial mean of g_c; ReLU(sum_c alpha_c A_c)."""
    import tensorflow as tf
    return tf.nn.relu(tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * acts, axis=-1))


def gradcampp_of(acts, g, s):
    """Chattopadhay et al. 2018, eq. 19 with Y = exp(S): alpha = g^2 / (2 g^2 +
    sum_ab A_ab g^3) (0 where 0/0), w_c = sum_ij alpha relu(dY/dA) with dY/dA =
    exp(S) g, ReLU(sum_c w_c A_c). exp(S) is kept here (the Go side leaves it
    out, a positive factor of the whole map)."""
    import tensorflow as tf
    d2, d3 = g ** 2, g ** 3
    alpha = tf.math.divide_no_nan(d2, 2.0 * d2 + _spatial_sum(acts) * d3)
    w = _spatial_sum(alpha * tf.nn.relu(tf.exp(s)[:, None, None, None] * g))
    return tf.nn.relu(tf.reduce_sum(w * acts, axis=-1))


def layercam_of(acts, g, s):
    """Jiang et al. 2021, eqs. 4-5: ReLU(sum_c ReLU(g_c) A_c), element-wise."""
    import tensorflow as tf
    return tf.nn.relu(tf.reduce_sum(tf.nn.relu(g) * acts, axis=-1))


def xgradcam_of(acts, g, s):
    """Fu et al. 2020, eq. 9: alpha_c = sum_xy A_c(x,y) / ||A_c||_1 * g_c(x,y);
    ReLU(sum_c alpha_c A_c)."""
    import tensorflow as tf
    alpha = tf.math.divide_no_nan(_spatial_sum(acts * g), _spatial_sum(tf.abs(acts)))
    return tf.nn.relu(tf.reduce_sum(alpha * acts, axis=-1))


def hirescam_of(acts, g, s):
    """Draelos & Carin 2020: sum_c g_c A_c element-wise, with Grad-CAM's ReLU."""
    import tensorflow as tf
    return tf.nn.relu(tf.reduce_sum(g * acts, axis=-1))


def eigencam_of(acts, g, s):
    """Muhammad & Yeasin 2020: each image's activations [h*w, C], not centred,
    projected on their first right singular vector (LAPACK's SVD through numpy,
    float64), with the sign that makes the map's sum positive."""
    import tensorflow as tf
    out = []
    for im in np.asarray(acts, np.float64):
        m = im.reshape(-1, im.shape[-1])
        proj = m @ np.linalg.svd(m, full_matrices=False)[2][0]
        out.append((proj if proj.sum() >= 0 else -proj).reshape(im.shape[:2]))
    return tf.constant(np.stack(out), tf.float32)


CAM_FORMULAS = {"gradcam": gradcam_of, "gradcampp": gradcampp_of, "layercam": layercam_of,
                "xgradcam": xgradcam_of, "hirescam": hirescam_of, "eigencam": eigencam_of}


def cam_maps(model, layer_name, preprocess, x, units, method="gradcam"):
    """A class activation map (CAM_FORMULAS[method]) from its definition, on the
    test's own Keras model (cam_layer_maps), min-max normalised at the layer's
    size, then tf.image.resize (bilinear, half-pixel centres) to the input's
    size. units: [N, K]. Returns [N, K, H, W]."""
    return resize_cams(normalize(cam_layer_maps(model, layer_name, preprocess, x, units, method)), x.shape[1:3])


def resize_cams(cam, size):
    """[N, K, h, w] -> [N, K, H, W] by tf.image.resize (bilinear), as the CLI does."""
    import tensorflow as tf
    n, k, h, w = cam.shape
    up = tf.image.resize(cam.reshape(n * k, h, w)[..., None], size, method="bilinear").numpy()[..., 0]
    return up.reshape(n, k, *size)


def cam_layer_maps(model, layer_name, preprocess, x, units, method="gradcam"):
    """CAM_FORMULAS[method] (or the formula method itself, given as a function
    of A, g and the logits) at the layer's size, before normalisation: A = the
    output of layer (or op) layer_name of the test's own Keras model and
    g = d logit_u / d A from TensorFlow's tape in graph mode. units: [N, K].
    Returns [N, K, h, w]."""
    import keras
    import tensorflow as tf

    # Keras 3 functional models hold plain ops (ConvNeXt's residual `+`) beside
    # layers: look the name up among all operations.
    ops = {op.name: op for op in model.operations}
    assert layer_name in ops, f"no layer or operation {layer_name!r} in {model.name}"
    features = keras.Model(model.inputs, [ops[layer_name].output, model.output])
    k = np.asarray(units).shape[1]

    @tf.function
    def layer_and_gradients(x, units):
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(x)  # records the forward pass, hence every path from A to the logits
            acts, logits = features(preprocess(x), training=False)
            picked = tf.gather(logits, units, batch_dims=1)
            columns = [tf.reduce_sum(picked[:, j]) for j in range(k)]
        grads = [tape.gradient(c, acts) for c in columns]
        del tape
        return acts, grads, picked

    acts, grads, picked = layer_and_gradients(tf.constant(x, tf.float32), tf.constant(np.asarray(units, np.int32)))
    combine = CAM_FORMULAS[method] if isinstance(method, str) else method
    return np.stack([combine(acts, grads[j], picked[:, j]).numpy() for j in range(k)], axis=1)  # [N, K, h, w]


def gradcam_maps(model, layer_name, preprocess, x, units):
    """Grad-CAM (Selvaraju et al. 2017) from its definition: cam_maps."""
    return cam_maps(model, layer_name, preprocess, x, units, "gradcam")


def compare(results, units, all_logits, maps, map_tol, mean_tol, logit_rtol=1e-4):
    """Asserts the CLI's --json/--raw output equals the reference: units equal,
    logits within logit_rtol of each image's largest |logit|, maps within
    map_tol (max abs) and mean_tol (mean abs), maps not degenerate. Returns the
    measured (max map diff, mean map diff, max relative logit diff)."""
    worst_max = worst_mean = worst_logit = 0.0
    for i, r in enumerate(results):
        assert r["units"] == [int(u) for u in units[i]], f"{r['image']}: units {r['units']} != {units[i]}"
        scale = float(np.abs(all_logits[i]).max())
        want = all_logits[i][np.asarray(units[i])]
        dl = float(np.abs(np.asarray(r["logits"], np.float64) - want).max()) / scale
        worst_logit = max(worst_logit, dl)
        assert dl <= logit_rtol, f"{r['image']}: logits {r['logits']} != {want} (relative {dl:.2e})"
        raw = np.load(r["raw"])
        assert raw.dtype == np.float32 and raw.shape == maps[i].shape, \
            f"{r['image']}: raw {raw.dtype} {raw.shape}, want float32 {maps[i].shape}"
        for j in range(len(raw)):
            assert raw[j].std() > 1e-3, f"{r['image']} unit {units[i][j]}: degenerate map"
            assert maps[i][j].std() > 1e-3, f"{r['image']} unit {units[i][j]}: degenerate reference"
        d = np.abs(raw - maps[i])
        worst_max, worst_mean = max(worst_max, float(d.max())), max(worst_mean, float(d.mean()))
        assert d.max() <= map_tol, f"{r['image']}: max abs map diff {d.max():.2e} > {map_tol:.0e}"
        assert d.mean() <= mean_tol, f"{r['image']}: mean abs map diff {d.mean():.2e} > {mean_tol:.0e}"
    return worst_max, worst_mean, worst_logit


@pytest.fixture(scope="session")
def reference():
    """The reference helpers, for test modules (conftest is not imported directly)."""
    import types
    return types.SimpleNamespace(GraphReference=GraphReference, compare=compare, gradcam_maps=gradcam_maps,
                                 cam_maps=cam_maps, cam_layer_maps=cam_layer_maps, resize_cams=resize_cams,
                                 CAM_FORMULAS=CAM_FORMULAS,
                                 normalize=normalize, pixels=pixels, write_photos=write_photos,
                                 photo=photo, PHOTOS=PHOTOS, import_fashion=import_fashion,
                                 manifest_of=manifest_of, CAM_LAYERS=CAM_LAYERS, rebuild=rebuild,
                                 resize_input=resize_input, resize_maps=resize_maps)


# ---------------------------------------------------------------- the peers
# The peers' own implementations run in build/bench/venv (`make peers`), never in
# .venv, one process per call (tests/peers/).
PEERS = ROOT / "tests" / "peers"
PEERS_PYTHON = os.environ.get("SALIENCY_PEERS_PYTHON", str(ROOT / "build" / "bench" / "venv" / "bin" / "python"))
KE_MIRROR = os.environ.get("KE_MIRROR", "/work/.mirror/lucasdavid+keras-explainable/repo")


@pytest.fixture(scope="session")
def peers_python():
    if not os.access(PEERS_PYTHON, os.X_OK):
        pytest.fail(f"{PEERS_PYTHON} missing: run `make peers`")
    return PEERS_PYTHON


def run_peer(python, script, *args, legacy=False):
    """Runs tests/peers/SCRIPT in the peers' Python (Keras 2 with legacy)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run([python, str(PEERS / script), *map(str, args)], capture_output=True,
                          text=True, timeout=1800, env=env)
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="session")
def keras_explainable(tmp_path_factory):
    """The folder holding keras-explainable's package, from KE_SRC (a checkout)
    or the fetched git mirror (KE_MIRROR), as bench/run.sh finds it. It is not
    on PyPI and the registries here are all CI can reach: without either, the
    tests that need it skip and say why."""
    src = os.environ.get("KE_SRC")
    if src:
        return src + "/src" if os.path.isdir(src + "/src/keras_explainable") else src
    if not os.path.isdir(KE_MIRROR):
        pytest.skip("keras-explainable's source not found (it is not on PyPI): set KE_SRC to a checkout")
    folder = tmp_path_factory.mktemp("keras-explainable")
    subprocess.run(f"git --git-dir={KE_MIRROR} archive HEAD | tar -x -C {folder}", shell=True, check=True)
    return str(folder / "src")


# ---------------------------------------------------------------- running on every core
# `make test-python` runs the tests in TEST_JOBS worker processes (pytest-xdist,
# --dist loadgroup --no-loadscope-reorder): most of the suite's time is one
# Python thread tracing and saving graphs (an export is ~100% of one core), so
# one process left the second core of the 2-core CI machine idle (2026-11-28,
# one process: 56 min wall for 58.6 min of CPU). Each module is one group, so
# its module fixtures (an exported model, a Keras rebuild) are built once, in
# one worker; test_zoo's architectures are a group each (test_zoo.py). The
# groups go out in the order below, the longest first (seconds measured one
# process at a time on 2026-11-28), so that no long group starts last.
LONGEST_FIRST = ("test_zoo",      # 2101 s, 12 groups of 50-350 s
                 "test_methods",  # 420
                 "test_peers",    # 308
                 "test_install",  # 158
                 "test_parity")   # 138; the rest under 90 each


def _rank(item):
    name = item.module.__name__
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups each module's tests (unless a test names its own group) and puts
    the longest groups first; the order within a module is kept."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=_rank)


# What the tests print (their measured figures) is captured in a worker; it is
# written out here, in the controller, after the run, test by test.
_PRINTED = []


def pytest_runtest_logreport(report):
    # A phase's report carries the earlier phases' output too: only its own.
    for title, text in report.sections:
        if title == f"Captured stdout {report.when}" and text.strip():
            _PRINTED.append((report.nodeid, report.when, text))


def pytest_terminal_summary(terminalreporter):
    if not _PRINTED:
        return
    terminalreporter.section("figures the tests printed")
    for nodeid, when, text in _PRINTED:
        terminalreporter.write_line(f"{nodeid} ({when}):")
        terminalreporter.write(text if text.endswith("\n") else text + "\n")
