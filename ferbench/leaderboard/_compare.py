"""Ours against published: our best run per family and data set beside every published number,
with a comparability verdict and its reasons. Rendering and charts live in `_render` and `_page`.

Our runs are read with one MLflow filter string (source=ferbench, kind=run, FINISHED), and kept
in an incremental cache (`_cache`): a call asks MLflow only for runs finished
since the last one; the dataset/protocol/family filters then apply to the cached records. On
MLflow's SQL store the filter runs as MLflow's own WHERE clause over plain columns (the cache's
fast path, 4x cheaper); other stores go through MlflowClient.search_runs.
No order_by on a metric: MLflow sorts through a LEFT OUTER JOIN on a latest_metrics subquery
that SQLite 3.40 scans once per matching run (plan "SCAN anon_1 LEFT-JOIN"), 40 s of SQL at
10,000 runs, 2 s even for one family's 250 runs; a `metrics.x > -1` filter does not remove that
join. The filtered, unordered read is linear in the matching runs; through search_runs its cost is
SQLAlchemy's ORM objects per tag/param/metric (about 0.35 ms CPU per run), not the SQL (measured).
Runs of one configuration (family, data copy and size, protocol, params without the seed) are
pooled: n counts distinct seeds (of runs that share a seed, the latest finished one is kept);
several seeds give mean +- std over seeds, a single run its own fold mean +- std.

A delta against a published number is shown only when ferbench.comparability.judge finds no
hard reason; soft reasons (caveats) are shown beside the delta. Hard:
  - ours on synthetic data or random (not pretrained) weights; protocols differ or the
    published one is unknown; the published number used TTA or extra data, is a training-fit
    accuracy, or we did not log its metric; ours used TTA (ferbench.tta) and the published
    number is not known to have;
  - data: known fingerprints differ (equal ones settle the data question alone); ours lacks
    ferbench.split_sizes (or ferbench.n_images, the total) or ferbench.classes; our sizes differ
    from the entry's split_sizes ("630 of 35,887 images", ours of theirs), or our classes;
  - budget: the paper states its epochs, and our `epochs` param is lower or absent;
  - selection: either side chose its model on the test rows; or the number is on the val rows
    and that side chose on them (published selected_on: val; ours tuned or early-stopped, which
    runs without an `early_stopping` param did when they have `patience`: the Keras families);
  - subjects: ours is an image-level split (holdout, kfold, loo) of data with subjects (jaffe,
    ckplus) and the published number is not stated to be one too.
Soft: the published data copy, size, selection, TTA or extra data is unknown; our budget is
larger than the paper's; both sides split images of shared subjects ("not subject-independent":
our best loso / subject-kfold figure of the same family and data copy is shown beside it).
Each of our rows is tested image by image against the best of ours on the same data copy,
protocol and TTA setting (exact McNemar on the per-image predictions artifact; runs of a shared seed, else each
side's lowest seed): "better", "worse", "within noise (p = ...)" or "no per-image predictions",
kept in the leaderboard cache by run-id pair.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ferbench.comparability import (
    NOT_COMPARABLE,
    Ours,
    budget_text,
    judge,
    paired_plan,
    paired_text,
    subject_independent_peer,
)
from ferbench.leaderboard._pool import pool
from ferbench.record.tags import (
    TAG_DATASET,
    TAG_FAMILY,
    TAG_KIND,
    TAG_PROTOCOL,
    TAG_SOURCE,
)

NOTHING_YET = "nothing to show yet — run `ferbench bench` or `ferbench run ...` to create runs"


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
    comparable: str  # yes / caveats / no / "" (nothing to compare with)
    reasons: list[str]
    delta: float | None
    reference_only: bool = False
    epochs: str = ""  # ours / the paper's
    subject_independent: float | None = None  # ours on a subject split, beside an image split
    subject_independent_protocol: str = ""
    paired: str = ""  # against the best of ours on the same data and protocol
    ours_ci: tuple[float, float] | None = None  # 95%: t over seeds, else the run's bootstrap

    def to_json(self) -> dict:
        return asdict(self)


# --- reading our runs -------------------------------------------------------------------------
# Our finished runs of every ferbench experiment; dataset/protocol/family filters apply to the
# cached records (`_cache`), so one cache serves every filter.
RUN_FILTER = f"tags.{TAG_SOURCE} = 'ferbench' AND tags.`{TAG_KIND}` = 'run' AND attributes.status = 'FINISHED'"


def experiment_ids(client) -> list[str]:
    return [e.experiment_id for e in client.search_experiments(filter_string="name LIKE 'ferbench-%'")]


def search_our_runs(client, dataset=None, protocol=None, family=None, *, refresh: bool = False) -> list:
    """Our finished kind=run runs (RunRecords), through the incremental cache of
    `_cache`; the user's dataset/protocol/family filters apply to the records."""
    from ferbench.leaderboard._cache import finished_runs

    ids = experiment_ids(client)
    if not ids:
        return []
    wanted = {TAG_DATASET: dataset, TAG_PROTOCOL: protocol, TAG_FAMILY: family}
    runs = finished_runs(client, ids, RUN_FILTER, refresh=refresh)
    return [r for r in runs if all(not v or r.tags.get(k) == v for k, v in wanted.items())]


# --- comparability ------------------------------------------------------------------------------
def compare(ours: Ours, entry: dict) -> tuple[str, list[str]]:
    """(verdict, reasons): ferbench.comparability.judge without the delta."""
    judgement = judge(ours, entry)
    return judgement.status, judgement.reasons


def _shown(entry: dict) -> bool:
    # Per-fold numbers and confusion matrices stay in `ferbench baselines list`.
    return entry["metric"] != "confusion" and not entry["split"].startswith("fold_")


def _pick(candidates: list[Ours], entry: dict) -> Ours:
    """Our best configuration for this entry: comparable ones first, then by the entry's metric."""

    def score(o: Ours):
        rank = 0 if judge(o, entry).status == NOT_COMPARABLE else 2
        return (rank, entry["protocol"] == o.protocol, o.metrics.get(entry["metric"], -1.0))

    return max(candidates, key=score)


def build(
    ours_list: list[Ours],
    published: list[dict],
    family: str | None = None,
    dataset: str | None = None,
    protocol: str | None = None,
) -> list[Row]:
    """One row per published number (of a family/data set we ran) and per unmatched family of
    ours. `ours_list` may hold more than the filters show: other protocols of the same family
    and data give the subject-independent figures."""
    rows: list[Row] = []
    by_key: dict[tuple, list[Ours]] = {}
    for o in ours_list:
        if (not family or o.family == family) and (not protocol or o.protocol == protocol):
            by_key.setdefault((o.family, o.dataset), []).append(o)
    datasets = {ds for _, ds in by_key}
    for (fam, ds), candidates in sorted(by_key.items()):
        entries = [e for e in published if e["family"] == fam and e["dataset"] == ds and _shown(e)]
        if not entries:
            best = max(candidates, key=lambda o: o.metrics.get("test_accuracy", -1.0))
            rows.append(_row(best, None, "test_accuracy", None, ours_list))
        for entry in entries:
            best = _pick(candidates, entry)
            rows.append(_row(best, entry, entry["metric"], judge(best, entry), ours_list))
    for entry in published:  # peers and references on the data sets we ran: context only
        if (
            entry.get("reference_only")
            and entry["dataset"] in datasets
            and _shown(entry)
            and (not dataset or entry["dataset"] == dataset)
            and not family
        ):
            rows.append(
                Row(
                    entry["family"],
                    entry["dataset"],
                    None,
                    None,
                    "",
                    "",
                    None,
                    "",
                    entry["metric"],
                    entry["value"],
                    entry["id"],
                    entry["paper"],
                    entry["protocol"],
                    "",
                    ["reference only: not a ferbench family"],
                    None,
                    True,
                )
            )
    return rows


def _row(o: Ours, entry: dict | None, metric: str, judgement, ours_list: list[Ours]) -> Row:
    peer = subject_independent_peer(o, ours_list, metric)
    return Row(
        family=o.family,
        dataset=o.dataset,
        ours=o.metrics.get(metric),
        ours_std=o.stds.get(metric),
        ours_n=o.spread_of(metric),
        ours_ci=o.interval_of(metric),
        run_id=o.run_id,
        tuned=o.tuned,
        our_protocol=o.protocol,
        metric=metric,
        published=entry["value"] if entry else None,
        published_id=entry["id"] if entry else "",
        paper=entry["paper"] if entry else "",
        published_protocol=entry["protocol"] if entry else "",
        comparable=judgement.status if judgement else "",
        reasons=judgement.reasons if judgement else ["no published number"],
        delta=judgement.delta if judgement else None,
        epochs=budget_text(o, entry),
        subject_independent=peer.metrics[metric] if peer else None,
        subject_independent_protocol=peer.protocol if peer else "",
    )


def paired_verdicts(client, ours_list: list[Ours], shown: set[str]) -> dict[str, str]:
    """run_id (of the configurations shown) -> its verdict against the best of ours on the same
    data copy and protocol, through the cache by run-id pair (finished runs do not change)."""
    from ferbench.leaderboard._cache import paired_results

    pairs, best_of = paired_plan(ours_list)
    pairs = {run_id: pair for run_id, pair in pairs.items() if run_id in shown}
    results = paired_results(client, list(pairs.values()))
    texts, family_of = {}, {o.run_id: o.family for o in ours_list}
    for run_id in shown & best_of.keys():
        best = best_of[run_id]
        if run_id == best.run_id:
            texts[run_id] = "best of ours here"
            continue
        result = results.get(pairs[run_id], (None, None, "per-image predictions unreadable"))
        texts[run_id] = paired_text(result, best, family_of[run_id] == best.family)
    return texts


def leaderboard(
    client, dataset=None, protocol=None, family=None, published: list[dict] | None = None, refresh: bool = False
) -> list[Row]:
    """Query the store and build the rows; [] when there is nothing of ours to show."""
    from ferbench import baselines

    # every family and protocol of the data set: the paired best and subject-independent figures
    runs = search_our_runs(client, dataset=dataset, refresh=refresh)
    shown = [
        r
        for r in runs
        if (not protocol or r.tags.get(TAG_PROTOCOL) == protocol) and (not family or r.tags.get(TAG_FAMILY) == family)
    ]
    if not shown:
        return []
    table = baselines.load_all() if published is None else published
    ours_list = pool(runs)
    rows = build(ours_list, table, family=family, dataset=dataset, protocol=protocol)
    paired = paired_verdicts(client, ours_list, {row.run_id for row in rows if row.run_id})
    for row in rows:
        row.paired = paired.get(row.run_id, "")
    return rows
