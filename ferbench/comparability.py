"""Whether one of our configurations and a published number may be compared, and why not.

`judge(ours, entry)` decides a pair for the leaderboard and for reproduction reports: hard reasons
make it "no" (no delta), soft reasons are caveats beside a delta; the rules are listed in
ferbench.leaderboard's docstring. `paired_plan` picks which of our runs to test against each
other image by image (ferbench.leaderboard.paired_results runs the test), `paired_text` words it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ferbench.labels import canonical
from ferbench.record.tags import TAG_CLASSES, TAG_N_IMAGES, TAG_SPLIT_SIZES

COMPARABLE, CAVEATS, NOT_COMPARABLE = "yes", "caveats", "no"
# Data sets whose images come from few people: an image-level split puts one person on both sides.
SUBJECT_DATASETS = ("jaffe", "ckplus")
RANDOM_SPLITS = ("holdout", "kfold", "loo")
SUBJECT_SPLITS = ("loso", "subject-kfold")
NO_PREDICTIONS = "no per-image predictions"


@dataclass
class Ours:
    """One configuration of ours (possibly several seeds), scored by its best metric mean."""

    family: str
    dataset: str
    protocol: str
    fingerprint: str
    run_id: str  # the best single run of the configuration
    run_ids: list[str]
    metrics: dict[str, float]  # mean over seeds, or the run's own (fold-mean) values
    stds: dict[str, float]  # std over seeds, or the run's <name>_std
    n: int  # distinct seeds
    n_folds: int | None
    tuned: bool
    random_weights: bool
    synthetic: bool
    selected_on: str
    params: dict[str, str] = field(default_factory=dict)
    split_sizes: dict[str, int] | None = None  # None: not recorded
    classes: tuple[str, ...] | None = None  # None: not recorded
    epochs: int | None = None  # None: not recorded, or not trained by epochs
    early_stopping: bool = False  # stopped on the validation rows
    seed_runs: dict[int | str, str] = field(default_factory=dict)  # seed -> its kept run
    tta: bool = False  # test predictions averaged over augmented copies

    def spread_of(self, metric: str) -> str:
        return f"{self.n} seeds" if self.n > 1 else (f"{self.n_folds} folds" if self.n_folds else "1 run")

    def interval_of(self, metric: str) -> tuple[float, float] | None:
        """95% interval: Student t over seeds, else the run's own bootstrap interval (if logged)."""
        if self.n > 1:
            if metric not in self.metrics or metric not in self.stds:
                return None
            from ferbench.evaluate import t_interval

            return t_interval(self.metrics[metric], self.stds[metric], self.n, bounds=(0.0, 1.0))
        low, high = self.metrics.get(f"{metric}_ci_low"), self.metrics.get(f"{metric}_ci_high")
        return None if low is None or high is None else (low, high)

    @property
    def subject_independent(self) -> bool | None:
        """False for an image-level split of data with subjects; None where it does not apply."""
        kind = self.protocol.partition(":")[0]
        if self.dataset not in SUBJECT_DATASETS or kind not in SUBJECT_SPLITS + RANDOM_SPLITS:
            return None
        return kind in SUBJECT_SPLITS


@dataclass
class Judgement:
    status: str  # yes / caveats / no
    reasons: list[str]
    delta: float | None  # ours - published; None unless comparable


# --- reading a run's data, budget and selection ----------------------------------------------------
def read_split_sizes(tags: dict) -> dict[str, int] | None:
    """ferbench.split_sizes (JSON), or ferbench.n_images as the total; None when neither is usable."""
    try:
        sizes = json.loads(tags[TAG_SPLIT_SIZES])
        if sizes and all(type(v) is int and v >= 0 for v in sizes.values()):
            return {str(k): v for k, v in sizes.items()}
    except (KeyError, TypeError, ValueError, AttributeError):  # absent, not JSON, not a mapping
        pass
    try:
        return {"all": int(tags[TAG_N_IMAGES])}
    except (KeyError, TypeError, ValueError):
        return None


def read_classes(tags: dict) -> tuple[str, ...] | None:
    names = [name.strip() for name in tags.get(TAG_CLASSES, "").split(",") if name.strip()]
    return tuple(names) or None


def read_epochs(params: dict) -> int | None:
    try:
        return int(params["epochs"])
    except (KeyError, TypeError, ValueError):  # absent, or "n/a" for families without epochs
        return None


def read_early_stopping(params: dict) -> bool:
    """The `early_stopping` param; runs recorded before it stopped early when they were of a Keras
    family, the only ones with a `patience` param (EarlyStopping on val_accuracy)."""
    if "early_stopping" in params:
        return str(params["early_stopping"]).lower() == "true"
    return "patience" in params


def published_epochs(entry: dict) -> int | None:
    return entry.get("epochs") or (entry.get("config") or {}).get("epochs")


# --- the rules -------------------------------------------------------------------------------------
def _data(ours: Ours, entry: dict, hard: list, soft: list) -> None:
    known = entry.get("fingerprint")
    if known and ours.fingerprint == known:
        return  # the same content: sizes and label space follow
    if known and ours.fingerprint:
        hard.append("different data copy (fingerprints differ)")
    elif not known:
        soft.append("unknown data copy")
    theirs = entry.get("split_sizes")
    if theirs is None:
        soft.append("published data size unknown")
    elif ours.split_sizes is None:
        hard.append("data size not recorded")
    else:
        mismatch = size_mismatch(ours.split_sizes, theirs)
        if mismatch:
            hard.append(mismatch)
    wanted = entry.get("classes")
    if wanted is not None:
        if ours.classes is None:
            hard.append("label space not recorded")
        else:
            mismatch = class_mismatch(ours.classes, wanted)
            if mismatch:
                hard.append(mismatch)


def size_mismatch(ours: dict[str, int], theirs: dict[str, int]) -> str | None:
    """'630 of 35,887 images' (ours of theirs), or the first split that differs, or None."""
    total_ours, total_theirs = sum(ours.values()), sum(theirs.values())
    if total_ours != total_theirs:
        return f"{total_ours:,} of {total_theirs:,} images"
    if "all" not in theirs and set(theirs) <= set(ours):
        for name, count in theirs.items():
            if ours[name] != count:
                return f"{name} {ours[name]:,} of {count:,} images"
    return None


def class_mismatch(ours: tuple[str, ...], theirs) -> str | None:
    if isinstance(theirs, int):
        return None if len(ours) == theirs else f"{len(ours)} of {theirs} classes"
    mine = {canonical(n) or n for n in ours}
    other = {canonical(n) or n for n in theirs}
    if mine == other:
        return None
    changes = [f"+{n}" for n in sorted(mine - other)] + [f"-{n}" for n in sorted(other - mine)]
    return f"classes differ (ours {' '.join(changes)})"


def _budget(ours: Ours, entry: dict, hard: list, soft: list) -> None:
    theirs = published_epochs(entry)
    if theirs is None:
        return
    if ours.epochs is None:
        hard.append(f"budget: our epochs not recorded (paper {theirs})")
    elif ours.epochs < theirs:
        hard.append(f"budget: {ours.epochs} of {theirs} epochs")
    elif ours.epochs > theirs:
        soft.append(f"budget: {ours.epochs} of {theirs} epochs")


def budget_text(ours: Ours, entry: dict | None) -> str:
    """Our epochs beside the paper's: '2 / 10', '10' (paper silent), '' (no epochs)."""
    theirs = published_epochs(entry) if entry else None
    mine = "?" if ours.epochs is None else str(ours.epochs)
    if theirs is None:
        return "" if ours.epochs is None else mine
    return f"{mine} / {theirs}"


def _selection(ours: Ours, entry: dict, hard: list, soft: list) -> None:
    if entry["selected_on"] == "test":
        hard.append("published model selected on the test rows")
    elif entry["selected_on"] == "unknown":
        soft.append("published selection not described")
    if ours.selected_on == "test":
        hard.append("our model selected on the test rows")
    if entry["split"] == "val" or entry["metric"].startswith("val_"):
        # a number reported on the rows that chose the model is optimistic
        if entry["selected_on"] == "val":
            hard.append("published model selected on the val rows it reports")
        if ours.early_stopping or ours.tuned:
            how = "early stopping" if ours.early_stopping else "tuning"
            hard.append(f"ours selected on the val rows it reports ({how})")


def _subjects(ours: Ours, entry: dict, hard: list, soft: list) -> None:
    if ours.subject_independent is not False:
        return
    if entry["subject_independent"] is False:
        soft.append("not subject-independent")
    else:
        known = "is" if entry["subject_independent"] else "may be"
        hard.append(f"ours not subject-independent (published {known})")


def judge(ours: Ours, entry: dict) -> Judgement:
    """Whether our configuration and one published entry may be compared, why, and the delta."""
    hard: list[str] = []
    soft: list[str] = []
    metric = entry["metric"]
    if ours.synthetic:
        hard.append("ours on synthetic data")
    if ours.random_weights:
        hard.append("ours used random (not pretrained) weights")
    if entry["protocol"] == "unknown":
        hard.append("published protocol unknown")
    elif entry["protocol"] != ours.protocol:
        hard.append(f"protocol differs ({ours.protocol} vs {entry['protocol']})")
    _data(ours, entry, hard, soft)
    _budget(ours, entry, hard, soft)
    _selection(ours, entry, hard, soft)
    _subjects(ours, entry, hard, soft)
    if ours.tta and entry.get("tta") is not True:
        # test-time augmentation is compared only with published numbers that used it too
        hard.append(
            "ours used test-time augmentation, published " + ("did not" if entry.get("tta") is False else "unknown")
        )
    for flag, text in (("tta", "test-time augmentation"), ("extra_data", "extra training data")):
        if flag == "tta" and ours.tta:
            continue
        if entry.get(flag) is True:
            hard.append(f"published used {text}")
        elif entry.get(flag) is None:
            soft.append(f"published {text} unknown")
    if metric == "train_accuracy":
        hard.append("training-fit accuracy, not a held-out score")
    value = ours.metrics.get(metric)
    if value is None:
        hard.append(f"ours has no {metric}")
    if hard:
        return Judgement(NOT_COMPARABLE, hard + soft, None)
    return Judgement(CAVEATS if soft else COMPARABLE, soft, value - entry["value"])


def subject_independent_peer(ours: Ours, candidates: list[Ours], metric: str) -> Ours | None:
    """Our best subject-independent configuration of the same family and data copy, beside an
    image-level split of data with subjects; None when there is none (or none is needed)."""
    if ours.subject_independent is not False:
        return None
    peers = [
        o
        for o in candidates
        if o.family == ours.family
        and o.dataset == ours.dataset
        and o.subject_independent
        and o.fingerprint == ours.fingerprint
        and not o.synthetic
        and metric in o.metrics
    ]
    return max(peers, key=lambda o: o.metrics[metric], default=None)


# --- paired comparison between our own configurations ---------------------------------------------
def paired_plan(ours_list: list[Ours], metric: str = "test_accuracy"):
    """(pairs, best): for each configuration (by run_id) that shares its data copy and protocol
    with others, the run-id pair (its run, the best one's run) to test; and run_id -> the best
    configuration of its group. Runs of a seed both have are paired (the same split); else each
    configuration's lowest seed. Never a seed picked by its test score."""
    groups: dict[tuple, list[Ours]] = {}
    for o in ours_list:
        if o.fingerprint and metric in o.metrics:
            sizes = tuple(sorted((o.split_sizes or {}).items()))
            groups.setdefault((o.dataset, o.fingerprint, sizes, o.protocol, o.tta), []).append(o)
    pairs, best_of = {}, {}
    for members in groups.values():
        if len(members) < 2:
            continue
        best = max(members, key=lambda o: o.metrics[metric])
        for o in members:
            best_of[o.run_id] = best
            if o is not best:
                pairs[o.run_id] = _seed_pair(o, best)
    return pairs, best_of


def _seed_pair(a: Ours, b: Ours) -> tuple[str, str]:
    def lowest(seeds):  # numbers first; a seed that is not a number sorts after them
        return min(seeds, key=lambda seed: (isinstance(seed, str), seed))

    common = set(a.seed_runs) & set(b.seed_runs)
    if common:
        return a.seed_runs[lowest(common)], b.seed_runs[lowest(common)]

    def one_run(o: Ours) -> str:
        return o.seed_runs[lowest(o.seed_runs)] if o.seed_runs else o.run_id

    return one_run(a), one_run(b)


def paired_text(result: tuple[str | None, float | None, str], best: Ours, same_family: bool) -> str:
    from ferbench.evaluate import format_p

    verdict, p_value, note = result
    if verdict is None or p_value is None:  # a verdict always comes with its p-value
        return note
    name = f"{best.family} {best.run_id[:8]}" if same_family else best.family
    link = {"better": "better than", "worse": "worse than"}.get(verdict, f"{verdict} of")
    return f"{link} {name} ({format_p(p_value)})"
