"""Fashion-MNIST composites and the demo model that `saliency` explains.

placeholder
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SPLITS = {"train": "train", "test": "t10k"}
CANVAS = 128
ITEM_MIN, ITEM_MAX = 40, 80      # side of the rescaled 28x28 item, pixels
SHADE_LO = 0.3                   # item brightness at its darkest texture, times its tint
TINT_CONTRAST = 120.0            # wanted RGB distance of the item from the background under it


# ---------------------------------------------------------------- data

def _read_idx(path):
    """An IDX file (http://yann.lecun.com/exdb/mnist/) as a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


_SPLIT_CACHE = {}


def load_split(split, data_dir=None):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of Fashion-MNIST's split."""
    data_dir = data_dir or DATA_DIR
    key = (split, data_dir)
    if key not in _SPLIT_CACHE:
        prefix = os.path.join(data_dir, SPLITS[split])
        images = _read_idx(prefix + "-images-idx3-ubyte.gz")
        labels = _read_idx(prefix + "-labels-idx1-ubyte.gz")
        if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
            raise ValueError(f"{prefix}: images {images.shape} and labels {labels.shape} disagree")
        _SPLIT_CACHE[key] = (images, labels)
    return _SPLIT_CACHE[key]


# ---------------------------------------------------------------- composites

def _smooth(rng, cells, lo, hi):
    """A CANVAS x CANVAS RGB image of random colours on a cells x cells grid,
    upsampled bicubically: a low-frequency texture."""
    grid = rng.uniform(lo, hi, (cells, cells, 3)).astype(np.uint8)
    return Image.fromarray(grid, "RGB").resize((CANVAS, CANVAS), Image.BICUBIC)


def _strokes(rng, canvas):
    """Draws 2..6 random lines and arcs, distractors that are not items."""
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(2, 7))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        width = int(rng.integers(1, 5))
        if rng.random() < 0.5:
            pts = rng.uniform(-16, CANVAS + 16, 4)
            draw.line([(pts[0], pts[1]), (pts[2], pts[3])], fill=colour, width=width)
        else:
            cx, cy = rng.uniform(0, CANVAS, 2)
            rx, ry = rng.uniform(8, 48, 2)
            start = float(rng.uniform(0, 360))
            end = start + float(rng.uniform(60, 300))
            draw.arc([cx - rx, cy - ry, cx + rx, cy + ry], start, end, fill=colour, width=width)


def composite(rng, item):
    """One composite from one 28x28 item, using rng for every random choice.

    Returns (image uint8 [CANVAS, CANVAS, 3], box [x0, y0, x1, y1]): the item
    rescaled to ITEM_MIN..ITEM_MAX pixels (bilinear), tinted with a random colour
    and pasted, fully visible, at a random place over a smooth random texture
    crossed by random strokes. box is the tight bounding box of the rescaled
    item's non-zero pixels, x1 and y1 exclusive.
    """
    # Background: a coarse colour field blended with a finer one, then strokes.
    coarse = _smooth(rng, int(rng.integers(2, 5)), 0, 256)
    fine = _smooth(rng, int(rng.integers(6, 13)), 0, 256)
    canvas = Image.blend(coarse, fine, float(rng.uniform(0.15, 0.4)))
    _strokes(rng, canvas)

    # Item: rescale, crop to its non-zero pixels, place so the box is inside.
    side = int(rng.integers(ITEM_MIN, ITEM_MAX + 1))
    v = np.asarray(Image.fromarray(item, "L").resize((side, side), Image.BILINEAR))
    ys, xs = np.nonzero(v)
    v = v[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    h, w = v.shape
    x0 = int(rng.integers(0, CANVAS - w + 1))
    y0 = int(rng.integers(0, CANVAS - h + 1))

    # Tint: a random colour far enough from the background under the item.
    # Opacity rises over the item's faint rim; shading keeps its texture.
    alpha = np.clip(v * (1.0 / 32.0), 0.0, 1.0)
    region = np.asarray(canvas.crop((x0, y0, x0 + w, y0 + h)), np.float32)
    under = np.tensordot(alpha, region, 2) / max(float(alpha.sum()), 1.0)
    shade = SHADE_LO + (1.0 - SHADE_LO) * (v / max(float(v.max()), 1.0))
    mean_shade = float((alpha * shade).sum()) / max(float(alpha.sum()), 1.0)
    best, best_d = None, -1.0
    for _ in range(16):
        tint = rng.uniform(0, 256, 3)
        d = float(np.linalg.norm(tint * mean_shade - under))
        if d > best_d:
            best, best_d = tint, d
        if d >= TINT_CONTRAST:
            break
    colour = np.clip(best[None, None, :] * shade[..., None] + 0.5, 0, 255).astype(np.uint8)
    mask = (alpha * 255.0 + 0.5).astype(np.uint8)
    canvas.paste(Image.fromarray(colour, "RGB"), (x0, y0), Image.fromarray(mask, "L"))
    return np.asarray(canvas), [x0, y0, x0 + w, y0 + h]


_SPLIT_CODE = {"train": 0, "test": 1}


def composites(split, seed, n, start=0, data_dir=None):
    """n composites of split's items, numbered start..start+n-1.

    Composite i depends only on (split, seed, i): its own generator is seeded
    with (seed, split, i), so any range reproduces the same images. Returns
    images uint8 [n, CANVAS, CANVAS, 3], labels int32 [n], boxes int32 [n, 4].
    """
    items, item_labels = load_split(split, data_dir)
    images = np.empty((n, CANVAS, CANVAS, 3), np.uint8)
    labels = np.empty(n, np.int32)
    boxes = np.empty((n, 4), np.int32)
    for k in range(n):
        rng = np.random.default_rng([seed, _SPLIT_CODE[split], start + k])
        j = int(rng.integers(len(items)))
        images[k], boxes[k] = composite(rng, items[j])
        labels[k] = item_labels[j]
    return images, labels, boxes


def write_composites(split, seed, n, out, data_dir=None):
    """Writes out/000000.png ... and out/boxes.json; returns the file names."""
    images, labels, boxes = composites(split, seed, n, data_dir=data_dir)
    os.makedirs(out, exist_ok=True)
    index = {}
    for k in range(n):
        name = f"{k:06d}.png"
        Image.fromarray(images[k], "RGB").save(os.path.join(out, name))
        index[name] = {"label": int(labels[k]), "box": [int(b) for b in boxes[k]]}
    with open(os.path.join(out, "boxes.json"), "w") as f:
        json.dump(index, f, indent=0, sort_keys=True)
        f.write("\n")
    return sorted(index)


# ---------------------------------------------------------------- model

def build_model(stem=(24, 32), entry=(64, 128, 192), middle=2, exit_width=256,
                weight_decay=0.0, name="fashion"):
    """A small Xception: entry flow (conv stem, then blocks of separable
    convolutions with 1x1 stride-2 residual shortcuts and max-pooling), a middle
    flow of residual blocks of three separable convolutions, an exit flow of
    separable convolutions and global average pooling, and a linear Dense(10).

    Takes preprocessed pixels (x / 127.5 - 1, see export.xception_preprocess),
    returns logits.
    """
    import tensorflow as tf
    L = tf.keras.layers
    reg = tf.keras.regularizers.L2(weight_decay) if weight_decay else None

    def bn(x):
        return L.BatchNormalization(momentum=0.9)(x)

    def sep(x, f):
        return L.SeparableConv2D(f, 3, padding="same", use_bias=False,
                                 depthwise_regularizer=reg, pointwise_regularizer=reg)(x)

    inputs = tf.keras.Input((CANVAS, CANVAS, 3), name="images")
    x = L.Conv2D(stem[0], 3, strides=2, padding="same", use_bias=False,
                 kernel_regularizer=reg)(inputs)
    x = L.ReLU()(bn(x))
    for f in stem[1:]:
        x = L.Conv2D(f, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
        x = L.ReLU()(bn(x))
    for i, f in enumerate(entry):
        shortcut = bn(L.Conv2D(f, 1, strides=2, padding="same", use_bias=False,
                               kernel_regularizer=reg)(x))
        if i:
            x = L.ReLU()(x)
        x = L.ReLU()(bn(sep(x, f)))
        x = bn(sep(x, f))
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        x = L.Add()([x, shortcut])
    f = entry[-1]
    for _ in range(middle):
        shortcut = x
        for _ in range(3):
            x = bn(sep(L.ReLU()(x), f))
        x = L.Add()([x, shortcut])
    x = L.ReLU()(bn(sep(L.ReLU()(x), exit_width)))
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(len(CLASSES), kernel_regularizer=reg, name="logits")(x)
    return tf.keras.Model(inputs, outputs, name=name)
