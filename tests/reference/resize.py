"""Writes tf.image.resize reference cases for the Go test of postproc.ResizeBilinear.

Usage: python tests/reference/resize.py OUT.json
"""

import json
import sys

import numpy as np
import tensorflow as tf

CASES = [(299, 299, 213, 320), (299, 299, 480, 640), (7, 5, 3, 2), (10, 10, 31, 17), (4, 6, 4, 6), (5, 3, 1, 1)]


def main(out):
    rng = np.random.default_rng(2013)
    cases = []
    for sh, sw, dh, dw in CASES:
        src = rng.random((sh, sw), dtype=np.float32)
        want = tf.image.resize(src[None, :, :, None], (dh, dw), method="bilinear")[0, :, :, 0].numpy()
        cases.append({"SrcH": sh, "SrcW": sw, "DstH": dh, "DstW": dw,
                      "Src": src.ravel().tolist(), "Want": want.ravel().tolist()})
    with open(out, "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main(sys.argv[1])
