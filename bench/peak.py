"""The machine's float32 peak as measured, beside the nominal one bench.py
computes from the clock and the vector units (turbo clocks make the nominal
figure an underestimate on many machines):

  peak.py   prints {"sgemm_gflops": ..., "tf_matmul_gflops": ...}

sgemm: NumPy's matmul of two 4096x4096 float32 matrices (OpenBLAS, tuned per
CPU: the best a GEMM reaches here); tf_matmul: the same product as a
TensorFlow MatMul in a TF1 session (fed placeholders, so nothing is folded
away), the best TensorFlow's own kernels reach. Each is the best of 5 runs
after one warm-up, 2 x 4096^3 FLOP a run.
"""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

N = 4096


def best_gflops(run, runs=5):
    run()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 2 * N**3 / min(times) / 1e9


def main():
    rng = np.random.default_rng(0)
    a = rng.random((N, N), dtype=np.float32)
    b = rng.random((N, N), dtype=np.float32)
    out = {"sgemm_gflops": round(best_gflops(lambda: a @ b), 1)}
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    pa = tf.compat.v1.placeholder(tf.float32, [N, N])
    pb = tf.compat.v1.placeholder(tf.float32, [N, N])
    total = tf.reduce_sum(tf.matmul(pa, pb))
    with tf.compat.v1.Session() as sess:
        out["tf_matmul_gflops"] = round(best_gflops(lambda: sess.run(total, {pa: a, pb: b})), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
