"""A study builds a fresh Keras model per trial and rung: each model's prediction graph is traced
once, for every batch size, so TensorFlow never warns about tf.function retracing."""

from __future__ import annotations

import logging

import numpy as np

from ferbench.data import synthetic
from ferbench.families import registry
from ferbench.families._base_keras import PREDICT_BATCH


def _fresh_model(data, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    family = registry.get("baseline_cnn")(augment=False)
    family.model_ = family.build_model(data.images, data.n_classes)
    family.classes_ = np.arange(data.n_classes)
    return family


def test_one_graph_per_model_for_every_batch_size_and_the_same_probabilities_as_keras():
    data = synthetic.generate(PREDICT_BATCH + 44, image_size=48)
    family = _fresh_model(data, 0)
    small = family.predict_proba(data.part(np.arange(5)))
    graph = family._inference[1]
    every = family.predict_proba(data.part())  # a full batch, then a smaller last one
    assert family._inference[1] is graph
    assert graph.structured_input_signature[0][0].shape.as_list() == [None, 48, 48, 1]
    expected = family.model_.predict(data.images[..., None].astype(np.float32), verbose=0)
    assert every.shape == (len(data), data.n_classes) and every.dtype == np.float32
    assert np.allclose(every, expected, atol=1e-6) and np.allclose(small, expected[:5], atol=1e-6)
    family.model_ = _fresh_model(data, 1).model_  # a refit replaces the model: a new graph
    family.predict_proba(data.part(np.arange(3)))
    assert family._inference[1] is not graph


def test_fresh_models_predicting_once_each_log_no_retracing_warning(caplog):
    data = synthetic.generate(40, image_size=48)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(6):  # five tracing calls in a row are what TensorFlow warns about
            proba = _fresh_model(data, seed).predict_proba(data.part(np.arange(seed + 3)))
            assert proba.shape == (seed + 3, data.n_classes)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_an_empty_part_needs_no_graph():
    data = synthetic.generate(10, image_size=48)
    family = _fresh_model(data, 0)
    assert family.predict_proba(data.part(np.arange(0))).shape == (0, data.n_classes)
    assert not hasattr(family, "_inference")
