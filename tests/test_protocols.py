"""Invariants of every protocol: disjoint parts, coverage, subjects kept apart, strata, seeds."""

import numpy as np
import pytest

from ferbench.data.dataset import FaceDataset
from ferbench.errors import FerbenchError
from ferbench.protocols import default_protocol, parse_protocol


def make_data(n_per_class=(12, 10, 11, 14, 10, 13, 10), n_subjects=10, splits=None, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
    rng.shuffle(labels)
    n = len(labels)
    subjects = np.array([f"S{i % n_subjects:03d}" for i in range(n)]) if n_subjects else None
    images = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    return FaceDataset(images, labels, subjects=subjects, splits=splits, name="tiny")


def official_splits(n, parts=("train", "val", "test"), seed=1):
    rng = np.random.default_rng(seed)
    weights = {3: [0.7, 0.15, 0.15], 2: [0.8, 0.2]}[len(parts)]
    return rng.choice(np.array(parts), size=n, p=weights)


DATA = make_data()
DATA_SPLIT = make_data(splits=official_splits(len(DATA.labels)))
DATA_SFEW = make_data(splits=official_splits(len(DATA.labels), ("train", "val")))
CASES = [
    ("official", DATA_SPLIT),
    ("official", DATA_SFEW),
    ("holdout", DATA),
    ("holdout:0.3", DATA),
    ("kfold", DATA),
    ("kfold:3", DATA),
    ("loo", DATA),
    ("subject-kfold", DATA),
    ("subject-kfold:3", DATA),
    ("loso", DATA),
]


@pytest.mark.parametrize("text,data", CASES, ids=[f"{t}-{d.splits is None}-{i}" for i, (t, d) in enumerate(CASES)])
def test_invariants(text, data):
    protocol = parse_protocol(text)
    folds = protocol.folds(data, seed=3)
    n = len(data)
    assert folds
    test_seen = np.zeros(n, dtype=int)
    for fold in folds:
        parts = (fold.train, fold.val, fold.test)
        for part in parts:
            assert part.dtype == np.int64
            assert len(np.unique(part)) == len(part)
        assert len(fold.train) and len(fold.test)
        # no index in two parts
        assert not set(fold.train) & set(fold.val)
        assert not set(fold.train) & set(fold.test)
        assert not set(fold.val) & set(fold.test)
        union = np.concatenate(parts)
        if protocol.kind == "official":
            assert set(union) == set(range(n))
            assert set(data.splits[fold.test]) == ({"test"} if "test" in data.splits else {"val"})
            assert "test" not in set(data.splits[fold.train]) | set(data.splits[fold.val])
        else:
            assert sorted(union) == list(range(n))  # every image used exactly once per fold
        assert len(fold.val) > 0
        if protocol.uses_subjects:
            sets = [set(data.subjects[p]) for p in parts]
            assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
        test_seen[fold.test] += 1
    if protocol.kind in ("kfold", "loo", "subject-kfold", "loso"):
        assert (test_seen == 1).all()  # every image tested exactly once across the folds
    # deterministic for a seed; a different seed changes the cut (except seed-free ones)
    again = protocol.folds(data, seed=3)
    for a, b in zip(folds, again, strict=True):
        assert a.name == b.name
        for name in ("train", "val", "test"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
    if protocol.kind in ("holdout", "kfold", "subject-kfold"):
        other = protocol.folds(data, seed=4)
        assert any(not np.array_equal(a.test, b.test) for a, b in zip(folds, other, strict=True))


@pytest.mark.parametrize("text", ["holdout", "holdout:0.35", "kfold:4", "kfold:8"])
def test_class_strata_within_one_sample(text):
    protocol = parse_protocol(text)
    counts = np.bincount(DATA.labels)
    folds = protocol.folds(DATA, seed=0)
    test_share = 1 / len(folds) if protocol.kind == "kfold" else protocol.value
    for fold in folds:
        got = np.bincount(DATA.labels[fold.test], minlength=len(counts))
        assert np.all(np.abs(got - test_share * counts) <= 1), (got, test_share * counts)
        # the validation part is stratified within the training part too
        train_counts = np.bincount(DATA.labels[np.concatenate([fold.train, fold.val])], minlength=len(counts))
        val_counts = np.bincount(DATA.labels[fold.val], minlength=len(counts))
        assert np.all(np.abs(val_counts - 0.1 * train_counts) <= 1)


def test_val_fraction_controls_validation_size():
    fold = parse_protocol("holdout").folds(DATA, seed=0, val_fraction=0.25)[0]
    n_trainval = len(fold.train) + len(fold.val)
    assert abs(len(fold.val) - 0.25 * n_trainval) <= 1
    empty = parse_protocol("holdout").folds(DATA, seed=0, val_fraction=0.0)[0]
    assert len(empty.val) == 0 and len(empty.train) == n_trainval


def test_official_uses_given_val_split():
    fold = parse_protocol("official").folds(DATA_SPLIT)[0]
    assert np.array_equal(fold.val, np.flatnonzero(DATA_SPLIT.splits == "val"))
    assert np.array_equal(fold.train, np.flatnonzero(DATA_SPLIT.splits == "train"))


def test_ck48_like_frames_keep_a_subject_on_one_side():
    # three near-identical frames per sequence, several sequences per subject (like CK+48)
    rng = np.random.default_rng(0)
    images, labels, subjects = [], [], []
    for s in range(12):
        for seq in range(4):
            base = rng.integers(0, 256, (8, 8))
            label = (s + seq) % 7
            for _ in range(3):
                frame = np.clip(base + rng.integers(-2, 3, (8, 8)), 0, 255).astype(np.uint8)
                images.append(frame)
                labels.append(label)
                subjects.append(f"S{s:03d}")
    data = FaceDataset(np.stack(images), np.array(labels), subjects=np.array(subjects), name="ck48like")
    for text in ("subject-kfold:4", "loso"):
        for fold in parse_protocol(text).folds(data, seed=1):
            tr, va, te = (set(data.subjects[p]) for p in (fold.train, fold.val, fold.test))
            assert not tr & te and not va & te and not tr & va
            # no near-duplicate frame of a test image is in training
            test_bytes = {data.images[i].tobytes() for i in fold.test}
            diffs = np.abs(data.images[fold.train][:, None].astype(int) - data.images[fold.test][None].astype(int))
            assert diffs.reshape(len(fold.train), len(fold.test), -1).max(axis=2).min() > 2
            assert test_bytes


def test_names_are_canonical():
    assert parse_protocol("kfold").name == "kfold:10"
    assert parse_protocol(" KFold:5 ").name == "kfold:5"
    assert parse_protocol("holdout").name == "holdout:0.2"
    assert parse_protocol("subject-kfold").name == "subject-kfold:5"
    assert parse_protocol("loso").name == "loso"
    assert parse_protocol(parse_protocol("holdout:0.25").name).name == "holdout:0.25"


def test_default_protocol():
    assert default_protocol(DATA_SPLIT) == "official"
    assert default_protocol(DATA_SFEW) == "official"
    assert default_protocol(DATA) == "holdout"
    only_train = make_data(splits=np.array(["train"] * len(DATA)))
    assert default_protocol(only_train) == "holdout"


@pytest.mark.parametrize(
    "text,match",
    [
        ("bogus", "unknown protocol"),
        ("holdout:0", r"\(0, 1\)"),
        ("holdout:1", r"\(0, 1\)"),
        ("holdout:-0.2", r"\(0, 1\)"),
        ("holdout:abc", "not a number"),
        ("kfold:1", "at least 2"),
        ("kfold:2.5", "not an integer"),
        ("subject-kfold:0", "at least 2"),
        ("loo:3", "takes no argument"),
    ],
)
def test_bad_texts(text, match):
    with pytest.raises(FerbenchError, match=match):
        parse_protocol(text)


def test_bad_data_for_protocol():
    no_subjects = make_data(n_subjects=0)
    for text in ("subject-kfold", "loso"):
        with pytest.raises(FerbenchError, match="needs subject ids"):
            parse_protocol(text).folds(no_subjects)
    with pytest.raises(FerbenchError, match="no official split"):
        parse_protocol("official").folds(DATA)
    only_train = make_data(splits=np.array(["train"] * len(DATA)))
    with pytest.raises(FerbenchError, match="'test' or 'val'"):
        parse_protocol("official").folds(only_train)
    with pytest.raises(FerbenchError, match="smallest class count"):
        parse_protocol("kfold:11").folds(DATA)  # smallest class has 10
    with pytest.raises(FerbenchError, match="exceeds the 10 subjects"):
        parse_protocol("subject-kfold:11").folds(DATA)
    with pytest.raises(FerbenchError, match="validation fraction"):
        parse_protocol("holdout").folds(DATA, val_fraction=1.0)
    one_subject = make_data(n_subjects=1)
    with pytest.raises(FerbenchError, match="at least 2 subjects"):
        parse_protocol("loso").folds(one_subject)


def _kfold_steps(n_images: int) -> int:
    """Python lines and calls executed while cutting kfold:10 folds of n_images labels."""
    import sys

    labels = np.random.default_rng(0).integers(0, 7, n_images)
    data = FaceDataset(np.zeros((n_images, 1, 1), np.uint8), labels, name="big")
    parse_protocol("kfold:10").folds(data)  # imports and first-call set-up are not counted
    steps = [0]

    def count(frame, event, arg):
        steps[0] += 1
        return count  # also trace the lines of every frame

    sys.settrace(count)
    try:
        folds = parse_protocol("kfold:10").folds(data)
    finally:
        sys.settrace(None)
    assert len(folds) == 10 and sum(len(f.test) for f in folds) == n_images
    return steps[0]


def test_kfold_on_fer_sized_labels_does_no_work_per_image_in_python():
    # Counted, not timed: FER-2013's 35,887 labels execute no more Python than 700 do, so fold
    # cutting stays in vectorised code (a loop over the images would add tens of thousands of steps).
    small, fer_sized = _kfold_steps(700), _kfold_steps(35887)
    assert fer_sized <= small + 200, (small, fer_sized)
