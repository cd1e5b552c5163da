"""How much does one configuration's validation accuracy move with the training seed alone?

Fits one configuration of the pruning benchmark's family (bench_pruning.py) on one seed's
FER-2013 subset several times, changing only the training seed (weights, shuffling), and prints
each validation accuracy, their mean and standard deviation. The spread is the floor under which
a search cannot tell configurations apart: "reaching" a random search's best of n such scores
is partly reaching the luckiest draw.

    python experiments/noise_floor.py --data ~/data/fer2013 --seed 15 \\
        --set learning_rate=0.001 filters=6 kernel_size=7 --repeats 6
"""

from __future__ import annotations

import argparse

import numpy as np

from _common import (
    RESULTS,
    add_subset_arguments,
    fer2013_path,
    setting_tag,
    settings_objective,
    subset,
    subset_settings,
    write_atomically,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=15, help="the subset's seed (as in bench_pruning.py)")
    parser.add_argument("--set", nargs="+", default=["learning_rate=0.001", "filters=6", "kernel_size=7"])
    parser.add_argument("--repeats", type=int, default=6, help="training seeds 0..repeats-1")
    add_subset_arguments(parser)
    args = parser.parse_args()
    args.data = str(fer2013_path(parser, args.data))
    from ferbench.params import resolve

    data = subset(args.data, args.n_train, args.n_val, args.seed)
    settings = subset_settings(args)
    objective = settings_objective(data, args.seed, settings, low_fidelity=(0, 0))
    given = dict(item.split("=", 1) for item in args.set)
    params = resolve(objective.family_cls.params_spec(), {**objective.fixed, **given}, args.family)
    train, val = objective.splits.pairs[0]
    scores = []
    for training_seed in range(args.repeats):
        objective.seed = training_seed  # the subset stays; only the fit's seed changes
        scores.append(objective._fit_score(params, train, val, args.epochs, {"compute": 0, "intermediate": {}}, None))
        print(f"  training seed {training_seed}: val accuracy {scores[-1]:.4f}", flush=True)
    line = (
        f"{args.family} {given} on seed {args.seed}'s subset ({args.n_train} train / {args.n_val} val), "
        f"{args.epochs} epochs, {args.repeats} training seeds: val accuracy "
        + ", ".join(f"{s:.4f}" for s in scores)
        + f"; mean {np.mean(scores):.4f}, standard deviation {np.std(scores, ddof=1):.4f}, "
        f"range {max(scores) - min(scores):.4f}"
    )
    print(line)
    tag = "_".join(f"{k}{v}" for k, v in given.items())
    write_atomically(RESULTS / f"noise_floor{setting_tag(settings)}_seed{args.seed}_{tag}.txt", line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
