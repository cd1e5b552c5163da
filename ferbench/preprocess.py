"""Named preprocessing steps as Keras layers, so a saved .keras model is self-contained.

Steps (inputs are (B, H, W, C) images, uint8 or float; outputs float32):
  scale01                x / 255
  per_image_standardize  per image: (x - mean) / max(std, 1/sqrt(n_pixels)) (TensorFlow's rule)
  gcn                    global contrast normalisation per image (Nishime): scale * (x - mean) /
                         max(epsilon, sqrt(bias + var)); bias=0 makes it plain standardisation
  dataset_standardize    one mean and std over all training pixels                       [fitted]
  feature_mean           per-pixel mean subtraction and division by per-pixel std
                         (Raghuvanshi's feature-wise normalisation)                     [fitted]
  zca                    ZCA whitening: mean vector and whitening matrix of the training
                         images, epsilon-regularised; flattened size at most ZCA_MAX_DIM   [fitted]
  grey_to_rgb            repeat a grey channel three times (ImageNet backbones)
  resize                 bilinear resize to the family's input height and width

Fitted steps learn their statistics with `fit(images)` on training images only and keep them
as non-trainable weights; calling the layer never changes them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ferbench.errors import FerbenchError

# A D x D whitening matrix: 4096 (64x64 grey) is 64 MB in float32 and an eigh of a few seconds;
# 12,288 (64x64x3) would be 600 MB and many minutes on this CPU.
ZCA_MAX_DIM = 4096
FIT_BATCH = 1024  # images pushed through earlier steps at once while fitting (bounds memory)


def _float(x):
    return ops.cast(x, "float32")


@keras.saving.register_keras_serializable(package="ferbench")
class Scale01(keras.layers.Layer):
    def call(self, x):
        return _float(x) / 255.0


@keras.saving.register_keras_serializable(package="ferbench")
class PerImageStandardize(keras.layers.Layer):
    def call(self, x):
        x = _float(x)
        n = float(np.prod(x.shape[1:]))
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) / ops.maximum(std, float(1.0 / np.sqrt(n)))


@keras.saving.register_keras_serializable(package="ferbench")
class GCN(keras.layers.Layer):
    def __init__(self, scale=1.0, bias=0.0, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.bias, self.epsilon = float(scale), float(bias), float(epsilon)

    def call(self, x):
        x = _float(x)
        centred = x - ops.mean(x, axis=(1, 2, 3), keepdims=True)
        norm = ops.sqrt(self.bias + ops.mean(ops.square(centred), axis=(1, 2, 3), keepdims=True))
        return self.scale * centred / ops.maximum(norm, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "bias": self.bias, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ferbench")
class GreyToRGB(keras.layers.Layer):
    def call(self, x):
        x = _float(x)
        return ops.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


@keras.saving.register_keras_serializable(package="ferbench")
class Resize(keras.layers.Layer):
    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, x):
        x = _float(x)
        if tuple(x.shape[1:3]) == (self.height, self.width):
            return x
        return ops.image.resize(x, (self.height, self.width), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class FittedStep(keras.layers.Layer):
    """A step whose statistics come from training images: accumulate over batches, then finish."""

    def fit(self, images, batch_size: int = FIT_BATCH):
        images = as_nhwc(images)
        self.begin()
        for start in range(0, len(images), batch_size):
            self.accumulate(images[start : start + batch_size])
        return self.finish(images.shape[1:])

    def begin(self):
        self._n, self._sums = 0, None

    def accumulate(self, batch):
        batch = np.asarray(batch, dtype=np.float64)
        parts = self._moments(batch.reshape(len(batch), -1))
        self._sums = parts if self._sums is None else [a + b for a, b in zip(self._sums, parts, strict=True)]
        self._n += len(batch)

    def finish(self, image_shape):
        if not self._n:
            raise FerbenchError(f"preprocessing step {self.name}: no training images to fit on")
        if not self.built:
            self.build((None, *image_shape))
        for variable, value in zip(self.weights, self._statistics(self._n, *self._sums), strict=True):
            variable.assign(np.asarray(value, dtype=np.float32).reshape(variable.shape))
        return self

    def _state(self, name, shape):
        return self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False)


@keras.saving.register_keras_serializable(package="ferbench")
class DatasetStandardize(FittedStep):
    def build(self, input_shape):
        self.mean, self.std = self._state("mean", ()), self._state("std", ())

    def _moments(self, flat):
        return [flat.sum(), np.square(flat).sum(), flat.size]

    def _statistics(self, n, total, squares, count):
        mean = total / count
        return mean, max(np.sqrt(max(squares / count - mean**2, 0.0)), 1e-6)

    def call(self, x):
        return (_float(x) - self.mean) / self.std


@keras.saving.register_keras_serializable(package="ferbench")
class FeatureMean(FittedStep):
    def build(self, input_shape):
        self.mean = self._state("mean", tuple(input_shape[1:]))
        self.std = self._state("std", tuple(input_shape[1:]))

    def _moments(self, flat):
        return [flat.sum(axis=0), np.square(flat).sum(axis=0)]

    def _statistics(self, n, total, squares):
        mean = total / n
        return mean, np.maximum(np.sqrt(np.maximum(squares / n - mean**2, 0.0)), 1e-6)

    def call(self, x):
        return (_float(x) - self.mean) / self.std


@keras.saving.register_keras_serializable(package="ferbench")
class ZCA(FittedStep):
    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = int(np.prod(input_shape[1:]))
        if dim > ZCA_MAX_DIM:
            raise FerbenchError(
                f"zca: flattened image size {dim} ({'x'.join(map(str, input_shape[1:]))}) exceeds "
                f"{ZCA_MAX_DIM}; resize smaller before zca"
            )
        self.mean, self.whiten = self._state("mean", (dim,)), self._state("whiten", (dim, dim))

    def begin(self):
        super().begin()
        self._shift = None  # centre on the first batch's mean for a numerically stable X^T X
        self._rows = []  # kept while there are fewer images than pixels: see _low_rank

    def _moments(self, flat):
        if flat.shape[1] > ZCA_MAX_DIM:  # refuse before building a huge D x D matrix
            self.build((None, flat.shape[1]))
        if self._shift is None:
            self._shift = flat.mean(axis=0)
        centred = flat - self._shift
        if self._rows is not None:
            self._rows.append(centred)
            if sum(len(r) for r in self._rows) >= flat.shape[1]:
                self._rows = None
        return [centred.sum(axis=0), centred.T @ centred]

    def _statistics(self, n, total, outer):
        mean = total / n
        if self._rows is not None:
            return mean + self._shift, self._low_rank(np.concatenate(self._rows) - mean)
        cov = (outer - n * np.outer(mean, mean)) / max(n - 1, 1)
        values, vectors = np.linalg.eigh(cov)
        whiten = (vectors / np.sqrt(np.maximum(values, 0.0) + self.epsilon)) @ vectors.T
        return mean + self._shift, whiten

    def _low_rank(self, centred):
        """The same whitening matrix from the n x n Gram matrix when n < D: the covariance has
        rank < n, its null space is scaled by 1/sqrt(epsilon) exactly as the full eigh would.
        O(n^2 D + n D^2) instead of O(D^3): seconds become milliseconds on small data sets."""
        n, dim = centred.shape
        values, vectors = np.linalg.eigh(centred @ centred.T / max(n - 1, 1))
        keep = values > values.max() * 1e-12
        values, vectors = values[keep], vectors[:, keep]
        basis = centred.T @ vectors / np.sqrt(values * max(n - 1, 1))  # D x r, orthonormal columns
        gains = 1.0 / np.sqrt(values + self.epsilon) - 1.0 / np.sqrt(self.epsilon)
        return (basis * gains) @ basis.T + np.eye(dim) / np.sqrt(self.epsilon)

    def call(self, x):
        x = _float(x)
        flat = ops.reshape(x, (-1, self.mean.shape[0])) - self.mean
        return ops.reshape(ops.matmul(flat, self.whiten), ops.shape(x))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


STEPS = {
    "scale01": lambda shape: Scale01(name="scale01"),
    "per_image_standardize": lambda shape: PerImageStandardize(name="per_image_standardize"),
    "dataset_standardize": lambda shape: DatasetStandardize(name="dataset_standardize"),
    "gcn": lambda shape: GCN(name="gcn"),
    "zca": lambda shape: ZCA(name="zca"),
    "feature_mean": lambda shape: FeatureMean(name="feature_mean"),
    "grey_to_rgb": lambda shape: GreyToRGB(name="grey_to_rgb"),
    "resize": lambda shape: Resize(shape[0], shape[1], name="resize"),
}


def _make_step(name: str, input_shape):
    """A step from its name."""
    if name not in STEPS:
        raise FerbenchError(f"unknown preprocessing step {name!r}; known: {', '.join(STEPS)}")
    return STEPS[name](input_shape)


def as_nhwc(images) -> np.ndarray:
    """(N, H, W) grey or (N, H, W, C) -> (N, H, W, C)."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images[..., None]
    if images.ndim != 4:
        raise FerbenchError(f"preprocessing needs images shaped (N, H, W[, C]), got {images.shape}")
    return images


def build_steps(names, train_images, input_shape) -> list[keras.layers.Layer]:
    """The named steps in order, each fitted on the training images passed through the steps
    before it (in batches of FIT_BATCH). `input_shape` is the family's (H, W, C)."""
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise FerbenchError(f"unknown preprocessing step(s) {unknown}; known: {', '.join(STEPS)}")
    images = as_nhwc(train_images)
    steps: list[keras.layers.Layer] = []
    for name in names:
        step = _make_step(name, tuple(input_shape))
        if isinstance(step, FittedStep):
            step.begin()
            shape = None
            for start in range(0, len(images), FIT_BATCH):
                batch = images[start : start + FIT_BATCH]
                for earlier in steps:
                    batch = earlier(batch)
                batch = ops.convert_to_numpy(_float(batch))
                shape = batch.shape[1:]
                step.accumulate(batch)
            if shape is None:
                raise FerbenchError(f"preprocessing step {name}: no training images to fit on")
            step.finish(shape)
        steps.append(step)
    return steps


def augmentation(shift=0.1, flip=True, rotation=0.05, seed=None) -> list[keras.layers.Layer]:
    """Keras random layers that act only in training (identity at inference)."""
    layers = []
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed, name="aug_shift"))
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed, name="aug_flip"))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="nearest", seed=seed, name="aug_rotation"))
    return layers
