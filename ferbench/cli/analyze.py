"""`ferbench analyze`: confusion / per-class, occlusion (Nishime) and cross-data set analyses.

The run analyses load the run's logged model, rebuild its data set and test part from the run's
tags (reader options included, and checking the data fingerprint), and log their files under
analysis/ of that run. Cross-data set reads the data sets it is given, with `--data-option`.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ferbench.cli._data import load_data, share_data_options
from ferbench.errors import FerbenchError

DatasetOpt = typer.Option(None, "--dataset", help="Data set name, when the run's tags do not give it.")
PathOpt = typer.Option(None, "--path", help="Data set location, when the run's tags do not give it.")
UriOpt = typer.Option(None, "--tracking-uri", help="MLflow store (default: ./ferbench-store).")
OutOpt = typer.Option(None, "--out", help="Also copy the files into this folder.")


def _confusion(
    run_id: str = typer.Argument(..., help="MLflow run id of a run with a logged model."),
    dataset: str | None = DatasetOpt,
    path: str | None = PathOpt,
    tracking_uri: str | None = UriOpt,
    out: str | None = OutOpt,
) -> None:
    """Normalised confusion matrix and per-class recall (CSV + PNG), beside Nishime's where comparable."""
    from ferbench.analysis import open_run
    from ferbench.analysis.confusion import analyze_confusion

    target = open_run(run_id, tracking_uri=tracking_uri, dataset=dataset, path=path)
    summary = analyze_confusion(target, out=out)
    typer.echo(f"run {run_id}: {summary['n_images']} test images ({target.fold}), accuracy {summary['accuracy']:.4f}")
    for name, value in summary["recall"].items():
        typer.echo(f"  recall {name:<9} {value:.4f}")
    typer.echo("  Nishime side-by-side: " + ("yes" if summary["nishime"] else f"no ({summary['why_not']})"))
    typer.echo(f"artifacts: {', '.join(summary['artifacts'])}")


def _occlusion(
    run_id: str = typer.Argument(..., help="MLflow run id of a run with a logged model."),
    grid: int = typer.Option(4, "--grid", help="Regions per side; regions are numbered 1..grid^2 row-major."),
    values: str = typer.Option(
        "0,0.2,0.4,0.6,0.8,1.0", "--values", help="Mask intensities on [0,1] (pixel = value*255)."
    ),
    keep: list[str] = typer.Option(
        ["10,11", "6,7,10,11"],
        "--keep",
        metavar="REGIONS",
        help="Regions to keep while masking all others (repeatable).",
    ),
    keep_value: float = typer.Option(0.0, "--keep-value", help="Intensity of the masked area for --keep."),
    max_images: int = typer.Option(
        500, "--max-images", help="Correctly classified test images to scan (seeded choice); 0 = all."
    ),
    batch_size: int = typer.Option(2048, "--batch-size", help="Masked images per predict call."),
    dataset: str | None = DatasetOpt,
    path: str | None = PathOpt,
    tracking_uri: str | None = UriOpt,
    out: str | None = OutOpt,
) -> None:
    """Mask each face region with each value; mean change of every class output; keep-only matrices."""
    import time

    from ferbench.analysis import open_run
    from ferbench.analysis.occlusion import analyze_occlusion, parse_regions, parse_values

    if max_images < 0:
        raise FerbenchError(f"--max-images {max_images}: must be >= 0 (0 = all)")
    if batch_size < 1:
        raise FerbenchError(f"--batch-size {batch_size}: must be >= 1")
    if not 0.0 <= keep_value <= 1.0:
        raise FerbenchError(f"--keep-value {keep_value}: must be in [0, 1]")
    if grid < 1:
        raise FerbenchError(f"--grid {grid}: must be >= 1")
    parsed_values = parse_values(values)
    keeps = tuple(parse_regions(text, grid) for text in keep)
    target = open_run(run_id, tracking_uri=tracking_uri, dataset=dataset, path=path)
    t0 = time.perf_counter()
    summary = analyze_occlusion(
        target,
        grid=grid,
        values=parsed_values,
        keeps=keeps,
        keep_value=keep_value,
        max_images=max_images or None,
        batch_size=batch_size,
        out=out,
    )
    seconds = time.perf_counter() - t0
    passes = summary["n_used"] * grid * grid * len(parsed_values)
    typer.echo(
        f"run {run_id}: occlusion over {summary['n_used']} of {summary['n_correct']} correctly "
        f"classified test images ({summary['n_test']} in {target.fold}); {passes} masked "
        f"images in {seconds:.1f} s"
    )
    own = summary["result"].own_class("change")
    for g, name in enumerate(summary["result"].class_names):
        if summary["result"].counts[g]:
            worst = own[g].min(axis=0).argmin()
            typer.echo(
                f"  {name:<9} n={summary['result'].counts[g]:<5} largest drop at region "
                f"{worst + 1} ({own[g, :, worst].min():+.3f})"
            )
    for label, info in summary["keep"].items():
        typer.echo(f"  keep only {label.replace('_', ',')}: accuracy {info['accuracy']:.4f}")
    typer.echo(f"artifacts: {len(summary['artifacts'])} files under analysis/occlusion/")


@dataclass(frozen=True)
class _ReaderSpec:
    """A --train / --eval data set as cross_dataset takes it (like analysis' DataSpec), read with
    its reader's share of the --data-option texts."""

    name: str
    path: str | None
    data_options: tuple[str, ...]

    def load(self):
        return load_data(self.name, self.path, list(self.data_options))


def _cross_dataset(
    family: str = typer.Argument(..., help="Registered family name."),
    train: list[str] = typer.Option(..., "--train", metavar="NAME[:PATH]", help="Data set to train on (repeatable)."),
    evaluate: list[str] = typer.Option(
        ..., "--eval", metavar="NAME[:PATH]", help="Data set to evaluate on (repeatable)."
    ),
    data_option: list[str] = typer.Option(
        [],
        "--data-option",
        metavar="KEY=VALUE",
        help="Reader option for every --train and --eval data set whose reader takes it (repeatable).",
    ),
    assignments: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Hyperparameter (repeatable)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (default: the family's)."),
    seed: int = typer.Option(0, "--seed"),
    protocol: str | None = typer.Option(None, "--protocol", help="Protocol of the training runs."),
    tracking_uri: str | None = UriOpt,
    out: str | None = OutOpt,
) -> None:
    """Train FAMILY on each --train data set and score it on each --eval data set (accuracy matrix)."""
    import math

    from ferbench.analysis.cross_dataset import DataSpec, cross_dataset
    from ferbench.params import parse_assignments

    train_specs = [DataSpec.parse(t, "--train") for t in train]
    eval_specs = [DataSpec.parse(e, "--eval") for e in evaluate]
    shares = share_data_options([spec.name for spec in train_specs + eval_specs], data_option)

    def read_with_options(specs):
        return [_ReaderSpec(spec.name, spec.path, tuple(shares[spec.name])) for spec in specs]

    result = cross_dataset(
        family,
        read_with_options(train_specs),
        read_with_options(eval_specs),
        params=parse_assignments(assignments),
        epochs=epochs,
        seed=seed,
        protocol=protocol,
        tracking_uri=tracking_uri,
        out=out,
    )
    width = max(len(c) for c in result["cols"] + result["rows"]) + 2
    typer.echo("train \\ eval".ljust(width) + "".join(c.rjust(width) for c in result["cols"]))
    for row, values in zip(result["rows"], result["matrix"], strict=True):
        typer.echo(row.ljust(width) + "".join(("-" if math.isnan(v) else f"{v:.4f}").rjust(width) for v in values))
    for cell in result["cells"]:
        if cell["absent"]:
            typer.echo(
                f"  {cell['train']} -> {cell['eval']}: classes absent from the target, left out "
                f"of macro recall: {', '.join(cell['absent'])}"
            )
    typer.echo(f"analysis run {result['run_id']} (diagonal = in-domain test accuracy)")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Analyse logged runs: confusion, occlusion, cross-data set.", no_args_is_help=True)
    group.command("confusion")(_confusion)
    group.command("occlusion")(_occlusion)
    group.command("cross-dataset")(_cross_dataset)
    app.add_typer(group, name="analyze")
