import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ferbench.cli import app

N_IMAGES, N_CLASSES = 200, 7


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def _proba_for(y_pred):
    proba = np.full((len(y_pred), N_CLASSES), 0.05)
    proba[np.arange(len(y_pred)), y_pred] = 0.7
    return proba


def _make_run(family, seed, y_true, y_pred, *, rows=None, fingerprint="fp-synthetic", log=True):
    """One MLflow run in the test's store, with ferbench's tags and (optionally) predictions."""
    from ferbench import record
    from ferbench.predictions import log_predictions

    record.setup()
    experiment = record.experiment_for("synthetic")
    run_id = (
        record.client().create_run(experiment, tags={"ferbench.family": family, "ferbench.seed": str(seed)}).info.run_id
    )
    if log:
        rows = np.arange(len(y_true)) if rows is None else rows
        log_predictions(run_id, rows, y_true, _proba_for(y_pred), fingerprint=fingerprint)
    return run_id


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    return rng.integers(0, N_CLASSES, N_IMAGES)


def _wrong(y_true):
    return (y_true + 1) % N_CLASSES


@pytest.fixture
def strong_and_weak(labels):
    """A right on 180 images, B on 120 of those: 60 images right only in A, none only in B."""
    pred_a = np.where(np.arange(N_IMAGES) < 180, labels, _wrong(labels))
    pred_b = np.where(np.arange(N_IMAGES) < 120, labels, _wrong(labels))
    return _make_run("five_layer_cnn", 1, labels, pred_a), _make_run("baseline_cnn", 2, labels, pred_b)


def test_predictions_round_trip(labels):
    from ferbench.predictions import load_predictions

    pred = _wrong(labels)
    rows = np.arange(N_IMAGES)[::-1] + 1000
    run_id = _make_run("baseline_cnn", 0, labels, pred, rows=rows)
    stored = load_predictions(run_id)
    assert stored.fingerprint == "fp-synthetic"
    assert stored.rows.dtype == np.int64 and stored.rows.tolist() == rows.tolist()
    assert stored.y_true.dtype == np.int16 and stored.y_true.tolist() == labels.tolist()
    assert stored.y_pred.dtype == np.int16 and stored.y_pred.tolist() == pred.tolist()
    assert stored.proba.dtype == np.float16 and stored.proba.shape == (N_IMAGES, N_CLASSES)


def test_compare_text_names_the_better_run(strong_and_weak):
    run_a, run_b = strong_and_weak
    result = invoke("compare", run_a, run_b)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"A  {run_a}  five_layer_cnn, seed 1: accuracy 0.9000")
    assert lines[1].startswith(f"B  {run_b}  baseline_cnn, seed 2: accuracy 0.6000")
    assert "95% CI [" in lines[0]
    assert lines[2] == "200 shared test images: 60 right only in A, 0 right only in B"
    assert lines[3] == f"{run_a} is better than {run_b} (McNemar exact, p < 0.001)"
    swapped = invoke("compare", run_b, run_a).stdout.strip().splitlines()[-1]
    assert swapped == f"{run_b} is worse than {run_a} (McNemar exact, p < 0.001)"


def test_compare_within_noise(labels):
    # 6 images right only in A, 4 right only in B: p = 2 * P(X <= 4), X ~ Bin(10, 1/2) = 0.754
    index = np.arange(N_IMAGES)
    pred_a = np.where((index < 100) | ((index >= 150) & (index < 156)), labels, _wrong(labels))
    pred_b = np.where((index < 100) | ((index >= 160) & (index < 164)), labels, _wrong(labels))
    run_a, run_b = _make_run("x", 0, labels, pred_a), _make_run("y", 0, labels, pred_b)
    result = invoke("compare", run_a, run_b)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        f"{run_a} and {run_b} are within noise of each other (McNemar exact, p = 0.75)"
    )


def test_compare_json_is_one_object(strong_and_weak):
    run_a, run_b = strong_and_weak
    result = invoke("compare", run_a, run_b, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["verdict"] == "better" and out["test"] == "McNemar exact"
    assert (out["n_images"], out["a_only"], out["b_only"]) == (200, 60, 0)
    assert out["p_value"] == pytest.approx(2 * 0.5**60)
    a, b = out["a"], out["b"]
    assert (a["run_id"], a["family"], a["seed"], a["accuracy"]) == (run_a, "five_layer_cnn", 1, 0.9)
    assert (b["run_id"], b["family"], b["seed"], b["accuracy"]) == (run_b, "baseline_cnn", 2, 0.6)
    assert a["ci_low"] < 0.9 < a["ci_high"] and b["ci_low"] < 0.6 < b["ci_high"]
    assert a["ci_low"] > b["ci_high"]  # 200 images separate 0.9 from 0.6 clearly
    assert out["bootstrap"] == {"resamples": 1000, "seed": 0, "confidence": 0.95}


def assert_one_line_error(result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert result.stdout == ""


def test_unknown_run(strong_and_weak):
    assert_one_line_error(invoke("compare", strong_and_weak[0], "no-such-run"), "unknown run id 'no-such-run'")


def test_run_without_predictions(strong_and_weak, labels):
    bare = _make_run("baseline_cnn", 0, labels, labels, log=False)
    assert_one_line_error(
        invoke("compare", strong_and_weak[0], bare, "--json"), f"run {bare} has no per-image predictions"
    )


def test_different_data(strong_and_weak, labels):
    other = _make_run("baseline_cnn", 0, labels, labels, fingerprint="fp-other")
    assert_one_line_error(
        invoke("compare", strong_and_weak[0], other), "different data: fingerprints fp-synthetic and fp-other"
    )


def test_different_test_images(strong_and_weak, labels):
    shifted = _make_run("baseline_cnn", 0, labels, labels, rows=np.arange(N_IMAGES) + 150)
    assert_one_line_error(invoke("compare", strong_and_weak[0], shifted), "run A has 200, run B has 200, 50 shared")
