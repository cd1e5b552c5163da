"""Pruning benchmark: random search without pruning against TPE with pruning + multi-fidelity.

On a real FER-2013 subset (N_TRAIN training images, N_VAL validation images carved from the
official training split; the test split is never touched), with a small CNN (by default baseline_cnn:
one conv layer, 2-16 filters; `--family` and `--space` choose another family and its ranges).
FER-2013 comes from `--data` or $FERBENCH_FER2013, here and in the scripts that use these results.
Compute = trial-epochs x training images, counted by the objective itself.

Figure: the fraction of random search's total compute at which TPE + pruning first reaches random
search's best validation accuracy (target <= 0.35). Printed and written to
experiments/results/bench_pruning_<pruner>_<settings>.txt. Each seed's line also says when
each search first came within one standard error of that best (not the target: a reading aid,
since the best is a maximum of noisy scores).

    python experiments/bench_pruning.py --data ~/data/fer2013 [--seeds 0 1] [--trials 12] [--epochs 10]
    python experiments/bench_pruning.py --family five_layer_cnn --space filters=4:16 --seeds 19 --jobs 2
    python experiments/bench_pruning.py ... --max-fraction 0.35   # TPE stops at the target's budget

Defaults (declared before their runs): a full trial trains the family's default 10 epochs,
since pruning after one of only 4 epochs can save at most three quarters of a trial; 6,000
validation images, since "reached random's best" compares against a maximum of noisy scores
(standard error about 0.006 at 6,000 images, 0.0105 at 2,000). Results of other settings are kept
in files named after them; a run on other seeds of the same setting adds its seed lines to that
setting's file (a seed run again replaces its line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np

from _common import (
    RESULTS,
    add_subset_arguments,
    fer2013_path,
    random_cache,
    replay_trial,
    seed_results,
    setting_tag,
    settings_objective,
    short,
    space_of,
    subset,
    subset_settings,
    write_atomically,
)

SAMPLER_SEED_OFFSET = 10_000


def search(
    objective,
    *,
    sampler: str,
    pruner: str,
    trials: int,
    stop_at: float | None = None,
    max_compute: float | None = None,
    rung_epoch: int | None = None,
    replay: list | None = None,
):
    """Run an in-memory study of `objective` (make_objective); returns [(cumulative compute, value
    or None, state)] per trial.
    `replay`: the history of a shorter run of this same search, told to the study without training
    (the sampler makes the same draws), so that the search goes on from where that run ended."""
    import optuna

    from ferbench.tuning import make_pruner, make_sampler

    # Samplers draw from different streams: seeded alike, TPE's random start-up trials would
    # replay random search's first configurations (and, trained with the same seed, its values).
    seed = objective.seed
    sampler_seed = seed if sampler == "random" else seed + SAMPLER_SEED_OFFSET
    study = optuna.create_study(
        direction="maximize",
        sampler=make_sampler(sampler, sampler_seed),
        pruner=make_pruner(pruner, objective.epochs + 3, rung_step(rung_epoch)),
    )
    cut = rung_step(rung_epoch)
    history, spent = [], 0.0
    for spent, value, state in replay or []:
        if state != "COMPLETE":
            raise ValueError(f"replay holds a {state} trial; only searches without pruning replay")
        replay_trial(study, objective.space, value)
        history.append((spent, value, state))
    for _ in range(trials - len(history)):
        study.optimize(objective, n_trials=1)
        t = study.trials[-1]
        spent += t.user_attrs.get("compute", 0)
        history.append((spent, t.value if t.state.name == "COMPLETE" else None, t.state.name))
        print(
            f"  seed {seed} {sampler}/{pruner} trial {t.number}: {t.state.name:<8} value={t.value} "
            f"compute={spent:.0f} rung={t.intermediate_values.get(cut)} params={short(t.params)}",
            flush=True,
        )
        if stop_at is not None and history[-1][1] is not None and history[-1][1] >= stop_at:
            break
        if max_compute is not None and spent >= max_compute:
            break
    return history


def rung_step(rung_epoch: int | None) -> int:
    """The step at which rung pruners cut: the cheap first rung, or the given epoch of the full fit."""
    from ferbench.tuning import LOW_FIDELITY_STEP

    return LOW_FIDELITY_STEP if rung_epoch is None else LOW_FIDELITY_STEP + rung_epoch


def random_search(data, seed: int, settings: dict) -> tuple[list, float]:
    """Random search's history on this seed, kept in a file: it does not depend on the pruner, so
    comparing pruners (or resuming after a session ends) does not repeat it."""
    cache = random_cache(seed, settings)
    if cache.exists():
        kept = json.loads(cache.read_text())
        return [tuple(row) for row in kept["history"]], kept["seconds"]
    # a kept shorter search on this seed is this one's beginning: go on from its end
    shorter = [random_cache(seed, {**settings, "trials": n}) for n in range(settings["trials"] - 1, 0, -1)]
    kept = next((json.loads(path.read_text()) for path in shorter if path.exists()), {"history": [], "seconds": 0.0})
    t0 = time.time()
    history = search(
        settings_objective(data, seed, settings, low_fidelity=(0, 0)),
        sampler="random",
        pruner="none",
        trials=settings["trials"],
        replay=[tuple(row) for row in kept["history"]],
    )
    seconds = kept["seconds"] + time.time() - t0
    write_atomically(cache, json.dumps({"history": history, "seconds": seconds}))
    return history, seconds


def run_seed(seed: int, settings: dict) -> tuple[str, float | None]:
    """Random search, then TPE with pruning up to random's compute, on one seed's subset."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    trials, pruner = settings["trials"], settings["pruner"]
    data = subset(settings["data"], settings["n_train"], settings["n_val"], seed)
    rand, rand_time = random_search(data, seed, settings)
    if settings.get("random_only"):
        return f"seed {seed}: random search kept in {random_cache(seed, settings).name}", None
    best = max(v for _, v, _ in rand if v is not None)
    t0 = time.time()
    tpe = search(
        settings_objective(data, seed, settings, low_fidelity=settings["low_fidelity"]),
        sampler="tpe",
        pruner=pruner,
        trials=10 * trials,
        stop_at=best,
        max_compute=rand[-1][0] * settings["max_fraction"],
        rung_epoch=settings["rung_epoch"],
    )
    line, fraction = describe(
        seed, rand, tpe, pruner, settings["n_val"], rand_time, time.time() - t0, settings["max_fraction"]
    )
    print(line, flush=True)
    return line, fraction


def first_reach(history: list, level: float) -> float | None:
    """Compute spent when a trial first scored >= level."""
    return next((c for c, v, _ in history if v is not None and v >= level), None)


def describe(
    seed: int,
    rand: list,
    tpe: list,
    pruner: str,
    n_val: int,
    rand_time: float,
    tpe_time: float,
    max_fraction: float = 1.0,
) -> tuple[str, float | None]:
    """One seed's line and its figure (TPE's share of random's compute to reach random's best).
    Also shown, not the target: when each search first came within one standard error of that
    best (binomial, over the n_val validation images), since random's best is a maximum of noisy
    scores. Random search's own times are relative to its whole budget: a best found early makes
    a larger budget flatter TPE."""
    best = max(v for _, v, _ in rand if v is not None)
    total = rand[-1][0]
    error = float(np.sqrt(best * (1 - best) / n_val))
    reached = first_reach(tpe, best)
    if reached is not None and reached > total:  # the trial that got there overran random's budget
        reached = None
    fraction = None if reached is None else reached / total
    near, rand_near = first_reach(tpe, best - error), first_reach(rand, best - error)
    states = [s for _, _, s in tpe]
    tpe_best = max((v for _, v, _ in tpe if v is not None), default=float("nan"))
    line = (
        f"seed {seed}: random best val_accuracy {best:.4f} at total compute {total:.0f} image-epochs "
        f"({rand_time:.0f} s; random itself first reached it at {first_reach(rand, best):.0f}); TPE+{pruner} "
        + (
            f"reached it at {reached:.0f} image-epochs = {fraction:.1%} of random's compute"
            if reached is not None
            else f"did not reach it within {max_fraction:.0%} of random's compute (best {tpe_best:.4f})"
        )
        + f" after {len(tpe)} trials ({states.count('PRUNED')} pruned, {tpe_time:.0f} s); within one standard "
        f"error ({error:.4f}) of it: "
        + ("TPE never" if near is None else f"TPE at {near / total:.1%}")
        + f", random at {rand_near / total:.1%} (not the target)"
    )
    return line, fraction


def parse_fidelity(text: str) -> tuple[float, float] | None:
    """'0.5:0.2' -> (0.5, 0.2); 'none' -> (0, 0), no cheap fit; None unless a first rung the
    objective can fit (ferbench.tuning.is_valid_low_fidelity: a rung on all the images is --rung-epoch)."""
    from ferbench.tuning import is_valid_low_fidelity

    if text == "none":
        return (0.0, 0.0)
    try:
        images, epochs = (float(part) for part in text.split(":"))
    except ValueError:
        return None
    return (images, epochs) if (images, epochs) != (0, 0) and is_valid_low_fidelity((images, epochs)) else None


def write_results(out: Path, header: list[str], args, done: dict, start: float, failed: dict) -> None:
    """The seeds finished so far and their summary, rewritten after every seed: a session that
    ends mid-run keeps what was measured."""
    seeds = sorted(done)
    fractions = [done[seed][1] for seed in seeds]
    # a seed that never reached random's best counts as needing more than all of its compute
    median = float(np.median([np.inf if f is None else f for f in fractions]))
    met = sum(f is not None and f <= 0.35 for f in fractions)
    pending = [seed for seed in args.seeds if seed not in done and seed not in failed]
    summary = (
        f"summary: fraction of random-search compute needed by TPE+{args.pruner} pruning per seed: "
        + ", ".join("not reached" if f is None else f"{f:.1%}" for f in fractions)
        + f"; median over all {len(fractions)} seeds "
        + ("not reached" if median == np.inf else f"{median:.1%}")
        + f"; {met} of {len(fractions)} seeds within the 35% target; wall time {time.time() - start:.0f} s"
        + (f"; seeds still running: {pending}" if pending else "")
        + "".join(f"; seed {seed} failed ({error})" for seed, error in sorted(failed.items()))
    )
    write_atomically(out, "\n".join([*header, *(done[seed][0] for seed in seeds), summary]) + "\n")


def kept_seed_lines(out: Path, header: str, rerun: list[int]) -> dict[int, tuple[str, float | None]]:
    """Seed lines of an earlier run of the same setting (same header line) in `out`, except the
    seeds run again: runs of one setting on other seeds add to its file instead of replacing it."""
    text = out.read_text().splitlines() if out.exists() else []
    if text[:1] != [header]:
        return {}
    kept = {}
    for line in text[1:]:
        seed = re.match(r"seed (\d+): ", line)
        if seed and int(seed.group(1)) not in rerun:
            share = re.search(r"= (\d+(?:\.\d+)?)% of random's compute", line)
            kept[int(seed.group(1))] = (line, None if share is None else float(share.group(1)) / 100)
    return kept


def main(argv=None) -> int:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--trials", type=int, default=12, help="random-search trials")
    add_subset_arguments(parser)
    parser.add_argument("--pruner", default="median", choices=["median", "rung", "rung-screen", "hyperband"])
    parser.add_argument(
        "--low-fidelity",
        default=None,
        metavar="IMAGES:EPOCHS",
        help="the first rung as fractions of the training images and of the epochs "
        "(default: the one `ferbench tune` uses)",
    )
    parser.add_argument(
        "--rung-epoch",
        type=int,
        default=None,
        help="rung pruners cut after this epoch of the full fit instead of at the cheap first "
        "rung (with --low-fidelity none, successive halving on epochs)",
    )
    parser.add_argument(
        "--random-only",
        action="store_true",
        help="run and keep random search only (later runs with any pruner reuse it)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="seeds run side by side in this many processes")
    parser.add_argument(
        "--max-fraction",
        type=float,
        default=1.0,
        help="stop TPE at this share of random's compute (0.35 decides the target at a third "
        "of the cost of running it to the end)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.max_fraction <= 1:
        print(f"--max-fraction {args.max_fraction}: expected a share in (0, 1]", file=sys.stderr)
        return 2
    args.data = str(fer2013_path(parser, args.data))
    from ferbench.tuning import LOW_FIDELITY  # the first rung `ferbench tune` uses

    low_fidelity = LOW_FIDELITY if args.low_fidelity is None else parse_fidelity(args.low_fidelity)
    if low_fidelity is None:
        print(
            f"--low-fidelity {args.low_fidelity!r}: expected IMAGES:EPOCHS, fractions in (0, 1) and (0, 1] "
            "(a rung on all the images is --low-fidelity none --rung-epoch N)",
            file=sys.stderr,
        )
        return 2
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    start = time.time()
    lines = [
        f"pruning benchmark: {args.family} on FER-2013 subset ({args.n_train} train / {args.n_val} val), "
        f"{args.epochs} epochs per full trial, random search {args.trials} trials, "
        f"space {space_of(args.family, args.space)} (the family's other tunable ranges as registered), "
        + (
            f"first rung on {low_fidelity[0]:g} of the images for {low_fidelity[1]:.3g} of the epochs"
            if low_fidelity[0]
            else "no cheap first rung"
        )
        + ("" if args.rung_epoch is None else f", rung pruners cut after full-fit epoch {args.rung_epoch}")
        + ("" if args.max_fraction == 1 else f", TPE stopped at {args.max_fraction:.0%} of random's compute")
    ]
    settings = subset_settings(args, "trials", "pruner", "random_only", "max_fraction")
    settings["low_fidelity"], settings["rung_epoch"] = low_fidelity, args.rung_epoch
    rung = f"-rung{low_fidelity[0]:g}x{low_fidelity[1]:.3g}" if low_fidelity != LOW_FIDELITY else ""
    rung += f"-cut-epoch{args.rung_epoch}" if args.rung_epoch is not None else ""
    rung += f"-cap{args.max_fraction * 100:g}" if args.max_fraction < 1 else ""
    out = RESULTS / (
        f"bench_pruning{setting_tag(settings)}_{args.pruner}{rung}_{args.trials}trials_{args.epochs}ep_"
        f"{args.n_train}-{args.n_val}.txt"
    )
    if args.random_only:
        for _, (line, _) in seed_results(run_seed, args.seeds, settings, args.jobs):
            print(line, flush=True)
        return 0
    done = kept_seed_lines(out, lines[0], args.seeds)
    failed: dict[int, str] = {}
    for seed, result in seed_results(run_seed, args.seeds, settings, args.jobs, failed):
        done[seed] = result
        write_results(out, lines, args, done, start, failed)
    write_results(out, lines, args, done, start, failed)
    print(out.read_text().splitlines()[-1])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
