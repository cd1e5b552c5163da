"""`ferbench grid`: one parent run, a child per feasible cell, infeasible PCA sizes skipped and listed."""

from __future__ import annotations

import pytest

from ferbench import record
from ferbench.data.synthetic import generate
from ferbench.grid import pca_limits, run_grid
from ferbench.protocols import parse_protocol

PARAMS = {"weights": "none", "input_size": 32}


def test_grid_runs_feasible_cells_and_skips_pca_sizes_the_folds_cannot_hold():
    data = generate(n_images=42, seed=0, n_subjects=6, image_size=24)
    from ferbench.families import registry

    protocols = [parse_protocol("holdout:0.2"), parse_protocol("kfold:3")]
    limits = pca_limits(registry.get("vgg19_pca_svm"), PARAMS, data, protocols, seed=0)
    # a feature family carves no validation part: every training row goes into PCA and the SVM
    sizes = {p.name: min(len(f.train) + len(f.val) for f in p.folds(data, seed=0)) for p in protocols}
    assert limits == {"holdout:0.2": sizes["holdout:0.2"] - 2, "kfold:3": sizes["kfold:3"] - 1}  # A_JK refits on m - 1
    assert limits["kfold:3"] < 28 <= limits["holdout:0.2"]
    parent, cells, chosen = run_grid(
        "vgg19_pca_svm",
        data,
        layers=["block1_pool", "fc1"],
        pca=[5, 28],
        protocols=["holdout:0.2", "kfold:3"],
        params=PARAMS,
        select="ravi",
    )
    assert len(cells) == 2 * 2 * 2
    skipped = [c for c in cells if c.get("skipped")]
    assert {(c["n_components"], c["protocol"]) for c in skipped} == {(28, "kfold:3")}
    ran = [c for c in cells if not c.get("skipped")]
    assert all(0.0 <= c["test_accuracy"] <= 1.0 for c in ran)
    client = record.client()
    children = client.search_runs(
        [client.get_run(parent).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert sorted(r.info.run_id for r in children) == sorted(c["run_id"] for c in ran)
    kfold_cell = next(c["run_id"] for c in ran if c["protocol"] == "kfold:3")
    assert not client.search_runs(
        [client.get_run(parent).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{kfold_cell}'"
    )  # no fold runs
    assert len(client.get_metric_history(kfold_cell, "fold_test_accuracy")) == 3  # fold values as steps
    assert "PCA 28 under kfold:3" in client.get_run(parent).data.tags["ferbench.grid_skipped"]
    assert chosen is not None and chosen["protocol"] == "holdout:0.2" and chosen["train_ajk_accuracy"] is not None


def test_feature_family_folds_train_on_every_training_row_and_loo_on_n_minus_one():
    from ferbench.families import registry
    from ferbench.runner import family_folds

    data = generate(n_images=30, seed=1, n_subjects=5, image_size=24)
    loo = family_folds(registry.get("vgg19_pca_svm"), parse_protocol("loo"), data, seed=0)
    assert all(len(f.val) == 0 and len(f.train) == len(data) - 1 for f in loo)
    cnn = family_folds(registry.get("baseline_cnn"), parse_protocol("loo"), data, seed=0)
    assert all(len(f.val) > 0 for f in cnn)  # families with early stopping keep their validation part


def test_folds_fitted_in_threads_give_the_same_results_as_one_after_another(monkeypatch):
    from ferbench import runner

    data = generate(n_images=40, seed=3, n_subjects=5, image_size=24)
    params = {**PARAMS, "layer": "block3_pool", "n_components": 8}
    results = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("FERBENCH_THREADS", threads)
        loo = runner.run("vgg19_pca_svm", data, protocol="loo", params=params, quiet=True, log_model=False)
        ajk = runner.run(
            "vgg19_pca_svm", data, protocol="holdout:0.2", params={**params, "ajk": True}, quiet=True, log_model=False
        )
        results[threads] = (loo.metrics, [m["test_accuracy"] for m in loo.fold_metrics], ajk.metrics)
    one, two = results["1"], results["2"]
    assert one[1] == two[1]  # every LOO fold's prediction, in fold order
    for key in ("test_accuracy", "test_macro_f1"):
        assert one[0][key] == two[0][key]
    assert one[2]["train_ajk_accuracy"] == two[2]["train_ajk_accuracy"]
    assert 0.0 <= one[2]["train_ajk_accuracy"] <= 1.0


def test_fold_memo_stays_within_its_byte_budget(monkeypatch):
    import numpy as np

    from ferbench.features import gram_pca

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 100))
    one_fold = gram_pca.FoldPCA(x @ x.T, np.arange(39), 5).nbytes  # every fold below is this size
    monkeypatch.setattr(gram_pca, "MEMO_BYTES", 3 * one_fold)
    pca = gram_pca.GramPCA(x @ x.T)
    for i in range(10):
        pca.fold(np.delete(np.arange(40), i), 5)
    assert gram_pca._MEMO_SIZE[0] <= gram_pca.MEMO_BYTES
    assert sum(key[0] == pca._id for key in gram_pca._MEMO) <= 3
    assert pca._known(np.delete(np.arange(40), 9), 5) is not None  # the most recent is kept


def test_grid_parent_logs_the_cells_and_one_heatmap_while_cells_log_no_figures():
    data = generate(n_images=36, seed=2, n_subjects=6, image_size=24)
    parent, cells, _ = run_grid(
        "vgg19_pca_svm", data, layers=["block5_pool"], pca=[3, 6], protocols=["holdout:0.2"], params=PARAMS
    )
    client = record.client()
    assert sorted(a.path for a in client.list_artifacts(parent, "grid")) == [
        "grid/grid_cells.csv",
        "grid/grid_test_accuracy.png",
    ]
    local = client.download_artifacts(parent, "grid/grid_cells.csv")
    lines = open(local).read().strip().splitlines()
    assert len(lines) == 1 + len(cells) and lines[0].startswith("layer,n_components,protocol,test_accuracy")
    cell_files = [a.path for a in client.list_artifacts(cells[0]["run_id"], "evaluation")]
    assert "evaluation/test_confusion_matrix.csv" in cell_files
    assert not any(path.endswith(".png") for path in cell_files)


@pytest.mark.filterwarnings("error")  # a ConvergenceWarning escaping any thread fails the test
def test_liblinear_stopping_early_is_a_metric_not_a_warning(monkeypatch):
    from ferbench import runner
    from ferbench.families._base_feature import FeatureFamily

    monkeypatch.setenv("FERBENCH_THREADS", "2")
    data = generate(n_images=40, seed=3, n_subjects=5, image_size=24)
    params = {**PARAMS, "layer": "block3_pool", "n_components": 8}
    converged = runner.run("vgg19_pca_svm", data, protocol="kfold:4", params=params, quiet=True, log_model=False)
    assert [m["svm_converged"] for m in converged.fold_metrics] == [1.0] * 4
    monkeypatch.setattr(FeatureFamily, "MAX_ITER_WHITENED", 1)
    stopped = runner.run("vgg19_pca_svm", data, protocol="kfold:4", params=params, quiet=True, log_model=False)
    assert [m["svm_converged"] for m in stopped.fold_metrics] == [0.0] * 4  # folds 2-4 ran in threads
    assert stopped.metrics["svm_converged"] == 0.0
