"""Leaderboard comparability, pooling, output formats, the leaderboard run, and baselines sync."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from typer.testing import CliRunner

from ferbench import baselines, record
from ferbench.cli import app
from ferbench.labels import EMOTIONS
from ferbench.leaderboard import NOTHING_YET, leaderboard

runner = CliRunner()


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    """One MLflow SQLite database migrated once (about 10 s here); each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    record.setup(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def fresh_store(isolated_store, migrated_db):
    isolated_store.mkdir(parents=True, exist_ok=True)
    shutil.copy(migrated_db, isolated_store / "mlflow.db")
    return isolated_store


OFFICIAL_SIZES = {"train": 28709, "val": 3589, "test": 3589}


def our_run(
    family="five_layer_cnn",
    dataset="fer2013",
    protocol="official",
    test=0.45,
    seed=0,
    synthetic=False,
    random_weights=False,
    params=None,
    extra=None,
    std=None,
    sizes=OFFICIAL_SIZES,
    classes=EMOTIONS,
    epochs=10,
    tags=None,
    fingerprint="f" * 16,
) -> str:
    """A finished kind=run run as the runner records it; sizes/classes None leave their tags out."""
    record.setup()
    all_tags = {
        "source": "ferbench",
        "ferbench.kind": "run",
        "ferbench.family": family,
        "ferbench.dataset": dataset,
        "ferbench.protocol": protocol,
        "ferbench.seed": seed,
        "ferbench.fingerprint": fingerprint,
        "ferbench.synthetic": str(synthetic).lower(),
        "ferbench.random_weights": str(random_weights).lower(),
        "ferbench.tuned": "false",
        "ferbench.selected_on": "val",
        **(tags or {}),
    }
    if sizes is not None:
        all_tags["ferbench.split_sizes"] = json.dumps(sizes)
    if classes is not None:
        all_tags["ferbench.classes"] = ",".join(classes)
    metrics = {"test_accuracy": test, "val_accuracy": test - 0.01, "train_accuracy": 0.9, **(extra or {})}
    if std is not None:
        metrics["test_accuracy_std"] = std
    with record.tracked_run(record.experiment_for(dataset), "r", all_tags) as run_id:
        record.log(
            run_id,
            params={"lr": 0.001, "epochs": epochs, **(params or {}), "protocol": protocol, "seed": seed},
            metrics=metrics,
        )
    return run_id


def rows_for(**filters):
    return leaderboard(record.setup(), **filters)


def by_published(rows, entry_id):
    return next(r for r in rows if r.published_id == entry_id)


def test_empty_store_says_nothing_to_show():
    result = runner.invoke(app, ["leaderboard"])
    assert result.exit_code == 0, result.output
    assert NOTHING_YET in result.output and "ferbench run" in result.output


def test_matching_protocol_is_compared_with_delta():
    run_id = our_run(test=0.45)
    row = by_published(rows_for(), "raghuvanshi2016.fer2013.five_layer.test")
    assert row.run_id == run_id
    assert row.comparable == "caveats"  # only the unknown data copy
    assert row.reasons == ["unknown data copy"]
    assert row.delta == pytest.approx(0.45 - 0.39)


def test_a_short_run_on_a_subset_is_not_compared():
    our_run(test=0.35, sizes={"train": 504, "val": 63, "test": 63}, epochs=2)
    row = by_published(rows_for(), "raghuvanshi2016.fer2013.five_layer.test")
    assert row.comparable == "no" and row.delta is None and row.epochs == "2 / 10"
    assert {"630 of 35,887 images", "budget: 2 of 10 epochs"} <= set(row.reasons)


def test_runs_recorded_without_data_tags_are_not_compared():
    our_run(sizes=None, classes=None)
    row = by_published(rows_for(), "raghuvanshi2016.fer2013.five_layer.test")
    assert row.comparable == "no" and row.delta is None
    assert {"data size not recorded", "label space not recorded"} <= set(row.reasons)


def test_non_matching_protocol_has_no_delta():
    our_run(protocol="holdout:0.2", test=0.7)
    row = by_published(rows_for(), "raghuvanshi2016.fer2013.five_layer.test")
    assert row.comparable == "no" and row.delta is None
    assert any("protocol differs (holdout:0.2 vs official)" in r for r in row.reasons)


def test_test_selected_baseline_is_never_a_win_or_loss():
    our_run(family="mini_xception", test=0.60)
    row = by_published(rows_for(), "arriaga2017.fer2013.mini_xception")
    assert row.comparable == "no" and row.delta is None
    assert "published model selected on the test rows" in row.reasons


def test_random_weights_and_synthetic_are_not_comparable():
    our_run(random_weights=True)
    our_run(family="deeper_cnn", synthetic=True, test=0.9)
    rows = rows_for()
    five = by_published(rows, "raghuvanshi2016.fer2013.five_layer.test")
    deeper = by_published(rows, "raghuvanshi2016.fer2013.deeper.test")
    assert five.comparable == "no" and "ours used random (not pretrained) weights" in five.reasons
    assert deeper.comparable == "no" and "ours on synthetic data" in deeper.reasons
    assert five.delta is None and deeper.delta is None


def test_comparable_run_is_preferred_over_a_higher_incomparable_one():
    good = our_run(test=0.40)
    our_run(test=0.80, params={"lr": 0.1}, random_weights=True)
    row = by_published(rows_for(), "raghuvanshi2016.fer2013.five_layer.test")
    assert row.run_id == good and row.delta == pytest.approx(0.01)


def test_seeds_of_one_config_are_pooled_and_folds_keep_their_std():
    our_run(test=0.40, seed=0)
    our_run(test=0.50, seed=1)
    our_run(family="deeper_cnn", test=0.50, std=0.02, protocol="official")
    rows = rows_for()
    five = by_published(rows, "raghuvanshi2016.fer2013.five_layer.test")
    assert five.ours == pytest.approx(0.45) and five.ours_n == "2 seeds"
    assert five.ours_std == pytest.approx(0.0707, abs=1e-3)
    deeper = by_published(rows, "raghuvanshi2016.fer2013.deeper.test")
    assert deeper.ours_std == pytest.approx(0.02) and deeper.ours_n == "1 run"


def test_training_accuracy_rows_show_no_delta_and_filters_apply():
    our_run()
    our_run(family="deeper_cnn", protocol="holdout:0.2")
    rows = rows_for(family="five_layer_cnn")
    assert {r.family for r in rows} == {"five_layer_cnn"}
    train = by_published(rows, "raghuvanshi2016.fer2013.five_layer.train")
    assert train.comparable == "no" and train.delta is None
    assert {r.our_protocol for r in rows_for(protocol="holdout:0.2") if not r.reference_only} == {"holdout:0.2"}


def test_family_without_published_number_and_references():
    our_run(family="cnn_features_pca_svm")
    rows = rows_for()
    own = next(r for r in rows if r.family == "cnn_features_pca_svm")
    assert own.published is None and own.reasons == ["no published number"]
    human = next(r for r in rows if r.published_id == "goodfellow2013.fer2013.human")
    assert human.reference_only and human.delta is None


def test_cli_formats_and_no_run_without_log():
    our_run()
    out = runner.invoke(app, ["leaderboard", "--format", "csv"])
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    five = next(r for r in table if r["paper / id"] == "raghuvanshi2016.fer2013.five_layer.test")
    assert five["delta"] == "+6.00" and five["comparable"] == "caveats" and five["epochs"] == "10 / 10"
    as_json = runner.invoke(app, ["leaderboard", "--format", "json", "--no-log"])
    assert any(
        r["published_id"] == "raghuvanshi2016.fer2013.five_layer.test" for r in json.loads(as_json.stdout)
    )  # exactly one JSON document on stdout
    md = runner.invoke(app, ["leaderboard", "--format", "markdown"])
    assert md.exit_code == 0 and md.stdout.startswith("| family")
    client = record.setup()
    logged = client.search_runs([record.experiment_for("fer2013")], "tags.`ferbench.kind` = 'leaderboard'")
    assert logged == []  # logging is asked for with --log


def test_bad_options_are_one_line_errors():
    for args in (
        ["leaderboard", "--format", "xml"],
        ["leaderboard", "--protocol", "tenfold"],
        ["leaderboard", "--family", "nope"],
        ["leaderboard", "--out", "."],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and result.output.startswith("error:"), result.output


def test_baselines_sync_is_idempotent_and_uses_our_metric_names():
    first = runner.invoke(app, ["baselines", "sync"])
    assert first.exit_code == 0, first.output
    client = record.setup()
    experiments = [record.experiment_for(d) for d in ("fer2013", "ckplus", "jaffe", "sfew")]
    runs = client.search_runs(experiments, "tags.source = 'published'", max_results=1000)
    second = runner.invoke(app, ["baselines", "sync"])
    assert "0 created" in second.output and f"{len(runs)} unchanged" in second.output
    assert len(client.search_runs(experiments, "tags.source = 'published'", max_results=1000)) == len(runs)
    ravi = client.search_runs(experiments, "tags.`ferbench.baseline_ids` LIKE '%ravi2019.jaffe.block4_pool.test%'")
    assert len(ravi) == 1
    assert ravi[0].data.metrics["test_accuracy"] == pytest.approx(0.9286)
    assert ravi[0].data.metrics["train_ajk_accuracy"] == pytest.approx(0.9277)
    fold_filter = "tags.`ferbench.baseline_ids` LIKE '%gong2020.sfew.original.fold_1%'"
    fold_run = client.search_runs(experiments, fold_filter)[0]
    folds = client.get_metric_history(fold_run.info.run_id, "fold_test_accuracy")
    assert [m.value for m in sorted(folds, key=lambda m: m.step)] == [0.385, 0.4, 0.415, 0.415, 0.43]


def test_sync_replaces_edited_and_deletes_removed_entries():
    from ferbench.baselines.sync import sync

    entries = baselines.select(paper="raghuvanshi2016")
    assert sync(entries=entries).created > 0
    edited = [
        dict(e, value=0.5) if e["id"] == "raghuvanshi2016.fer2013.baseline.test" else e
        for e in entries
        if e["family"] != "vggface_finetune"
    ]
    report = sync(entries=edited)
    assert (report.replaced, report.deleted, report.created) == (1, 1, 0)
    client = record.setup()
    base = client.search_runs(
        [record.experiment_for("fer2013")], "tags.`ferbench.family` = 'baseline_cnn' AND tags.source = 'published'"
    )
    assert len(base) == 1 and base[0].data.metrics["test_accuracy"] == 0.5
