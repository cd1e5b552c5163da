"""Reproductions: a paper's table in one command (`ferbench reproduce`).

Specs are data (one YAML file per paper, `_spec`); runs are found by identity, reused, resumed
or trained (`_runs`); the table and its verdicts come from `_report`. One parent MLflow run per
reproduction (papers + data set) holds the summary; each row and seed is a child run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ferbench.errors import FerbenchError, StoreError, first_line
from ferbench.reproductions._report import Line, lines_for, markdown, not_run_line, rich_table
from ferbench.reproductions._runs import check_dataset
from ferbench.reproductions._spec import Row, load, papers, select

__all__ = [
    "Line",
    "Outcome",
    "Row",
    "check_dataset",
    "load",
    "markdown",
    "papers",
    "report",
    "reproduce",
    "rich_table",
    "runnable",
    "select",
]


@dataclass
class Outcome:
    parent_run_id: str
    lines: list[Line] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def runnable(row: Row, dataset, tracking_uri: str | None = None) -> str | None:
    """Why the row cannot run on this data set and machine (None: it can). The runner's own
    checks decide, before any run exists."""
    from ferbench import runner

    if row.dataset != dataset.name:
        return f"needs data set {row.dataset} (--dataset {row.dataset} --path ...)"
    try:
        runner.prepare(
            row.family,
            dataset,
            protocol=row.protocol,
            params=row.params,
            epochs=row.epochs,
            seed=row.seeds[0],
            tracking_uri=tracking_uri,
        )
    except StoreError:
        raise
    except FerbenchError as exc:
        return first_line(exc)
    return None


def reproduce(
    rows: list[Row], dataset, *, tracking_uri: str | None = None, quiet: bool = False, on_line=None
) -> Outcome:
    """Run (or reuse, or resume) every runnable row on `dataset` and return the table's lines.
    Rows that cannot run are listed with the reason; a row that fails does not stop the others."""
    from ferbench import record
    from ferbench.reproductions import _runs

    record.setup(tracking_uri)
    experiment_id = record.experiment_for(dataset.name)
    key = "+".join(sorted({row.paper for row in rows})) + f"@{dataset.name}"
    parent = _runs.parent_run(experiment_id, key, dataset.fingerprint)
    outcome = Outcome(parent)
    status = "FAILED"
    try:
        for row in rows:
            reason = runnable(row, dataset, tracking_uri)
            if reason:
                new = [not_run_line(row, reason)]
            else:
                try:
                    seed_runs = [
                        _runs.obtain(row, seed, dataset, experiment_id, parent, quiet=quiet) for seed in row.seeds
                    ]
                    new = lines_for(row, seed_runs)
                except StoreError:
                    raise
                except FerbenchError as exc:
                    outcome.failed.append(row.label)
                    new = [not_run_line(row, f"failed: {first_line(exc)}")]
            outcome.lines.extend(new)
            for line in new:
                if on_line:
                    on_line(line)
        _log_summary(parent, outcome.lines)
        status = "FAILED" if outcome.failed else "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        record.client().set_terminated(parent, status=status)
    return outcome


def report(rows: list[Row], dataset, *, tracking_uri: str | None = None) -> list[Line]:
    """The table from finished runs only: nothing is trained, resumed or written. A row shows
    the seeds that have finished so far."""
    from ferbench import record
    from ferbench.reproductions import _runs

    record.setup(tracking_uri)
    experiment_id = record.experiment_for(dataset.name)
    lines: list[Line] = []
    for row in rows:
        reason = runnable(row, dataset, tracking_uri)
        done = (
            []
            if reason
            else [r for r in (_runs.finished(row, seed, dataset, experiment_id) for seed in row.seeds) if r is not None]
        )
        lines.extend(lines_for(row, done) if done else [not_run_line(row, reason or "no finished run yet")])
    return lines


def _log_summary(parent: str, lines: list[Line]) -> None:
    from ferbench import record

    metrics: dict[str, float] = {}
    for line in lines:
        if line.mean is None:
            continue
        stem = f"{line.row.split('/', 1)[1]}.{line.metric}"
        metrics[f"{stem}_mean"] = line.mean
        if line.ci_low is not None and line.ci_high is not None:
            metrics.update({f"{stem}_ci_low": line.ci_low, f"{stem}_ci_high": line.ci_high})
    record.log(parent, metrics=metrics)
    c = record.client()
    c.log_text(parent, markdown(lines) + "\n", "reproduction.md")
    c.log_text(parent, json.dumps([line.to_json() for line in lines], indent=1), "reproduction.json")
