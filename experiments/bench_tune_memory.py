"""Memory of one tuning process over many trials: does resident memory grow with each trial?

Runs `--trials` trials of a Keras family's tuning objective (the one `ferbench tune` builds) in one
process, on the embedded synthetic data set, and prints the resident set size (RSS) after each.
A study of hundreds of trials runs in one worker process, so growth per trial bounds how long a
study can run.

    python experiments/bench_tune_memory.py [--family five_layer_cnn] [--trials 40] [--images 600]

Figures: RSS after the first trial, after the last, and the growth per trial over the second
half (the first trials also pay one-off costs: imports, kernels, tf.function tracing). Written to
experiments/results/bench_tune_memory_<family>.txt.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
from _common import RESULTS, make_objective, write_atomically


def rss_mb() -> float:
    """Resident set size of this process now (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="five_layer_cnn")
    parser.add_argument("--space", nargs="+", default=["filters=4:16"], metavar="NAME=LOW:HIGH")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    import optuna

    from ferbench.data.synthetic import generate

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    objective = make_objective(
        generate(args.images, seed=0),
        epochs=args.epochs,
        seed=0,
        low_fidelity=(0, 0),
        family=args.family,
        space=args.space,
    )
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    rss, start = [], time.time()
    for n in range(args.trials):
        study.optimize(objective, n_trials=1)
        rss.append(rss_mb())
        print(f"  trial {n}: RSS {rss[-1]:.0f} MB", flush=True)
    half = len(rss) // 2
    per_trial = (rss[-1] - rss[half]) / max(1, len(rss) - 1 - half)
    line = (
        f"{args.family} {args.space}, {args.trials} trials of {args.epochs} epochs on {args.images} synthetic "
        f"images in one process: RSS {rss[0]:.0f} MB after the first trial, {rss[-1]:.0f} MB after the last, "
        f"{per_trial:+.1f} MB per trial over the second half ({time.time() - start:.0f} s)"
    )
    print(line)
    write_atomically(RESULTS / f"bench_tune_memory_{args.family}.txt", line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
