"""KerasFamily: the shared machinery of every family that trains a Keras network by epochs.

The saved model is self-contained: its input is the raw image as float (H, W, C of the data set),
followed by the training-only augmentation layers, the family's fitted preprocessing steps
(`ferbench.preprocess`, fit on the training part only) and the family's network. So a loaded
`model.keras` takes raw images and nothing outside it must be remembered.

Images stay uint8 until they are batched: a tf.data pipeline orders and batches row numbers, then
gathers each batch's uint8 rows and casts them to float32, so no float copy of the data set exists.
The epoch loop, early stopping and checkpoints: ferbench.families._keras_training.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ferbench.data.dataset import Part
from ferbench.errors import FerbenchError
from ferbench.families._keras_training import PREDICT_BATCH
from ferbench.families.base import EpochCallback, Family, NativeModel
from ferbench.params import Bool, Float, Int, Param

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"


def common_params(*, augment: bool = True, batch_size: int = 128, learning_rate: float = 1e-3) -> dict[str, Param]:
    """The parameters every Keras family has; families choose the paper's defaults."""
    return {
        "learning_rate": Float(learning_rate, "optimizer step size", low=1e-5, high=1e-1, log=True),
        "batch_size": Int(batch_size, "images per training step", tune=False, low=1, high=4096),
        "augment": Bool(augment, "random shifts and horizontal flips while training"),
        "patience": Int(3, "epochs without validation gain before early stopping", tune=False, low=1, high=1000),
        "early_stopping": Bool(
            True,
            "stop when validation accuracy stalls and keep the best epoch's weights; "
            "off: the validation part only reports curves",
        ),
    }


class KerasFamily(Family):
    param_specs: ClassVar[dict[str, Param]] = common_params()
    default_protocol: ClassVar[str | None] = "official"
    epoch_checkpoints: ClassVar[bool] = True
    # Augmentation of the papers: random horizontal/vertical shifts and horizontal flips.
    augment_shift: ClassVar[float] = 0.1
    augment_rotation: ClassVar[float] = 0.0

    # --- learned state (set by fit and load) ---------------------------------------------------
    model_: keras.Model  # raw image in, class probabilities out
    class_names_: tuple[str, ...]

    # --- what a family defines -------------------------------------------------------------
    @abstractmethod
    def network(self, x, n_classes: int):
        """Keras functional graph from the preprocessed tensor `x` (self.input_shape) to softmax."""

    def optimizer(self):
        import keras

        return keras.optimizers.Adam(learning_rate=self.params["learning_rate"])

    def loss(self):
        """The training loss (sparse integer labels; ferbench.layers.SparseSmoothedCrossentropy
        adds label smoothing)."""
        return "sparse_categorical_crossentropy"

    def augmentation_layers(self) -> list:
        """The training-only random layers in front of the preprocessing (when `augment` is on)."""
        from ferbench import preprocess

        return preprocess.augmentation(shift=self.augment_shift, flip=True, rotation=self.augment_rotation)

    def regularizer(self):
        """L2 weight penalty from the `l2` parameter when the family has one (None at 0)."""
        import keras

        l2 = self.params.get("l2", 0.0)
        return keras.regularizers.L2(l2) if l2 else None

    # --- building ----------------------------------------------------------------------------
    @staticmethod
    def _raw_shape(images: np.ndarray) -> tuple[int, int, int]:
        if images.ndim == 3:
            return (*images.shape[1:], 1)
        if images.ndim == 4 and images.shape[-1] in (1, 3):
            return tuple(images.shape[1:])
        raise FerbenchError(f"images of shape {images.shape[1:]} are neither grey (H, W) nor colour (H, W, 3)")

    def build_model(self, train_images: np.ndarray, n_classes: int):
        """The whole model: raw float image -> augmentation -> fitted preprocessing -> network."""
        import keras

        from ferbench import preprocess

        raw_shape = self._raw_shape(train_images)
        inputs = keras.Input(shape=raw_shape, name="image")
        x = inputs
        if self.params.get("augment"):
            for layer in self.augmentation_layers():
                x = layer(x)
        for layer in preprocess.build_steps(self.preprocessing, train_images, self.input_shape):
            x = layer(x)
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise FerbenchError(
                f"family {self.name}: preprocessing gives {tuple(x.shape[1:])}, the network needs "
                f"{tuple(self.input_shape)} (images {raw_shape})"
            )
        outputs = self.network(x, n_classes)
        model = keras.Model(inputs, outputs, name=self.name)
        model.compile(optimizer=self.optimizer(), loss=self.loss(), metrics=["accuracy"])
        return model

    # --- data --------------------------------------------------------------------------------
    def _pipeline(self, part: Part, batch_size: int, *, labels: bool):
        """A function order -> batched tf.data pipeline over `part`'s rows in that order (stored
        order for None). The uint8 arrays become tensors once, however many epochs ask."""
        import tensorflow as tf

        images = part.images  # uint8 rows of this part only: the one copy the pipeline holds
        if images.ndim == 3:
            images = images[..., None]
        images = tf.constant(images)
        targets = tf.constant(part.labels)

        # tf.data's autotuner held every pass over the data ~3.1 s past its last batch here (a
        # 3,072-image epoch: 10.2 s against 7.1 s); with it off, AUTOTUNE means one fixed setting
        options = tf.data.Options()
        options.autotune.enabled = False

        def gather(rows):
            batch = tf.cast(tf.gather(images, rows), tf.float32)
            return (batch, tf.gather(targets, rows)) if labels else batch

        def batches(order: np.ndarray | None = None):
            # Row numbers, not images, are ordered and batched: gathering a batch then casting
            # keeps uint8 until here and no second copy of the part exists.
            rows = (
                tf.data.Dataset.range(len(part))
                if order is None
                else tf.data.Dataset.from_tensor_slices(np.asarray(order, dtype=np.int64))
            )
            pipeline = rows.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            return pipeline.prefetch(tf.data.AUTOTUNE).with_options(options)

        return batches

    def _batches(self, part: Part, batch_size: int, *, labels: bool, order: np.ndarray | None = None):
        return self._pipeline(part, batch_size, labels=labels)(order)

    # --- learning ----------------------------------------------------------------------------
    def fit(
        self,
        train: Part,
        val: Part | None = None,
        *,
        epochs: int | None = None,
        seed: int = 0,
        callbacks: list[EpochCallback] | None = None,
        verbose: bool = False,
        checkpoint_dir: Path | None = None,
    ) -> KerasFamily:
        """One epoch after another over a (seed, epoch)-determined order, with early stopping
        unless `early_stopping` is off; with `checkpoint_dir`, a checkpoint after every epoch and
        a resumed fit when the directory holds one (ferbench.families._keras_training)."""
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        epochs = self.default_epochs if epochs is None else epochs
        if epochs is None or int(epochs) <= 0:
            raise FerbenchError(f"epochs must be a positive integer, got {epochs}")
        if len(train) == 0:
            raise FerbenchError(f"family {self.name}: the training part is empty")
        keras.utils.set_random_seed(seed)
        n_classes = train.dataset.n_classes
        self.classes_ = np.arange(n_classes)
        self.class_names_ = tuple(train.dataset.class_names)
        # the optimizer's schedule spans the whole fit, so it needs the step count before building
        self.total_steps_ = int(epochs) * -(-len(train) // int(self.params["batch_size"]))
        from ferbench.families import _keras_training  # looked up per call, so tests can wrap it

        _keras_training.fit_epochs(
            self,
            train,
            val,
            epochs=int(epochs),
            seed=seed,
            callbacks=callbacks,
            verbose=verbose,
            checkpoint_dir=checkpoint_dir,
            build=lambda: self.build_model(train.images, n_classes),
        )
        return self

    def predict_proba(self, part: Part) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise FerbenchError(f"family {self.name} is not fitted yet")
        if len(part) == 0:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        forward = self._inference_graph()
        proba = [forward(batch).numpy() for batch in self._batches(part, PREDICT_BATCH, labels=False)]
        return np.concatenate(proba).astype(np.float32, copy=False)

    def _inference_graph(self):
        """The model's forward pass as one graph for any batch size, traced once per model.
        `model.predict` traces again for each new batch shape (a part's smaller last batch; the
        test, val and sample parts of one run), so a study's or a grid's many fresh models traced
        several graphs each."""
        import tensorflow as tf

        cached = getattr(self, "_inference", None)
        if cached is None or cached[0] is not self.model_:
            model = self.model_
            flip_average = bool(self.params.get("tta"))

            def forward(images):
                proba = model(images, training=False)
                if flip_average:  # test-time augmentation: the mean over the image and its mirror
                    proba = (proba + model(tf.reverse(images, axis=[2]), training=False)) / 2
                return proba

            spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
            graph = tf.function(forward).get_concrete_function(spec)
            cached = self._inference = (model, graph)
        return cached[1]

    # --- persistence -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        self.model_.save(Path(directory) / MODEL_FILE)
        self.save_info(directory, class_names=list(self.class_names_), history=dict(self.history_))

    def native_model(self) -> NativeModel:
        """The Keras model without its optimizer state (a third of the file with Adam): raw uint8
        images in, probabilities out, since the preprocessing is layers inside it."""
        import keras

        if not hasattr(self, "model_"):
            raise FerbenchError(f"family {self.name} is not fitted yet")
        inference = keras.Model.from_config(self.model_.get_config())  # uncompiled: no optimizer
        inference.set_weights(self.model_.get_weights())
        shape = tuple(int(side) for side in self.model_.input_shape[1:])
        return NativeModel(
            "keras",
            inference,
            np.dtype(np.uint8),
            shape,
            {
                "input": f"raw uint8 images (N, {', '.join(map(str, shape))}); the preprocessing "
                f"({', '.join(self.preprocessing) or 'none'}) is layers inside the model",
                "output": "class probabilities (N, n_classes), in class_names order",
                "before_loading": "import ferbench.preprocess, ferbench.layers  # registers ferbench's Keras layers",
                **(
                    {"test_time_augmentation": "not inside: the pyfunc model averages each image with its mirror"}
                    if self.params.get("tta")
                    else {}
                ),
            },
        )

    @classmethod
    def load(cls, directory: Path) -> KerasFamily:
        import keras

        import ferbench.layers
        import ferbench.preprocess  # noqa: F401 - both register their custom layers for deserialisation

        family, info = cls.load_info(directory)
        family.model_ = keras.models.load_model(Path(directory) / MODEL_FILE)
        family.class_names_ = tuple(info["class_names"])
        family.history_ = info.get("history", {})
        return family
