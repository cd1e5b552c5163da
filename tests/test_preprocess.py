"""Preprocessing steps: outputs, training-only statistics, save/load, augmentation."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ferbench import preprocess  # noqa: E402
from ferbench.data.synthetic import generate  # noqa: E402
from ferbench.errors import FerbenchError  # noqa: E402

RNG = np.random.default_rng(0)
TRAIN = RNG.integers(0, 256, (400, 6, 6), dtype=np.uint8)
OTHER = (RNG.integers(0, 128, (50, 6, 6)) + 100).astype(np.uint8)  # a different distribution


def run(steps, images):
    x = preprocess.as_nhwc(images)
    for step in steps:
        x = step(x)
    return keras.ops.convert_to_numpy(x)


def correlated(n, dim, seed=1):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(dim, dim))
    x = rng.normal(size=(n, dim)) @ mix * 20 + 128
    return np.clip(x, 0, 255).astype(np.uint8)


def test_stateless_steps():
    assert np.allclose(run([preprocess.Scale01()], TRAIN), TRAIN[..., None] / 255.0)
    out = run([preprocess.PerImageStandardize()], TRAIN).reshape(len(TRAIN), -1)
    assert np.allclose(out.mean(axis=1), 0, atol=1e-4) and np.allclose(out.std(axis=1), 1, atol=1e-3)
    gcn = run(preprocess.build_steps(["gcn"], TRAIN, (6, 6, 1)), TRAIN).reshape(len(TRAIN), -1)
    assert np.allclose(gcn.mean(axis=1), 0, atol=1e-4)
    assert np.allclose(np.sqrt((gcn**2).mean(axis=1)), 1, atol=1e-3)
    flat = np.full((2, 6, 6), 7, np.uint8)  # a constant image must not blow up
    assert np.isfinite(run([preprocess.GCN()], flat)).all()
    assert np.isfinite(run([preprocess.PerImageStandardize()], flat)).all()
    rgb = run(preprocess.build_steps(["grey_to_rgb"], TRAIN, (6, 6, 3)), TRAIN[:3])
    assert rgb.shape == (3, 6, 6, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    big = run(preprocess.build_steps(["resize"], TRAIN, (12, 10, 1)), TRAIN[:3])
    assert big.shape == (3, 12, 10, 1)


def test_dataset_standardize_and_feature_mean_fit_training_statistics():
    ds, fm = preprocess.build_steps(["dataset_standardize", "feature_mean"], TRAIN, (6, 6, 1))
    x = TRAIN.astype(np.float64)
    assert np.isclose(float(ds.mean.numpy()), x.mean(), rtol=1e-5)
    assert np.isclose(float(ds.std.numpy()), x.std(), rtol=1e-4)
    out = run([ds], TRAIN)
    assert abs(out.mean()) < 1e-3 and abs(out.std() - 1) < 1e-3
    # feature_mean was fitted on the output of dataset_standardize: per pixel mean 0 and std 1
    both = run([ds, fm], TRAIN)
    assert np.allclose(both.mean(axis=0), 0, atol=1e-4) and np.allclose(both.std(axis=0), 1, atol=1e-3)
    direct = run(preprocess.build_steps(["feature_mean"], TRAIN, (6, 6, 1)), TRAIN)
    assert np.allclose(direct.mean(axis=0), 0, atol=1e-3)


def test_zca_whitens_training_data():
    images = correlated(2000, 16).reshape(-1, 4, 4)
    (zca,) = preprocess.build_steps(["zca"], images, (4, 4, 1))
    out = run([zca], images).reshape(len(images), -1)
    assert np.abs(np.cov(out, rowvar=False) - np.eye(16)).max() < 0.02
    assert np.allclose(out.mean(axis=0), 0, atol=1e-3)
    whiten = zca.whiten.numpy()
    assert np.allclose(whiten, whiten.T, atol=1e-4)  # ZCA (not PCA) whitening is symmetric
    # after gcn every image sums to 0: whitening gives identity except along that direction
    steps = preprocess.build_steps(["gcn", "zca"], images, (4, 4, 1))
    cov = np.cov(run(steps, images).reshape(len(images), -1), rowvar=False)
    assert np.abs(cov - (np.eye(16) - 1 / 16)).max() < 0.02


def test_zca_low_rank_path_equals_full_eigendecomposition():
    """Fewer images than pixels takes the n x n Gram route; it must give the full eigh's matrix."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (40, 12, 12, 1)).astype(np.uint8)  # 40 images, 144 pixels
    low = preprocess.ZCA(name="zca_low").fit(images)
    full = preprocess.ZCA(name="zca_full")
    full.begin()
    full._rows = None  # force the moment-based full eigendecomposition
    full.accumulate(images)
    full.finish(images.shape[1:])
    w_low, w_full = low.whiten.numpy(), full.whiten.numpy()
    assert np.abs(w_low - w_full).max() <= 1e-4 * np.abs(w_full).max()
    np.testing.assert_allclose(low.mean.numpy(), full.mean.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["dataset_standardize", "feature_mean", "zca"])
def test_statistics_come_from_training_images_only(name):
    (step,) = preprocess.build_steps([name], TRAIN, (6, 6, 1))
    before = [w.numpy().copy() for w in step.weights]
    assert before and all(not w.trainable for w in step.weights)
    run([step], OTHER)
    step(preprocess.as_nhwc(OTHER), training=True)
    after = [w.numpy() for w in step.weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # and they differ from what fitting on everything would have given
    (everything,) = preprocess.build_steps([name], np.concatenate([TRAIN, OTHER]), (6, 6, 1))
    assert not np.allclose(everything.weights[0].numpy(), before[0])


def test_fit_accepts_uint8_directly_and_matches_build_steps():
    fitted = preprocess.FeatureMean().fit(TRAIN, batch_size=64)
    (built,) = preprocess.build_steps(["feature_mean"], TRAIN, (6, 6, 1))
    assert np.allclose(fitted.mean.numpy(), built.mean.numpy(), atol=1e-4)


def test_bad_inputs():
    with pytest.raises(FerbenchError, match="unknown preprocessing step"):
        preprocess.build_steps(["scale01", "sharpen"], TRAIN, (6, 6, 1))
    with pytest.raises(FerbenchError, match="exceeds 4096"):
        preprocess.build_steps(["zca"], np.zeros((3, 65, 65), np.uint8), (65, 65, 1))
    with pytest.raises(FerbenchError, match="no training images"):
        preprocess.build_steps(["feature_mean"], np.zeros((0, 6, 6), np.uint8), (6, 6, 1))
    with pytest.raises(FerbenchError, match="shaped"):
        preprocess.as_nhwc(np.zeros((6, 6), np.uint8))


def test_saved_model_reloads_with_fitted_steps(tmp_path):
    images = correlated(300, 36).reshape(-1, 6, 6)
    names = ["resize", "scale01", "gcn", "dataset_standardize", "feature_mean", "zca", "grey_to_rgb"]
    inputs = keras.Input((6, 6, 1))
    x = inputs
    for layer in preprocess.augmentation(seed=1):
        x = layer(x)
    for layer in preprocess.build_steps(names, images, (8, 8, 3)):
        x = layer(x)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    sample = preprocess.as_nhwc(images[:16]).astype("float32")
    assert np.allclose(model.predict(sample, verbose=0), loaded.predict(sample, verbose=0), atol=1e-5)
    for name in ("dataset_standardize", "feature_mean", "zca"):
        for a, b in zip(model.get_layer(name).weights, loaded.get_layer(name).weights, strict=True):
            assert np.array_equal(a.numpy(), b.numpy())
    assert float(np.abs(loaded.get_layer("zca").whiten.numpy()).sum()) > 0


def test_augmentation_only_in_training():
    layers = preprocess.augmentation(shift=0.2, flip=True, rotation=0.1, seed=3)
    assert [type(layer).__name__ for layer in layers] == ["RandomTranslation", "RandomFlip", "RandomRotation"]
    assert len(preprocess.augmentation(shift=0, flip=False, rotation=0.05)) == 1
    images = preprocess.as_nhwc(generate(8, seed=0).images).astype("float32")
    x_inf, x_train = images, images
    for layer in layers:
        x_inf = layer(x_inf, training=False)
        x_train = layer(x_train, training=True)
    assert np.array_equal(keras.ops.convert_to_numpy(x_inf), images)
    assert not np.allclose(keras.ops.convert_to_numpy(x_train), images)
