"""Leaderboard output: table / markdown / csv / json / html text, the ours-vs-published chart
(PNG via matplotlib, HTML via plotly; kaleido is not used), and its MLflow leaderboard run."""

from __future__ import annotations

import csv
import html
import io
import json
import tempfile
from pathlib import Path

from ferbench.errors import FerbenchError
from ferbench.leaderboard import Row, fmt

FORMATS = ("table", "markdown", "csv", "json", "html")
HEADERS = ("family", "dataset", "metric", "ours", "n", "run", "tuned", "protocol", "epochs",
           "published", "paper / id", "pub. protocol", "comparable", "delta", "reasons",
           "vs our best")

ONE_LINE = ("ours", "n", "epochs", "comparable", "delta")


def _cells(row: Row) -> list[str]:
    tuned = "" if row.tuned is None else ("yes" if row.tuned else "no")
    delta = "" if row.delta is None else f"{100 * row.delta:+.2f}"
    reasons = list(row.reasons)
    if row.subject_independent is not None:  # beside the reason, so the gap is read at once
        reasons.append(f"ours by subject ({row.subject_independent_protocol}): "
                       f"{fmt(row.subject_independent)}")
    return [row.family, row.dataset, row.metric, fmt(row.ours, row.ours_std), row.ours_n,
            row.run_id[:12], tuned, row.our_protocol, row.epochs, fmt(row.published),
            row.published_id, row.published_protocol, row.comparable, delta,
            "; ".join(reasons), row.paired]


def render(rows: list[Row], fmt_name: str) -> str:
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
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>"
                       for r in rows)
        return (f"<table class=\"ferbench-leaderboard\"><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")
    return _rich_table(rows)


def _rich_table(rows: list[Row]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ferbench leaderboard (accuracy in %, ours mean ± std)", show_lines=False)
    for header in HEADERS:  # short cells stay on one line, the others wrap
        table.add_column(header, overflow="fold", no_wrap=header in ONE_LINE)
    for row in rows:
        table.add_row(*_cells(row))
    console = Console(record=True, width=240, file=io.StringIO())
    console.print(table)
    return console.export_text()


# --- chart ----------------------------------------------------------------------------------------
def _chart_points(rows: list[Row]):
    """Per family/data set: our value and the published values of the same metric (held-out only)."""
    points = []
    for row in rows:
        if row.reference_only or row.metric == "train_accuracy":
            continue
        points.append((f"{row.family}\n{row.dataset}", row))
    return points


def chart_png(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = _chart_points(rows)
    labels = sorted({label for label, _ in points})
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(labels) + 2), 4.5), dpi=100)
    colours = {"yes": "tab:green", "caveats": "tab:orange", "no": "tab:grey", "": "tab:grey"}
    for label, row in points:
        x = labels.index(label)
        if row.ours is not None:
            ax.errorbar(x - 0.12, 100 * row.ours, yerr=100 * (row.ours_std or 0), fmt="o",
                        color="tab:blue", capsize=3)
        if row.published is not None:
            ax.plot(x + 0.12, 100 * row.published, marker="s", linestyle="none",
                    color=colours.get(row.comparable, "tab:grey"))
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("ours (blue, mean ± std) vs published (square; green comparable, "
                 "orange caveats, grey not)", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def chart_html(rows: list[Row], path: Path) -> None:
    import plotly.graph_objects as go

    points = _chart_points(rows)
    ours = {(label, r.run_id): r for label, r in points if r.ours is not None}
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[k[0].replace("\n", " / ") for k in ours], y=[100 * r.ours for r in ours.values()],
        error_y={"type": "data", "array": [100 * (r.ours_std or 0) for r in ours.values()]},
        mode="markers", name="ours", text=[r.run_id for r in ours.values()],
    ))
    for verdict in ("yes", "caveats", "no"):
        chosen = [(label, r) for label, r in points if r.published is not None and r.comparable == verdict]
        if chosen:
            fig.add_trace(go.Scatter(
                x=[label.replace("\n", " / ") for label, _ in chosen],
                y=[100 * r.published for _, r in chosen], mode="markers",
                marker={"symbol": "square"}, name=f"published (comparable: {verdict})",
                text=[f"{r.published_id}: {'; '.join(r.reasons)}" for _, r in chosen],
            ))
    fig.update_layout(title="ferbench: ours vs published", yaxis_title="accuracy (%)")
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def log_run(rows: list[Row], dataset: str | None, filters: dict, out_dir: Path | None = None) -> str:
    """Log the chart, the table and the rows as a kind=leaderboard run; returns its run id."""
    from ferbench import __version__, record

    datasets = {r.dataset for r in rows if not r.reference_only}
    target = dataset or (next(iter(datasets)) if len(datasets) == 1 else "leaderboard")
    experiment = record.experiment_for(target)
    tags = {"source": "ferbench", "ferbench.kind": "leaderboard", "ferbench.version": __version__,
            **{f"ferbench.filter.{k}": v for k, v in filters.items() if v}}
    with record.tracked_run(experiment, "leaderboard", tags) as run_id:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            chart_png(rows, folder / "leaderboard.png")
            chart_html(rows, folder / "leaderboard.html")
            (folder / "leaderboard.md").write_text(render(rows, "markdown") + "\n")
            (folder / "leaderboard.json").write_text(render(rows, "json"))
            record.client().log_artifacts(run_id, str(folder), artifact_path="leaderboard")
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                for item in folder.iterdir():
                    tmp_target = out_dir / f".{item.name}.tmp"
                    tmp_target.write_bytes(item.read_bytes())
                    tmp_target.replace(out_dir / item.name)
        record.log(run_id, metrics={"rows": len(rows),
                                    "comparable_rows": sum(r.comparable in ("yes", "caveats") for r in rows)})
    return run_id
