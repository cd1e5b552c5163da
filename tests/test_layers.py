"""FractionalMaxPooling2D: TF's output size, stochastic but seed-reproducible training,
deterministic inference, gradients, and a save/load round trip."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from ferbench.errors import FerbenchError  # noqa: E402
from ferbench.layers import FractionalMaxPooling2D, fractional_output_size  # noqa: E402

X = np.random.default_rng(0).random((2, 20, 20, 3)).astype("float32")


@pytest.mark.parametrize("size,ratio", [(48, 1.414), (33, 1.414), (20, 1.5), (7, 2.0), (2, 1.414)])
def test_output_size_is_floor_of_input_over_ratio(size, ratio):
    layer = FractionalMaxPooling2D(ratio=ratio, seed=3)
    out = layer(np.zeros((1, size, size, 2), "float32"), training=True)
    expected = int(np.floor(size / ratio))
    assert fractional_output_size(size, ratio) == expected
    assert tuple(out.shape) == (1, expected, expected, 2)
    assert layer.compute_output_shape((None, size, size, 2)) == (None, expected, expected, 2)


def test_too_small_input_and_bad_ratio_raise():
    with pytest.raises(FerbenchError, match="cannot pool"):
        FractionalMaxPooling2D(seed=1)(np.zeros((1, 1, 1, 1), "float32"))
    with pytest.raises(FerbenchError, match="ratio"):
        FractionalMaxPooling2D(ratio=2.5)


def test_training_is_stochastic_and_reproducible_given_seed():
    def outputs(seed, calls=6):
        keras.utils.set_random_seed(0)
        layer = FractionalMaxPooling2D(seed=seed)
        return [np.asarray(layer(X, training=True)) for _ in range(calls)]

    a, b, other = outputs(5), outputs(5), outputs(6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)  # same seed: same sequence of pooling patterns
    assert len({x.tobytes() for x in a}) > 1  # training varies its pooling regions
    assert any(not np.array_equal(x, y) for x, y in zip(a, other, strict=True))  # another seed, other regions


def test_inference_is_deterministic():
    layer = FractionalMaxPooling2D(seed=11)
    first = np.asarray(layer(X, training=False))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(layer(X, training=False)), first)


def test_gradients_flow():
    layer = FractionalMaxPooling2D(seed=2)
    x = tf.Variable(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True))
    grad = tape.gradient(loss, x)
    assert grad is not None and float(tf.reduce_sum(grad)) > 0


def test_explicit_gradient_matches_tensorflows_own():
    layer = FractionalMaxPooling2D(seed=4, patterns=3)
    layer.build(X.shape)
    x = tf.Variable(X)
    weights = tf.constant(np.random.default_rng(1).random((2, 14, 14, 3)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        ours = tf.reduce_sum(layer._random_pool(x, tf.constant(2)) * weights)
        native = tf.reduce_sum(layer._pool(x, layer._op_seeds[2])[0] * weights)
    np.testing.assert_allclose(float(ours), float(native))
    np.testing.assert_allclose(tape.gradient(ours, x), tape.gradient(native, x), rtol=1e-6)


def test_model_with_layer_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = FractionalMaxPooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(X, np.array([0, 1]), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    pool = [layer for layer in loaded.layers if isinstance(layer, FractionalMaxPooling2D)][0]
    assert pool.get_config()["seed"] == model.layers[2].get_config()["seed"]
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
