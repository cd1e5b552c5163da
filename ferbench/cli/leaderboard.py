"""`ferbench leaderboard` and `ferbench baselines list|sync`."""

from __future__ import annotations

from pathlib import Path

import typer

from ferbench.errors import FerbenchError

TRACKING_HELP = "MLflow tracking URI (default: MLFLOW_TRACKING_URI or ./ferbench-store)."


def leaderboard(
    dataset: str | None = typer.Option(None, "--dataset", help="Only this data set (e.g. fer2013)."),
    protocol: str | None = typer.Option(None, "--protocol", help="Only runs under this protocol text."),
    family: str | None = typer.Option(None, "--family", help="Only this family."),
    format: str = typer.Option("table", "--format", help="table, markdown, csv, json or html (one page with a chart)."),
    wide: bool = typer.Option(
        False, "--wide", help="Table: every column (protocol, epochs, paper id, reasons in full, vs our best, run)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the output to this file, not stdout."),
    log: bool = typer.Option(
        False,
        "--log/--no-log",
        help="Keep the page, chart and tables in MLflow: "
        "one kind=leaderboard run per data set and filter, updated each time.",
    ),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    refresh: bool = typer.Option(False, "--refresh", help="Re-read every run instead of catching up the local cache."),
) -> None:
    """Our best run per family beside every published number, with comparability and delta."""
    from ferbench import record
    from ferbench.leaderboard import FORMATS, NOTHING_YET, log_run, print_table, render
    from ferbench.leaderboard import leaderboard as build

    if format not in FORMATS:
        raise FerbenchError(f"--format {format!r} not one of {', '.join(FORMATS)}")
    if out is not None and out.is_dir():
        raise FerbenchError(f"--out {out} is a directory: give a file name")
    if protocol:
        from ferbench.protocols import parse_protocol

        protocol = parse_protocol(protocol).name
    if family:
        from ferbench.families import registry

        registry.get(family)  # unknown family -> one-line error naming the known ones
    client = record.setup(tracking_uri)
    rows = build(client, dataset=dataset, protocol=protocol, family=family, refresh=refresh)
    if not rows:
        typer.echo(NOTHING_YET)
        return
    if out is not None:
        _write(out, render(rows, format, wide))
        typer.echo(f"leaderboard written to {out}", err=True)
    elif format == "table":
        print_table(rows, wide)
    else:
        typer.echo(render(rows, format))
    if log:
        run_id, created = log_run(rows, dataset, {"dataset": dataset, "protocol": protocol, "family": family})
        typer.echo(f"leaderboard run {run_id} {'created' if created else 'updated'} in MLflow", err=True)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a page."""
    from ferbench import store

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with store.atomic_write(path, "w") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise FerbenchError(f"--out {path}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard)
    group = typer.Typer(help="Published baselines (ferbench/baselines/published.yaml).", no_args_is_help=True)

    @group.command("list")
    def list_(
        family: str | None = typer.Option(None, "--family"),
        dataset: str | None = typer.Option(None, "--dataset"),
        paper: str | None = typer.Option(None, "--paper"),
        as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
    ) -> None:
        """List published numbers (every field is in the YAML file)."""
        import json

        from ferbench import baselines

        chosen = {k: v for k, v in {"family": family, "dataset": dataset, "paper": paper}.items() if v}
        entries = baselines.select(**chosen)
        if as_json:
            typer.echo(json.dumps(entries, indent=2))
            return
        if not entries:
            raise FerbenchError(f"no published baseline matches {chosen}")
        for e in entries:
            value = "matrix" if e["metric"] == "confusion" else f"{100 * e['value']:.2f}%"
            typer.echo(
                f"{e['id']:<52} {e['family']:<20} {e['dataset']:<8} {e['protocol']:<12} "
                f"{e['split']:<11} {e['metric']:<20} {value:>8}  selected_on={e['selected_on']}"
            )

    @group.command("sync")
    def sync_(tracking_uri: str | None = typer.Option(None, "--tracking-uri", help=TRACKING_HELP)) -> None:
        """Write the published numbers into MLflow as source=published runs (idempotent)."""
        from ferbench.baselines.sync import sync

        report = sync(tracking_uri)
        typer.echo(f"published baselines synced: {report}")

    app.add_typer(group, name="baselines")
