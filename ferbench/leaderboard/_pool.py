"""Our runs pooled by configuration (family, data copy and size, protocol, params without the
seed): n counts distinct seeds, of runs that share a seed the latest finished one is kept; several
seeds give mean +- std over seeds, a single run its own fold mean +- std."""

from __future__ import annotations

import json
import math

from ferbench.comparability import Ours, read_classes, read_early_stopping, read_epochs, read_split_sizes
from ferbench.record.tags import (
    TAG_CLASSES,
    TAG_DATASET,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_N_IMAGES,
    TAG_PROTOCOL,
    TAG_RANDOM_WEIGHTS,
    TAG_SEED,
    TAG_SELECTED_ON,
    TAG_SPLIT_SIZES,
    TAG_SYNTHETIC,
    TAG_TTA,
    TAG_TUNED,
)


def _flag(tags: dict, name: str) -> bool:
    return tags.get(name, "false").lower() == "true"


def pool(runs: list) -> list[Ours]:
    """Group runs by configuration and summarise each group."""
    groups: dict[str, list] = {}
    for run in runs:
        tags, params = run.tags, run.params
        config = {k: v for k, v in params.items() if k != "seed"}
        key = json.dumps(
            [
                tags.get(TAG_FAMILY),
                tags.get(TAG_DATASET),
                tags.get(TAG_FINGERPRINT),
                tags.get(TAG_PROTOCOL),
                tags.get(TAG_SPLIT_SIZES),
                tags.get(TAG_N_IMAGES),
                tags.get(TAG_CLASSES),
                _flag(tags, TAG_SYNTHETIC),
                _flag(tags, TAG_RANDOM_WEIGHTS),
                config,
            ],
            sort_keys=True,
        )
        groups.setdefault(key, []).append(run)
    return [_summarise(_latest_per_seed(group)) for group in groups.values()]


def _seed_of(run) -> int | str:
    seed = str(run.tags.get(TAG_SEED, run.params.get("seed", "")))
    return int(seed) if seed.isdigit() else seed


def _latest_per_seed(group: list) -> list:
    """One run per seed: a repeated seed is the same experiment again, not another sample."""
    latest: dict = {}
    for run in group:  # on equal end times the later-read run wins
        seed = _seed_of(run)
        if seed not in latest or run.end_time >= latest[seed].end_time:
            latest[seed] = run
    return list(latest.values())


def _summarise(group: list) -> Ours:
    first = group[0]
    tags = first.tags
    names = {m for run in group for m in run.metrics if not m.endswith("_std")}
    metrics, stds = {}, {}
    for name in names:
        values = [run.metrics[name] for run in group if name in run.metrics]
        metrics[name] = math.fsum(values) / len(values)
        if len(group) > 1:
            stds[name] = _stdev(values)
        elif f"{name}_std" in first.metrics:
            stds[name] = first.metrics[f"{name}_std"]
    best = max(group, key=lambda r: r.metrics.get("test_accuracy", -1.0))
    protocol = tags.get(TAG_PROTOCOL, "?")
    return Ours(
        family=tags.get(TAG_FAMILY, "?"),
        dataset=tags.get(TAG_DATASET, "?"),
        protocol=protocol,
        fingerprint=tags.get(TAG_FINGERPRINT, ""),
        run_id=best.run_id,
        run_ids=[r.run_id for r in group],
        metrics=metrics,
        stds=stds,
        n=len(group),
        n_folds=_folds_of(protocol),
        tuned=any(_flag(r.tags, TAG_TUNED) for r in group),
        random_weights=_flag(tags, TAG_RANDOM_WEIGHTS),
        synthetic=_flag(tags, TAG_SYNTHETIC),
        selected_on=tags.get(TAG_SELECTED_ON, "val"),
        params={k: v for k, v in first.params.items() if k != "seed"},
        split_sizes=read_split_sizes(tags),
        classes=read_classes(tags),
        epochs=read_epochs(first.params),
        early_stopping=read_early_stopping(first.params),
        seed_runs={_seed_of(r): r.run_id for r in group},
        tta=_flag(tags, TAG_TTA),
    )


def _stdev(values: list[float]) -> float:
    """Sample standard deviation in floats (statistics.stdev works in Fractions: 6x the cost of
    the whole pooling at 10,000 runs)."""
    if len(values) < 2:
        return 0.0
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _folds_of(protocol: str) -> int | None:
    """Number of folds a k-fold protocol text names (the runner logs folds as steps only)."""
    head, _, tail = protocol.partition(":")
    return int(tail) if head in ("kfold", "subject-kfold") and tail.isdigit() else None
