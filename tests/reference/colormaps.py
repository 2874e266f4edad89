"""Writes matplotlib's colormap tables for the Go tests of render and the CLI's pictures.

Usage: python tests/reference/colormaps.py OUT.json

For each colormap the CLI offers (internal/render/colormap.go), OUT.json holds the
256 entries of matplotlib.colormaps[name]'s lookup table, read by integer index (which
returns the table rows themselves, not an interpolation), as
  "float": matplotlib's float64 [r, g, b] in [0, 1], and
  "rgb":   the same as bytes, floor(v * 255 + 0.5) computed in float64, i.e. v * 255
           rounded to the nearest integer with halves rounded up.
That is the rule render uses (tableIndex; tools/colormaps/gen.py's to_byte). It is not
matplotlib's own 8-bit output, cmap(x, bytes=True), which truncates ((lut * 255)
.astype(uint8)) and so sits 1 below on most entries. Nor is it Python's round() or
numpy.rint: jet's green ramp lands exactly on .5 in float64 (e.g. entry 34, 8.5), where
round-half-even would go down.

The matplotlib imported must be the version requirements.txt pins, so the reference is
the pinned release's tables and not whatever happens to be installed.
"""

import json
import os
import re
import sys

import matplotlib
import numpy as np

# The colormaps render offers; the Go tests fail if ColormapNames() has one not here.
NAMES = ("gray", "inferno", "jet", "viridis")
TABLE_SIZE = 256
REQUIREMENTS = os.path.join(os.path.dirname(__file__), "..", "..", "requirements.txt")


def pinned_matplotlib():
    with open(REQUIREMENTS) as f:
        m = re.search(r"^matplotlib==(\S+)", f.read(), re.M)
    if not m:
        sys.exit("colormaps.py: requirements.txt pins no matplotlib version")
    return m.group(1)


def table(name):
    cmap = matplotlib.colormaps[name]
    if cmap.N != TABLE_SIZE:  # only if a matplotlibrc changed image.lut
        cmap = cmap.resampled(TABLE_SIZE)
    rgb = cmap(np.arange(TABLE_SIZE))[:, :3].astype(np.float64)
    rgb8 = np.floor(rgb * 255 + 0.5).astype(int)
    return {"float": rgb.tolist(), "rgb": rgb8.tolist()}


def main(out):
    want = pinned_matplotlib()
    if matplotlib.__version__ != want:
        sys.exit("colormaps.py: matplotlib %s is installed, requirements.txt pins %s (run `make venv`)"
                 % (matplotlib.__version__, want))
    ref = {"matplotlib": matplotlib.__version__, "colormaps": {name: table(name) for name in NAMES}}
    with open(out, "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main(sys.argv[1])
