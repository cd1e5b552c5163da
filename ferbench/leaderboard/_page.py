"""The leaderboard as one self-contained HTML page (styled table and a plotly chart with
plotly.js inline), and the same chart as a PNG (matplotlib; kaleido is not used)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ferbench.comparability import CAVEATS, COMPARABLE
from ferbench.leaderboard._cells import (
    LEGEND,
    MARKS,
    VERDICTS,
    all_reasons,
    delta_text,
    fmt,
    metric_label,
    ours_text,
)
from ferbench.leaderboard._compare import Row

OPEN_NOTE = "Open markers: published numbers we may not compare with (no Δ)."
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d2430; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
p.legend { color: #556; max-width: 70rem; margin: .2rem 0 1rem; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid #e3e6ec; vertical-align: top;
         text-align: left; }
th { background: #f3f5f8; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reasons { max-width: 32rem; }
tr.reference { color: #8a90a0; }
.mark { font-weight: bold; white-space: nowrap; }
.yes { color: #1b7f3b; } .caveats { color: #a66300; } .no { color: #b3261e; }
"""
COLUMNS = (
    "family",
    "data set",
    "metric",
    "ours",
    "n",
    "run",
    "protocol",
    "epochs (ours / paper)",
    "published",
    "paper / id",
    "pub. protocol",
    "comparable",
    "Δ",
    "reasons",
    "vs our best",
)


# --- chart ----------------------------------------------------------------------------------------
def chart_series(rows: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    """'ours test', 'published test', 'published val', ...: (family / data set, row) points;
    held-out numbers only (no training-fit accuracy, no reference-only rows)."""
    series: dict[str, list[tuple[str, Row]]] = {}
    seen = set()
    for row in rows:
        if row.reference_only or row.metric == "train_accuracy":
            continue
        x, split = f"{row.family} / {row.dataset}", metric_label(row.metric)
        if row.ours is not None and (row.run_id, row.metric) not in seen:
            seen.add((row.run_id, row.metric))
            series.setdefault(f"ours {split}", []).append((x, row))
        if row.published is not None:
            series.setdefault(f"published {split}", []).append((x, row))
    return dict(sorted(series.items(), key=lambda item: not item[0].startswith("ours")))


def _comparable(row: Row) -> bool:
    return row.comparable in (COMPARABLE, CAVEATS)


def _charted(value: float | None) -> float:
    """A point's value: chart_series keeps a row in an 'ours' series only with `ours`, in a
    'published' one only with `published`."""
    if value is None:
        raise ValueError("a charted point has no value")
    return value


def _error(row: Row) -> tuple[float, float]:
    """(below, above) in percent: the 95% interval, else the std."""
    if row.ours_ci is not None:
        ours = _charted(row.ours)
        return 100 * (ours - row.ours_ci[0]), 100 * (row.ours_ci[1] - ours)
    return (100 * (row.ours_std or 0.0),) * 2


def figure(rows: list[Row]):
    import plotly.graph_objects as go

    fig = go.Figure()
    order = list(dict.fromkeys(x for points in chart_series(rows).values() for x, _ in points))
    for name, points in chart_series(rows).items():
        ours = name.startswith("ours")
        rows_ = [row for _, row in points]
        symbol = "circle" if ours else "square"
        trace: dict[str, Any] = {
            "x": [x for x, _ in points],
            "name": name,
            "mode": "markers",
            "marker": {"size": 10, "symbol": [symbol if ours or _comparable(r) else f"{symbol}-open" for r in rows_]},
        }
        if ours:
            below, above = zip(*(_error(r) for r in rows_), strict=True)
            trace.update(
                y=[100 * _charted(r.ours) for r in rows_],
                error_y={"type": "data", "array": list(above), "arrayminus": list(below)},
                text=[f"{ours_text(r)}, {r.ours_n}, run {r.run_id[:12]}" for r in rows_],
            )
        else:
            trace.update(
                y=[100 * _charted(r.published) for r in rows_],
                text=[f"{r.published_id}: {VERDICTS.get(r.comparable, '')} {delta_text(r)}" for r in rows_],
            )
        fig.add_trace(go.Scatter(**trace, hovertemplate="%{x}<br>%{y:.2f}%<br>%{text}"))
    fig.update_layout(
        title="Ours against published",
        yaxis_title="accuracy (%)",
        scattermode="group",
        legend_title_text="series",
        template="plotly_white",
        height=460,
        margin={"t": 50, "b": 90},
    )
    fig.update_xaxes(categoryorder="array", categoryarray=order)
    return fig


def chart_png(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = chart_series(rows)
    labels = list(dict.fromkeys(x for points in series.values() for x, _ in points))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels) + 2), 4.8), dpi=100)
    width = 0.6 / max(1, len(series))
    for i, (name, points) in enumerate(series.items()):
        shift = (i - (len(series) - 1) / 2) * width
        colour, ours = f"C{i}", name.startswith("ours")
        # the legend shows a filled marker, whatever the first point's verdict
        ax.plot([], [], marker="o" if ours else "s", linestyle="none", color=colour, label=name)
        for x, row in points:
            xpos = labels.index(x) + shift
            if ours:
                below, above = _error(row)
                ax.errorbar(xpos, 100 * _charted(row.ours), yerr=[[below], [above]], fmt="o", color=colour, capsize=3)
            else:
                ax.plot(
                    xpos,
                    100 * _charted(row.published),
                    marker="s",
                    linestyle="none",
                    color=colour,
                    markerfacecolor=colour if _comparable(row) else "none",
                )
    ax.set_xticks(range(len(labels)), [x.replace(" / ", "\n") for x in labels], fontsize=7)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Ours (mean, 95% CI) against published; open squares: not comparable", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- page -----------------------------------------------------------------------------------------
def _table(rows: list[Row]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in rows:
        mark = MARKS.get(row.comparable, ("", ""))[0]
        verdict = f"{mark} {VERDICTS[row.comparable]}" if row.comparable in VERDICTS else ""
        cells = [
            (row.family, ""),
            (row.dataset, ""),
            (metric_label(row.metric), ""),
            (ours_text(row), "num"),
            (row.ours_n, ""),
            (row.run_id[:12], ""),
            (row.our_protocol, ""),
            (row.epochs, ""),
            (fmt(row.published), "num"),
            (row.published_id, ""),
            (row.published_protocol, ""),
            (verdict, f"mark {row.comparable}"),
            (delta_text(row), "num"),
            ("; ".join(all_reasons(row)), "reasons"),
            (row.paired, ""),
        ]
        tds = "".join(
            f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"
            for text, cls in cells
        )
        body.append(f'<tr class="reference">{tds}</tr>' if row.reference_only else f"<tr>{tds}</tr>")
    return f'<table class="ferbench-leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def page(rows: list[Row]) -> str:
    """One HTML file: the chart (plotly.js inline, nothing fetched) above the full table."""
    chart = ""
    if chart_series(rows):
        chart = figure(rows).to_html(
            full_html=False, include_plotlyjs=True, config={"displaylogo": False, "responsive": True}
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>ferbench leaderboard</title><style>{STYLE}</style></head><body>"
        "<h1>ferbench leaderboard: ours against published (accuracy, %)</h1>"
        f'<p class="legend">{html.escape(LEGEND)} {OPEN_NOTE if chart else ""}</p>'
        f"{chart}{_table(rows)}</body></html>\n"
    )
