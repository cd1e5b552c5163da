"""What the experiment scripts share: where results go, the FER-2013 path, the ferbench command line,
and the pruning benchmark's subset, search space and kept random searches.

The scripts import it as `_common`: Python puts a script's own folder first on `sys.path`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FER2013_ENV = "FERBENCH_FER2013"
FER2013_HELP = f"FER-2013 folder (Kaggle layout) or fer2013.csv (default: ${FER2013_ENV})"
# The command line as a user's shell runs it, through the interpreter running the script.
FERBENCH_CLI = [sys.executable, "-c", "from ferbench.cli import main; main()"]

# The pruning benchmark's original setting (bench_pruning.py); its result files keep their names.
FAMILY = "baseline_cnn"
SPACE = ["filters=2:16", "learning_rate=1e-5:1e-1"]  # plus the family's other tunable params
FIXED = {"batch_size": "64"}


def write_atomically(path: Path, text: str) -> None:
    """Written under a temporary name, then renamed: a run ended mid-write leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def fer2013_path(parser: argparse.ArgumentParser, given: str | None) -> Path:
    """The FER-2013 path given, else $FERBENCH_FER2013; a usage error (exit 2) when neither exists."""
    text = given or os.environ.get(FER2013_ENV)
    if not text:
        parser.error(f"no FER-2013: pass its path or set {FER2013_ENV}")
    path = Path(text).expanduser()
    if not path.exists():
        parser.error(f"{path}: FER-2013 not found")
    return path


# --- the pruning benchmark's data and search space (bench_pruning.py and the scripts on its results)
def add_subset_arguments(parser: argparse.ArgumentParser) -> None:
    """The data, family, space, subset and training length every script on this benchmark shares."""
    parser.add_argument("--data", default=None, metavar="PATH", help=FER2013_HELP)
    parser.add_argument("--family", default=FAMILY)
    parser.add_argument(
        "--space",
        nargs="+",
        default=None,
        metavar="NAME=LOW:HIGH",
        help=f"range overrides, as `ferbench tune --space` (default: {' '.join(SPACE)} for "
        f"{FAMILY}, the family's own ranges otherwise)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-val", type=int, default=6000)


def subset_settings(args: argparse.Namespace, *more: str) -> dict:
    """The settings add_subset_arguments declares (and `more` of the parsed arguments), as the
    dict the scripts pass to seed workers, caches and file names."""
    return {k: getattr(args, k) for k in ("data", "family", "space", "epochs", "n_train", "n_val", *more)}


def subset(data: Path | str, n_train: int, n_val: int, seed: int):
    """A stratified, seeded FER-2013 subset of the official training split: n_train training and
    n_val validation images."""
    from ferbench.data.dataset import FaceDataset
    from ferbench.data.readers import load_dataset
    from ferbench.protocols import stratified_mask

    full = load_dataset("fer2013", data)
    pool = np.flatnonzero(full.splits == "train")
    rng = np.random.default_rng(seed)
    pool = pool[stratified_mask(full.labels[pool], (n_train + n_val) / len(pool), rng)]
    val_mask = stratified_mask(full.labels[pool], n_val / len(pool), rng)
    index = np.concatenate([pool[~val_mask], pool[val_mask]])
    splits = np.array(["train"] * int((~val_mask).sum()) + ["val"] * int(val_mask.sum()))
    # one placeholder test image keeps the official protocol valid; it is never scored on
    index = np.append(index, np.flatnonzero(full.splits == "test")[:1])
    splits = np.append(splits, "test")
    return FaceDataset(
        full.images[index],
        full.labels[index],
        full.class_names,
        splits=splits,
        name="fer2013-subset",
        variant=full.variant,
    )


def make_objective(
    dataset, *, epochs: int, seed: int, low_fidelity, family: str = FAMILY, space: list[str] | None = None
):
    """The tuning objective `ferbench tune` would build for `family` over `space` (overrides of the
    family's tunable ranges; SPACE for FAMILY) on the subset's val part."""
    from ferbench.protocols import parse_protocol
    from ferbench.tuning import Objective, make_splits

    family_cls, fixed, ranges = search_space(family, space, epochs)
    splits = make_splits(dataset, parse_protocol("official"), seed)
    return Objective(
        family_cls, dataset, splits, fixed, ranges, epochs=epochs, seed=seed, total=10**6, low_fidelity=low_fidelity
    )


def settings_objective(data, seed: int, settings: dict, *, low_fidelity):
    return make_objective(
        data,
        epochs=settings["epochs"],
        seed=seed,
        low_fidelity=low_fidelity,
        family=settings["family"],
        space=settings["space"],
    )


def search_space(family: str, space: list[str] | None, epochs: int):
    """(family class, fixed params, tunable ranges): what a run of `family` searches over."""
    from ferbench.families import registry
    from ferbench.params import resolve
    from ferbench.tuning import parse_space

    family_cls = registry.get(family)
    fixed = resolve(family_cls.params_spec(), {**FIXED, "patience": str(epochs)}, family)
    fixed = {k: fixed[k] for k in (*FIXED, "patience")}
    return family_cls, fixed, parse_space(family_cls.params_spec(), space_of(family, space), fixed)


def space_of(family: str, space: list[str] | None) -> list[str]:
    """The range overrides a run uses: the given ones, else SPACE for FAMILY and none for others."""
    return space if space is not None else (SPACE if family == FAMILY else [])


def setting_tag(settings: dict) -> str:
    """File-name part naming a family and space other than the original benchmark's (whose files
    keep their names)."""
    family, space = settings["family"], space_of(settings["family"], settings["space"])
    if (family, space) == (FAMILY, SPACE):
        return ""
    return "_" + "_".join([family, *(item.replace("=", "").replace(":", "-") for item in space)])


def short(params: dict) -> dict:
    return {k: float(f"{v:.3g}") if isinstance(v, float) else v for k, v in params.items()}


def seed_results(fn, seeds: list[int], settings: dict, jobs: int, failed: dict | None = None):
    """Yield (seed, fn(seed, settings)) as each seed finishes; with jobs > 1, seeds run side by side
    in spawned processes (TensorFlow does not survive fork). With `failed`, a seed that raises is
    recorded there (seed -> one-line error) and the others go on."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    def outcome(seed: int, get) -> tuple[bool, object]:
        try:
            return True, get()
        except Exception as exc:
            if failed is None:
                raise
            from ferbench.errors import first_line

            failed[seed] = f"{type(exc).__name__}: {first_line(exc)}"
            print(f"seed {seed} failed: {failed[seed]}", file=sys.stderr, flush=True)
            return False, None

    if jobs <= 1:
        for seed in seeds:
            ok, result = outcome(seed, partial(fn, seed, settings))
            if ok:
                yield seed, result
        return
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, seed, settings): seed for seed in seeds}
        for future in as_completed(futures):
            ok, result = outcome(futures[future], future.result)
            if ok:
                yield futures[future], result


# --- the kept random searches (bench_pruning.py --random-only) -----------------------------------
def random_cache(seed: int, settings: dict) -> Path:
    return RESULTS / (
        "bench_pruning{}_random_seed{}_{trials}trials_{epochs}ep_{n_train}-{n_val}.json".format(
            setting_tag(settings), seed, **settings
        )
    )


def replay_trial(study, ranges: dict, value: float) -> dict:
    """Tell `study` a trial of `value` without training: the sampler draws the parameters in
    `ranges` (an objective's space) as it did when the trial ran (same seed, same order).
    Returns those parameters."""
    trial = study.ask()
    params = {name: spec.suggest(trial, name) for name, spec in ranges.items()}
    study.tell(trial, value)
    return params


def replayed_configs(seed: int, settings: dict) -> list[tuple[dict, float]]:
    """(params, full value) of the kept random search on this seed, in trial order."""
    import optuna

    from ferbench.tuning import make_sampler  # as bench_pruning's random search draws

    kept = random_cache(seed, settings)
    if not kept.exists():
        raise FileNotFoundError(f"{kept.name}: run bench_pruning.py --random-only --seeds {seed} first")
    history = json.loads(kept.read_text())["history"]
    study = optuna.create_study(direction="maximize", sampler=make_sampler("random", seed))
    _, _, ranges = search_space(settings["family"], settings["space"], settings["epochs"])
    return [(replay_trial(study, ranges, value), value) for _, value, _ in history]
