"""What every Python peer of the benchmark shares, so that they differ only in how
they get the gradient: the command line, reading images, choosing units, turning a
|gradient| channel mean into a PNG, and the Keras model.

Every peer does the whole job in its own process, the way a user's script would:
import TensorFlow, load the Keras model, read each image from disk (Keras'
load_img, bilinear to 299x299), pick the top-K logits, compute the maps, resize each
map back to its image's size (tf.image.resize, bilinear, as the Go CLI does) and
write one 8-bit grayscale PNG per image and unit, named by the rule the README
states (`saliency explain`, Outputs) for the default method: STEM.saliency.png
for K = 1, STEM.saliency.UNIT.png for K > 1.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE = 299


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="the Keras model file written by prepare.py")
    p.add_argument("--top-k", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--raw", action="store_true",
                   help="also write STEM.UNIT.npy: the normalised 299x299 map before resizing")
    p.add_argument("images", nargs="+")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def load_model(path):
    import tensorflow as tf

    return tf.keras.models.load_model(path, compile=False)


def read_batches(paths, batch_size):
    """Yields (paths, sizes, float32 array [B, 299, 299, 3] 0..255) per batch."""
    import numpy as np
    import tensorflow as tf

    for i in range(0, len(paths), batch_size):
        chunk = paths[i:i + batch_size]
        sizes, arrays = [], []
        for path in chunk:
            img = tf.keras.utils.load_img(path)  # RGB, EXIF not applied (Keras' own reader)
            sizes.append((img.height, img.width))
            img = img.resize((SIZE, SIZE), resample=2)  # PIL.Image.BILINEAR
            arrays.append(tf.keras.utils.img_to_array(img, dtype="float32"))
        yield chunk, sizes, np.stack(arrays)


def top_k(model, x, k):
    """The K highest logits of each image (ties: lower index first), as int32 [B, K]."""
    import numpy as np

    logits = model(x, training=False).numpy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    return order[:, :k].astype("int32")


def channel_mean_normalise(grads):
    """|g| averaged over channels, then min-max per map: [..., H, W, C] -> [..., H, W]."""
    import numpy as np

    m = np.abs(grads).mean(axis=-1)
    lo = m.min(axis=(-2, -1), keepdims=True)
    m = m - lo
    hi = m.max(axis=(-2, -1), keepdims=True)
    return np.divide(m, hi, out=np.zeros_like(m), where=hi > 0)


def map_name(out, path, unit, k):
    stem = os.path.splitext(os.path.basename(path))[0]
    if k == 1:
        return os.path.join(out, stem + ".saliency.png")
    return os.path.join(out, f"{stem}.saliency.{unit}.png")


def write_map(out, path, size, unit, k, m, raw=False):
    """Resizes the normalised 299x299 map m to size (h, w) and writes it as a PNG,
    through a temporary file and a rename, so that a file that exists is complete."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    if raw:
        stem = os.path.splitext(os.path.basename(path))[0]
        np.save(os.path.join(out, f"{stem}.{unit}.npy"), m.astype("float32"))
    big = tf.image.resize(m[..., None], size, method="bilinear").numpy()[..., 0]
    pixels = np.round(np.clip(big, 0.0, 1.0) * 255.0).astype("uint8")
    name = map_name(out, path, unit, k)
    tmp = os.path.join(out, "." + os.path.basename(name) + ".tmp")
    Image.fromarray(pixels).save(tmp, format="PNG")
    os.replace(tmp, name)


def done(started, n):
    print(f"{os.path.basename(sys.argv[0])}: {n} images in {time.monotonic() - started:.2f}s",
          file=sys.stderr)
