"""Benchmark peer: Google PAIR's `saliency` package, saliency.core.GradientSaliency,
with a call_model_function written the way its README shows (an eager
GradientTape around the Keras model, the target class passed in call_model_args,
gradients returned as a NumPy array under INPUT_OUTPUT_GRADIENTS).

GetMask explains one image and one class per call (it adds the batch axis itself),
so the images are read and their top-K units found in batches, then GetMask runs
once per image and unit. Like for like with the Go CLI, the mask is reduced with
the channel mean of |g| and min-max normalised by the shared code, instead of
saliency.VisualizeImageGrayscale (sum of |g| over channels, clipped at the 99th
percentile), which the README uses for display.

saliency.core imports no Keras; the model is called only in call_model_function,
so this runs on TensorFlow 2.21's own Keras 3 (bench.py passes the .keras model).
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
    import numpy as np
    import saliency.core as saliency
    import tensorflow as tf

    model = common.load_model(args.model)
    class_idx_str = "class_idx_str"

    def call_model_function(images, call_model_args=None, expected_keys=None):
        target_class_idx = call_model_args[class_idx_str]
        images = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            if expected_keys == [saliency.base.INPUT_OUTPUT_GRADIENTS]:
                tape.watch(images)
                output_layer = model(images)
                output_layer = output_layer[:, target_class_idx]
                gradients = np.array(tape.gradient(output_layer, images))
                return {saliency.base.INPUT_OUTPUT_GRADIENTS: gradients}
            raise ValueError(f"unexpected keys {expected_keys}")

    gradient_saliency = saliency.GradientSaliency()
    n = 0
    for paths, sizes, x in common.read_batches(args.images, args.batch_size):
        units = common.top_k(model, x, args.top_k)
        for i, path in enumerate(paths):
            for r in range(args.top_k):
                unit = int(units[i, r])
                mask_3d = gradient_saliency.GetMask(x[i], call_model_function,
                                                    {class_idx_str: unit})
                m = common.channel_mean_normalise(mask_3d)
                common.write_map(args.out, path, sizes[i], unit, args.top_k, m, args.raw)
        n += len(paths)
    common.done(STARTED, n)


if __name__ == "__main__":
    main()
