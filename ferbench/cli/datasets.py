"""`ferbench datasets`: list the readers, and describe one data set as read from disk."""

from __future__ import annotations

import json
from collections import Counter

import typer

from ferbench.cli._data import DataOption, load_data


def summary(dataset) -> dict:
    """The describe report as one JSON-ready dict."""
    from ferbench.data.dataset import SPLIT_ORDER
    from ferbench.data.shift import split_statistics

    splits = {}
    if dataset.splits is not None:
        counts = Counter(dataset.splits.tolist())
        splits = {name: counts.pop(name) for name in SPLIT_ORDER if name in counts} | dict(sorted(counts.items()))
    return {
        "name": dataset.name,
        "variant": dataset.variant,
        "n_images": len(dataset),
        "classes": dataset.class_counts(),
        "splits": splits,
        "subjects": None if dataset.subjects is None else len(set(dataset.subjects.tolist())),
        "image_shape": list(dataset.image_shape),
        "mode": "RGB" if dataset.images.ndim == 4 else "L",
        "dtype": str(dataset.images.dtype),
        "memory_mb": round(dataset.images.nbytes / 2**20, 1),
        "options": dataset.options,
        "fingerprint": dataset.fingerprint,
        "split_statistics": split_statistics(dataset),
        "warnings": list(dataset.warnings),
    }


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Data sets: the readers, and what a data set on disk holds.", no_args_is_help=False)

    @group.callback(invoke_without_command=True)
    def datasets(ctx: typer.Context) -> None:
        """List the readers and what each needs."""
        if ctx.invoked_subcommand is not None:
            return
        from ferbench.data.readers import READERS

        for info in READERS.values():
            typer.echo(f"{info.name:<10} {info.description}")
            typer.echo(f"{'':<10} needs: {info.needs}")
            typer.echo(f"{'':<10} data options: {', '.join(info.options)}")

    @group.command()
    def describe(
        name: str = typer.Argument(..., help="fer2013, jaffe, ckplus, sfew, folder or synthetic"),
        path: str | None = typer.Option(None, "--path", help="file or folder holding the data set"),
        data_option: list[str] | None = DataOption,
        as_json: bool = typer.Option(False, "--json", help="print exactly one JSON object"),
        no_cache: bool = typer.Option(False, "--no-cache", help="read from disk even when a cached copy exists"),
    ) -> None:
        """Counts per class and split, subjects, image shape and mode, fingerprint and warnings."""
        dataset = load_data(name, path, data_option, use_cache=not no_cache)
        report = summary(dataset)
        if as_json:
            typer.echo(json.dumps(report))
            return
        typer.echo(
            f"{report['name']} ({report['variant'] or 'default'}): {report['n_images']} images, "
            f"{report['mode']} {'x'.join(map(str, report['image_shape']))} uint8, "
            f"{report['memory_mb']} MB in memory"
        )
        typer.echo("classes: " + ", ".join(f"{k} {v}" for k, v in report["classes"].items()))
        typer.echo(
            "splits: " + (", ".join(f"{k} {v}" for k, v in report["splits"].items()) or "none (no official split)")
        )
        typer.echo(f"subjects: {report['subjects'] if report['subjects'] is not None else 'none'}")
        if report["options"]:
            typer.echo("options: " + ", ".join(f"{k}={v}" for k, v in report["options"].items()))
        for split, figures in report["split_statistics"].items():
            typer.echo(
                f"{split}: contrast {figures['contrast']}, sharpness {figures['sharpness']} "
                f"(medians over {figures['n_sampled']} images)"
            )
        typer.echo(f"fingerprint: {report['fingerprint']}")
        for note in report["warnings"]:
            typer.echo(f"warning: {note}")

    app.add_typer(group, name="datasets")
