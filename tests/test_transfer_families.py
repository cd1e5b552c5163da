"""Every transfer family fits, predicts, saves and loads with its tiny offline test_params
(the shared contract test skips pretrained families when ImageNet weights are absent)."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError
from ferbench.families import registry

MINE = [
    "vgg19_pca_svm",
    "cnn_features_pca_svm",
    "resnet50_head",
    "vgg16_finetune",
    "vggface_finetune",
    "transfer_vgg16",
    "transfer_resnet50",
    "transfer_xception",
    "transfer_inception",
    "mini_xception",
]


@pytest.fixture(scope="module")
def dataset():
    return generate(n_images=42, seed=0, n_subjects=6, image_size=24)


@pytest.mark.parametrize("name", MINE)
def test_fit_predict_save_load_offline(name, dataset, tmp_path):
    cls = registry.get(name)
    assert cls.uses_random_weights(cls.test_params)
    train, test = dataset.part(np.arange(0, 42, 2)), dataset.part(np.arange(1, 42, 2))
    family = cls(**cls.test_params).fit(train, None, epochs=1, seed=0)
    proba = family.predict_proba(test)
    assert proba.shape == (len(test), dataset.n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(family.predict_images(test.images), proba, atol=1e-5)
    family.save(tmp_path)
    np.testing.assert_allclose(cls.load(tmp_path).predict_proba(test), proba, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,size", [("vgg19_pca_svm", 16), ("transfer_xception", 64), ("transfer_inception", 71)])
def test_input_size_below_backbone_minimum(name, size):
    with pytest.raises(FerbenchError, match="below"):
        registry.get(name)(weights="none", input_size=size)


def test_vggface_without_weights_is_a_plain_error(dataset):
    cls = registry.get("vggface_finetune")
    with pytest.raises(FerbenchError, match="--weights PATH"):
        cls(input_size=32).fit(dataset.part(np.arange(14)), epochs=1)
    assert "--weights PATH" in cls.unavailable_reason()


def test_unknown_layer_names_the_layer(dataset):
    cls = registry.get("cnn_features_pca_svm")
    with pytest.raises(FerbenchError, match="no_such_layer"):
        cls(backbone="mini_xception", weights="none", layer="no_such_layer", n_components=3).fit(dataset.part())


def test_ravi_layer_outside_choices():
    with pytest.raises(FerbenchError, match="layer"):
        registry.get("vgg19_pca_svm")(layer="block9_pool")


def test_pca_size_beyond_training_part(dataset):
    cls = registry.get("vgg19_pca_svm")
    family = cls(weights="none", input_size=32, n_components=30)
    with pytest.raises(FerbenchError, match="n_components 30"):
        family.fit(dataset.part(np.arange(20)))
