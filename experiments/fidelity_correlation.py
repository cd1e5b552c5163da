"""Which cheap first rung ranks configurations the way full training does?

Reuses the pruning benchmark's kept random searches (bench_pruning.py --random-only): their
configurations are replayed from the sampler's seed and their full-training values read from the
kept file, so only the cheap fits run here. Each fidelity is (fraction of training images,
epochs); it is fitted per configuration on the same rows, seed and validation part as
`ferbench tune` would. Printed per fidelity: compute per configuration, Spearman rank correlation
with full training over all configurations and over the better half (where the benchmark's target
is decided), and how many of full training's top quarter a keep-the-top-half cut would drop.

    python experiments/fidelity_correlation.py --data ~/data/fer2013 --seeds 5 6 7 8 \\
        --fidelities 0.25:3 0.5:2 1:1 [--jobs 2]
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import (
    RESULTS,
    add_subset_arguments,
    fer2013_path,
    replayed_configs,
    seed_results,
    setting_tag,
    settings_objective,
    space_of,
    subset,
    subset_settings,
    write_atomically,
)


def fidelity_values(seed: int, settings: dict) -> dict:
    import optuna

    from ferbench.params import resolve

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = subset(settings["data"], settings["n_train"], settings["n_val"], seed)
    objective = settings_objective(data, seed, settings, low_fidelity=(0, 0))
    train, val = objective.splits.pairs[0]
    out = {"full": []}
    for values, full in replayed_configs(seed, settings):
        params = resolve(objective.family_cls.params_spec(), {**objective.fixed, **values}, settings["family"])
        out["full"].append(full)
        for fraction, epochs in settings["fidelities"]:
            objective.low_fidelity = (fraction, 0)  # its rows: the same for every configuration
            rows = objective.low_fidelity_rows(train) if fraction < 1 else train
            state = {"compute": 0, "intermediate": {}}
            acc = objective._fit_score(params, rows, val, epochs, state, None)
            out.setdefault(f"{fraction}:{epochs}", []).append(acc)
            out.setdefault(f"{fraction}:{epochs} compute", []).append(state["compute"])
        print(
            f"  seed {seed} {values}: full {full:.4f} "
            + " ".join(f"{k}={v[-1]:.4f}" for k, v in out.items() if ":" in k and "compute" not in k),
            flush=True,
        )
    return out


def describe(fidelity: str, per_seed: dict) -> str:
    from scipy.stats import spearmanr

    rho_all, rho_top, dropped, top_total, compute = [], [], 0, 0, []
    for result in per_seed.values():
        full, cheap = np.array(result["full"]), np.array(result[fidelity])
        compute.append(np.mean(result[f"{fidelity} compute"]))
        rho_all.append(spearmanr(cheap, full).statistic)
        upper = full >= np.median(full)
        rho_top.append(spearmanr(cheap[upper], full[upper]).statistic)
        top = full >= np.quantile(full, 0.75)
        dropped += int((top & (cheap < np.median(cheap))).sum())
        top_total += int(top.sum())
    return (
        f"fidelity {fidelity} (images fraction:epochs): {np.mean(compute):.0f} image-epochs per configuration; "
        f"Spearman with full training, mean over seeds: {np.mean(rho_all):.2f} over all, "
        f"{np.nanmean(rho_top):.2f} over the better half (per seed {', '.join(f'{r:.2f}' for r in rho_top)}); "
        f"a keep-the-top-half cut drops {dropped} of full training's {top_total} top-quarter configurations"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5])
    parser.add_argument("--fidelities", nargs="+", default=["0.25:3", "0.5:2", "1:1"])
    parser.add_argument("--trials", type=int, default=12, help="of the kept random search")
    add_subset_arguments(parser)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    args.data = str(fer2013_path(parser, args.data))
    fidelities = [(float(f.split(":")[0]), int(f.split(":")[1])) for f in args.fidelities]
    settings = {**subset_settings(args, "trials"), "fidelities": fidelities}
    results = dict(seed_results(fidelity_values, args.seeds, settings, args.jobs))
    lines = [
        f"cheap fits against full training: {args.family}, {args.n_train} train / {args.n_val} val, "
        f"{args.epochs} epochs in full, space {space_of(args.family, args.space)}, "
        f"{args.trials} kept random configurations per seed, seeds {args.seeds}"
    ]
    lines += [describe(f"{fraction}:{epochs}", results) for fraction, epochs in fidelities]
    print("\n".join(lines))
    out = RESULTS / f"fidelity_correlation{setting_tag(settings)}_seeds{'-'.join(map(str, args.seeds))}.txt"
    write_atomically(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
