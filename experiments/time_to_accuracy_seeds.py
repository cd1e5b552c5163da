"""Combine time-to-accuracy runs of several seeds: mean and Student-t 95% interval of each figure,
and the frontier (selected PrivateTest accuracy against minutes).

    python experiments/time_to_accuracy_seeds.py FILE [FILE ...] [--budget-min 60] [--step-min 10]

Each FILE is the JSON lines file of one `time_to_accuracy.py` run (its per-epoch lines and the
closing summary line). The seed comes from the summary, else from an `sN` in the file name. A
threshold that some seeds did not reach within the budget reports how many did, not a mean of
the ones that did. The frontier reads, at every --step-min minutes up to --budget-min (the runs'
budget), the selected PrivateTest accuracy of the last epoch ended by then.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from time_to_accuracy import THRESHOLDS

FIGURES = (
    ("best_selected_private_acc", "best PublicTest-selected PrivateTest within the budget", "{:.4f}"),
    ("median_train_img_per_s", "median training img/s", "{:.0f}"),
    ("train_gflops_per_s", "training GFLOP/s (3x forward)", "{:.1f}"),
    ("share_of_nominal_peak", "share of the nominal 157 GFLOP/s", "{:.0%}"),
    ("share_of_matmul_peak", "share of the matmul measured after the run", "{:.0%}"),
)


def read_run(path: Path) -> dict:
    """{"seed", "epochs": [...], "summary": {...}} of one run's file."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    summaries = [line["summary"] for line in lines if "summary" in line]
    if not summaries:
        raise ValueError(f"{path}: no summary line; the run has not finished")
    summary = summaries[-1]
    match = re.search(r"(?:^|[-_])s(\d+)\b", path.stem)
    seed = summary.get("seed", int(match.group(1)) if match else None)
    return {"path": path, "seed": seed, "epochs": [line for line in lines if "epoch" in line], "summary": summary}


def selected_at(epochs: list[dict], minute: float) -> float | None:
    ended = [e for e in epochs if e["wall_min"] <= minute]
    return ended[-1]["selected_private_acc"] if ended else None


def reported(runs: list[dict], key: str) -> list[float]:
    """The runs' summary values of `key`, leaving out runs where it is missing or None."""
    return [run["summary"][key] for run in runs if run["summary"].get(key) is not None]


def interval(values: list[float], fmt: str) -> str:
    from ferbench.evaluate import mean_ci

    ci = mean_ci(values)
    if len(values) == 1:
        return fmt.format(ci["mean"])
    return f"{fmt.format(ci['mean'])} [{fmt.format(ci['ci_low'])}, {fmt.format(ci['ci_high'])}]"


def combine(runs: list[dict], budget_min: float, step_min: float) -> list[str]:
    """Markdown lines: per-seed table, then the mean and 95% CI of each figure, then the frontier."""
    seeds = ", ".join(str(run["seed"]) for run in runs)
    keys = [f"minutes_to_{t:.2f}" for t in THRESHOLDS]
    head = "| seed | run | epochs | " + " | ".join(f"min to {t:.2f}" for t in THRESHOLDS) + " | best selected |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for run in runs:
        s = run["summary"]
        cells = ["-" if s.get(k) is None else f"{s[k]:.1f}" for k in keys]
        lines.append(
            f"| {run['seed']} | {s.get('run_id', '-')} | {s['epochs_within_budget']} | "
            + " | ".join(cells)
            + f" | {s['best_selected_private_acc']:.4f} |"
        )
    lines += ["", f"mean [95% CI] over seeds {seeds}:"]
    for key, label, fmt in FIGURES:
        values = reported(runs, key)
        if values:
            lines.append(f"- {label}: {interval(values, fmt)}")
    for key, threshold in zip(keys, THRESHOLDS, strict=True):
        values = reported(runs, key)
        if len(values) == len(runs):
            lines.append(f"- minutes to {threshold:.2f}: {interval(values, '{:.1f}')}")
        else:
            lines.append(f"- minutes to {threshold:.2f}: reached by {len(values)} of {len(runs)} seeds")
    lines += ["", "| minutes | selected PrivateTest, mean [95% CI] |", "|---|---|"]
    steps = int(budget_min // step_min + 1e-9)
    for minute in [step_min * (k + 1) for k in range(steps)]:
        values = [v for run in runs if (v := selected_at(run["epochs"], minute)) is not None]
        if len(values) == len(runs):
            lines.append(f"| {minute:g} | {interval(values, '{:.4f}')} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--budget-min", type=float, default=60.0, help="the runs' budget in minutes")
    parser.add_argument("--step-min", type=float, default=10.0, help="frontier step in minutes")
    args = parser.parse_args()
    if args.step_min <= 0 or args.budget_min <= 0:
        parser.error("--step-min and --budget-min must be > 0")
    try:
        runs = [read_run(path) for path in args.files]
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    print("\n".join(combine(runs, args.budget_min, args.step_min)))


if __name__ == "__main__":
    main()
