"""Where a run's data and code came from, in MLflow's own fields: the dataset input (the UI's Dataset
column) and the mlflow.source.* tags (its Source column)."""

from __future__ import annotations

import json
import sys

import pytest
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_GIT_COMMIT, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE

from cli_subprocess import cli
from ferbench import record, runner
from ferbench.data.dataset import FaceDataset
from ferbench.data.synthetic import generate
from ferbench.testing import tiny_dataset

pytestmark = pytest.mark.usefixtures("tiny_family")
FAMILY = "tiny_test_family"


def inputs(run_id: str):
    return record.client().get_run(run_id).inputs.dataset_inputs


def test_a_run_logs_its_data_set_with_the_fingerprint_as_digest():
    data = tiny_dataset(splits=True)
    result = runner.run(FAMILY, data, protocol="official", epochs=1, quiet=True, log_model=False)
    [logged] = inputs(result.run_id)
    assert (logged.dataset.name, logged.dataset.digest) == ("tinyset", data.fingerprint)
    assert json.loads(logged.dataset.profile)["split_sizes"] == {"train": 98, "val": 14, "test": 28}
    assert logged.dataset.source_type == "code"
    assert json.loads(logged.dataset.source) == {"tags": {"source": "in memory"}}
    assert {tag.key: tag.value for tag in logged.tags} == {MLFLOW_DATASET_CONTEXT: "training"}
    record.log_dataset(result.run_id, data)  # again, as a resumed run does: still one input
    assert len(inputs(result.run_id)) == 1


def test_a_family_evaluated_as_is_logs_its_data_set_for_evaluation(tiny_family, monkeypatch):
    monkeypatch.setattr(tiny_family, "evaluated_as_is", True)
    result = runner.run(FAMILY, tiny_dataset(), protocol="holdout", epochs=1, quiet=True, log_model=False)
    [logged] = inputs(result.run_id)
    assert {tag.key: tag.value for tag in logged.tags} == {MLFLOW_DATASET_CONTEXT: "evaluation"}


def test_the_source_is_the_folder_read_or_synthetic(tmp_path):
    data = tiny_dataset()
    read = FaceDataset(data.images, data.labels, name="jaffe", source=str(tmp_path))
    local = record.dataset_input(read, record.TRAINING).dataset
    assert (local.source_type, json.loads(local.source)) == ("local", {"uri": str(tmp_path)})
    made = record.dataset_input(generate(20), record.TRAINING).dataset
    assert (made.name, made.source_type) == ("synthetic", "code")
    assert json.loads(made.source) == {"tags": {"source": "synthetic"}}


def test_runs_carry_mlflow_source_tags():
    result = runner.run(FAMILY, tiny_dataset(), protocol="holdout", epochs=1, quiet=True, log_model=False)
    tags = record.client().get_run(result.run_id).data.tags
    assert tags[MLFLOW_SOURCE_NAME] == record.source_name() and tags[MLFLOW_SOURCE_TYPE] == "LOCAL"
    assert tags.get(MLFLOW_GIT_COMMIT) == record.git_commit()  # None outside a git checkout


@pytest.mark.parametrize(
    "argv, cli_loaded, name",
    [
        (["/home/me/.venv/bin/ferbench", "run", "five_layer_cnn"], False, "ferbench run"),
        (["-c", "tune", "deeper_cnn"], True, "ferbench tune"),
        (["-c", "--help"], True, "ferbench"),
        (["experiments/bench_model_logging.py", "--repeats", "1"], False, "bench_model_logging.py"),
    ],
)
def test_the_source_name_is_the_command_or_the_script(monkeypatch, argv, cli_loaded, name):
    monkeypatch.setattr(sys, "argv", argv)
    if cli_loaded:
        monkeypatch.setitem(sys.modules, "ferbench.cli", sys.modules.get("ferbench.cli") or object())
    else:
        monkeypatch.delitem(sys.modules, "ferbench.cli", raising=False)
    assert record.source_name() == name


def test_the_command_line_names_its_command_as_the_source(isolated_store):
    done = cli(
        isolated_store, "run", FAMILY, "--dataset", "synthetic", "--protocol", "holdout", "--epochs", "1", "--json"
    )
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    record.setup()
    run = record.client().get_run(run_id)
    assert run.data.tags[MLFLOW_SOURCE_NAME] == "ferbench run"
    [logged] = run.inputs.dataset_inputs
    assert logged.dataset.name == "synthetic" and logged.dataset.digest == run.data.tags["ferbench.fingerprint"]
