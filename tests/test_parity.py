"""Parity of `saliency explain` with the method's definition, computed in Python.

The reference follows keras-explainable's `ke.gradients` with
`filters.absolute_normalize` step by step, on the model's forward signature
(serving_default) and TensorFlow's own autodiff: it never calls the exported
gradient signature that the Go side uses, so a mistake in the exporter, in the
Go binding or in Go's post-processing shows up as a difference.

Images are 299x299 PNGs, the model's input size, so no resizing is involved and
both sides decode the same pixels.

Tolerances: maps (in [0, 1]) max abs diff <= 5e-3 and mean abs diff <= 1e-5;
logits within 1e-4 relative (to the largest of the image's compared logits);
units identical. Why the max is 5e-3 (a ReLU at zero in a flat region flips with
the batch composition under TensorFlow 2.21) is told in tests/test_methods.py.
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SALIENCY_BIN", str(ROOT / "bin" / "saliency"))
MODEL = os.environ.get("SALIENCY_TEST_MODEL", str(ROOT / "models" / "xception"))
SIZE = 299
MAP_TOL = 5e-3
MAP_MEAN_TOL = 1e-5
LOGIT_RTOL = 1e-4


@pytest.fixture(scope="module")
def serving():
    if not os.path.isdir(MODEL):
        pytest.fail(f"{MODEL} missing: run `make setup`")
    loaded = tf.saved_model.load(MODEL)
    fn = loaded.signatures["serving_default"]
    fn._saliency_keepalive = loaded  # the signature holds its variables only weakly
    return fn


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Five 299x299 PNGs: the four photos in testdata/ and a smooth synthetic one."""
    d = tmp_path_factory.mktemp("parity")
    paths = []
    for jpg in sorted((ROOT / "testdata").glob("*.jpg")):
        im = Image.open(jpg).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
        p = d / (jpg.stem + ".png")
        im.save(p)
        paths.append(p)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    synthetic = np.stack([xx / SIZE * 255, yy / SIZE * 255, 128 + 100 * np.sin(xx / 17)], -1)
    p = d / "synthetic.png"
    Image.fromarray(synthetic.clip(0, 255).astype(np.uint8)).save(p)
    paths.append(p)
    return paths


def load_pixels(paths):
    return np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) for p in paths])


def reference(serving, x, k=None, units=None):
    """Units, selected logits [N, K] and maps [N, K, H, W] by the definition."""
    x = tf.constant(x)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        logits = serving(images=x)["logits"]
        if units is None:
            units = tf.math.top_k(logits, k).indices
        else:
            units = tf.constant(np.tile(np.asarray(units, np.int32), (x.shape[0], 1)))
        picked = tf.gather(logits, units, batch_dims=1)
    jacobian = tape.batch_jacobian(picked, x)            # [N, K, H, W, C]
    maps = tf.reduce_mean(tf.abs(jacobian), axis=-1)     # [N, K, H, W]
    maps -= tf.reduce_min(maps, axis=(2, 3), keepdims=True)
    maps = tf.math.divide_no_nan(maps, tf.reduce_max(maps, axis=(2, 3), keepdims=True))
    return units.numpy(), picked.numpy(), maps.numpy()


def run_cli(paths, out_dir, *flags):
    cmd = [BIN, "explain", "--model", MODEL, "--raw", "--json", "--out-dir", str(out_dir), *flags,
           *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"] for r in results] == [str(p) for p in paths]
    return results


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
    print(f"parity: max abs map diff over {len(results)} images: "
          f"{max(np.abs(np.load(r['raw']) - maps[i]).max() for i, r in enumerate(results)):.2e}")


@pytest.mark.parametrize("k,batch", [(1, 2), (3, 8)])
def test_top_k_matches_definition(serving, images, tmp_path, k, batch):
    """Top-K units, their logits and maps; k=1 with more images than --batch-size."""
    results = run_cli(images, tmp_path, "--top-k", str(k), "--batch-size", str(batch))
    units, logits, maps = reference(serving, load_pixels(images), k=k)
    assert_parity(results, units, logits, maps)


def test_fixed_units_match_definition(serving, images, tmp_path):
    chosen = [0, 417, 999]
    results = run_cli(images[:3], tmp_path, "--units", ",".join(map(str, chosen)), "--batch-size", "2")
    units, logits, maps = reference(serving, load_pixels(images[:3]), units=chosen)
    assert_parity(results, units, logits, maps)


def test_maps_are_not_trivial(serving, images, tmp_path):
    """Guards the parity tests against passing on degenerate maps (all zero, or constant)."""
    results = run_cli(images[:2], tmp_path, "--top-k", "1")
    for r in results:
        raw = np.load(r["raw"])
        assert raw.max() == pytest.approx(1.0) and raw.min() == 0.0
        assert raw.std() > 1e-3
