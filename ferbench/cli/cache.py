"""`ferbench cache`: see what the store's caches (and stopped runs' checkpoints) hold, and remove
stale entries or all of them."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import typer

from ferbench.errors import FerbenchError

KIND_HELP = "features, datasets, leaderboard or checkpoints (default: all four)"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _plan_lines(entries) -> list[str]:
    from ferbench.inventory import human_size

    return [f"  {e.kind:<11} {e.status:<13} {human_size(e.size):>9}  {e.name}" for e in entries]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Caches in the store: list them, remove stale entries or all of them.", no_args_is_help=True
    )

    @group.command("list")
    def list_entries(
        kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
        as_json: bool = typer.Option(False, "--json", help="print exactly one JSON object"),
    ) -> None:
        """Every cache entry with its status, size and age, and totals per kind and status."""
        from rich.console import Console
        from rich.table import Table

        from ferbench import inventory

        kinds = inventory.check_kinds(kind)
        entries = inventory.inventory(kinds)
        totals = inventory.totals(entries)
        if as_json:
            typer.echo(
                json.dumps(
                    {"cache": str(inventory.cache_root()), "entries": [e.to_json() for e in entries], "totals": totals}
                )
            )
            return
        if not entries:
            typer.echo(f"nothing cached in {inventory.cache_root()}")
            return
        table = Table("kind", "entry", "status", "size", "modified", "description")
        for e in entries:
            description = f"{e.description}\n{e.reason}" if e.reason else e.description
            table.add_row(
                e.kind,
                e.name,
                e.status,
                inventory.human_size(e.size),
                datetime.fromtimestamp(e.modified).strftime("%Y-%m-%d %H:%M"),
                description,
            )
        # Piped output keeps whole rows (rich would wrap at 80 columns off a terminal).
        Console(width=None if sys.stdout.isatty() else 200).print(table)
        for row in totals:
            typer.echo(
                f"total {row['kind']} {row['status']}: {_entries(row['entries'])}, {inventory.human_size(row['bytes'])}"
            )

    @group.command()
    def clear(
        kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
        stale: bool = typer.Option(
            False, "--stale", help="remove stale, incomplete and orphaned entries (resumable checkpoints stay)"
        ),
        everything: bool = typer.Option(False, "--all", help="remove every entry (except those being written)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be removed"),
        yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
    ) -> None:
        """Remove cache entries: --stale (what today's code never reads or resumes) or --all."""
        from ferbench import inventory

        if stale == everything:
            raise FerbenchError("say what to remove: exactly one of --stale (stale, incomplete, orphaned) or --all")
        kinds = inventory.check_kinds(kind)
        chosen = inventory.select(inventory.inventory(kinds), everything)
        if not chosen:
            typer.echo("nothing to remove")
            return
        total = inventory.human_size(sum(e.size for e in chosen))
        typer.echo("\n".join(_plan_lines(chosen)))
        typer.echo(f"{_entries(len(chosen))}, {total}")
        if dry_run:
            typer.echo("dry run: nothing removed")
            return
        if not yes and not typer.confirm(f"Remove these {_entries(len(chosen))} ({total})?"):
            typer.echo("nothing removed")
            raise typer.Exit(1)
        freed, removed, failures = 0, 0, []
        for entry in inventory.still_selected(chosen, everything):
            try:
                size = inventory.remove(entry)
            except OSError as exc:
                failures.append(f"{entry.kind} {entry.name}: {exc.strerror or exc}")
                continue
            freed, removed = freed + size, removed + 1
            typer.echo(f"removed {entry.kind} {entry.name} ({inventory.human_size(size)})")
        typer.echo(f"freed {inventory.human_size(freed)} in {_entries(removed)}")
        if failures:
            raise FerbenchError(f"could not remove {_entries(len(failures))}, first {failures[0]}")

    app.add_typer(group, name="cache")
