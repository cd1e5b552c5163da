"""Does tuning's cheap first rung rank configurations the way full training does?

For random configurations of the pruning benchmark's family and space (bench_pruning.py), this fits
each one twice: on the first rung (a quarter of the training rows for a third of the epochs, as
`ferbench tune` does) and in full. It prints both validation accuracies per configuration, their
Spearman rank correlation, and how often the first rung's median cut would drop a configuration
that full training ranks in the top quarter. Real FER-2013 subset; the test split is never read.

    python experiments/rung_correlation.py --seeds 0 1 --configs 12 [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pruning import DATA, FAMILY, ROOT, SPACE, make_objective, seed_results, subset  # noqa: E402


def rung_and_full(seed: int, settings: dict) -> list[tuple[float, float, dict]]:
    """(first-rung value, full value, params) for `configs` random configurations."""
    import optuna

    from ferbench.tuning_objective import LOW_FIDELITY, LOW_FIDELITY_STEP

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = subset(settings["n_train"], settings["n_val"], seed)
    objective = make_objective(data, epochs=settings["epochs"], seed=seed, low_fidelity=LOW_FIDELITY)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed),
                                pruner=optuna.pruners.NopPruner())
    rows = []
    for _ in range(settings["configs"]):
        study.optimize(objective, n_trials=1)
        trial = study.trials[-1]
        rows.append((trial.intermediate_values[LOW_FIDELITY_STEP], trial.value, trial.params))
        print(f"  seed {seed} config {trial.number}: first rung {rows[-1][0]:.4f}, full {rows[-1][1]:.4f} "
              f"{trial.params}", flush=True)
    return rows


def describe(seed: int, rows: list) -> list[str]:
    from scipy.stats import spearmanr

    rung = np.array([r[0] for r in rows])
    full = np.array([r[1] for r in rows])
    rho = spearmanr(rung, full).statistic
    top = full >= np.quantile(full, 0.75)
    cut = rung < np.median(rung)
    return [f"seed {seed}: {len(rows)} configurations; Spearman(first rung, full) = {rho:.2f}; first rung "
            f"{rung.min():.3f}-{rung.max():.3f}, full {full.min():.3f}-{full.max():.3f}; the first rung's "
            f"median cut drops {int((top & cut).sum())} of the {int(top.sum())} configurations in full "
            "training's top quarter"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-val", type=int, default=6000)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if not (DATA / "train").is_dir():
        print(f"FER-2013 not found at {DATA}; set FERBENCH_FER2013", file=sys.stderr)
        return 2
    settings = {"configs": args.configs, "epochs": args.epochs, "n_train": args.n_train, "n_val": args.n_val}
    results = dict(seed_results(rung_and_full, args.seeds, settings, args.jobs))
    lines = [f"first rung against full training: {FAMILY}, {args.n_train} train / {args.n_val} val, "
             f"{args.epochs} epochs, space {SPACE}"]
    for seed in args.seeds:
        lines += describe(seed, results[seed])
    print("\n".join(lines))
    out = ROOT / "experiments" / "results" / f"rung_correlation_{args.configs}configs.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
