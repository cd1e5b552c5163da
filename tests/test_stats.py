import math

import numpy as np
import pytest

from ferbench.errors import FerbenchError
from ferbench.evaluate import bootstrap_ci, mean_ci, paired_test
from ferbench.predictions import Predictions, align


def test_mean_ci_matches_the_t_table():
    # mean 2.5, sd sqrt(5/3), t(0.975, df=3) = 3.182446 from the table: 2.5 -/+ 3.182446 * sd / 2
    out = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert out["n"] == 4 and out["mean"] == 2.5
    assert out["std"] == pytest.approx(1.290994, abs=1e-6)
    assert out["ci_low"] == pytest.approx(0.445739, abs=1e-5)
    assert out["ci_high"] == pytest.approx(4.554261, abs=1e-5)
    narrower = mean_ci([1.0, 2.0, 3.0, 4.0], confidence=0.8)
    assert out["ci_low"] < narrower["ci_low"] < 2.5 < narrower["ci_high"] < out["ci_high"]


def test_mean_ci_one_seed_has_no_spread_and_identical_seeds_pin_the_mean():
    one = mean_ci([0.61])
    assert one["mean"] == 0.61 and one["n"] == 1
    assert all(math.isnan(one[key]) for key in ("std", "ci_low", "ci_high"))
    same = mean_ci([0.5, 0.5, 0.5])
    assert (same["std"], same["ci_low"], same["ci_high"]) == (0.0, 0.5, 0.5)


@pytest.mark.parametrize("values, confidence", [([], 0.95), ([0.5, float("nan")], 0.95), ([0.5, 0.6], 1.0)])
def test_mean_ci_bad_input(values, confidence):
    with pytest.raises(FerbenchError):
        mean_ci(values, confidence)


def _labels(n_right: int, n_wrong: int):
    y_true = np.zeros(n_right + n_wrong, dtype=np.int64)
    y_pred = np.r_[np.zeros(n_right), np.ones(n_wrong)].astype(np.int64)
    return y_true, y_pred


def test_bootstrap_is_seeded_and_covers_the_accuracy():
    y_true, y_pred = _labels(300, 100)  # accuracy 0.75, binomial standard error 0.0217
    low, high = bootstrap_ci(y_true, y_pred, seed=3)
    assert (low, high) == bootstrap_ci(y_true, y_pred, seed=3)
    assert (low, high) != bootstrap_ci(y_true, y_pred, seed=4)
    assert low < 0.75 < high
    assert 0.07 < high - low < 0.10  # about 2 x 1.96 x 0.0217 = 0.085
    assert bootstrap_ci(*_labels(50, 0)) == (1.0, 1.0)
    assert bootstrap_ci([3], [2]) == (0.0, 0.0)  # one test image: no spread to resample


def test_bootstrap_handles_a_full_test_set_quickly():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 7, 3589)
    y_pred = np.where(rng.random(3589) < 0.6, y_true, (y_true + 1) % 7)
    low, high = bootstrap_ci(y_true, y_pred)
    accuracy = float(np.mean(y_true == y_pred))
    assert low < accuracy < high and high - low < 0.04


@pytest.mark.parametrize("kwargs", [{"n_resamples": 0}, {"confidence": 0.0}])
def test_bootstrap_bad_input(kwargs):
    with pytest.raises(FerbenchError):
        bootstrap_ci(*_labels(5, 5), **kwargs)
    with pytest.raises(FerbenchError, match="do not match"):
        bootstrap_ci([0, 1, 2], [0, 1])


def _table(both: int, a_only: int, b_only: int, neither: int):
    """Predictions with the given McNemar table (true label always 0; 1 is wrong)."""
    a = [0] * both + [0] * a_only + [1] * b_only + [1] * neither
    b = [0] * both + [1] * a_only + [0] * b_only + [1] * neither
    return np.zeros(len(a), dtype=np.int64), np.array(a), np.array(b)


@pytest.mark.parametrize(
    "table, verdict, p_value",
    [
        ((20, 10, 0, 5), "better", 2 * 0.5**10),  # a clear win: 0.00195
        ((20, 0, 10, 5), "worse", 2 * 0.5**10),
        ((20, 7, 3, 5), "within noise", 352 / 1024),  # 2 * P(X <= 3), X ~ Bin(10, 1/2)
        ((20, 5, 5, 5), "within noise", 1.0),  # a tie
        ((20, 0, 0, 5), "within noise", 1.0),  # no discordant pairs
    ],
)
def test_mcnemar_exact_on_known_tables(table, verdict, p_value):
    result = paired_test(*_table(*table))
    assert result.verdict == verdict
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert (result.n, result.a_only, result.b_only) == (sum(table), table[1], table[2])
    assert result.accuracy_a == pytest.approx((table[0] + table[1]) / sum(table))
    assert result.accuracy_b == pytest.approx((table[0] + table[2]) / sum(table))


def test_paired_result_describes_itself():
    assert paired_test(*_table(20, 10, 0, 5)).describe() == "better (p = 0.002)"
    assert paired_test(*_table(20, 7, 3, 5)).describe() == "within noise (p = 0.34)"
    assert paired_test(*_table(0, 0, 20, 0)).describe() == "worse (p < 0.001)"
    assert paired_test(*_table(20, 10, 0, 5), alpha=0.001).verdict == "within noise"


def test_paired_test_rejects_mismatched_lengths():
    with pytest.raises(FerbenchError, match="do not match"):
        paired_test([0, 1, 2], [0, 1, 2], [0, 1])


def _predictions(rows, y_pred, fingerprint="abc"):
    rows = np.asarray(rows, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int16)
    y_true = (rows % 3).astype(np.int16)  # the data set's label of each row
    return Predictions(rows, y_true, y_pred, np.zeros((len(rows), 3), np.float16), fingerprint)


def test_align_pairs_images_by_row_whatever_the_order():
    a = _predictions([5, 1, 3], [2, 1, 0])  # right, right, right
    b = _predictions([3, 5, 1], [1, 0, 1])  # wrong, wrong, right
    y_true, pred_a, pred_b = align(a, b)
    assert y_true.tolist() == [1, 0, 2]  # rows 1, 3, 5
    assert pred_a.tolist() == [1, 0, 2] and pred_b.tolist() == [1, 1, 0]


def test_align_refuses_different_data_or_images():
    with pytest.raises(FerbenchError, match="different data: fingerprints abc and xyz"):
        align(_predictions([1, 2], [0, 0]), _predictions([1, 2], [0, 0], fingerprint="xyz"))
    with pytest.raises(FerbenchError, match="run A has 3, run B has 2, 1 shared"):
        align(_predictions([1, 2, 3], [0, 0, 0]), _predictions([3, 4], [0, 0]))
    with pytest.raises(FerbenchError, match="more than once"):
        align(_predictions([1, 1], [0, 0]), _predictions([1, 2], [0, 0]))
