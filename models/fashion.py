"""Fashion-MNIST composites and the demo model that `saliency` explains.

The ImageNet weights of Xception cannot be downloaded offline, so the project
trains its own classifier whose evidence has a known place: each composite is one
Fashion-MNIST item (Debian's dataset-fashion-mnist), rescaled, tinted and pasted
at a random place over a cluttered background, and boxes.json records where.

  composites  writes PNG composites and DIR/boxes.json
              (file -> {"label": class, "box": [x0, y0, x1, y1]}, x1, y1 exclusive)
  train       trains a small Xception-style network on composites of the train
              split, checks it on composites of the test split, and exports it
              (`fashion`) and a re-initialised twin (`fashion-random`, for the
              randomisation sanity check) with models/export.py

Usage:
  python models/fashion.py composites --split test --seed 7 --n 500 --out DIR
  python models/fashion.py train --out models/fashion --random-out models/fashion-random
"""

import argparse
import colorsys
import gzip
import hashlib
import io
import itertools
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
ITEM_FLOOR = 10                  # 28x28 item pixels at or below this are cleared
SHADE_LO = 0.15                  # item brightness at its darkest texture, times its tint
TINT_VALUE = 0.6                 # least HSV value (brightness) of an item's tint
TINT_CONTRAST = 120.0            # wanted RGB distance of the item from the background under it
STROKES = (1, 4)                 # how many distractor strokes (lines, arcs), least and most
STROKE_WIDTH = 3                 # their widest width, pixels


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
    """Draws STROKES random lines and arcs in random colours: distractors
    that are not items."""
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(STROKES[0], STROKES[1] + 1))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        width = int(rng.integers(1, STROKE_WIDTH + 1))
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
    # Pixels at or below ITEM_FLOOR are scanner speckle around the item: cleared.
    side = int(rng.integers(ITEM_MIN, ITEM_MAX + 1))
    item = np.where(item > ITEM_FLOOR, item, 0).astype(np.uint8)
    v = np.asarray(Image.fromarray(item, "L").resize((side, side), Image.BILINEAR))
    silhouette = Image.fromarray(np.where(item > 0, 255, 0).astype(np.uint8), "L")
    alpha = np.asarray(silhouette.resize((side, side), Image.BILINEAR), np.float32)
    ys, xs = np.nonzero(v)
    crop = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    v = v[crop].astype(np.float32)
    alpha = np.where(v > 0, alpha[crop] * (1.0 / 255.0), 0.0)
    h, w = v.shape
    x0 = int(rng.integers(0, CANVAS - w + 1))
    y0 = int(rng.integers(0, CANVAS - h + 1))

    # Tint: a random colour far enough from the background under the item.
    # The item is opaque (soft-edged silhouette); shading keeps its texture.
    region = np.asarray(canvas.crop((x0, y0, x0 + w, y0 + h)), np.float32)
    under = np.tensordot(alpha, region, 2) / max(float(alpha.sum()), 1.0)
    shade = SHADE_LO + (1.0 - SHADE_LO) * (v / max(float(v.max()), 1.0))
    mean_shade = float((alpha * shade).sum()) / max(float(alpha.sum()), 1.0)
    best, best_d = None, -1.0
    for _ in range(16):
        tint = 255.0 * np.array(colorsys.hsv_to_rgb(*rng.uniform((0, 0, TINT_VALUE), 1)))
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

def build_model(stem=(16,), stem_strides=(2,), entry=(32, 64), middle=2,
                exit_block=(128, 192), exit_width=256, blur=False, first_convs=2, weight_decay=0.0,
                size=CANVAS, name="fashion"):
    """A small Xception (Chollet 2017), the same three flows scaled down:

    entry   a conv stem, then residual blocks of two separable convolutions
            (BN, ReLU) and a 3x3 stride-2 max-pool, with a 1x1 stride-2
            convolution as the shortcut;
    middle  residual blocks of three ReLU-separable convolution-BN units;
    exit    one more such strided block (exit_block: its two widths), then a
            separable convolution, ReLU, global average pooling and a linear
            Dense(10): logits.

    Takes preprocessed pixels (x / 127.5 - 1, see export.xception_preprocess).
    size None builds a model for any input size (training on crops).
    """
    import tensorflow as tf
    L = tf.keras.layers
    reg = tf.keras.regularizers.L2(weight_decay) if weight_decay else None

    def bn(x):
        return L.BatchNormalization(momentum=0.9)(x)

    def sep(x, f):
        return L.SeparableConv2D(f, 3, padding="same", use_bias=False,
                                 depthwise_regularizer=reg, pointwise_regularizer=reg)(x)

    def strided_block(x, f1, f2, first, convs=2):
        shortcut = bn(L.Conv2D(f2, 1, strides=2, padding="same", use_bias=False,
                               kernel_regularizer=reg)(x))
        if not first:
            x = L.ReLU()(x)
        if convs == 2:
            x = L.ReLU()(bn(sep(x, f1)))
        x = bn(sep(x, f2))
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        return L.Add()([x, shortcut])

    inputs = tf.keras.Input((size, size, 3), name="images")
    x = inputs
    if blur:
        # Anti-aliasing before the strided stem (Zhang 2019, "Making
        # convolutional networks shift-invariant again"): a fixed binomial blur.
        k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, trainable=False,
                              depthwise_initializer=tf.keras.initializers.Constant(
                                  np.repeat(k[:, :, None, None], 3, axis=2)),
                              name="antialias")(x)
    for f, s in zip(stem, stem_strides):
        x = L.Conv2D(f, 3, strides=s, padding="same", use_bias=False, kernel_regularizer=reg)(x)
        x = L.ReLU()(bn(x))
    for i, f in enumerate(entry):
        x = strided_block(x, f, f, first=(i == 0), convs=first_convs if i == 0 else 2)
    for _ in range(middle):
        shortcut = x
        for _ in range(3):
            x = bn(sep(L.ReLU()(x), entry[-1]))
        x = L.Add()([x, shortcut])
    if exit_block:
        x = strided_block(x, exit_block[0], exit_block[1], first=False)
    # Named: Grad-CAM's layer (it feeds the pooling), so that the manifest's name
    # does not depend on Keras' name counters (training builds a model first).
    x = L.ReLU(name="exit_relu")(bn(sep(L.ReLU()(x), exit_width)))
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(len(CLASSES), kernel_regularizer=reg, name="logits")(x)
    return tf.keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------- training

# The recipe `train` follows; experiments pass overrides to train().
RECIPE = {
    "model": {"stem": [16], "stem_strides": [2], "entry": [32, 64], "middle": 2,
              "exit_block": [128, 192], "exit_width": 256, "blur": True},
    "train_composites": 20000,   # generated once from the train split, seed --seed
    "steps": 1200,               # SGD steps of batch_size composites
    "batch_size": 64,
    "learning_rate": 0.2,        # SGD, Nesterov momentum 0.9: linear warm-up, cosine decay
    "warmup_steps": 60,
    "momentum": 0.9,
    "l2": 0.0,                   # L2 penalty on kernels
    "crop": 80,                  # the first crop_steps batches: crops that hold the item
    "crop_steps": 0,
    "permute": False,            # random permutations of the colour channels
    "flip": True,                # random horizontal flips (clothes are left-right symmetric)
    # Training only; the exported model is float32. "auto": bfloat16 mixed
    # precision where the CPU computes bfloat16 natively, float32 elsewhere
    # (emulated bfloat16 trains 4x slower than float32 on an AVX2-only CPU).
    "precision": "auto",
    "test_seed": 7,              # held-out composites of the t10k split
    "test_composites": 2000,
    "saliency_composites": 300,
}
RANDOM_SEED_OFFSET = 1000        # fashion-random is initialised with seed + this
WEIGHTS = "keras.weights.h5"     # the trained weights, kept beside the SavedModel


def _composites_job(args):
    return composites(*args)


class _Composites:
    """composites(split, seed, n) computed by worker processes, started at
    once; result() waits for them. Same arrays as composites() itself."""

    def __init__(self, split, seed, n, workers=2, data_dir=None):
        import multiprocessing
        bounds = np.linspace(0, n, 8 * workers + 1).astype(int)
        jobs = [(split, seed, int(b - a), int(a), data_dir)
                for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        # fork before TensorFlow starts threads: the workers only run numpy and Pillow.
        self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.pending = self.pool.map_async(_composites_job, jobs, chunksize=1)

    def result(self):
        parts = self.pending.get()
        self.pool.close()
        self.pool.join()
        return tuple(np.concatenate(p) for p in zip(*parts))


def preprocess(x):
    """The exported model's preprocessing: export.xception_preprocess."""
    return x / 127.5 - 1.0


def saliency_check(model, images, labels, boxes, batch=50):
    """Scores vanilla-gradient maps as `saliency eval` does, in Python.

    For each image: the gradient of its top-1 logit with respect to the raw
    pixels (tf.GradientTape), |.|, mean over channels, minus its minimum. Then
    the pointing game (the map's first maximum inside the box) and the energy in
    the box (the map's mass inside it / its total mass), whose mean is compared
    with the boxes' mean area share, a uniform map's score.
    """
    import tensorflow as tf
    hits, energy, share, top1 = [], [], [], []
    for a in range(0, len(images), batch):
        x = tf.constant(images[a:a + batch], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model(preprocess(x), training=False)
            top = tf.argmax(logits, axis=1, output_type=tf.int32)
            picked = tf.reduce_sum(tf.gather(logits, top, batch_dims=1))
        maps = np.abs(tape.gradient(picked, x).numpy()).mean(-1)
        maps -= maps.min((1, 2), keepdims=True)
        for k, m in enumerate(maps):
            x0, y0, x1, y1 = boxes[a + k]
            iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
            hits.append(bool(m.max() > 0 and x0 <= ix < x1 and y0 <= iy < y1))
            total = float(m.sum(dtype=np.float64))
            energy.append(float(m[y0:y1, x0:x1].sum(dtype=np.float64)) / total if total else 0.0)
            share.append((x1 - x0) * (y1 - y0) / m.size)
        top1.extend(top.numpy() == labels[a:a + batch])
    return {"composites": len(images),
            "pointing_game": round(float(np.mean(hits)), 4),
            "energy_in_box": round(float(np.mean(energy)), 4),
            "uniform_share": round(float(np.mean(share)), 4),
            "energy_ratio": round(float(np.mean(energy) / np.mean(share)), 3),
            "top1": round(float(np.mean(top1)), 4)}


_PERMUTATIONS = [list(p) for p in itertools.permutations(range(3))]


def _batches(rng, images, labels, boxes, batch_size, steps, flip, permute, crop=0, crop_steps=0):
    """Yields (images, labels) batches: epochs of random permutations, and
    random horizontal flips. The first crop_steps batches are crop x crop
    windows that hold the whole item, at random. Uses rng alone, in order."""
    order = np.empty(0, np.int64)
    for s in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(len(images))])
        idx, order = order[:batch_size], order[batch_size:]
        if s < crop_steps:
            b = boxes[idx]
            lo = np.maximum(0, b[:, 2:] - crop)
            hi = np.minimum(b[:, :2], CANVAS - crop)
            at = lo + (rng.random((batch_size, 2)) * (hi - lo + 1)).astype(np.int64)
            x = np.stack([images[i, y:y + crop, x:x + crop] for i, (x, y) in zip(idx, at)])
        else:
            x = images[idx]
        if flip:
            f = rng.random(batch_size) < 0.5
            x[f] = x[f][:, :, ::-1]
        if permute:
            # Tints and background colours are drawn symmetrically in R, G and B.
            p = rng.integers(len(_PERMUTATIONS), size=batch_size)
            x = np.stack([x[k][..., _PERMUTATIONS[p[k]]] for k in range(batch_size)])
        yield x, labels[idx]


def _prefetch(gen, depth=4):
    """Runs gen in a thread, depth items ahead (numpy copies release the GIL)."""
    import queue
    import threading
    q = queue.Queue(depth)
    done = object()

    def run():
        for item in gen:
            q.put(item)
        q.put(done)

    threading.Thread(target=run, daemon=True).start()
    while (item := q.get()) is not done:
        yield item


def source_hashes():
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    for name in ("fashion.py", "export.py", "classifiers.py"):
        with open(os.path.join(here, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def native_bfloat16():
    """Whether this CPU has bfloat16 arithmetic (AVX512-BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((l for l in f if l.startswith("flags")), "").split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def training_precision(precision):
    """The Keras policy to train with: 'auto' picks mixed_bfloat16 where the CPU
    has native bfloat16 and float32 elsewhere; other values are kept."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if native_bfloat16() else "float32"


def train(seed, out=None, random_out=None, recipe=None, log=print, data_dir=None):
    """Trains the demo model, checks it, and exports it (and its randomised
    twin) when out / random_out are given. Returns (model, report)."""
    t0 = time.time()
    r = dict(RECIPE, **(recipe or {}))
    train_data = _Composites("train", seed, r["train_composites"], data_dir=data_dir)
    test_data = _Composites("test", r["test_seed"], r["test_composites"], data_dir=data_dir)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    r["precision"] = training_precision(r["precision"])
    tf.keras.mixed_precision.set_global_policy(r["precision"])
    model = build_model(size=None, weight_decay=r["l2"], **r["model"])
    steps = r["steps"]
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        0.0, steps - r["warmup_steps"], warmup_target=r["learning_rate"],
        warmup_steps=r["warmup_steps"])
    optimizer = tf.keras.optimizers.SGD(schedule, momentum=r["momentum"], nesterov=True)
    xent = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(preprocess(tf.cast(x, tf.float32)), training=True), tf.float32)
            loss = xent(y, logits)
            total = loss + tf.add_n(model.losses) if model.losses else loss
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x_train, y_train, b_train = train_data.result()
    x_test, y_test, b_test = test_data.result()
    log(f"{len(x_train)} training and {len(x_test)} test composites after {time.time() - t0:.1f} s")
    t1 = time.time()
    rng = np.random.default_rng([seed, 2])
    losses = []
    batches = _prefetch(_batches(rng, x_train, y_train, b_train, r["batch_size"], steps,
                                 r["flip"], r["permute"], r["crop"], r["crop_steps"]))
    for i, (x, y) in enumerate(batches, 1):
        losses.append(float(step(x, y)))
        if i % 200 == 0 or i == steps:
            log(f"step {i}/{steps}: loss {np.mean(losses[-200:]):.3f}, {time.time() - t1:.0f} s")
    del x_train

    # The exported model: float32, fixed input size, the trained weights.
    tf.keras.mixed_precision.set_global_policy("float32")
    trained = build_model(**r["model"])
    trained.set_weights(model.get_weights())
    logits = np.concatenate([trained(preprocess(x_test[a:a + 250].astype(np.float32)),
                                     training=False).numpy()
                             for a in range(0, len(x_test), 250)])
    accuracy = float(np.mean(logits.argmax(1) == y_test))
    n_sal = r["saliency_composites"]
    saliency = saliency_check(trained, x_test[:n_sal], y_test[:n_sal], b_test[:n_sal])
    report = {
        "accuracy": {"test_composites": len(x_test), "split": "test", "seed": r["test_seed"],
                     "top1": round(accuracy, 4)},
        "saliency_check": dict(saliency, split="test", seed=r["test_seed"],
                               method="vanilla gradient of the top-1 logit, Python"),
        "training_seconds": None,
        "recipe": r,
        "source_sha256": source_hashes(),
        "final_loss": round(float(np.mean(losses[-100:])), 4),
        "test_logits_sha256": hashlib.sha256(logits.astype("<f4").tobytes()).hexdigest(),
    }

    report["training_seconds"] = round(time.time() - t0, 1)
    if out or random_out:
        export_models(trained, report, seed, out, random_out)
    return trained, report


def export_models(trained, report, seed, out=None, random_out=None):
    """Exports the trained model (with its weights file) to out and a freshly
    initialised twin to random_out."""
    import tensorflow as tf
    import export
    doc = "x / 127.5 - 1 (inside the graph)"
    recipe = report["recipe"]
    if out:
        export.export(trained, export.xception_preprocess, doc, CLASSES, None, out, {
            "name": "fashion", "architecture": "xception-style (models/fashion.py)",
            "weights": f"trained: seed {seed}", "seed": seed, "extra": report},
            write_extra=lambda d: trained.save_weights(os.path.join(d, WEIGHTS)))
    if random_out:
        rseed = seed + RANDOM_SEED_OFFSET
        tf.keras.utils.set_random_seed(rseed)
        fresh = build_model(**recipe["model"], name="fashion_random")
        export.export(fresh, export.xception_preprocess, doc, CLASSES, None, random_out, {
            "name": "fashion-random", "architecture": "xception-style (models/fashion.py)",
            "weights": f"random: seed {rseed}, not trained", "seed": rseed,
            "extra": {"source_sha256": report["source_sha256"], "recipe": recipe,
                      "trained_twin": {"name": "fashion", "seed": seed}}})


def reexport(seed, out, random_out):
    """Exports again from the weights kept in out, for when only export.py
    changed: the same trained model, new signatures or manifest."""
    with open(os.path.join(out, "saliency.json")) as f:
        manifest = json.load(f)
    report = {k: manifest[k] for k in ("accuracy", "saliency_check", "training_seconds", "recipe",
                                       "final_loss", "test_logits_sha256")}
    report["source_sha256"] = source_hashes()
    trained = build_model(**report["recipe"]["model"])
    trained.load_weights(os.path.join(out, WEIGHTS))
    export_models(trained, report, seed, out, random_out)



# ---------------------------------------------------------------- command line

def _state(out, random_out, seed):
    """'current' when out and random_out hold models this fashion.py and export.py
    made with seed; 'reexport' when only export.py changed since (the weights
    are kept); 'train' otherwise."""
    try:
        with open(os.path.join(out, "saliency.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return "train"
    made = manifest.get("source_sha256", {})
    now = source_hashes()
    if manifest.get("name") != "fashion" or manifest.get("seed") != seed or \
            made.get("fashion.py") != now["fashion.py"] or \
            not os.path.isfile(os.path.join(out, WEIGHTS)):
        return "train"
    if made == now and os.path.isfile(os.path.join(out, "saved_model.pb")) and \
            os.path.isfile(os.path.join(random_out, "saliency.json")):
        return "current"
    return "reexport"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("composites", help="write composites as PNGs and DIR/boxes.json")
    c.add_argument("--split", choices=sorted(SPLITS), required=True,
                   help="which Fashion-MNIST items to paste (train or t10k's)")
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--n", type=int, required=True, help="how many composites")
    c.add_argument("--out", required=True, help="folder to write them to (created if missing)")

    t = sub.add_parser("train", help="train, check and export the demo model")
    t.add_argument("--out", required=True, help="folder for the trained SavedModel")
    t.add_argument("--random-out", required=True,
                   help="folder for the same architecture, re-initialised and untrained")
    t.add_argument("--seed", type=int, default=1312, help="seed of data, initialisation and order")
    t.add_argument("--skip-if-current", action="store_true",
                   help="do nothing when --out holds a model of this source and seed")

    for p in (c, t):
        p.add_argument("--data-dir", default=None,
                       help=f"Fashion-MNIST's IDX files (default {DATA_DIR}, or $FASHION_MNIST_DIR)")
    args = parser.parse_args(argv)

    if args.command == "composites":
        if args.n < 0:
            parser.error("--n must be >= 0")
        t0 = time.time()
        names = write_composites(args.split, args.seed, args.n, args.out, args.data_dir)
        print(f"wrote {len(names)} composites and boxes.json to {args.out} "
              f"in {time.time() - t0:.1f} s")
        return

    if args.skip_if_current:
        state = _state(args.out, args.random_out, args.seed)
        if state == "current":
            print(f"{args.out} is current (seed {args.seed}, same source): not retrained")
            return
        if state == "reexport":
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            reexport(args.seed, args.out, args.random_out)
            print(f"export.py changed: exported {args.out} and {args.random_out} again "
                  f"from the trained weights")
            return
    t0 = time.time()
    _, report = train(args.seed, args.out, args.random_out, data_dir=args.data_dir)
    acc, sal = report["accuracy"], report["saliency_check"]
    print(f"test accuracy {acc['top1']:.4f} on {acc['test_composites']} held-out composites "
          f"(t10k items, seed {acc['seed']})")
    print(f"saliency on {sal['composites']} of them: pointing game {sal['pointing_game']:.3f}, "
          f"energy in box {sal['energy_in_box']:.3f} = {sal['energy_ratio']:.2f}x the uniform "
          f"{sal['uniform_share']:.3f}")
    print(f"training took {report['training_seconds']:.0f} s; "
          f"exported {args.out} and {args.random_out} after {time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
