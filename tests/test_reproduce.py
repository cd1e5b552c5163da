"""`ferbench reproduce`: specs, listing, bad input, runs per row and seed, reuse on a second call."""

import json

import pytest
from typer.testing import CliRunner

from ferbench import reproductions
from ferbench.cli import app
from ferbench.reproductions import _report, _spec

TINY_SPEC = """
paper: tinypaper
defaults: {dataset: synthetic, protocol: holdout, seeds: [0, 1]}
rows:
  - id: tiny
    family: tiny_test_family
    epochs: 2
    reproduces: [raghuvanshi2016.fer2013.baseline.test]
  - id: needs_weights
    family: vgg19_pca_svm
    params: {n_components: 5}
    reproduces: [ravi2019.jaffe.block4_pool.test]
"""


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def tiny_specs(tmp_path, monkeypatch, tiny_family):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "tinypaper.yaml").write_text(TINY_SPEC)
    monkeypatch.setattr(_spec, "SPEC_DIR", folder)
    return folder


def _runs(home, kind="run"):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, f"tags.`ferbench.kind` = '{kind}'") if ids else []


def test_every_shipped_spec_loads_and_lists_every_seed_paper():
    from ferbench.baselines import papers

    seed_papers = {k for k, v in papers().items() if v.get("in_papers_folder")}
    shipped = set(reproductions.papers())
    assert seed_papers <= shipped  # every paper of the papers folder has its spec
    assert shipped - seed_papers == {"arriaga2017", "ferbench"}  # the peer and ferbench's own recipe
    assert shipped <= set(papers())
    result = invoke("reproduce", "--list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["row"].split("/")[0] for r in rows} == shipped
    assert all(r["seeds"] and (r["reproduces"] or r["compares_with"]) for r in rows)
    five = next(r for r in rows if r["row"] == "raghuvanshi2016/five_layer")
    assert five["epochs"] == 10 and five["dataset"] == "fer2013" and five["available"]


def test_list_text_names_rows_that_cannot_run_and_why():
    result = invoke("reproduce", "ravi2019", "--list")
    assert result.exit_code == 0, result.output
    assert "ravi2019/jaffe.vgg19" in result.output and "cannot run here: ImageNet weights" in result.output
    assert "compares with: ravi2019.jaffe.block4_pool.test" in result.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["reproduce", "nopaper", "--list"], "no reproduction spec for paper 'nopaper'"),
        (["reproduce", "ravi2019", "--rows", "nothere", "--list"], "no row 'nothere'"),
        (["reproduce", "ravi2019", "--seeds", "", "--list"], "at least one seed"),
        (["reproduce", "ravi2019", "--seeds", "1,1", "--list"], "seed 1 is given twice"),
        (["reproduce", "ravi2019", "--seeds", "-1", "--list"], "not an integer >= 0"),
        (["reproduce", "ravi2019", "--seeds", "a", "--list"], "'a' is not an integer seed"),
        (["reproduce", "raghuvanshi2016", "--dataset", "jaffe", "--path", "."], "use fer2013, not jaffe"),
        (["reproduce", "ravi2019", "--path", "."], "choose one with --dataset"),
        (["reproduce", "raghuvanshi2016", "--format", "csv"], "--format 'csv'"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(args, needle, isolated_store):
    one_line_error(invoke(*args), needle)
    assert not (isolated_store / "mlflow.db").exists() or not _runs(isolated_store)


def test_a_reproduction_runs_each_row_and_seed_as_children_then_reuses_them(tiny_specs, isolated_store):
    result = invoke("reproduce", "tinypaper", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    (parent,) = _runs(isolated_store, "reproduction")
    assert parent.info.run_id == out["parent_run_id"] and parent.info.status == "FINISHED"
    children = _runs(isolated_store)
    assert sorted(r.data.params["seed"] for r in children) == ["0", "1"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    tiny, weights = out["rows"]
    assert tiny["seeds"] == [0, 1] and tiny["mean"] is not None and tiny["ci_low"] <= tiny["mean"] <= tiny["ci_high"]
    assert tiny["verdict"].startswith("not comparable") and "synthetic" in tiny["verdict"]
    assert weights["verdict"].startswith("not run: ") and "ImageNet weights" in weights["verdict"]
    assert "tiny.test_accuracy_mean" in parent.data.metrics

    again = invoke("reproduce", "tinypaper", "--seeds", "0,1,2", "--format", "json")
    assert again.exit_code == 0, again.output
    assert len(_runs(isolated_store)) == 3  # seeds 0 and 1 reused, only seed 2 trained
    assert len(_runs(isolated_store, "reproduction")) == 1  # the same parent, reopened
    row = json.loads(again.output)["rows"][0]
    assert row["seeds"] == [0, 1, 2] and row["run_ids"][:2] == tiny["run_ids"]


def test_a_standalone_run_with_the_rows_identity_is_reused(tiny_specs, isolated_store):
    result = invoke(
        "run",
        "tiny_test_family",
        "--dataset",
        "synthetic",
        "--protocol",
        "holdout",
        "--epochs",
        "2",
        "--seed",
        "0",
        "--json",
    )
    assert result.exit_code == 0, result.output
    standalone = json.loads(result.output)["run_id"]
    from ferbench import record

    for tag in ("ferbench.split_sizes", "ferbench.n_images", "ferbench.classes"):  # as runs made before them
        record.client().delete_tag(standalone, tag)
    other = invoke(
        "run",
        "tiny_test_family",
        "--dataset",
        "synthetic",
        "--protocol",
        "holdout",
        "--epochs",
        "1",
        "--seed",
        "1",
        "--json",
    )  # another budget: not this row's
    assert other.exit_code == 0
    out = json.loads(invoke("reproduce", "tinypaper", "--rows", "tiny", "--format", "json").output)
    assert out["rows"][0]["run_ids"][0] == standalone
    tags = record.client().get_run(standalone).data.tags  # filled from the data set it provably used
    assert tags["ferbench.split_sizes"] == '{"train": 1400, "val": 300, "test": 300}'
    assert tags["ferbench.n_images"] == "2000"
    assert len(_runs(isolated_store)) == 3


def test_verdict_thresholds():
    assert _report.verdict(0.029) == "reproduced" and _report.verdict(-0.03) == "reproduced"
    assert _report.verdict(0.031) == "beaten"
    assert _report.verdict(-0.106) == "short by 10.6 points"


def test_a_killed_reproduction_resumes_its_row_from_the_checkpoint_and_finishes(monkeypatch, isolated_store):
    from ferbench import record, runner
    from ferbench.families import _keras_training as keras_training
    from ferbench.reproductions import Row
    from ferbench.testing import tiny_dataset

    data = tiny_dataset(splits=True)
    params = {"filters": 2, "batch_size": 16, "augment": True, "patience": 10}
    row = Row("tinypaper", "cnn", "baseline_cnn", data.name, "official", 4, params, (5,))
    real, trained = keras_training.fit_epochs, []

    def cut_after_epoch_1(*args, callbacks=None, **kwargs):
        def cut(epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

        return real(*args, callbacks=[*(callbacks or []), cut], **kwargs)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(keras_training, "fit_epochs", cut_after_epoch_1)
        reproductions.reproduce([row], data, quiet=True)
    (parent,) = _runs(isolated_store, "reproduction")
    (cut,) = _runs(isolated_store)
    assert parent.info.status == "KILLED" and cut.info.status == "KILLED"

    def counting(*args, callbacks=None, **kwargs):
        return real(*args, callbacks=[*(callbacks or []), lambda epoch, logs: trained.append(epoch)], **kwargs)

    monkeypatch.setattr(keras_training, "fit_epochs", counting)
    outcome = reproductions.reproduce([row], data, quiet=True)
    assert trained == [2, 3]  # only the epochs the kill left
    (line,) = outcome.lines
    assert line.run_ids == [cut.info.run_id] and outcome.parent_run_id == parent.info.run_id
    client = record.client()
    assert client.get_run(cut.info.run_id).info.status == "FINISHED"
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    monkeypatch.setattr(keras_training, "fit_epochs", real)
    whole = runner.run(
        "baseline_cnn", data, protocol="official", params=params, epochs=4, seed=5, quiet=True, log_model=False
    )
    assert line.mean == whole.metrics["test_accuracy"]  # resumed exactly


def test_no_train_shows_finished_seeds_only_and_writes_nothing(tiny_specs, isolated_store):
    first = invoke("reproduce", "tinypaper", "--rows", "tiny", "--seeds", "0", "--format", "json")
    assert first.exit_code == 0, first.output
    before = [(r.info.run_id, r.info.status) for r in _runs(isolated_store) + _runs(isolated_store, "reproduction")]
    result = invoke("reproduce", "tinypaper", "--no-train", "--format", "json")
    assert result.exit_code == 0, result.output
    tiny, weights = json.loads(result.output)["rows"]
    assert tiny["seeds"] == [0]  # seed 1 has no finished run, and none was trained
    assert weights["verdict"].startswith("not run: ")
    after = [(r.info.run_id, r.info.status) for r in _runs(isolated_store) + _runs(isolated_store, "reproduction")]
    assert after == before


@pytest.mark.parametrize(("raised", "code", "word"), [("sigterm", 143, "terminated"), ("ctrl-c", 130, "interrupted")])
def test_a_stopped_reproduction_says_in_one_line_how_to_resume(
    raised, code, word, tiny_specs, monkeypatch, isolated_store
):
    from ferbench.record import Terminated

    def stop(*args, **kwargs):
        raise Terminated("signal 15") if raised == "sigterm" else KeyboardInterrupt

    monkeypatch.setattr(reproductions, "reproduce", stop)
    result = invoke("reproduce", "tinypaper")
    assert result.exit_code == code
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"{word}: the started runs are marked KILLED; the same command resumes them"]
