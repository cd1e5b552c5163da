"""`ferbench grid`: one parent run, a child per feasible cell, infeasible PCA sizes skipped and listed."""

from __future__ import annotations

from ferbench import record
from ferbench.cli.grid import pca_limits, run_grid
from ferbench.data.synthetic import generate
from ferbench.protocols import parse_protocol

PARAMS = {"weights": "none", "input_size": 32}


def test_grid_runs_feasible_cells_and_skips_pca_sizes_the_folds_cannot_hold():
    data = generate(n_images=42, seed=0, n_subjects=6, image_size=24)
    from ferbench.families import registry

    protocols = [parse_protocol("holdout:0.2"), parse_protocol("kfold:3")]
    limits = pca_limits(registry.get("vgg19_pca_svm"), PARAMS, data, protocols, seed=0)
    sizes = {p.name: min(len(f.train) for f in p.folds(data, seed=0)) for p in protocols}
    assert limits == {"holdout:0.2": sizes["holdout:0.2"] - 2, "kfold:3": sizes["kfold:3"] - 1}  # A_JK refits on m - 1
    assert limits["kfold:3"] < 28 <= limits["holdout:0.2"]
    parent, cells, chosen = run_grid("vgg19_pca_svm", data, layers=["block1_pool", "fc1"], pca=[5, 28],
                                     protocols=["holdout:0.2", "kfold:3"], params=PARAMS, select="ravi")
    assert len(cells) == 2 * 2 * 2
    skipped = [c for c in cells if c.get("skipped")]
    assert {(c["n_components"], c["protocol"]) for c in skipped} == {(28, "kfold:3")}
    ran = [c for c in cells if not c.get("skipped")]
    assert all(0.0 <= c["test_accuracy"] <= 1.0 for c in ran)
    client = record.client()
    children = client.search_runs([client.get_run(parent).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(r.info.run_id for r in children) == sorted(c["run_id"] for c in ran)
    assert "PCA 28 under kfold:3" in client.get_run(parent).data.tags["ferbench.grid_skipped"]
    assert chosen is not None and chosen["protocol"] == "holdout:0.2" and chosen["train_ajk_accuracy"] is not None
