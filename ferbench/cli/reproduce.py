"""`ferbench reproduce`: a paper's table in one command, resumable."""

from __future__ import annotations

import json
import sys

import typer

from ferbench.cli._data import DataOption, load_data
from ferbench.errors import FerbenchError

FORMATS = ("table", "markdown", "json")


def _list_rows(rows, fmt: str) -> None:
    from ferbench.families import registry

    out = []
    for row in rows:
        family_cls = registry.get(row.family)
        missing = None if "weights" in row.params else family_cls.unavailable_reason()
        out.append(
            {
                "row": row.label,
                "family": row.family,
                "params": row.params,
                "dataset": row.dataset,
                "protocol": row.protocol,
                "epochs": row.epochs,
                "seeds": list(row.seeds),
                "reproduces": list(row.reproduces),
                "compares_with": list(row.compares_with),
                "available": missing is None,
                "reason": missing,
                "notes": row.notes,
            }
        )
    if fmt == "json":
        typer.echo(json.dumps(out))
        return
    for item in out:
        params = " ".join(f"{k}={v}" for k, v in item["params"].items())
        typer.echo(f"{item['row']}  {item['family']} {params}".rstrip())
        typer.echo(
            f"    {item['dataset']} {item['protocol']}, epochs {item['epochs'] or '-'}, "
            f"seeds {','.join(map(str, item['seeds']))}"
        )
        for label in ("reproduces", "compares_with"):
            if item[label]:
                typer.echo(f"    {label.replace('_', ' ')}: {', '.join(item[label])}")
        if item["reason"]:
            typer.echo(f"    cannot run here: {item['reason']}")


def _print(lines, fmt: str, console, rows, data, parent_run_id: str | None) -> None:
    from ferbench import reproductions

    if fmt == "json":
        typer.echo(json.dumps({"parent_run_id": parent_run_id, "rows": [line.to_json() for line in lines]}))
    elif fmt == "markdown":
        typer.echo(reproductions.markdown(lines))
    else:
        title = f"ferbench reproduce {' '.join(sorted({r.paper for r in rows}))} on {data.name} ({data.variant})"
        console.print(reproductions.rich_table(lines, title))
        if parent_run_id:
            console.print(f"parent run {parent_run_id}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("reproduce")
    def reproduce_command(
        papers: list[str] | None = typer.Argument(None, help="paper keys (default: every paper with a spec)"),
        path: str | None = typer.Option(None, "--path", help="where the data set is on disk"),
        dataset: str | None = typer.Option(
            None, "--dataset", help="data set to run the rows of (default: the rows' only one)"
        ),
        data_option: list[str] | None = DataOption,
        rows: str | None = typer.Option(None, "--rows", help="comma-separated row ids (ROW or PAPER/ROW)"),
        seeds: str | None = typer.Option(
            None, "--seeds", help="comma-separated seeds for every row (default: each row's own)"
        ),
        list_rows: bool = typer.Option(False, "--list", help="list the rows and stop; nothing runs"),
        no_train: bool = typer.Option(
            False, "--no-train", help="the table from finished runs only; nothing is trained or written"
        ),
        fmt: str = typer.Option("table", "--format", help="table, markdown or json"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow tracking URI (default: ./ferbench-store)"
        ),
    ) -> None:
        """Reproduce papers' tables and compare them with the published numbers.

        Each row runs over its seeds, reusing finished runs and resuming killed ones."""
        from ferbench import reproductions
        from ferbench.seeds import parse_seeds

        if fmt not in FORMATS:
            raise FerbenchError(f"--format {fmt!r} not one of {', '.join(FORMATS)}")
        chosen = reproductions.select(papers or None, [r.strip() for r in rows.split(",")] if rows else None)
        if seeds is not None:
            override = parse_seeds(seeds)
            chosen = [row.with_seeds(override) for row in chosen]
        if list_rows:
            _list_rows(chosen, fmt)
            return
        name = reproductions.check_dataset(chosen, dataset)
        chosen = [row for row in chosen if row.dataset == name]
        from ferbench import record

        record.setup(tracking_uri)  # an unusable store fails before any data is read
        data = load_data(name, path, data_option)
        quiet = fmt == "json"
        from rich.console import Console

        console = Console(stderr=quiet, width=None if sys.stdout.isatty() else 200)
        if no_train:
            _print(reproductions.report(chosen, data, tracking_uri=tracking_uri), fmt, console, chosen, data, None)
            return
        try:
            outcome = reproductions.reproduce(
                chosen,
                data,
                tracking_uri=tracking_uri,
                quiet=quiet,
                on_line=None if quiet else lambda line: console.print(f"{line.row}: {line.verdict}", highlight=False),
            )
        except KeyboardInterrupt as exc:
            from ferbench.cli.runs import stop_word_and_code

            word, code = stop_word_and_code(exc)
            typer.echo(f"{word}: the started runs are marked KILLED; the same command resumes them", err=True)
            raise typer.Exit(code) from None
        _print(outcome.lines, fmt, console, chosen, data, outcome.parent_run_id)
        if outcome.failed:
            raise typer.Exit(1)
