"""Keras layers and the loss the families need beyond Keras itself.

FractionalMaxPooling2D (Graham, 2015) wraps `tf.nn.fractional_max_pool` with pseudo-random,
overlapping pooling regions. That op draws a *fixed* region pattern when given a non-zero seed
and an irreproducible one when given seed 0, so neither alone is "random per step yet
reproducible". The layer therefore keeps `patterns` region patterns, each from a seed derived from
the layer seed, and in training picks one per call with a Keras seed generator (reproducible under
`keras.utils.set_random_seed`). In inference it always uses pattern 0, so predictions are
deterministic and survive save/load.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.ops import gen_nn_ops

from ferbench.errors import FerbenchError


def fractional_output_size(size: int, ratio: float) -> int:
    """Spatial size after fractional pooling, as TensorFlow computes it: floor(size / ratio)."""
    return int(math.floor(size / ratio))


@keras.saving.register_keras_serializable(package="ferbench")
class FractionalMaxPooling2D(keras.layers.Layer):
    """Fractional max-pooling over height and width (channels-last), reduction `ratio` in (1, 2]."""

    def __init__(self, ratio: float = math.sqrt(2), seed: int | None = None, patterns: int = 16, **kwargs):
        super().__init__(**kwargs)
        if not 1.0 < float(ratio) <= 2.0:
            raise FerbenchError(f"fractional max-pooling ratio {ratio} is outside (1, 2]")
        if int(patterns) < 1:
            raise FerbenchError(f"fractional max-pooling needs at least 1 pattern, got {patterns}")
        self.ratio = float(ratio)
        self.patterns = int(patterns)
        # Drawn from numpy when not given, so keras.utils.set_random_seed makes it reproducible;
        # the drawn value is stored in the config, so a loaded model pools exactly as the saved one.
        self.seed = int(seed) if seed is not None else int(np.random.randint(1, 2**31 - 1))
        rng = np.random.default_rng(self.seed)
        self._op_seeds = [int(s) for s in rng.integers(1, 2**31 - 1, size=self.patterns)]
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        for axis in (1, 2):
            size = input_shape[axis]
            if size is not None and fractional_output_size(size, self.ratio) < 1:
                raise FerbenchError(
                    f"fractional max-pooling with ratio {self.ratio} cannot pool a spatial size of {size}"
                )
        super().build(input_shape)

    def _pool(self, inputs, op_seed: int):
        ratio = [1.0, self.ratio, self.ratio, 1.0]
        return tf.nn.fractional_max_pool(inputs, ratio, pseudo_random=True, overlapping=True, seed=op_seed)

    def call(self, inputs, training=None):
        if not training or self.patterns == 1:
            return self._pool(inputs, self._op_seeds[0])[0]
        pick = keras.random.randint((), 0, self.patterns, seed=self.seed_generator, dtype="int32")
        return self._random_pool(inputs, pick)

    def _random_pool(self, inputs, pick):
        # TF cannot differentiate through a switch_case over this op (its branches' saved
        # intermediates clash), so the gradient is given explicitly from the chosen regions.
        @tf.custom_gradient
        def pool(x):
            branches = [lambda s=s: self._pool(x, s) for s in self._op_seeds]
            out, rows, cols = tf.switch_case(pick, branches)

            def grad(dy):
                return gen_nn_ops.fractional_max_pool_grad(x, out, dy, rows, cols, overlapping=True)

            return out, grad

        out = pool(inputs)
        return tf.ensure_shape(out, self.compute_output_shape(inputs.shape))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        size = lambda n: None if n is None else fractional_output_size(n, self.ratio)  # noqa: E731
        return (batch, size(height), size(width), channels)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "seed": self.seed, "patterns": self.patterns}


@keras.saving.register_keras_serializable(package="ferbench")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy with label smoothing for integer labels: Keras's sparse loss has no
    smoothing, and one-hot labels would change every family's pipeline. The target puts
    1 - smoothing + smoothing / K on the true class and smoothing / K on each other class."""

    def __init__(self, smoothing: float = 0.1, name: str = "sparse_smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        ops = keras.ops
        labels = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.smoothing)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


@keras.saving.register_keras_serializable(package="ferbench")
class EveryOtherPixel(keras.layers.Layer):
    """x[:, ::2, ::2]: followed by a 1x1 conv, the same values as a 1x1 conv of stride 2. That
    conv's gradient corrupts memory in TensorFlow 2.21's oneDNN kernels (a crash within two
    steps, measured here); this pair trains without it (docs/fast_vgg.md)."""

    def call(self, x):
        return x[:, ::2, ::2, :]

    def compute_output_shape(self, input_shape):
        def half(side):
            return None if side is None else (side + 1) // 2

        return (input_shape[0], half(input_shape[1]), half(input_shape[2]), input_shape[3])
