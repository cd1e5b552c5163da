"""`ferbench grid`: a feature family over layers x PCA sizes (x protocols), one parent MLflow run
with one child run per cell (ferbench.grid)."""

from __future__ import annotations

import typer

from ferbench.cli._data import DataOption, load_data
from ferbench.errors import FerbenchError


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FerbenchError(f"{option} {text!r}: expected comma-separated integers") from None
    if not values:
        raise FerbenchError(f"{option}: no values given")
    return values


def register(app: typer.Typer) -> None:
    @app.command("grid")
    def grid_command(
        family: str = typer.Argument(..., help="a feature family, e.g. vgg19_pca_svm"),
        dataset: str = typer.Option(..., "--dataset", help="data set name"),
        path: str | None = typer.Option(None, "--path", help="where the data set is on disk"),
        data_option: list[str] | None = DataOption,
        # ", " between layers so that the help can wrap the default (names are stripped)
        layers: str = typer.Option(
            "block1_pool, block2_pool, block3_pool, block4_pool, block5_pool, fc1",
            "--layers",
            metavar="LAYER,...",
            help="comma-separated layer names",
        ),
        pca: str = typer.Option("50,100,150,200", "--pca", metavar="N,...", help="PCA sizes"),
        protocol: list[str] = typer.Option(["holdout:0.2"], "--protocol", metavar="PROTOCOL", help="repeatable"),
        assignments: list[str] | None = typer.Option(
            None, "--set", metavar="KEY=VALUE", help="other hyperparameter (repeatable)"
        ),
        weights: str | None = typer.Option(None, "--weights", help="imagenet | none | PATH"),
        select: str = typer.Option("none", "--select", help="none | ravi (two-step rule; looks at test rows)"),
        seed: int = typer.Option(0, "--seed"),
        tracking_uri: str | None = typer.Option(None, "--tracking-uri"),
    ) -> None:
        """Run a feature family over layers x PCA sizes: one parent run, one child per cell."""
        from ferbench.cli.runs import _family_params
        from ferbench.families import registry
        from ferbench.grid import run_grid

        if select not in ("none", "ravi"):
            raise FerbenchError(f"--select {select!r}: use none or ravi")
        family_cls = registry.get(family)
        params = _family_params(family_cls, assignments, weights)
        layer_list = [x.strip() for x in layers.split(",") if x.strip()]
        data = load_data(dataset, path, data_option)
        parent, cells, chosen = run_grid(
            family,
            data,
            layers=layer_list,
            pca=_ints(pca, "--pca"),
            protocols=list(protocol),
            params=params,
            seed=seed,
            tracking_uri=tracking_uri,
            select=select,
        )
        for c in cells:
            if c.get("skipped"):
                typer.echo(f"{c['layer']:14s} PCA {c['n_components']:4d} {c['protocol']:12s} skipped: {c['skipped']}")
                continue
            ajk = c["train_ajk_accuracy"]
            typer.echo(
                f"{c['layer']:14s} PCA {c['n_components']:4d} {c['protocol']:12s} "
                f"test {c['test_accuracy']:.3f}" + (f"  A_JK {ajk:.3f}" if ajk is not None else "")
            )
        if chosen is not None:
            typer.echo(f"Ravi's rule (test-selected): {chosen['layer']} PCA {chosen['n_components']}")
        typer.echo(f"grid run {parent}")
