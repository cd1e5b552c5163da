"""Compute measures the training scripts share: a model's FLOPs and this CPU's matmul peak.

FLOPs are counted by TensorFlow's profiler on the model's frozen inference graph for one image
(multiply and add counted as two); a training step is taken as 3x the forward pass (forward,
input gradients, weight gradients), the usual estimate.
"""

from __future__ import annotations

import time

NOMINAL_PEAK_GFLOPS = 157.0  # 2 Zen 3 cores x 2 FMA pipes x 8 fp32 lanes x 2 flops x ~2.45 GHz
TRAINING_FACTOR = 3


def forward_flops(model) -> int:
    """FLOPs of one image's forward pass through `model` (inference mode)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.autograph.experimental.do_not_convert
    def forward(images):
        return model(images, training=False)

    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    frozen = convert_variables_to_constants_v2(tf.function(forward).get_concrete_function(spec))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops)


def matmul_peak_gflops(n: int = 2048, seconds: float = 5.0) -> float:
    """fp32 GFLOP/s of repeated n x n matmuls with TensorFlow's threads: what this CPU delivers
    on the friendliest kernel, a practical peak to compare a training run with."""
    import tensorflow as tf

    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    product = tf.function(lambda: tf.matmul(a, b))
    product().numpy()  # warm-up: tracing and the kernel's first run
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        product().numpy()
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9
