"""A feature family over layers x PCA sizes (x protocols) as one parent MLflow run
(ferbench.kind=grid) with one child run per cell (ferbench.kind=grid_cell): `ferbench grid`.

All layers are extracted in one backbone pass before the first cell; every cell, fold and PCA
size then reuses the cached features and Gram matrices (ferbench.features).
"""

from __future__ import annotations

from ferbench.errors import FerbenchError
from ferbench.record.tags import TAG_GRID_SELECTED, TAG_GRID_SKIPPED, TAG_KIND, TAG_SELECTED_ON


def ravi_selection(cells: list[dict]) -> dict | None:
    """Ravi's two-step rule: of the two cells with the highest A_JK, the one whose A_JK is closest
    to its test accuracy. It looks at test rows, so the choice is test-selected."""
    scored = [c for c in cells if c.get("train_ajk_accuracy") is not None and c.get("test_accuracy") is not None]
    if not scored:
        return None
    best_two = sorted(scored, key=lambda c: -c["train_ajk_accuracy"])[:2]
    return min(best_two, key=lambda c: abs(c["train_ajk_accuracy"] - c["test_accuracy"]))


def cell_params(params: dict, protocol) -> dict:
    """A cell's params: A_JK is reported on hold-out cells, as in Ravi's table."""
    return {**params, "ajk": protocol.name.startswith("holdout") or params.get("ajk", False)}


def pca_limits(family_cls, params: dict, dataset, protocols, seed: int) -> dict[str, int]:
    """Largest PCA size each protocol allows with these params: the family's own limit on the
    smallest training part of the protocol's folds (A_JK and inner-CV refits included)."""
    from ferbench.runner import family_folds

    limits = {}
    for protocol in protocols:
        family = family_cls(**cell_params(params, protocol))
        limits[protocol.name] = min(
            family.max_components(dataset.labels[fold.train], seed)
            for fold in family_folds(family_cls, protocol, dataset, seed)
        )
    return limits


def run_grid(
    family_name: str,
    dataset,
    *,
    layers: list[str],
    pca: list[int],
    protocols: list[str],
    params: dict,
    seed: int = 0,
    tracking_uri: str | None = None,
    select: str = "none",
    quiet: bool = True,
) -> tuple[str, list[dict], dict | None]:
    """Every feasible (layer, PCA size, protocol) cell as a child run. A PCA size larger than a
    protocol's training parts allow (Ravi's 200 components on JAFFE's 213 images) is skipped and
    listed as such in the returned cells (`skipped`) and on the parent run, never fitted."""
    from ferbench import record, runner
    from ferbench.families import FeatureFamily, registry
    from ferbench.protocols import parse_protocol

    family_cls = registry.get(family_name)
    spec = family_cls.params_spec()
    if not issubclass(family_cls, FeatureFamily) or "layer" not in spec or "n_components" not in spec:
        raise FerbenchError(f"family {family_name} has no layer / n_components grid (a feature family is needed)")
    for layer in layers:
        family_cls(**{**params, "layer": layer})  # checks layer names and sizes before any work
    parsed = [parse_protocol(p) for p in protocols]
    limits = pca_limits(family_cls, params, dataset, parsed, seed)
    probe = family_cls(**{**params, "layer": layers[0]})
    probe.feature_set(dataset).ensure([family_cls(**{**params, "layer": name}).layer for name in layers])
    record.setup(tracking_uri)
    experiment = record.experiment_for(dataset.name)
    tags = record.common_tags(family_cls, dataset, ",".join(p.name for p in parsed), seed, params)
    tags[TAG_KIND] = "grid"
    cells: list[dict] = []
    with record.tracked_run(experiment, f"grid {family_name}", tags) as parent:
        record.log(
            parent,
            params={
                "layers": ",".join(layers),
                "pca": ",".join(map(str, pca)),
                "protocols": ",".join(p.name for p in parsed),
                "seed": seed,
                **params,
            },
        )
        skipped = sorted(
            {
                f"PCA {k} under {p.name} (training parts allow {limits[p.name]})"
                for k in pca
                for p in parsed
                if k > limits[p.name]
            }
        )
        if skipped:
            record.log(parent, tags={TAG_GRID_SKIPPED: "; ".join(skipped)})
        for layer in layers:
            for k in pca:
                for protocol in parsed:
                    if k > limits[protocol.name]:
                        cells.append(
                            {
                                "run_id": None,
                                "layer": layer,
                                "n_components": k,
                                "protocol": protocol.name,
                                "test_accuracy": None,
                                "train_ajk_accuracy": None,
                                "skipped": f"training parts allow at most {limits[protocol.name]} components",
                            }
                        )
                        continue
                    result = runner.run(
                        family_name,
                        dataset,
                        protocol=protocol.name,
                        params={**cell_params(params, protocol), "layer": layer, "n_components": k},
                        seed=seed,
                        tracking_uri=tracking_uri,
                        quiet=quiet,
                        log_model=False,
                        parent_run_id=parent,
                        extra_tags={TAG_KIND: "grid_cell"},
                        log_figures=False,
                        fold_runs=False,
                    )
                    cells.append(
                        {
                            "run_id": result.run_id,
                            "layer": layer,
                            "n_components": k,
                            "protocol": protocol.name,
                            "test_accuracy": result.metrics.get("test_accuracy"),
                            "train_ajk_accuracy": result.metrics.get("train_ajk_accuracy"),
                        }
                    )
        log_grid_summary(parent, cells, layers, pca, [p.name for p in parsed])
        chosen = ravi_selection(cells) if select == "ravi" else None
        if chosen is not None:
            record.log(
                parent,
                tags={TAG_SELECTED_ON: "test", TAG_GRID_SELECTED: chosen["run_id"]},
                metrics={
                    "selected_test_accuracy": chosen["test_accuracy"],
                    "selected_train_ajk_accuracy": chosen["train_ajk_accuracy"],
                },
            )
    return parent, cells, chosen


def log_grid_summary(run_id: str, cells: list[dict], layers: list[str], pca: list[int], protocols: list[str]) -> None:
    """The parent run's view of the grid: every cell as CSV, and test accuracy per layer x PCA
    size as one heatmap per protocol (the cells themselves log no figures)."""
    import tempfile
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ferbench.record import log_files

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        keys = ["layer", "n_components", "protocol", "test_accuracy", "train_ajk_accuracy", "run_id", "skipped"]
        rows = [",".join(keys)] + [",".join("" if c.get(k) is None else str(c[k]) for k in keys) for c in cells]
        (out / "grid_cells.csv").write_text("\n".join(rows) + "\n")
        figsize = (1.2 + 1.1 * len(pca) * len(protocols), 0.5 * len(layers) + 1.6)
        fig, axes = plt.subplots(1, len(protocols), figsize=figsize, dpi=90, squeeze=False)
        for ax, protocol in zip(axes[0], protocols, strict=True):
            table = np.full((len(layers), len(pca)), np.nan)
            for c in cells:
                if c["protocol"] == protocol and c.get("test_accuracy") is not None:
                    table[layers.index(c["layer"]), pca.index(c["n_components"])] = c["test_accuracy"]
            ax.imshow(table, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            for (i, j), value in np.ndenumerate(table):
                ax.text(
                    j,
                    i,
                    "skip" if np.isnan(value) else f"{value:.3f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if np.isnan(value) or value > 0.6 else "white",
                )
            ax.set_xticks(range(len(pca)), [str(k) for k in pca])
            ax.set_yticks(range(len(layers)), layers)
            ax.set_xlabel("PCA components")
            ax.set_title(f"test accuracy, {protocol}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "grid_test_accuracy.png")
        plt.close(fig)
        log_files(run_id, out, artifact_path="grid")
