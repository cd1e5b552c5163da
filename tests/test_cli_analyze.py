"""`ferbench analyze` through the CLI: a real Keras CNN run (baseline_cnn: synthetic data, 1 epoch, its
test_params) for confusion and occlusion, the tiny numpy family for the cross-data set matrix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ferbench.cli import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, ["analyze", *args])


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    # (library warnings printed to stderr by first imports are not ours to count)
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _artifacts(run_id: str, folder: str) -> set[str]:
    from mlflow.tracking import MlflowClient

    from ferbench.store import mlflow_tracking_uri

    return {a.path.rsplit("/", 1)[-1] for a in MlflowClient(mlflow_tracking_uri()).list_artifacts(run_id, folder)}


@pytest.mark.filterwarnings("error:No artists with labels:UserWarning")  # the legend finds a panel with curves
def test_confusion_and_occlusion_on_a_cnn_run(isolated_store, tmp_path):
    from ferbench import runner as ferbench_runner
    from ferbench.data.readers import load_dataset
    from ferbench.families import registry

    family = registry.get("baseline_cnn")
    data = load_dataset("synthetic", n_images=210, n_subjects=10)
    result = ferbench_runner.run(
        family.name,
        data,
        params=family.test_params,
        epochs=1,
        quiet=True,
        extra_tags={"ferbench.data_options": json.dumps(data.options)},
    )

    out = _invoke("confusion", result.run_id, "--out", str(tmp_path))
    assert out.exit_code == 0, out.output
    assert f"accuracy {result.metrics['test_accuracy']:.4f}" in out.output
    assert "Nishime side-by-side: no" in out.output
    assert (tmp_path / "confusion" / "confusion_normalized.csv").is_file()

    out = _invoke(
        "occlusion", result.run_id, "--values", "0,1", "--keep", "10,11", "--max-images", "6", "--batch-size", "64"
    )
    assert out.exit_code == 0, out.output
    assert "masked images" in out.output and "keep only 10,11: accuracy" in out.output
    files = _artifacts(result.run_id, "analysis/occlusion")
    assert {"occlusion.csv", "lines_per_class.png", "heatmaps_per_class.png", "keep_10_11_confusion.csv"} <= files

    assert "unknown run id" in _error_line(_invoke("confusion", "f" * 32))
    assert "--values" in _error_line(_invoke("occlusion", result.run_id, "--values", "0,2"))
    assert "--keep" in _error_line(_invoke("occlusion", result.run_id, "--keep", "17"))
    assert "--max-images" in _error_line(_invoke("occlusion", result.run_id, "--max-images", "-1"))


def _write_jaffe(root, per_class: int = 3, size: int = 48):
    """A tiny JAFFE-named folder: class-dependent bright squares on dark noise."""
    from PIL import Image

    rng = np.random.default_rng(1)
    root.mkdir()
    for k, code in enumerate(("AN", "DI", "FE", "HA", "SA", "SU", "NE")):
        for rep in range(per_class):
            image = rng.integers(0, 60, (size, size)).astype(np.uint8)
            r, c = divmod(k, 3)
            image[r * 12 : r * 12 + 12, c * 12 : c * 12 + 12] += 150
            Image.fromarray(image).save(root / f"{('KA', 'KL', 'KM')[rep % 3]}.{code}{rep + 1}.{k * 10 + rep}.tiff")


def test_cross_dataset_matrix(tiny_family, isolated_store, tmp_path):
    import mlflow

    from ferbench.store import mlflow_tracking_uri

    jaffe = tmp_path / "jaffe"
    _write_jaffe(jaffe)
    out = _invoke(
        "cross-dataset",
        tiny_family.name,
        "--train",
        "synthetic",
        "--train",
        f"jaffe:{jaffe}",
        "--eval",
        "synthetic",
        "--eval",
        f"jaffe:{jaffe}",
        "--epochs",
        "1",
        "--protocol",
        "holdout:0.3",
        "--out",
        str(tmp_path / "out"),
    )
    assert out.exit_code == 0, out.output
    matrix = (tmp_path / "out" / "cross_dataset" / "matrix.csv").read_text().splitlines()
    assert matrix[0] == "train\\eval,synthetic,jaffe" and len(matrix) == 3
    values = np.array([[float(v) for v in line.split(",")[1:]] for line in matrix[1:]])
    assert np.all((values >= 0) & (values <= 1))
    mlflow.set_tracking_uri(mlflow_tracking_uri())
    runs = mlflow.search_runs(
        experiment_names=["ferbench-cross-dataset"], filter_string="tags.`ferbench.kind` = 'analysis'"
    )
    assert len(runs) == 1 and runs.iloc[0]["status"] == "FINISHED"
    run = runs.iloc[0]
    # the diagonal is the in-domain test accuracy of the training run it names
    trained = mlflow.get_run(run["params.train_run_jaffe"])
    assert values[1, 1] == pytest.approx(trained.data.metrics["test_accuracy"])
    assert run["metrics.cross_synthetic_to_jaffe_accuracy"] == pytest.approx(values[0, 1])
    assert {"matrix.csv", "matrix.png", "cells.csv"} <= _artifacts(run["run_id"], "analysis/cross_dataset")

    bad = _invoke("cross-dataset", tiny_family.name, "--train", "nosuch", "--eval", "synthetic")
    assert "unknown data set 'nosuch'" in _error_line(bad)
    # a folder data set that keeps contempt cannot be scored by a 7-class model: refused before
    # any training, and no analysis run is left behind
    from PIL import Image

    for name in ("angry", "contempt"):
        (tmp_path / "ck" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((48, 48), 40 * i, np.uint8)).save(tmp_path / "ck" / name / f"{i}.png")
    bad = _invoke("cross-dataset", tiny_family.name, "--train", f"jaffe:{jaffe}", "--eval", f"folder:{tmp_path / 'ck'}")
    assert "class 'contempt' has no output in the model trained on jaffe" in _error_line(bad)
    assert len(mlflow.search_runs(experiment_names=["ferbench-cross-dataset"])) == 1
