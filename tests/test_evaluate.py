import numpy as np
import pytest

from ferbench.errors import FerbenchError
from ferbench.evaluate import aggregate, classification_metrics, confusion, report_text

NAMES = ("a", "b", "c")


def _onehot(pred, n=3):
    return np.eye(n)[pred] * 0.8 + 0.2 / n


def test_metrics_match_hand_computed_values():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    m = classification_metrics(y, _onehot(pred), NAMES)
    assert m["test_accuracy"] == pytest.approx(4 / 6)
    assert m["test_recall_a"] == pytest.approx(0.5)
    assert m["test_recall_b"] == pytest.approx(1.0)
    assert m["test_recall_c"] == pytest.approx(0.5)
    # per-class F1: a 0.5, b 0.8, c 2/3
    assert m["test_macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_absent_class_counts_as_zero_not_dropped():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, _onehot(np.array([0, 0, 1, 1])), NAMES, prefix="val_")
    assert m["val_recall_c"] == 0.0
    assert m["val_macro_f1"] == pytest.approx(2 / 3)
    assert set(m) == {"val_accuracy", "val_macro_f1", "val_recall_a", "val_recall_b", "val_recall_c"}


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(FerbenchError, match="columns"):
        classification_metrics(np.array([0, 1]), np.ones((2, 4)) / 4, NAMES)
    with pytest.raises(FerbenchError, match="empty"):
        classification_metrics(np.array([], dtype=int), np.ones((0, 3)), NAMES)


def test_confusion_counts_and_normalisation():
    y = np.array([0, 0, 1, 2])
    p = np.array([0, 1, 1, 1])
    m = confusion(y, p, 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    rows = confusion(y, p, 3, normalize="true")
    assert rows[0].tolist() == [0.5, 0.5, 0.0]
    cols = confusion(y, p, 3, normalize="pred")
    assert cols[:, 1].sum() == pytest.approx(1.0) and cols[:, 2].sum() == 0.0
    assert confusion(y, p, 3, normalize="all").sum() == pytest.approx(1.0)
    with pytest.raises(FerbenchError):
        confusion(y, p, 3, normalize="rows")


def test_report_lists_every_class():
    text = report_text(np.array([0, 1]), _onehot(np.array([0, 1])), NAMES)
    assert all(name in text for name in NAMES)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_report_is_sklearns_classification_report_character_for_character(seed):
    from sklearn.metrics import classification_report

    rng = np.random.default_rng(seed)
    names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    y = rng.integers(0, 5, 60)  # two classes never occur, and some are never predicted
    pred = np.where(rng.random(60) < 0.5, y, rng.integers(0, 6, 60))
    expected = classification_report(y, pred, labels=list(range(7)), target_names=names, digits=4, zero_division=0)
    assert report_text(y, _onehot(pred, 7), names) == expected


def test_aggregate_mean_and_std():
    out = aggregate([{"acc": 0.5, "f1": 0.2}, {"acc": 0.7}])
    assert out["acc"] == pytest.approx(0.6)
    assert out["acc_std"] == pytest.approx(0.1)
    assert out["f1"] == pytest.approx(0.2) and out["f1_std"] == 0.0
    assert aggregate([]) == {}


def test_metrics_equal_sklearn_on_random_labels_with_absent_classes():
    from sklearn.metrics import f1_score, recall_score

    rng = np.random.default_rng(3)
    for trial in range(30):
        n = int(rng.integers(1, 40))
        y = rng.integers(0, 3, n)  # class 3 never occurs in y: zero recall, F1 by zero_division
        pred = rng.integers(0, 4 if trial % 2 else 3, n)
        names = ("a", "b", "c", "d")
        m = classification_metrics(y, _onehot(pred, 4), names)
        labels = list(range(len(names)))
        assert np.isclose(m["test_macro_f1"], f1_score(y, pred, labels=labels, average="macro", zero_division=0))
        recalls = recall_score(y, pred, labels=labels, average=None, zero_division=0)
        assert np.allclose([m[f"test_recall_{c}"] for c in names], recalls)
        assert np.isclose(m["test_accuracy"], np.mean(y == pred))
