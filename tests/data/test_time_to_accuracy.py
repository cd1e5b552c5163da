"""experiments/time_to_accuracy.py on a tiny FER-2013 folder: per-epoch lines, the selection
rule, the budget stop and the MLflow run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture
def tta_module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import time_to_accuracy

    return time_to_accuracy


def test_selection_reads_publictest_only_and_keeps_the_first_of_equals(tta_module):
    records = [
        {"epoch": 1, "public_acc": 0.50, "private_acc": 0.40, "wall_min": 1.0},
        {"epoch": 2, "public_acc": 0.55, "private_acc": 0.45, "wall_min": 2.0},
        {"epoch": 3, "public_acc": 0.55, "private_acc": 0.70, "wall_min": 3.0},  # tie: not chosen
        {"epoch": 4, "public_acc": 0.52, "private_acc": 0.90, "wall_min": 4.0},  # best private, worse public
    ]
    assert tta_module.selected(records) == (2, 0.45)
    for i in range(len(records)):
        records[i]["selected_private_acc"] = tta_module.selected(records[: i + 1])[1]
        records[i]["train_img_per_s"] = 100.0
    figures = tta_module.summary(records, budget_min=3.5)
    assert figures["minutes_to_0.60"] is None  # 0.70 and 0.90 were never the selected epoch's
    assert figures["epochs_within_budget"] == 3
    assert figures["best_selected_private_acc"] == 0.45
    records[1]["selected_private_acc"] = 0.61
    assert tta_module.summary(records, budget_min=3.5)["minutes_to_0.60"] == 2.0


def test_script_writes_epoch_lines_stops_at_the_budget_and_logs_a_run(fer_folder, tmp_path, isolated_store):
    out = tmp_path / "tta.jsonl"
    command = [sys.executable, str(EXPERIMENTS / "time_to_accuracy.py"), "fast_vgg", "--path", str(fer_folder)]
    params = ["--param", "width=4", "--param", "stages=2", "--param", "convs=1", "--param", "batch_size=8"]
    env = {**os.environ, "FERBENCH_HOME": str(isolated_store)}
    done = subprocess.run(
        [*command, *params, "--epochs", "3", "--budget-min", "0.0001", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    epochs, summary = lines[:-1], lines[-1]["summary"]
    assert [e["epoch"] for e in epochs] == [1]  # 3 epochs asked, the budget ended the fit after one
    assert 0.0 <= epochs[0]["private_acc"] <= 1.0 and epochs[0]["selected_epoch"] == 1
    assert summary["epochs_within_budget"] == 0 and summary["minutes_to_0.60"] is None
    assert summary["forward_mflops"] > 0 and summary["train_gflops_per_s"] > 0

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{isolated_store / 'mlflow.db'}")
    run = mlflow.get_run(summary["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["ferbench.time_budget_min"] == "0.0001"
    assert run.data.metrics["epochs_within_budget"] == 0.0
    assert run.data.params["epochs"] == "3"

    bad = subprocess.run([*command, "--budget-min", "0"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--budget-min" in bad.stderr.splitlines()[-1]
    malformed = subprocess.run([*command, "--param", "width"], capture_output=True, text=True, env=env, timeout=120)
    assert malformed.returncode == 2 and "--param 'width': expected key=value" in malformed.stderr.splitlines()[-1]


def _run_file(path: Path, accs: list[float], summary: dict) -> Path:
    epochs = [{"epoch": i + 1, "wall_min": 7.0 * (i + 1), "selected_private_acc": acc} for i, acc in enumerate(accs)]
    lines = [*epochs, {"summary": summary}] if summary else epochs
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_seeds_script_gives_interval_counts_unreached_thresholds_and_a_bounded_frontier(tmp_path):
    base = {"epochs_within_budget": 3, "median_train_img_per_s": 400.0, "minutes_to_0.66": None}
    first = _run_file(
        tmp_path / "fast-s4.jsonl",
        [0.50, 0.58, 0.62],
        {**base, "best_selected_private_acc": 0.62, "minutes_to_0.60": 21.0},
    )
    second = _run_file(
        tmp_path / "other.jsonl",
        [0.52, 0.56, 0.58],
        {**base, "seed": 9, "best_selected_private_acc": 0.58, "minutes_to_0.60": None},
    )
    script = [sys.executable, str(EXPERIMENTS / "time_to_accuracy_seeds.py")]
    done = subprocess.run([*script, str(first), str(second), "--budget-min", "20"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert "mean [95% CI] over seeds 4, 9:" in out
    # mean 0.60, t(0.975, 1) = 12.706 x std 0.0283 / sqrt(2) = 0.254 either side
    assert "- best PublicTest-selected PrivateTest within the budget: 0.6000 [0.3459, 0.8541]" in out
    assert "- minutes to 0.60: reached by 1 of 2 seeds" in out
    assert "| 10 | 0.5100 [0.3829, 0.6371] |" in out and "| 20 | 0.5700 [0.4429, 0.6971] |" in out
    assert not any(line.startswith("| 30 |") for line in out)  # past the budget
    unfinished = _run_file(tmp_path / "x-s1.jsonl", [0.5], {})
    bad = subprocess.run([*script, str(unfinished)], capture_output=True, text=True)
    assert bad.returncode == 2 and "no summary line" in bad.stderr.splitlines()[-1]
