"""A reproduction's table: per row and published number, ours over seeds and a verdict.

Verdicts: "reproduced" (within +-3 points), "beaten", "short by X points", or "not comparable"
with the reasons of `ferbench.comparability.judge` (data variant, budget, selection, subjects).
A `compares_with` entry is a different method by definition (a ferbench variant shown beside a
paper's number), so it is never a win or a loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

TOLERANCE = 0.03


@dataclass
class Line:
    row: str
    family: str
    protocol: str
    published_id: str | None
    published: float | None
    metric: str | None
    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    seeds: list[int] = field(default_factory=list)
    epochs: str = ""
    wall_time_s: float = 0.0
    verdict: str = ""
    run_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def verdict(delta: float) -> str:
    if abs(delta) <= TOLERANCE + 1e-9:
        return "reproduced"
    return "beaten" if delta > 0 else f"short by {-delta * 100:.1f} points"


def lines_for(row, seed_runs: list) -> list:
    """One line per published number the row names (one line when it names none)."""
    from ferbench import baselines
    from ferbench.evaluate import mean_ci

    entries: list[dict | None] = [baselines.get(i) for i in row.published_ids] or [None]
    wall = sum(r.metrics.get("wall_time_s", 0.0) for r in seed_runs)
    out = []
    for entry in entries:
        metric = entry["metric"] if entry else "test_accuracy"
        values = [r.metrics[metric] for r in seed_runs if metric in r.metrics]
        line = Line(
            row.label,
            row.family,
            row.protocol,
            entry["id"] if entry else None,
            entry.get("value") if entry else None,
            metric,
            seeds=[r.seed for r in seed_runs],
            wall_time_s=wall,
            run_ids=[r.run_id for r in seed_runs],
            epochs=_epochs(row, entry),
        )
        if values:
            ci = mean_ci(values, bounds=(0.0, 1.0))  # accuracies and recalls are fractions
            line.mean, line.ci_low, line.ci_high = ci["mean"], ci["ci_low"], ci["ci_high"]
        line.verdict = _judge(row, seed_runs, entry) if values else "no runs"
        out.append(line)
    return out


def _epochs(row, entry) -> str:
    from ferbench.comparability import published_epochs

    theirs = published_epochs(entry) if entry else None
    ours = "-" if row.epochs is None else str(row.epochs)
    return f"{ours} (paper {theirs})" if theirs else ours


def _judge(row, seed_runs: list, entry) -> str:
    from ferbench.comparability import judge

    if entry is None:
        return "no published number"
    ours = _ours(row, seed_runs)
    judgement = judge(ours, entry)
    reasons = list(judgement.reasons)
    if entry["id"] in row.compares_with:
        method = entry["family"]
        reasons.insert(0, f"a ferbench variant ({row.family}), not the paper's {method}")
        return "not comparable: " + "; ".join(reasons)
    if judgement.status == "no" or judgement.delta is None:
        return "not comparable: " + "; ".join(reasons)
    text = verdict(judgement.delta)
    return text + (f" (caveats: {'; '.join(reasons)})" if reasons else "")


def _ours(row, seed_runs: list):
    """The leaderboard's summary of the row's runs, one per seed; params a run predates are
    filled with their defaults (see _runs) so all seeds pool as one configuration."""
    from ferbench import leaderboard
    from ferbench.record import param_text
    from ferbench.reproductions._runs import family_params

    expected = {k: param_text(v) for k, v in family_params(row).items()}
    records = [leaderboard.RunRecord(r.run_id, "", 0, r.tags, {**expected, **r.params}, r.metrics) for r in seed_runs]
    (ours,) = leaderboard.pool(records)
    return ours


def not_run_line(row, reason: str) -> Line:
    from ferbench import baselines

    entry = baselines.get(row.published_ids[0]) if row.published_ids else None
    return Line(
        row.label,
        row.family,
        row.protocol,
        entry["id"] if entry else None,
        entry.get("value") if entry else None,
        entry["metric"] if entry else None,
        epochs=_epochs(row, entry),
        verdict=f"not run: {reason}",
    )


# --- rendering -----------------------------------------------------------------------------------
HEADER = ("row", "published", "ours (95% CI)", "seeds", "epochs", "wall", "verdict")


def cells(line: Line) -> tuple[str, ...]:
    published = "-" if line.published is None else f"{line.published:.3f}"
    if line.published_id:
        published += f" {line.metric}"
    if line.mean is None:
        ours = "-"
    elif line.ci_low is None or math.isnan(line.ci_low):
        ours = f"{line.mean:.3f}"
    else:
        ours = f"{line.mean:.3f} [{line.ci_low:.3f}, {line.ci_high:.3f}]"
    seeds = ",".join(map(str, line.seeds)) or "-"
    wall = f"{line.wall_time_s / 60:.1f} min" if line.wall_time_s else "-"
    return (f"{line.row} ({line.protocol})", published, ours, seeds, line.epochs, wall, _short(line.verdict))


def _short(text: str, limit: int = 160) -> str:
    """Table cells keep the start of a long reason (a missing file's download address, say);
    `--format json` keeps all of it."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def markdown(lines: list[Line]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(esc(c) for c in cells(line)) + " |" for line in lines]
    return "\n".join(out)


def rich_table(lines: list[Line], title: str):
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for name in HEADER:
        table.add_column(name, overflow="fold")
    for line in lines:
        table.add_row(*cells(line))
    return table
