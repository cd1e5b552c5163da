"""`ferbench leaderboard` and `ferbench baselines list|sync`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ferbench.errors import FerbenchError

TRACKING_HELP = "MLflow tracking URI (default: MLFLOW_TRACKING_URI or ./ferbench-store)."


def leaderboard(
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Only this data set (e.g. fer2013)."),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="Only runs under this protocol text."),
    family: Optional[str] = typer.Option(None, "--family", help="Only this family."),
    format: str = typer.Option("table", "--format", help="table, markdown, csv, json or html."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help=TRACKING_HELP),
    log: bool = typer.Option(True, "--log/--no-log", help="Log the chart as a kind=leaderboard run."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the chart and tables here."),
    refresh: bool = typer.Option(False, "--refresh", help="Re-read every run instead of catching up the local cache."),
) -> None:
    """Our best run per family beside every published number, with comparability and delta."""
    from ferbench import record
    from ferbench.leaderboard import NOTHING_YET
    from ferbench.leaderboard import leaderboard as build
    from ferbench.leaderboard_render import FORMATS, log_run, render

    if format not in FORMATS:
        raise FerbenchError(f"--format {format!r} not one of {', '.join(FORMATS)}")
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
    typer.echo(render(rows, format))
    if log:
        run_id = log_run(rows, dataset, {"dataset": dataset, "protocol": protocol, "family": family}, out)
        typer.echo(f"chart logged to MLflow run {run_id} (kind=leaderboard)", err=True)


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard)
    group = typer.Typer(help="Published baselines (ferbench/baselines/published.yaml).",
                        no_args_is_help=True)

    @group.command("list")
    def list_(
        family: Optional[str] = typer.Option(None, "--family"),
        dataset: Optional[str] = typer.Option(None, "--dataset"),
        paper: Optional[str] = typer.Option(None, "--paper"),
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
            typer.echo(f"{e['id']:<52} {e['family']:<20} {e['dataset']:<8} {e['protocol']:<12} "
                       f"{e['split']:<11} {e['metric']:<20} {value:>8}  selected_on={e['selected_on']}")

    @group.command("sync")
    def sync_(tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help=TRACKING_HELP)) -> None:
        """Write the published numbers into MLflow as source=published runs (idempotent)."""
        from ferbench.baselines.sync import sync

        report = sync(tracking_uri)
        typer.echo(f"published baselines synced: {report}")

    app.add_typer(group, name="baselines")
