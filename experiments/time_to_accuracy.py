"""Time-to-accuracy on FER-2013, DAWNBench style: minutes of this machine until a model chosen on
PublicTest reaches a PrivateTest accuracy.

    python experiments/time_to_accuracy.py FAMILY --path DATA [--budget-min 60] [--seed 0]
        [--epochs N] [--param NAME=VALUE ...] [--resume RUN_ID]

Trains FAMILY with `ferbench run` (official protocol: Training / PublicTest / PrivateTest) as an
MLflow run of its own. After every epoch it writes one JSON line to
experiments/results/time_to_accuracy/FAMILY-sSEED.jsonl: the wall time since the run started
(minutes, without the report-only PrivateTest pass), the epoch's training img/s (the epoch's span:
training steps, the PublicTest pass and the checkpoint), PublicTest and PrivateTest accuracy, and
the PublicTest-selected epoch with its PrivateTest accuracy. PrivateTest is computed for this
report only: selection (early stopping's best epoch) reads PublicTest alone. A fit that passes
the budget stops after that epoch; epochs ended after the budget do not count.

At the end it prints the minutes until the selected model first reaches 0.60, 0.66 and 0.70
(and 0.73), the best selected PrivateTest accuracy within the budget, and the training GFLOP/s:
forward FLOPs per image (TensorFlow's profiler) x 3 for a training step x the median img/s, as a
share of the nominal fp32 peak (157 GFLOP/s) and of a matmul measured here. These figures are
also logged to the run. A killed run goes on with --resume RUN_ID (same --seed and output file).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from _common import FER2013_HELP, RESULTS, fer2013_path
from _throughput import NOMINAL_PEAK_GFLOPS, TRAINING_FACTOR

THRESHOLDS = (0.60, 0.66, 0.70, 0.73)


def selected(records: list[dict]) -> tuple[int, float]:
    """(epoch, PrivateTest accuracy) of the epoch with the best PublicTest accuracy so far: the
    first of equals, as early stopping keeps it."""
    best = max(records, key=lambda r: (r["public_acc"], -r["epoch"]))
    return best["epoch"], best["private_acc"]


def summary(records: list[dict], budget_min: float) -> dict:
    """Minutes to each threshold and the best selected accuracy, over epochs ended in the budget."""
    within = [r for r in records if r["wall_min"] <= budget_min]
    reached = {}
    for threshold in THRESHOLDS:
        hit = next((r for r in within if r["selected_private_acc"] >= threshold), None)
        reached[f"minutes_to_{threshold:.2f}"] = None if hit is None else hit["wall_min"]
    return {
        **reached,
        "epochs_within_budget": len(within),
        "best_selected_private_acc": within[-1]["selected_private_acc"] if within else None,
        "median_train_img_per_s": statistics.median(r["train_img_per_s"] for r in records) if records else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family")
    parser.add_argument("--path", help=FER2013_HELP)
    parser.add_argument("--budget-min", type=float, default=60.0, help="wall-clock budget in minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="the fit's epochs (default: the family's)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--resume", metavar="RUN_ID", help="go on with a killed run of this script")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines file (default under results/)")
    args = parser.parse_args()
    if args.budget_min <= 0 or args.seed < 0 or (args.epochs is not None and args.epochs < 1):
        parser.error("--budget-min must be > 0, --seed >= 0 and --epochs >= 1")
    path = fer2013_path(parser, args.path)
    from ferbench.errors import FerbenchError
    from ferbench.params import parse_assignments

    try:
        params = parse_assignments(args.param, option="--param")
    except FerbenchError as exc:
        parser.error(str(exc))
    out = args.out or RESULTS / "time_to_accuracy" / f"{args.family}-s{args.seed}.jsonl"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    from ferbench import runner
    from ferbench.data.readers import load_dataset
    from ferbench.record.tags import TAG_TIME_BUDGET

    try:
        dataset = load_dataset("fer2013", path)
    except FerbenchError as exc:
        parser.error(str(exc))
    test = dataset.part(np.flatnonzero(dataset.splits == "test"))
    n_train = int(np.sum(dataset.splits == "train"))
    records = [json.loads(line) for line in out.read_text().splitlines()] if args.resume and out.exists() else []
    if not args.resume:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("")
    state = {"mark": time.perf_counter(), "wall": records[-1]["wall_s"] if records else 0.0, "family": None}

    def on_epoch(family, epoch: int, logs: dict) -> bool:
        span = time.perf_counter() - state["mark"]
        state["wall"] += span
        state["family"] = family
        private = float(np.mean(family.predict(test) == test.labels))  # report only
        record = {
            "epoch": epoch + 1,
            "wall_s": state["wall"],
            "wall_min": state["wall"] / 60,
            "epoch_s": span,
            "train_img_per_s": n_train / span,
            "train_loss": logs.get("loss"),
            "train_acc": logs.get("accuracy"),
            "public_acc": logs.get("val_accuracy"),
            "private_acc": private,
        }
        records.append(record)
        record["selected_epoch"], record["selected_private_acc"] = selected(records)
        with out.open("a") as stream:
            stream.write(json.dumps(record) + "\n")
        print(
            f"epoch {record['epoch']}: {record['wall_min']:.1f} min, {record['train_img_per_s']:.0f} img/s, "
            f"PublicTest {record['public_acc']:.4f}, PrivateTest {private:.4f}, "
            f"selected epoch {record['selected_epoch']} -> {record['selected_private_acc']:.4f}",
            file=sys.stderr,
            flush=True,
        )
        state["mark"] = time.perf_counter()
        return state["wall"] >= args.budget_min * 60  # out of budget: stop after this epoch

    try:
        if args.resume:
            result = runner.resume(args.resume, dataset, family=args.family, quiet=True, epoch_hook=on_epoch)
        else:
            result = runner.run(
                args.family,
                dataset,
                protocol="official",
                params=params,
                epochs=args.epochs,
                seed=args.seed,
                quiet=True,
                extra_tags={TAG_TIME_BUDGET: f"{args.budget_min:g}"},
                epoch_hook=on_epoch,
            )
    except FerbenchError as exc:
        parser.exit(2, f"error: {exc}\n")
    report(result, records, args.budget_min, args.seed, state["family"], out)


def report(result, records: list[dict], budget_min: float, seed: int, family, out: Path) -> None:
    from _throughput import forward_flops, matmul_peak_gflops
    from ferbench import record

    figures = summary(records, budget_min)
    flops = forward_flops(family.model_) if family is not None else None
    rate = figures["median_train_img_per_s"]
    gflops = flops * TRAINING_FACTOR * rate / 1e9 if flops and rate else None
    peak = matmul_peak_gflops()
    figures.update(
        run_id=result.run_id,
        run_test_accuracy=result.metrics.get("test_accuracy"),
        forward_mflops=flops / 1e6 if flops else None,
        train_gflops_per_s=gflops,
        share_of_nominal_peak=gflops / NOMINAL_PEAK_GFLOPS if gflops else None,
        matmul_peak_gflops=peak,
        share_of_matmul_peak=gflops / peak if gflops else None,
    )
    with out.open("a") as stream:
        identity = {"family": result.family, "seed": seed, "budget_min": budget_min}
        stream.write(json.dumps({"summary": {**figures, **identity}}) + "\n")
    metrics = {k: float(v) for k, v in figures.items() if isinstance(v, float | int) and v is not None}
    record.log(result.run_id, metrics=metrics, curves={"epoch_test_accuracy": [r["private_acc"] for r in records]})

    def minutes(key: str) -> str:
        return "not within the budget" if figures[key] is None else f"{figures[key]:.1f} min"

    lines = [
        f"{result.family} seed {seed} run {result.run_id}: "
        f"{figures['epochs_within_budget']} epochs within {budget_min:g} min",
        *(f"PrivateTest >= {t:.2f} (PublicTest-selected): {minutes(f'minutes_to_{t:.2f}')}" for t in THRESHOLDS),
        f"best PublicTest-selected PrivateTest within the budget: {figures['best_selected_private_acc']}",
        "run's test accuracy (best PublicTest epoch, an epoch past the budget included): "
        f"{figures['run_test_accuracy']}",
        f"training: median {rate:.0f} img/s x {flops / 1e6:.0f} MFLOP x {TRAINING_FACTOR} = {gflops:.1f} GFLOP/s, "
        f"{gflops / NOMINAL_PEAK_GFLOPS:.0%} of the nominal {NOMINAL_PEAK_GFLOPS:.0f}, "
        f"{gflops / peak:.0%} of a {peak:.0f} GFLOP/s matmul measured now"
        if gflops
        else "training GFLOP/s unknown",
        f"per-epoch lines: {out}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
