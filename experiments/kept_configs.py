"""How flat is the top of the search space? The kept random searches' configurations, ranked.

Replays the configurations of the pruning benchmark's kept random searches (bench_pruning.py
--random-only) from the sampler's seed and ranks them, over all given seeds, by their kept
validation accuracy. Nothing is trained. Printed: the top configurations, the span of their
scores and of each parameter among them. Compare the span of scores with one configuration's
seed noise (noise_floor.py): a top as wide in parameters as it is narrow in score is a plateau,
where the best of a few trials is decided by noise more than by the search.

    python experiments/kept_configs.py --seeds 5 6 7 8 9 10 11 12 13 14 15 16 17 18 [--top 20]
"""

from __future__ import annotations

import argparse
import sys

from _common import (
    RESULTS,
    add_subset_arguments,
    replayed_configs,
    setting_tag,
    short,
    subset_settings,
    write_atomically,
)


def ranked(seeds: list[int], settings: dict) -> list[tuple[float, int, dict]]:
    """(value, seed, params) of every kept configuration on these seeds, best first."""
    rows = [(value, seed, params) for seed in seeds for params, value in replayed_configs(seed, settings)]
    return sorted(rows, key=lambda row: -row[0])


def spans(rows: list[tuple[float, int, dict]]) -> str:
    """Each parameter's lowest and highest value among `rows`."""

    def text(value) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    return ", ".join(
        f"{name} {text(min(r[2][name] for r in rows))}..{text(max(r[2][name] for r in rows))}" for name in rows[0][2]
    )


def main(argv=None) -> int:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--trials", type=int, default=12, help="which kept random searches (their trial count)")
    parser.add_argument("--top", type=int, default=20)
    add_subset_arguments(parser)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    settings = subset_settings(args, "trials")
    try:
        rows = ranked(args.seeds, settings)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    top = rows[: args.top]
    lines = [
        f"{args.family}: {len(rows)} kept random configurations ({args.trials}-trial searches, seeds "
        f"{args.seeds}), ranked by validation accuracy"
    ]
    lines += [f"  {value:.4f} seed {seed}: {short(params)}" for value, seed, params in top]
    lines.append(
        f"top {len(top)}: val accuracy {top[-1][0]:.4f}..{top[0][0]:.4f}; {spans(top)}; "
        f"all {len(rows)}: {rows[-1][0]:.4f}..{rows[0][0]:.4f}"
    )
    print("\n".join(lines))
    out = RESULTS / f"kept_configs{setting_tag(settings)}_{args.trials}trials_seeds{args.seeds[0]}-{args.seeds[-1]}.txt"
    write_atomically(out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
