"""`ferbench datasets`: list the readers, and describe one data set as read from disk."""

from __future__ import annotations

import json
from collections import Counter
from typing import Optional

import typer



def _option_value(text: str):
    """--set values: whole numbers and true/false become typed; anything else stays text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        return text


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
            typer.echo(f"{'':<10} options: {', '.join(info.options)}")

    @group.command()
    def describe(
        name: str = typer.Argument(..., help="fer2013, jaffe, ckplus, sfew, folder or synthetic"),
        path: Optional[str] = typer.Option(None, "--path", help="file or folder holding the data set"),
        as_json: bool = typer.Option(False, "--json", help="print exactly one JSON object"),
        contempt: str = typer.Option("drop", help="CK+: drop contempt, or keep it as an eighth class"),
        ck_frames: int = typer.Option(3, help="CK+ original: last N frames of each labelled sequence"),
        ck_first_neutral: bool = typer.Option(False, help="CK+ original: also take each first frame as neutral"),
        skip_corrupt: bool = typer.Option(False, help="skip corrupt images (reported in warnings) instead of stopping"),
        class_map: Optional[str] = typer.Option(None, help="folder reader: 'folder=emotion,...'"),
        no_cache: bool = typer.Option(False, "--no-cache", help="read from disk even when a cached copy exists"),
        set_: Optional[list[str]] = typer.Option(None, "--set", help="reader option key=value, e.g. n_images=500"),
    ) -> None:
        """Counts per class and split, subjects, image shape and mode, fingerprint and warnings."""
        from ferbench.data.readers import load_dataset
        from ferbench.params import parse_assignments

        options = {k: _option_value(v) for k, v in parse_assignments(set_).items()}
        dataset = load_dataset(name, path, contempt=contempt, ck_frames=ck_frames,
                               ck_first_neutral=ck_first_neutral, skip_corrupt=skip_corrupt,
                               class_map=class_map, use_cache=not no_cache, **options)
        report = summary(dataset)
        if as_json:
            typer.echo(json.dumps(report))
            return
        typer.echo(f"{report['name']} ({report['variant'] or 'default'}): {report['n_images']} images, "
                   f"{report['mode']} {'x'.join(map(str, report['image_shape']))} uint8, "
                   f"{report['memory_mb']} MB in memory")
        typer.echo("classes: " + ", ".join(f"{k} {v}" for k, v in report["classes"].items()))
        typer.echo("splits: " + (", ".join(f"{k} {v}" for k, v in report["splits"].items()) or "none (no official split)"))
        typer.echo(f"subjects: {report['subjects'] if report['subjects'] is not None else 'none'}")
        if report["options"]:
            typer.echo("options: " + ", ".join(f"{k}={v}" for k, v in report["options"].items()))
        for split, figures in report["split_statistics"].items():
            typer.echo(f"{split}: contrast {figures['contrast']}, sharpness {figures['sharpness']} "
                       f"(medians over {figures['n_sampled']} images)")
        typer.echo(f"fingerprint: {report['fingerprint']}")
        for note in report["warnings"]:
            typer.echo(f"warning: {note}")

    app.add_typer(group, name="datasets")

