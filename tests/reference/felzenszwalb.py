"""Writes scikit-image's Felzenszwalb segmentations for the Go test of internal/segment.

Usage: python tests/reference/felzenszwalb.py OUT.json

Run it with the bench environment's Python (build/bench/venv, `make peers`): the
project's .venv has no scikit-image. The scikit-image imported must be the version
bench/requirements.txt pins, since that is the release PAIR saliency's XRAI runs
with and whose semantics internal/segment reproduces.

The images, all float32 in [-1, 1] (XRAI's value range):
  astronaut, chelsea  testdata/*.jpg resized to 224x224 (XRAI's size) with Pillow's
                      bilinear filter, then x / 127.5 - 1 in float32;
  rects, rects-noisy  constant rectangles, exactly (many tied edge weights) and with
                      a little Gaussian noise;
  tiny, grey, channels9, line, pixel  small random images (one with one channel,
                      one with nine), a 1x9 line and a single pixel, where the
                      Gaussian's reflection runs past the image's edge and its
                      kernel is longer than 8 taps.

OUT.json (about 4 MB) holds
  versions  the scikit-image, scipy and numpy that computed it;
  kernels   for each sigma > 0 used, scipy's 1-D Gaussian weights, read off
            gaussian_filter1d of a unit impulse (each output is 1.0 * weight plus
            exact zeros, so the weights come out bit for bit);
  images    name -> h, w, c and the pixels as base64 of little-endian float32 in
            HWC order (the Go side reads exactly these numbers); for the small
            images also "smoothed": per sigma, skimage's pre-smoothed image (float64,
            base64), from the call _felzenszwalb_cy makes;
  cases     image, scale, sigma, min_size and skimage.segmentation.felzenszwalb's
            labels (row-major) for that image passed as a float32 array; where
            they differ, also "labels_stable", its labels with numpy.argsort made
            stable, below.

scikit-image sorts the edges with numpy.argsort's default kind, which is not
stable: tied weights come out in an order that depends on numpy's sorting kernel
and the CPU. That order matters when a segment smaller than min_size has two
edges of exactly equal weight. internal/segment breaks ties by scikit-image's
edge order instead (a stable sort); "labels_stable" is scikit-image's own code
run with that sort, by handing _felzenszwalb_cy a numpy whose argsort is
kind="stable", so the Go test can hold every case to exact agreement and still
report how far the unstable sort's labels are.
"""

import base64
import json
import os
import re
import sys
import types
import warnings

import numpy as np
import scipy
import skimage
from PIL import Image
from scipy import ndimage
from skimage.filters import gaussian
from skimage.segmentation import _felzenszwalb_cy, felzenszwalb

HERE = os.path.dirname(__file__)
TESTDATA = os.path.join(HERE, "..", "..", "testdata")
REQUIREMENTS = os.path.join(HERE, "..", "..", "bench", "requirements.txt")

XRAI = dict(sigma=0.8, min_size=150)  # PAIR saliency's xrai.py
XRAI_SCALES = (50, 100, 150, 250, 500, 1200)

# (image, scale, sigma, min_size)
CASES = (
    [("astronaut", s, XRAI["sigma"], XRAI["min_size"]) for s in XRAI_SCALES]
    + [("chelsea", s, XRAI["sigma"], XRAI["min_size"]) for s in (50, 100, 250, 1200)]
    + [
        ("astronaut", 100, 0.0, 150),  # no smoothing
        ("rects", 50, 0.8, 150),
        ("rects", 250, 0.8, 150),
        ("rects", 100, 0.0, 150),
        ("rects", 50, 0.8, 20),
        ("rects-noisy", 50, 0.8, 150),
        ("rects-noisy", 250, 0.8, 150),
        ("rects-noisy", 10, 0.8, 20),
        ("tiny", 50, 0.8, 1),
        ("tiny", 100, 0.8, 3),
        ("tiny", 20, 1.7, 1),  # 15 taps: numpy's pairwise sum of the kernel
        ("tiny", 5, 3.0, 1),  # radius 12, longer than both sides; 25 taps
        ("tiny", 200, 0.3, 1),  # radius 1
        ("grey", 20, 0.8, 1),
        ("grey", 10, 3.0, 1),
        ("channels9", 150, 0.8, 1),  # numpy's pairwise sum over 9 channels
        ("line", 50, 1.7, 1),
        ("line", 100, 0.8, 3),
        ("pixel", 1, 0.8, 150),
    ]
)
SMALL = ("rects", "tiny", "grey", "channels9", "line", "pixel")


def pinned_skimage():
    with open(REQUIREMENTS) as f:
        m = re.search(r"^scikit-image==(\S+)", f.read(), re.M)
    if not m:
        sys.exit("felzenszwalb.py: bench/requirements.txt pins no scikit-image version")
    return m.group(1)


def photo(name):
    with Image.open(os.path.join(TESTDATA, name + ".jpg")) as im:
        rgb = np.asarray(im.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
    return rgb.astype(np.float32) / np.float32(127.5) - np.float32(1)


def rects(noise, rng):
    im = np.zeros((60, 80, 3), np.float32)
    im[:] = (-0.8, -0.2, 0.4)
    im[5:30, 10:45] = (0.9, 0.1, -0.5)
    im[20:55, 40:75] = (-0.1, 0.7, 0.2)
    im[35:60, 0:20] = (0.3, 0.3, 0.3)
    im[8:16, 60:68] = (0.35, 0.3, 0.3)  # a faint 8x8 square, smaller than min_size
    if noise:
        im = im + rng.normal(0, 0.02, im.shape).astype(np.float32)
    return np.clip(im, -1, 1).astype(np.float32)


def images():
    rng = np.random.default_rng(2004)
    out = {n: photo(n) for n in ("astronaut", "chelsea")}
    out["rects"] = rects(False, rng)
    out["rects-noisy"] = rects(True, rng)
    out["tiny"] = rng.uniform(-1, 1, (5, 7, 3)).astype(np.float32)
    out["grey"] = rng.uniform(-1, 1, (6, 5, 1)).astype(np.float32)
    out["channels9"] = rng.uniform(-1, 1, (6, 7, 9)).astype(np.float32)
    out["line"] = rng.uniform(-1, 1, (1, 9, 3)).astype(np.float32)
    out["pixel"] = rng.uniform(-1, 1, (1, 1, 3)).astype(np.float32)
    return out


def b64(a, dtype):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode()


def kernel(sigma):
    radius = int(4.0 * sigma + 0.5)  # scipy's truncate=4.0
    impulse = np.zeros(4 * radius + 1)
    impulse[2 * radius] = 1.0
    k = ndimage.gaussian_filter1d(impulse, sigma, mode="constant")[radius:3 * radius + 1]
    assert len(k) == 2 * radius + 1
    return k.tolist()


class _StableNumpy(types.ModuleType):
    """numpy, but argsort is stable; counts its calls."""

    calls = 0

    def __getattr__(self, name):
        return getattr(np, name)

    def argsort(self, a):
        self.calls += 1
        return np.argsort(a, kind="stable")


def felzenszwalb_stable(image, **kw):
    """skimage's felzenszwalb with the edges sorted stably (ties in edge order)."""
    stable = _StableNumpy("numpy")
    saved, _felzenszwalb_cy.np = _felzenszwalb_cy.np, stable
    try:
        labels = felzenszwalb(image, **kw)
    finally:
        _felzenszwalb_cy.np = saved
    if stable.calls != 1:
        sys.exit(f"felzenszwalb.py: _felzenszwalb_cy called the stable argsort {stable.calls} times, not once")
    return labels


def main(out):
    want = pinned_skimage()
    if skimage.__version__ != want:
        sys.exit(f"felzenszwalb.py: scikit-image {skimage.__version__} imported, bench/requirements.txt pins {want}")
    ims = images()
    sigmas = sorted({case[2] for case in CASES if case[2] > 0})
    doc = {
        "versions": {"skimage": skimage.__version__, "scipy": scipy.__version__, "numpy": np.__version__},
        "kernels": [{"sigma": s, "weights": kernel(s)} for s in sigmas],
        "images": {},
        "cases": [],
    }
    for name, im in ims.items():
        h, w, c = im.shape
        entry = {"h": h, "w": w, "c": c, "pixels": b64(im, np.float32)}
        if name in SMALL:
            entry["smoothed"] = [
                {"sigma": s, "pixels": b64(gaussian(im.astype(np.float64), sigma=[s, s, 0], mode="reflect",
                                                     channel_axis=-1), np.float64)}
                for s in sorted({case[2] for case in CASES if case[0] == name})
            ]
        doc["images"][name] = entry
    warnings.filterwarnings("ignore", "Got image with third dimension of 9", RuntimeWarning)
    for name, scale, sigma, min_size in CASES:
        kw = dict(scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
        labels = felzenszwalb(ims[name], **kw)
        case = {"image": name, "scale": scale, "sigma": sigma, "min_size": min_size,
                "segments": int(labels.max()) + 1, "labels": labels.ravel().tolist()}
        stable = felzenszwalb_stable(ims[name], **kw)
        if (stable != labels).any():
            case["labels_stable"] = stable.ravel().tolist()
        doc["cases"].append(case)
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
