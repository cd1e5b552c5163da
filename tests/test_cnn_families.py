"""The four CNN families build the architectures of their papers; KerasFamily trains reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ferbench.data.dataset import FaceDataset  # noqa: E402
from ferbench.errors import FerbenchError  # noqa: E402
from ferbench.families.baseline_cnn import BaselineCNN  # noqa: E402
from ferbench.families.deeper_cnn import DeeperCNN  # noqa: E402
from ferbench.families.five_layer_cnn import FiveLayerCNN  # noqa: E402
from ferbench.families.nishime_cnn import NishimeCNN  # noqa: E402
from ferbench.layers import FractionalMaxPooling2D  # noqa: E402


def network(family, n_classes=7):
    inputs = keras.Input(family.input_shape)
    return keras.Model(inputs, family.network(inputs, n_classes))


def of_type(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_five_layer_cnn_is_table_1():
    model = network(FiveLayerCNN())
    convs = of_type(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [64, 64, 64, 128, 128]
    assert all(c.kernel_size == (3, 3) and c.strides == (1, 1) and c.padding == "same" for c in convs)
    assert all(isinstance(c.kernel_initializer, keras.initializers.HeNormal) for c in convs)
    assert len(of_type(model, keras.layers.BatchNormalization)) == 6  # 5 conv + FC-512
    pools = of_type(model, keras.layers.MaxPooling2D)
    assert [p.pool_size for p in pools] == [(2, 2), (2, 2)] and all(p.strides == (2, 2) for p in pools)
    assert len(of_type(model, keras.layers.Dropout)) == 3
    assert [d.units for d in of_type(model, keras.layers.Dense)] == [512, 7]
    assert model.output_shape == (None, 7)
    assert model.layers[-1].activation.__name__ == "softmax"
    assert convs[0].kernel_regularizer is not None  # l2 default > 0
    assert FiveLayerCNN(filters=8).params["filters"] == 8
    assert [c.filters for c in of_type(network(FiveLayerCNN(filters=8)), keras.layers.Conv2D)][-1] == 16


def test_deeper_cnn_is_table_2():
    model = network(DeeperCNN(n=1, m=2, filt1=32, filt2=64))
    convs = of_type(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [32, 32, 32, 64, 64, 64, 64]  # seven conv layers, the paper's best
    assert len(of_type(model, keras.layers.MaxPooling2D)) == 3
    assert [d.units for d in of_type(model, keras.layers.Dense)] == [512, 256, 128, 7]
    assert len(of_type(model, keras.layers.BatchNormalization)) == 7 + 3

    deeper = network(DeeperCNN(n=2, m=1, kernel_size=5, pooling="fractional"))
    convs = of_type(deeper, keras.layers.Conv2D)
    assert len(convs) == 1 + 2 * 2 + 2 and all(c.kernel_size == (5, 5) for c in convs)
    pools = of_type(deeper, FractionalMaxPooling2D)
    assert len(pools) == 3 and not of_type(deeper, keras.layers.MaxPooling2D)
    assert pools[-1].output.shape[1] == 16  # 48 -> 33 -> 23 -> 16 with ratio 1.414


def test_deeper_cnn_with_five_layer_shape_matches_table_1_convs():
    convs = of_type(network(DeeperCNN(n=1, m=1, filt1=64, filt2=128)), keras.layers.Conv2D)
    assert [c.filters for c in convs] == [64, 64, 64, 128, 128]


def test_deeper_cnn_refuses_more_poolings_than_the_input_allows():
    with pytest.raises(FerbenchError, match="poolings"):
        DeeperCNN(n=3, m=3)  # 6 max-poolings of a 48-pixel side
    DeeperCNN(n=3, m=3, pooling="fractional")  # 48 / 1.414^6 still leaves pixels


def test_baseline_is_one_conv_one_dense_unregularised():
    model = network(BaselineCNN())
    assert len(of_type(model, keras.layers.Conv2D)) == 1
    assert [d.units for d in of_type(model, keras.layers.Dense)] == [7]
    for kind in (keras.layers.BatchNormalization, keras.layers.Dropout, keras.layers.MaxPooling2D):
        assert not of_type(model, kind)
    assert all(getattr(layer, "kernel_regularizer", None) is None for layer in model.layers)
    assert BaselineCNN().params["augment"] is False


def test_nishime_is_lenet_style_after_gcn_zca():
    assert NishimeCNN.preprocessing[-2:] == ("gcn", "zca")
    model = network(NishimeCNN())
    shapes = [
        layer.output.shape[1]
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D))
    ]
    assert shapes == [44, 22, 18, 9]
    assert [d.units for d in of_type(model, keras.layers.Dense)] == [500, 7]
    assert "assum" in NishimeCNN.notes.lower()


def test_nishime_defaults_and_preprocessing_constants():
    defaults = NishimeCNN().params
    assert defaults["early_stopping"] is False and defaults["augment"] is True
    assert (defaults["optimizer"], defaults["zca_epsilon"], defaults["gcn_scale"]) == ("adam", 1e-6, 1.0)
    images = np.random.default_rng(0).integers(0, 256, (30, 20, 20), dtype=np.uint8)
    family = NishimeCNN(**{**NishimeCNN.test_params, "gcn_scale": 2.0, "zca_epsilon": 0.1, "optimizer": "sgd"})
    model = family.build_model(images, 7)
    assert [layer.name for layer in model.layers[1:6]] == ["aug_shift", "aug_flip", "resize", "gcn", "zca"]
    assert model.get_layer("gcn").scale == 2.0 and model.get_layer("zca").epsilon == 0.1
    assert isinstance(model.optimizer, keras.optimizers.SGD)


def tiny(n=28, size=20, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    return FaceDataset(images, labels, name="tiny")


def test_fit_is_reproducible_given_the_seed():
    data = tiny()
    train, test = data.part(np.arange(21)), data.part(np.arange(21, 28))
    params = {**BaselineCNN.test_params, "augment": True}
    a = BaselineCNN(**params).fit(train, epochs=2, seed=3).predict_proba(test)
    b = BaselineCNN(**params).fit(train, epochs=2, seed=3).predict_proba(test)
    c = BaselineCNN(**params).fit(train, epochs=2, seed=4).predict_proba(test)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a, c)


def test_bad_epochs_and_unfitted_predict_raise():
    data = tiny(n=14)
    with pytest.raises(FerbenchError, match="epochs"):
        BaselineCNN(**BaselineCNN.test_params).fit(data.part(), epochs=0)
    with pytest.raises(FerbenchError, match="not fitted"):
        BaselineCNN().predict_proba(data.part())


def test_batches_stay_uint8_until_cast_per_batch(monkeypatch):
    import tensorflow as tf

    from ferbench.families._keras_training import epoch_order

    held = []
    original = tf.constant
    monkeypatch.setattr(tf, "constant", lambda value, *a, **k: held.append(value) or original(value, *a, **k))
    data = tiny(n=10)
    batches = BaselineCNN()._pipeline(data.part(), 4, labels=True)
    assert held[0].dtype == np.uint8 and held[0].shape == (10, 20, 20, 1)  # no float copy
    ds = batches(epoch_order(0, 0, 10))
    assert len(held) == 2  # the arrays became tensors once, not once per epoch
    shapes = [x.shape for x, _ in ds]
    assert shapes == [(4, 20, 20, 1), (4, 20, 20, 1), (2, 20, 20, 1)]
    x, y = next(iter(ds))
    assert x.dtype.name == "float32" and y.dtype.name == "int64"

    def firsts(dataset):
        return np.concatenate([x.numpy()[:, 0, 0, 0] for x, _ in dataset])

    # every image once per epoch, with its own label, in an order that only (seed, epoch) decide
    first = firsts(ds)
    np.testing.assert_array_equal(np.sort(first), np.sort(data.images[:, 0, 0].astype(np.float32)))
    np.testing.assert_array_equal(firsts(batches(epoch_order(0, 0, 10))), first)  # e.g. in a resumed fit
    assert not np.array_equal(firsts(batches(epoch_order(0, 1, 10))), first)  # reshuffled each epoch
    assert not np.array_equal(firsts(batches(epoch_order(1, 0, 10))), first)
    pairs = {(float(img[0, 0, 0]), int(lab)) for x, y in ds for img, lab in zip(x.numpy(), y.numpy(), strict=True)}
    assert pairs == {(float(img[0, 0]), int(lab)) for img, lab in zip(data.images, data.labels, strict=True)}


def test_augmentation_layers_only_when_asked():
    data = tiny(n=14)
    on = BaselineCNN(augment=True).build_model(data.images, 7)
    off = BaselineCNN(augment=False).build_model(data.images, 7)
    random_layers = lambda m: [layer for layer in m.layers if type(layer).__name__.startswith("Random")]  # noqa: E731
    assert random_layers(on) and not random_layers(off)


def test_the_papers_preprocessing_chains_are_built_as_declared():
    for family, steps in ((FiveLayerCNN(), ["resize", "feature_mean"]), (NishimeCNN(), ["resize", "gcn", "zca"])):
        model = family.build_model(tiny(n=14).images, 7)
        names = [layer.name for layer in model.layers]
        assert [n for n in names if n in steps] == steps
        assert "per_image_standardize" not in names
