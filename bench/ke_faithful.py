"""keras-explainable's `ke.gradients`, written for the benchmark from its documented
semantics (not from its code), for machines without its source: peer_ke.py
--impl faithful uses it, and the table says so.

Documented behaviour reproduced here:
  - explain() batches the inputs (batch_size) and runs each batch through one
    tf.function (reduce_retracing=True), in inference mode;
  - gradients(): under a GradientTape watching the inputs, logits = model(x) and the
    requested units are gathered per sample (tf.gather(..., batch_dims=-1)); the
    saliency is tape.batch_jacobian(selected logits, inputs), shape
    [B, K, H, W, C], then |.| and the mean over channels, transposed to [B, H, W, K];
  - ke.gradients post-processes with filters.normalize: per map, subtract the
    spatial minimum and divide by the spatial maximum (divide_no_nan); no resizing.
"""

import numpy as np
import tensorflow as tf


def _explain_fn(model):
    @tf.function(reduce_retracing=True)
    def step(x, units):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            logits = model(x, training=False)
            logits = tf.gather(logits, units, axis=-1, batch_dims=1)
        maps = tape.batch_jacobian(logits, x)           # [B, K, H, W, C]
        maps = tf.reduce_mean(tf.abs(maps), axis=-1)     # [B, K, H, W]
        maps = tf.transpose(maps, [0, 2, 3, 1])          # [B, H, W, K]
        maps -= tf.reduce_min(maps, axis=(1, 2), keepdims=True)
        maps = tf.math.divide_no_nan(maps, tf.reduce_max(maps, axis=(1, 2), keepdims=True))
        return logits, maps

    return step


def gradients(model, x, units, batch_size=32):
    """(logits [N, K], maps [N, H, W, K]) for inputs x [N, H, W, C] and units [N, K]."""
    step = _explain_fn(model)
    logits, maps = [], []
    for i in range(0, len(x), batch_size):
        lo, ma = step(tf.constant(x[i:i + batch_size]), tf.constant(units[i:i + batch_size]))
        logits.append(lo.numpy())
        maps.append(ma.numpy())
    return np.concatenate(logits), np.concatenate(maps)
