"""Counts the floating-point work of one forward pass of an exported model, for
bench/scaling.py's share of the machine's peak.

  flops.py MODELDIR...   prints one JSON object: {MODELDIR: GFLOP per image}

TensorFlow's own profiler counts the float operations of the serving_default
signature's graph at batch 1 (a multiply-add is 2 FLOP), the same count for
every model, so that the shares of peak compare. The input gradient of a
convolution costs about as much again: scaling.py counts 2x this per unit.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def forward_gflop(folder):
    with open(os.path.join(folder, "saliency.json")) as f:
        inp = json.load(f)["input"]
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(folder)
    fn = loaded.signatures["serving_default"]
    spec = tf.TensorSpec([1, inp["height"], inp["width"], inp["channels"]], tf.float32)
    name = list(fn.structured_input_signature[1].keys())[0]
    # Frozen, the signature's function calls are inlined, so the profiler,
    # which does not descend into functions, sees every operation.
    frozen = convert_variables_to_constants_v2(tf.function(lambda x: fn(**{name: x})).get_concrete_function(spec))
    graph = frozen.graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    prof = tf.compat.v1.profiler.profile(graph, options=opts)
    return prof.total_float_ops / 1e9


if __name__ == "__main__":
    print(json.dumps({d: round(forward_gflop(d), 3) for d in sys.argv[1:]}))
