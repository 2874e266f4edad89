"""Benchmark peer: tf-keras-vis's Saliency (vanilla gradients), the way its README
shows: `saliency = Saliency(model, clone=False)`, then one call per batch with a
CategoricalScore of the units to explain. For K units an image, it is called once
per rank r = 0..K-1 with each image's r-th unit (Saliency explains one score per
input), so K forward and backward passes a batch, as the API allows.

Like for like with the Go CLI: Saliency's default reduces channels with max of |g|
(keepdims=False) and normalises per map; here it is called with keepdims=True and
normalize_map=False (its gradient_modifier stays the default abs), and the channel
mean of |g| is min-max normalised by the shared code, as keras-explainable and the
Go CLI do.

It runs on tf-keras (Keras 2: bench.py sets TF_USE_LEGACY_KERAS=1 and passes the .h5
model): 0.8.7, the last release on PyPI, was written for tf.keras = Keras 2. Its
Saliency also runs on Keras 3 (BENCH_KERAS2=ke).
"""

import os
import sys
import time

STARTED = time.monotonic()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402


def main():
    args = common.parse_args(__doc__.split("\n\n")[0])
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    model = common.load_model(args.model)
    saliency = Saliency(model, clone=False)
    n = 0
    for paths, sizes, x in common.read_batches(args.images, args.batch_size):
        units = common.top_k(model, x, args.top_k)
        for r in range(args.top_k):
            score = CategoricalScore(units[:, r].tolist())
            grads = saliency(score, x, keepdims=True, normalize_map=False)  # |g|, [B, H, W, 3]
            maps = common.channel_mean_normalise(grads)
            for i, path in enumerate(paths):
                common.write_map(args.out, path, sizes[i], int(units[i, r]), args.top_k,
                                 maps[i], args.raw)
        n += len(paths)
    common.done(STARTED, n)


if __name__ == "__main__":
    main()
