"""The synthetic generator: deterministic, well-formed, balanced, learnable but not trivial."""

import numpy as np
import pytest

from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS
from ferbench.protocols import default_protocol, parse_protocol


def test_deterministic_for_a_seed():
    a, b, c = generate(300, seed=5), generate(300, seed=5), generate(300, seed=6)
    assert np.array_equal(a.images, b.images)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.subjects, b.subjects)
    assert np.array_equal(a.splits, b.splits)
    assert a.fingerprint == b.fingerprint
    assert not np.array_equal(a.images, c.images)
    assert a.fingerprint != c.fingerprint


def test_chunked_rendering_matches_any_size():
    # more images than one render chunk: still deterministic and well formed
    data = generate(700, seed=1, n_subjects=10)
    assert data.images.shape == (700, 48, 48)
    assert np.array_equal(data.images, generate(700, seed=1, n_subjects=10).images)


def test_shape_dtype_and_metadata():
    data = generate(140, seed=0, n_subjects=7, image_size=32)
    assert data.images.shape == (140, 32, 32)
    assert data.images.dtype == np.uint8
    assert data.name == "synthetic" and data.is_synthetic
    assert data.variant == "n140-s0-j7-px32"
    assert generate(70, seed=3).variant == "n70-s3"
    assert data.class_names == EMOTIONS
    # real pictures, not blank frames: every image has contrast
    assert (data.images.reshape(140, -1).std(axis=1) > 10).all()


def test_subjects_and_class_balance():
    data = generate(350, seed=2, n_subjects=12)
    assert len(np.unique(data.subjects)) == 12
    counts = np.bincount(data.labels, minlength=7)
    assert counts.max() - counts.min() <= 1
    assert len(np.unique(generate(5, seed=0).subjects)) == 5  # fewer images than subjects
    per_subject = np.unique(data.subjects, return_counts=True)[1]
    assert per_subject.max() - per_subject.min() <= 1


def test_official_split_is_by_subject():
    data = generate(400, seed=0, n_subjects=20)
    assert set(np.unique(data.splits)) == {"train", "val", "test"}
    sides = {s: set(data.subjects[data.splits == s]) for s in ("train", "val", "test")}
    assert not sides["train"] & sides["test"] and not sides["val"] & sides["test"]
    assert not sides["train"] & sides["val"]
    assert default_protocol(data) == "official"
    fold = parse_protocol("official").folds(data)[0]
    assert len(fold.train) and len(fold.val) and len(fold.test)
    assert generate(20, seed=0, n_subjects=2).splits is None


def test_expressions_change_the_face_not_only_the_label():
    # a quick linear probe tells happy from surprise on unseen images; with shuffled labels
    # the same probe is at chance
    from sklearn.linear_model import LogisticRegression

    data = generate(1400, seed=0)
    pick = np.flatnonzero(np.isin(data.labels, [EMOTIONS.index("happy"), EMOTIONS.index("surprise")]))
    x = data.images[pick].reshape(len(pick), 24, 2, 24, 2).mean(axis=(2, 4)).reshape(len(pick), -1)
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    y = data.labels[pick]
    half = len(pick) // 2

    def probe(labels):
        model = LogisticRegression(C=0.01, max_iter=300).fit(x[:half], labels[:half])
        return model.score(x[half:], labels[half:])

    assert probe(y) > 0.75
    assert probe(np.random.default_rng(0).permutation(y)) < 0.65


@pytest.mark.parametrize(
    "kwargs,match",
    [({"n_images": 0}, "n_images"), ({"n_subjects": 0}, "n_subjects"), ({"image_size": 8}, "image_size")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(FerbenchError, match=match):
        generate(**kwargs)


@pytest.mark.slow
def test_linear_model_is_well_below_a_small_cnn():
    import keras
    from sklearn.linear_model import LogisticRegression

    data = generate(2000, seed=0)
    train, test = np.arange(1500), np.arange(1500, 2000)
    x = data.images.reshape(len(data), -1).astype(np.float32) / 255
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-3
    linear = LogisticRegression(C=0.001, max_iter=200).fit((x[train] - mean) / std, data.labels[train])
    linear_acc = linear.score((x[test] - mean) / std, data.labels[test])
    assert 0.3 < linear_acc < 0.8, linear_acc  # learnable, far from trivial

    keras.utils.set_random_seed(0)
    cnn = keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(7, activation="softmax"),
        ]
    )
    cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cnn.fit(data.images[train][..., None], data.labels[train], epochs=8, batch_size=32, verbose=0)
    cnn_acc = cnn.evaluate(data.images[test][..., None], data.labels[test], verbose=0)[1]
    assert cnn_acc > linear_acc + 0.08, (cnn_acc, linear_acc)
