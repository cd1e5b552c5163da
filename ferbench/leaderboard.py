"""Ours against published: our best run per family and data set beside every published number,
with a comparability verdict and its reasons. Rendering and charts live in leaderboard_render.

Our runs are read with one MLflow filter string (source=ferbench, kind=run, FINISHED), and kept
in an incremental cache (ferbench.leaderboard_cache): a call asks MLflow only for runs finished
since the last one; the dataset/protocol/family filters then apply to the cached records. On
MLflow's SQL store the filter runs as MLflow's own WHERE clause over plain columns (the cache's
fast path, 4x cheaper); other stores go through MlflowClient.search_runs.
No order_by on a metric: MLflow sorts through a LEFT OUTER JOIN on a latest_metrics subquery
that SQLite 3.40 scans once per matching run (plan "SCAN anon_1 LEFT-JOIN"), 40 s of SQL at
10,000 runs, 2 s even for one family's 250 runs; a `metrics.x > -1` filter does not remove that
join. The filtered, unordered read is linear in the matching runs; through search_runs its cost is
SQLAlchemy's ORM objects per tag/param/metric (about 0.35 ms CPU per run), not the SQL (measured).
Runs of one configuration (family, data copy, protocol, params without the seed) are pooled:
several seeds give mean +- std over seeds; a single run gives its own fold mean +- std.

A pair is comparable only when nothing below is a hard reason; soft reasons (caveats) are shown
but still allow a delta. Hard: our data is synthetic, our backbone had random weights,
protocols differ or the published one is unknown, either side selected its model on the test
rows, the published number used test-time augmentation or extra data, the data copies differ
(both fingerprints known), the number is a training-fit accuracy, or we did not log the metric.
Soft: the published data copy is unknown, its selection / TTA / extra data is not described.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

NOTHING_YET = "nothing to show yet — run `ferbench bench` or `ferbench run ...` to create runs"
COMPARABLE, CAVEATS, NOT_COMPARABLE = "yes", "caveats", "no"


@dataclass
class Ours:
    """One configuration of ours (possibly several seeds), scored by its best metric mean."""

    family: str
    dataset: str
    protocol: str
    fingerprint: str
    run_id: str                       # the best single run of the configuration
    run_ids: list[str]
    metrics: dict[str, float]         # mean over seeds, or the run's own (fold-mean) values
    stds: dict[str, float]            # std over seeds, or the run's <name>_std
    n: int                            # runs pooled (seeds)
    n_folds: int | None
    tuned: bool
    random_weights: bool
    synthetic: bool
    selected_on: str
    params: dict[str, str] = field(default_factory=dict)

    def spread_of(self, metric: str) -> str:
        return f"{self.n} seeds" if self.n > 1 else (f"{self.n_folds} folds" if self.n_folds else "1 run")


@dataclass
class Row:
    family: str
    dataset: str
    ours: float | None
    ours_std: float | None
    ours_n: str
    run_id: str
    tuned: bool | None
    our_protocol: str
    metric: str
    published: float | None
    published_id: str
    paper: str
    published_protocol: str
    comparable: str                   # yes / caveats / no / "" (nothing to compare with)
    reasons: list[str]
    delta: float | None
    reference_only: bool = False

    def to_json(self) -> dict:
        return asdict(self)


# --- reading our runs -------------------------------------------------------------------------
# Our finished runs of every ferbench experiment; dataset/protocol/family filters apply to the
# cached records (ferbench.leaderboard_cache), so one cache serves every filter.
RUN_FILTER = "tags.source = 'ferbench' AND tags.`ferbench.kind` = 'run' AND attributes.status = 'FINISHED'"


def experiment_ids(client) -> list[str]:
    return [e.experiment_id for e in client.search_experiments(filter_string="name LIKE 'ferbench-%'")]


def search_our_runs(client, dataset=None, protocol=None, family=None, *, refresh: bool = False) -> list:
    """Our finished kind=run runs (RunRecords), through the incremental cache of
    ferbench.leaderboard_cache; the user's dataset/protocol/family filters apply to the records."""
    from ferbench.leaderboard_cache import finished_runs

    ids = experiment_ids(client)
    if not ids:
        return []
    wanted = {"ferbench.dataset": dataset, "ferbench.protocol": protocol, "ferbench.family": family}
    runs = finished_runs(client, ids, RUN_FILTER, refresh=refresh)
    return [r for r in runs if all(not v or r.tags.get(k) == v for k, v in wanted.items())]


def _flag(tags: dict, name: str) -> bool:
    return tags.get(f"ferbench.{name}", "false").lower() == "true"


def pool(runs: list) -> list[Ours]:
    """Group runs by configuration and summarise each group."""
    groups: dict[str, list] = {}
    for run in runs:
        tags, params = run.tags, run.params
        config = {k: v for k, v in params.items() if k != "seed"}
        key = json.dumps([tags.get("ferbench.family"), tags.get("ferbench.dataset"),
                          tags.get("ferbench.fingerprint"), tags.get("ferbench.protocol"),
                          _flag(tags, "synthetic"), _flag(tags, "random_weights"), config],
                         sort_keys=True)
        groups.setdefault(key, []).append(run)
    return [_summarise(group) for group in groups.values()]


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
    protocol = tags.get("ferbench.protocol", "?")
    return Ours(
        family=tags.get("ferbench.family", "?"), dataset=tags.get("ferbench.dataset", "?"),
        protocol=protocol, fingerprint=tags.get("ferbench.fingerprint", ""),
        run_id=best.run_id, run_ids=[r.run_id for r in group], metrics=metrics,
        stds=stds, n=len(group), n_folds=_folds_of(protocol),
        tuned=any(_flag(r.tags, "tuned") for r in group),
        random_weights=_flag(tags, "random_weights"), synthetic=_flag(tags, "synthetic"),
        selected_on=tags.get("ferbench.selected_on", "val"),
        params={k: v for k, v in first.params.items() if k != "seed"},
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


# --- comparability ------------------------------------------------------------------------------
def compare(ours: Ours, entry: dict) -> tuple[str, list[str]]:
    """(verdict, reasons) for our configuration against one published entry."""
    hard, soft = [], []
    metric = entry["metric"]
    if ours.synthetic:
        hard.append("ours on synthetic data")
    if ours.random_weights:
        hard.append("ours used random (not pretrained) weights")
    if entry["protocol"] == "unknown":
        hard.append("published protocol unknown")
    elif entry["protocol"] != ours.protocol:
        hard.append(f"protocol differs ({ours.protocol} vs {entry['protocol']})")
    if entry["selected_on"] == "test":
        hard.append("published model selected on the test rows")
    elif entry["selected_on"] == "unknown":
        soft.append("published selection not described")
    if ours.selected_on == "test":
        hard.append("our model selected on the test rows")
    for flag, text in (("tta", "test-time augmentation"), ("extra_data", "extra training data")):
        if entry.get(flag) is True:
            hard.append(f"published used {text}")
        elif entry.get(flag) is None:
            soft.append(f"published {text} unknown")
    known = entry.get("fingerprint")
    if known and ours.fingerprint and known != ours.fingerprint:
        hard.append("different data copy (fingerprints differ)")
    elif not known:
        soft.append("unknown data copy")
    if metric == "train_accuracy":
        hard.append("training-fit accuracy, not a held-out score")
    if metric not in ours.metrics:
        hard.append(f"ours has no {metric}")
    if hard:
        return NOT_COMPARABLE, hard + soft
    return (CAVEATS if soft else COMPARABLE), soft


def _shown(entry: dict) -> bool:
    # Per-fold numbers and confusion matrices stay in `ferbench baselines list`.
    return entry["metric"] != "confusion" and not entry["split"].startswith("fold_")


def _pick(candidates: list[Ours], entry: dict) -> Ours:
    """Our best configuration for this entry: comparable ones first, then by the entry's metric."""
    def score(o: Ours):
        verdict, _ = compare(o, entry)
        rank = {COMPARABLE: 2, CAVEATS: 2, NOT_COMPARABLE: 0}[verdict]
        return (rank, entry["protocol"] == o.protocol, o.metrics.get(entry["metric"], -1.0))
    return max(candidates, key=score)


def build(ours_list: list[Ours], published: list[dict], family: str | None = None,
          dataset: str | None = None) -> list[Row]:
    """One row per published number (of a family/data set we ran) and per unmatched family of ours."""
    rows: list[Row] = []
    by_key: dict[tuple, list[Ours]] = {}
    for o in ours_list:
        by_key.setdefault((o.family, o.dataset), []).append(o)
    datasets = {o.dataset for o in ours_list}
    for (fam, ds), candidates in sorted(by_key.items()):
        entries = [e for e in published if e["family"] == fam and e["dataset"] == ds and _shown(e)]
        if not entries:
            best = max(candidates, key=lambda o: o.metrics.get("test_accuracy", -1.0))
            rows.append(_row(best, None, "test_accuracy", "", ["no published number"]))
        for entry in entries:
            best = _pick(candidates, entry)
            verdict, reasons = compare(best, entry)
            rows.append(_row(best, entry, entry["metric"], verdict, reasons))
    for entry in published:  # peers and references on the data sets we ran: context only
        if (entry.get("reference_only") and entry["dataset"] in datasets and _shown(entry)
                and (not dataset or entry["dataset"] == dataset) and not family):
            rows.append(Row(entry["family"], entry["dataset"], None, None, "", "", None, "",
                            entry["metric"], entry["value"], entry["id"], entry["paper"],
                            entry["protocol"], "", ["reference only: not a ferbench family"],
                            None, True))
    return rows


def _row(o: Ours, entry: dict | None, metric: str, verdict: str, reasons: list[str]) -> Row:
    value = o.metrics.get(metric)
    delta = None
    if entry is not None and verdict in (COMPARABLE, CAVEATS) and value is not None:
        delta = value - entry["value"]
    return Row(
        family=o.family, dataset=o.dataset, ours=value, ours_std=o.stds.get(metric),
        ours_n=o.spread_of(metric), run_id=o.run_id, tuned=o.tuned, our_protocol=o.protocol,
        metric=metric, published=entry["value"] if entry else None,
        published_id=entry["id"] if entry else "", paper=entry["paper"] if entry else "",
        published_protocol=entry["protocol"] if entry else "", comparable=verdict,
        reasons=reasons, delta=delta,
    )


def leaderboard(client, dataset=None, protocol=None, family=None,
                published: list[dict] | None = None, refresh: bool = False) -> list[Row]:
    """Query the store and build the rows; [] when there is nothing of ours to show."""
    from ferbench import baselines

    runs = search_our_runs(client, dataset=dataset, protocol=protocol, family=family, refresh=refresh)
    if not runs:
        return []
    table = baselines.load_all() if published is None else published
    return build(pool(runs), table, family=family, dataset=dataset)


def fmt(value: float | None, std: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{100 * value:.2f}"
    return f"{text} ± {100 * std:.2f}" if std is not None else text
