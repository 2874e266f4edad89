"""Benchmark peer: keras-explainable's ke.gradients, written the way its docs show
(docs/methods/saliency/gradients.rst): predict the logits, take the top-K units,
then `logits, maps = ke.gradients(model, x, units, batch_size=B)` on the whole array.

ke.gradients is Gradient Backprop through GradientTape.batch_jacobian, |.|, mean over
channels, min-max per map (filters.normalize), no resizing; the maps come back as
[N, 299, 299, K] and are resized to each image here, as the other peers do.

It is a Keras 2 library, so this runs on tf-keras (bench.py sets TF_USE_LEGACY_KERAS=1
and passes the .h5 model). --impl ke imports keras_explainable (its source must be on
PYTHONPATH; it is not on PyPI, and the benchmark never copies it) through ke_compat,
which answers its `keras` and old keras.engine.* imports with tf-keras's tf_keras and
tf_keras.src.* at run time.
--impl faithful runs ke_faithful.gradients instead: the same semantics written
from keras-explainable's documentation, for a machine without its source.
"""

import os
import sys
import time

STARTED = time.monotonic()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402


def count_pfor_fallbacks():
    """Counts pfor's 'Using a while_loop for converting OP' messages, which TensorFlow
    logs at DEBUG level (invisible by default), without printing any other log."""
    import logging
    from collections import Counter

    import tensorflow as tf

    counts = Counter()

    def count(record):
        msg = record.getMessage()
        if msg.startswith("Using a while_loop for converting "):
            counts[msg.split()[5]] += 1
        return record.levelno >= logging.WARNING  # what was shown before stays shown

    logger = tf.get_logger()
    logger.addFilter(count)
    logger.setLevel(logging.DEBUG)
    return counts


def main():
    impl = "ke"
    if "--impl" in sys.argv:
        i = sys.argv.index("--impl")
        impl = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    args = common.parse_args(__doc__.split("\n\n")[0])
    import numpy as np

    if impl == "ke":
        import ke_compat
        ke_compat.install()
        import keras_explainable as ke
        gradients = lambda m, x, y, b: ke.gradients(m, x, y, batch_size=b, verbose=0)  # noqa: E731
    elif impl == "faithful":
        import ke_faithful
        gradients = ke_faithful.gradients
    else:
        sys.exit(f"peer_ke.py: --impl {impl}: want ke or faithful")

    fallbacks = count_pfor_fallbacks()
    model = common.load_model(args.model)
    paths, sizes, arrays = [], [], []
    for chunk, chunk_sizes, x in common.read_batches(args.images, args.batch_size):
        paths += chunk
        sizes += chunk_sizes
        arrays.append(x)
    x = np.concatenate(arrays)
    logits = model.predict(x, batch_size=args.batch_size, verbose=0)
    units = np.argsort(-logits, axis=-1, kind="stable")[:, :args.top_k].astype("int32")
    _, maps = gradients(model, x, units, args.batch_size)
    maps = np.asarray(maps)  # [N, 299, 299, K], already min-max normalised
    for i, path in enumerate(paths):
        for r in range(args.top_k):
            common.write_map(args.out, path, sizes[i], int(units[i, r]), args.top_k,
                             maps[i, :, :, r], args.raw)
    print("pfor while_loop fallback: " + (", ".join(f"{op} x{n}" for op, n in fallbacks.items())
                                          or "none"), file=sys.stderr)
    common.done(STARTED, len(paths))


if __name__ == "__main__":
    main()
