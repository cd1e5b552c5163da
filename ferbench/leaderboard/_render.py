"""Leaderboard output: the terminal table (fits 100 columns; --wide shows every column),
markdown / csv / json / html text, and the one MLflow leaderboard run per data set and filter.
The HTML page and the charts live in `_page`, the cell texts in `_cells`."""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
from pathlib import Path

from ferbench.comparability import CAVEATS, COMPARABLE
from ferbench.errors import FerbenchError
from ferbench.leaderboard._cells import (
    LEGEND,
    MARKS,
    all_reasons,
    delta_text,
    fmt,
    metric_label,
    ours_text,
    short_why,
)
from ferbench.leaderboard._compare import Row
from ferbench.record.tags import TAG_FILTER_PREFIX, TAG_KIND, TAG_SOURCE, TAG_VERSION

FORMATS = ("table", "markdown", "csv", "json", "html")
HEADERS = (
    "family",
    "dataset",
    "metric",
    "ours",
    "n",
    "run",
    "tuned",
    "protocol",
    "epochs",
    "published",
    "paper / id",
    "pub. protocol",
    "comparable",
    "delta",
    "reasons",
    "vs our best",
)
# Off a terminal rich would assume 80 columns and cut the table: a fixed width instead.
NARROW_WIDTH, WIDE_WIDTH = 100, 240


def _cells(row: Row) -> list[str]:
    tuned = "" if row.tuned is None else ("yes" if row.tuned else "no")
    return [
        row.family,
        row.dataset,
        row.metric,
        fmt(row.ours, row.ours_std),
        row.ours_n,
        row.run_id[:12],
        tuned,
        row.our_protocol,
        row.epochs,
        fmt(row.published),
        row.published_id,
        row.published_protocol,
        row.comparable,
        delta_text(row),
        "; ".join(all_reasons(row)),
        row.paired,
    ]


# --- the terminal table ---------------------------------------------------------------------------
def table(rows: list[Row], wide: bool = False):
    """The rich table: narrow (fits 100 columns) or every column (--wide)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = Table(
        title="ferbench leaderboard: ours against published (accuracy, %)",
        caption=LEGEND + ("" if wide else " --wide: every column, reasons in full."),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        caption_justify="left",
    )
    names = ["family", "data", "metric", "ours", "n"]
    names += (
        ["run", "protocol", "epochs", "paper", "paper id", "paper protocol", "Δ", "reasons", "vs our best"]
        if wide
        else ["paper", "Δ, or why not"]
    )
    for name in names:  # only the text columns wrap; numbers and names stay whole
        wraps = name in ("reasons", "vs our best", "Δ, or why not")
        out.add_column(
            name,
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
            justify="right" if name == "Δ" else "left",
        )
    for row in rows:
        mark, colour = MARKS.get(row.comparable, ("", ""))
        cells: list[str | Text] = [row.family, row.dataset, metric_label(row.metric), ours_text(row), row.ours_n]
        if wide:
            cells += [
                row.run_id[:12],
                row.our_protocol,
                row.epochs,
                fmt(row.published),
                row.published_id,
                row.published_protocol,
                Text(f"{mark} {delta_text(row)}".strip(), style=colour),
                "; ".join(all_reasons(row)),
                row.paired,
            ]
        else:
            why = Text()
            why.append(f"{mark} " if mark else "  ", style=f"bold {colour}" if mark else "")
            why.append(short_why(row))
            cells += [fmt(row.published), why]
        out.add_row(*cells, style="dim" if row.reference_only else None)
    return out


def print_table(rows: list[Row], wide: bool = False, file=None) -> None:
    """Colours and the terminal's width on a terminal; plain text at a fixed width elsewhere."""
    from rich.console import Console

    file = file if file is not None else sys.stdout
    tty = file.isatty()
    console = Console(
        file=file,
        width=None if tty else (WIDE_WIDTH if wide else NARROW_WIDTH),
        force_terminal=None if tty else False,
        color_system="auto" if tty else None,
        highlight=False,
        emoji=False,
    )
    console.print(table(rows, wide))


def render(rows: list[Row], fmt_name: str, wide: bool = False) -> str:
    if fmt_name not in FORMATS:
        raise FerbenchError(f"--format {fmt_name!r} not one of {', '.join(FORMATS)}")
    if fmt_name == "json":
        return json.dumps([r.to_json() for r in rows], indent=2)
    if fmt_name == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows(_cells(r) for r in rows)
        return out.getvalue()
    if fmt_name == "markdown":
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
        return "\n".join(lines)
    if fmt_name == "html":
        from ferbench.leaderboard._page import page

        return page(rows)
    text = io.StringIO()
    print_table(rows, wide, file=text)
    return text.getvalue().rstrip("\n")


# --- the MLflow leaderboard run -------------------------------------------------------------------
LEGACY_METRICS = ("rows", "comparable_rows")  # bare names that led MLflow's chart view


def log_run(rows: list[Row], dataset: str | None, filters: dict) -> tuple[str, bool]:
    """Create or refresh THE leaderboard run of this data set and filter (page, chart, tables as
    artifacts); returns (run id, whether it was created). Older duplicates are deleted."""
    from ferbench import __version__, record

    datasets = {r.dataset for r in rows if not r.reference_only}
    target = dataset or (next(iter(datasets)) if len(datasets) == 1 else "leaderboard")
    experiment = record.experiment_for(target)
    wanted = {f"{TAG_FILTER_PREFIX}{k}": str(v) for k, v in filters.items() if v}
    client = record.client()
    found = [
        run
        for run in client.search_runs(
            [experiment],
            f"tags.`{TAG_KIND}` = 'leaderboard'",
            max_results=1000,
            order_by=["attributes.start_time DESC"],
        )
        if {k: v for k, v in run.data.tags.items() if k.startswith(TAG_FILTER_PREFIX)} == wanted
    ]
    keep = next((run for run in found if not set(LEGACY_METRICS) & run.data.metrics.keys()), None)
    for run in found:  # one run per data set and filter: earlier calls each added one
        if run is not keep:
            client.delete_run(run.info.run_id)
    tags = {TAG_SOURCE: "ferbench", TAG_KIND: "leaderboard", TAG_VERSION: __version__, **wanted}
    opened = record.reopened_run(keep.info.run_id) if keep else record.tracked_run(experiment, "leaderboard", tags)
    with opened as run_id:
        with tempfile.TemporaryDirectory() as tmp:  # the same names each time: files are replaced
            write_artifacts(rows, Path(tmp))
            record.log_files(run_id, tmp, artifact_path="leaderboard")
        comparable = sum(r.comparable in (COMPARABLE, CAVEATS) for r in rows)
        # a "leaderboard/" prefix puts them in their own section of MLflow's chart view
        record.log(
            run_id, tags=tags, metrics={"leaderboard/rows": len(rows), "leaderboard/comparable_rows": comparable}
        )
    return run_id, keep is None


def write_artifacts(rows: list[Row], folder: Path) -> None:
    from ferbench.leaderboard._page import chart_png

    chart_png(rows, folder / "leaderboard.png")
    (folder / "leaderboard.html").write_text(render(rows, "html"), encoding="utf-8")
    (folder / "leaderboard.md").write_text(render(rows, "markdown") + "\n", encoding="utf-8")
    (folder / "leaderboard.json").write_text(render(rows, "json"), encoding="utf-8")
