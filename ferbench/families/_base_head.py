"""HeadFamily: a pretrained backbone with a trained dense head (transfer and fine-tuning families).

With the backbone frozen (fine_tune_layers=0) and no augmentation, the head trains on cached,
globally pooled backbone features (one backbone pass per data set, ferbench.features), so epochs,
folds and trials never touch the backbone. Otherwise the whole stack trains on images, with the
top `fine_tune_layers` layers of the (possibly cut) backbone trainable ("all" = every layer).
Images are grey repeated to RGB, resized and passed through the backbone's preprocess_input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from ferbench.data.dataset import Part
from ferbench.errors import FerbenchError
from ferbench.families._keras_training import forwarding_callbacks
from ferbench.families.base import EpochCallback, Family
from ferbench.features.cache import feature_set
from ferbench.features.extract import prepare
from ferbench.params import Bool, Float, Int
from ferbench.weights import backbone, build, check_input_size, missing_imagenet_message, weights_param


def head_params(*, lr=1e-3, batch=64, weight_decay=0.0, units=(), dropout=0.0, size=224, tune_layers=0) -> dict:
    return {
        "weights": weights_param(),
        "input_size": Int(size, "network input side in pixels", tune=False, low=1, high=2048),
        "learning_rate": Float(lr, "Adam step size", low=1e-5, high=1e-1, log=True),
        "weight_decay": Float(
            weight_decay,
            "L2 penalty on head kernels (PyTorch-style Adam weight_decay)",
            low=0.0,
            high=0.1,
            log=True,
            search=(1e-6, 0.1),
        ),
        "batch_size": Int(batch, "images per step", tune=False, low=1, high=4096),
        "units": Int(units[0] if units else 0, "units of each hidden dense layer (0: none)", low=0, high=4096),
        "hidden_layers": Int(len(units), "hidden dense layers in the head", tune=False, low=0, high=4),
        "dropout": Float(dropout, "dropout before each dense layer", low=0.0, high=0.9),
        "fine_tune_layers": Int(
            tune_layers, "top backbone layers trained (0: frozen, -1: all)", tune=False, low=-1, high=1000
        ),
        "augment": Bool(False, "random shifts/flips while training (disables the feature cache)"),
    }


class HeadFamily(Family):
    backbone_name: ClassVar[str] = "resnet50"
    cut_layer: ClassVar[str] = ""  # last backbone layer kept ("" = the whole convolutional part)
    preprocessing = ("grey_to_rgb", "resize")
    default_epochs = 30
    quick_epochs = 3

    def __init__(self, **params: Any):
        super().__init__(**params)
        check_input_size(backbone(self.backbone_name), self.params["input_size"])

    @classmethod
    def check_input(cls, image_shape, params) -> None:
        spec = backbone(cls.backbone_name)
        check_input_size(spec, int(params.get("input_size") or spec.default_size))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if str(cls.params_spec()["weights"].default).lower() == "none":
            return None
        return missing_imagenet_message(cls.backbone_name)

    # --- pieces ------------------------------------------------------------------------------
    def _cut(self, model) -> str:
        return self.cut_layer or model.layers[-1].name

    def _feature_layer(self) -> str:
        return f"{self.cut_layer or backbone(self.backbone_name).last_conv}@gap"

    def _frozen(self) -> bool:
        return self.params["fine_tune_layers"] == 0 and not self.params["augment"]

    def _head(self, x, n_classes):
        import keras

        reg = keras.regularizers.L2(self.params["weight_decay"] / 2) if self.params["weight_decay"] else None
        for i in range(self.params["hidden_layers"] if self.params["units"] else 0):
            if self.params["dropout"]:
                x = keras.layers.Dropout(self.params["dropout"])(x)
            x = keras.layers.Dense(
                self.params["units"], activation="relu", kernel_regularizer=reg, name=f"head_fc{i + 1}"
            )(x)
        if self.params["dropout"]:
            x = keras.layers.Dropout(self.params["dropout"])(x)
        return keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="head_softmax")(x)

    def _build(self, n_classes, width=None):
        import keras

        keras.utils.set_random_seed(self._seed)
        if self._frozen():
            inputs = keras.Input((width,))
            model = keras.Model(inputs, self._head(inputs, n_classes))
        else:
            base = build(self.backbone_name, self.params["weights"], self.params["input_size"])
            cut = base.get_layer(self._cut(base)).output
            base = keras.Model(base.inputs, cut)
            n_train = self.params["fine_tune_layers"]
            for i, layer in enumerate(base.layers):
                layer.trainable = n_train < 0 or i >= len(base.layers) - n_train
            # augmentation, when on, happens on the uint8 batches (_image_batches)
            x = keras.layers.GlobalAveragePooling2D()(base.outputs[0])
            model = keras.Model(base.inputs, self._head(x, n_classes))
        model.compile(
            optimizer=keras.optimizers.Adam(self.params["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def _inputs(self, part: Part, *, training=False, seed=0):
        if self._frozen():
            fs = feature_set(part.dataset, self.backbone_name, self.params["weights"], self.params["input_size"])
            return np.asarray(fs.features(self._feature_layer())[part.index], dtype=np.float32)
        return _image_batches(self, part, training=training, seed=seed)

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
    ) -> Self:
        epochs = int(self.default_epochs if epochs is None else epochs)
        if epochs < 1:
            raise FerbenchError(f"epochs must be a positive integer, got {epochs}")
        self._seed = seed
        n_classes = train.dataset.n_classes
        x = self._inputs(train, training=True, seed=seed)
        self.model_ = self._build(n_classes, x.shape[1] if self._frozen() else None)
        extra = forwarding_callbacks(callbacks, self.params["batch_size"], len(train), epochs=True)
        validation = None
        if val is not None and len(val):
            validation = (self._inputs(val), val.labels) if self._frozen() else _image_batches(self, val, labels=True)
        if self._frozen():
            history = self.model_.fit(
                x,
                train.labels,
                batch_size=self.params["batch_size"],
                epochs=epochs,
                validation_data=validation,
                callbacks=extra,
                verbose=0,
                shuffle=True,
            )
        else:
            history = self.model_.fit(x, epochs=epochs, validation_data=validation, callbacks=extra, verbose=0)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.classes_ = np.arange(n_classes)
        return self

    def predict_proba(self, part: Part) -> np.ndarray:
        self.check_fitted()
        proba = self.model_.predict(self._inputs(part), verbose=0, batch_size=256)
        proba = np.asarray(proba, dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        self.model_.save(Path(directory) / "head.keras")
        self.save_info(directory)

    @classmethod
    def load(cls, directory: Path) -> HeadFamily:
        import keras

        family, _ = cls.load_info(directory)
        family.model_ = keras.models.load_model(Path(directory) / "head.keras", compile=False)
        return family


def _image_batches(family: HeadFamily, part: Part, *, training=False, seed=0, labels=None):
    import keras

    spec, size, batch = backbone(family.backbone_name), family.params["input_size"], family.params["batch_size"]
    rng = np.random.default_rng(seed)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return max(1, -(-len(part) // batch))

        def __getitem__(self, i):
            rows = part.index[i * batch : (i + 1) * batch]
            images = part.dataset.images[rows]
            if training and family.params["augment"]:
                images = _augment(images, rng)
            x = prepare(spec, images, size)
            return (x, part.dataset.labels[rows]) if (training or labels) else x

    return Batches()


def _augment(images: np.ndarray, rng) -> np.ndarray:
    """Random horizontal flips and shifts up to 10% (on uint8 images, before resizing)."""
    out = images.copy()
    for i in range(len(out)):
        if rng.random() < 0.5:
            out[i] = out[i][:, ::-1]
        dy, dx = rng.integers(-1, 2, 2) * np.array(out.shape[1:3]) // 10
        out[i] = np.roll(out[i], (dy, dx), axis=(0, 1))
    return out
