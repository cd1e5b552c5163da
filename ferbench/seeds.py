"""Seeds: parsing `--seeds`, and the summary a parent run holds over its seeds' child runs.

The uncertainty over seeds is a Student-t 95% interval of the per-seed values
(`ferbench.evaluate.mean_ci`); with one seed there is no spread to report, and the interval is
left out rather than shown as zero.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferbench.errors import FerbenchError
from ferbench.record.tags import TAG_KIND, TAG_SEED, TAG_SEEDS

SUMMARISED = ("test_accuracy", "test_macro_f1", "val_accuracy")


def check_seeds(values: Iterable, where: str = "--seeds") -> list[int]:
    """Distinct non-negative integers, in the order given."""
    values = list(values) if not isinstance(values, (str, bytes)) else [values]
    if not values:
        raise FerbenchError(f"{where}: give at least one seed")
    seeds = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FerbenchError(f"{where}: seed {value!r} is not an integer >= 0")
        seeds.append(value)
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise FerbenchError(f"{where}: seed {repeated[0]} is given twice")
    return seeds


def parse_seeds(text: str) -> list[int]:
    """`"0,1,2"` -> [0, 1, 2]: empty, repeated, negative or non-integer seeds are errors."""
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        raise FerbenchError("--seeds: give at least one seed, e.g. --seeds 0,1,2")
    values = []
    for part in parts:
        try:
            values.append(int(part))
        except ValueError:
            raise FerbenchError(f"--seeds: {part!r} is not an integer seed") from None
    return check_seeds(values)


def summarise(per_seed: list[dict[str, float]], metrics: Iterable[str] = SUMMARISED) -> dict[str, float]:
    """`<metric>_mean`, `_std`, `_ci_low`, `_ci_high` over seeds for every metric the runs
    logged, and `n_seeds`. Bounds and std are left out for a single seed."""
    from ferbench.evaluate import mean_ci

    out: dict[str, float] = {"n_seeds": float(len(per_seed))}
    for metric in metrics:
        values = [m[metric] for m in per_seed if metric in m]
        if not values:
            continue
        ci = mean_ci(values, bounds=(0.0, 1.0))  # every summarised metric is a fraction
        out[f"{metric}_mean"] = ci["mean"]
        if len(values) > 1:
            out.update(
                {f"{metric}_std": ci["std"], f"{metric}_ci_low": ci["ci_low"], f"{metric}_ci_high": ci["ci_high"]}
            )
    return out


def run_seeds(
    family: str,
    dataset,
    seeds: list[int],
    *,
    protocol=None,
    params=None,
    epochs=None,
    tracking_uri=None,
    quiet=False,
    extra_tags=None,
):
    """One child run per seed under a parent run (ferbench.kind=seeds) that holds the summary
    over seeds. Returns (parent run id, the children's RunResults, the summary)."""
    from ferbench import record, runner

    seeds = check_seeds(seeds)
    # everything is checked once, before the parent run exists
    plan = runner.prepare(
        family, dataset, protocol=protocol, params=params, epochs=epochs, seed=seeds[0], tracking_uri=tracking_uri
    )
    tags = {
        **record.common_tags(plan.family_cls, dataset, plan.protocol, seeds[0], plan.params),
        TAG_KIND: "seeds",
        TAG_SEEDS: ",".join(map(str, seeds)),
    }
    tags.pop(TAG_SEED, None)
    tags.update({k: str(v) for k, v in (extra_tags or {}).items()})
    name = f"{plan.family_cls.name}-{plan.protocol.name}-seeds-{'-'.join(map(str, seeds))}"
    with record.tracked_run(plan.experiment_id, name, tags) as parent:
        record.log(
            parent,
            params={
                **plan.params,
                "protocol": plan.protocol.name,
                "seeds": ",".join(map(str, seeds)),
                "epochs": plan.epochs if plan.epochs is not None else "n/a",
            },
        )
        results = [
            runner.run(
                family,
                dataset,
                protocol=protocol,
                params=params,
                epochs=epochs,
                seed=seed,
                tracking_uri=tracking_uri,
                quiet=quiet,
                extra_tags=extra_tags,
                parent_run_id=parent,
            )
            for seed in seeds
        ]
        summary = summarise([r.metrics for r in results])
        record.log(parent, metrics=summary)
    return parent, results, summary
