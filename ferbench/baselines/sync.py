"""`ferbench baselines sync`: published numbers as MLflow runs (source=published), so the MLflow
compare view can put a paper's run beside ours under the same metric names.

One run per published configuration (paper, family, data copy, protocol, config, source table):
its numbers become metrics with our names (test_accuracy, val_accuracy, train_ajk_accuracy,
...), per-fold values become steps of fold_<metric>. Each run carries a digest of its entries;
re-syncing skips unchanged runs, replaces edited ones and deletes runs whose entries left the file,
so a sync never duplicates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ferbench.record.tags import (
    MLFLOW_NOTE,
    TAG_BASELINE_DIGEST,
    TAG_BASELINE_IDS,
    TAG_BASELINE_KEY,
    TAG_DATASET,
    TAG_DATASET_VARIANT,
    TAG_EXTRA_DATA,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_KIND,
    TAG_PAPER,
    TAG_PROTOCOL,
    TAG_PUBLISHED_SOURCE,
    TAG_REFERENCE_ONLY,
    TAG_SELECTED_ON,
    TAG_SOURCE,
    TAG_SYNTHETIC,
    TAG_TTA,
)

KIND = "published"


@dataclass
class SyncReport:
    created: int = 0
    unchanged: int = 0
    replaced: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.replaced} replaced, {self.unchanged} unchanged, {self.deleted} deleted"


def _group_key(entry: dict) -> str:
    return _hash(
        [
            entry["paper"],
            entry["family"],
            entry["dataset"],
            entry["variant"],
            entry["protocol"],
            entry.get("config") or {},
            entry["source"],
        ]
    )


def plan(entries: list[dict]) -> dict[str, list[dict]]:
    """Configuration key -> its numeric entries. A metric met twice in one group (which the file
    does not do today) splits the later entry into its own run instead of overwriting."""
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        if entry["metric"] == "confusion":
            continue
        key = _group_key(entry)
        group = groups.get(key, [])
        if entry["split"].startswith("fold_"):
            clash = any((e["metric"], e["split"]) == (entry["metric"], entry["split"]) for e in group)
        else:
            clash = any(e["metric"] == entry["metric"] and not e["split"].startswith("fold_") for e in group)
        if clash:
            key = f"{key}#{entry['id']}"
        groups.setdefault(key, []).append(entry)
    return groups


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _digest(group: list[dict]) -> str:
    return _hash(group)


def _run_content(group: list[dict]) -> tuple[str, dict, dict, dict]:
    first = group[0]
    metrics: dict[str, float] = {}
    curves: dict[str, list[float]] = {}  # per-fold values as the steps of one metric

    def order(e: dict) -> tuple[bool, int]:
        fold = e["split"].startswith("fold_")
        return (fold, int(e["split"][5:]) if fold else 0)

    for entry in sorted(group, key=order):
        if entry["split"].startswith("fold_"):
            curves.setdefault(f"fold_{entry['metric']}", []).append(entry["value"])
        else:
            metrics[entry["metric"]] = entry["value"]
    config = first.get("config") or {}
    name = " ".join(str(v) for v in [first["paper"], first["family"], *config.values()])
    params = {
        **{k: json.dumps(v) if isinstance(v, list) else v for k, v in config.items()},
        "protocol": first["protocol"],
    }

    def joined(field: str) -> str:
        return ",".join(sorted({str(e.get(field)).lower() for e in group}))

    tags = {
        TAG_SOURCE: "published",
        TAG_KIND: KIND,
        TAG_FAMILY: first["family"],
        TAG_PAPER: first["paper"],
        TAG_DATASET: first["dataset"],
        TAG_DATASET_VARIANT: first["variant"],
        TAG_PROTOCOL: first["protocol"],
        TAG_SELECTED_ON: joined("selected_on"),
        TAG_TTA: joined("tta"),
        TAG_EXTRA_DATA: joined("extra_data"),
        TAG_SYNTHETIC: "false",
        TAG_PUBLISHED_SOURCE: first["source"],
        TAG_BASELINE_IDS: ",".join(e["id"] for e in group)[:4900],
        TAG_REFERENCE_ONLY: str(bool(first.get("reference_only"))).lower(),
        TAG_FINGERPRINT: first.get("fingerprint") or "unknown",
        MLFLOW_NOTE: " ".join(dict.fromkeys(e.get("notes", "") for e in group)).strip(),
    }
    return f"published: {name}", params, metrics, {"tags": tags, "curves": curves}


def sync(tracking_uri: str | None = None, entries: list[dict] | None = None) -> SyncReport:
    from ferbench import baselines, record

    client = record.setup(tracking_uri)
    entries = baselines.load_all() if entries is None else entries
    groups = plan(entries)
    wanted = {key: (_digest(group), group) for key, group in groups.items()}
    report = SyncReport()
    existing: dict[str, list] = {}
    for dataset in sorted({e["dataset"] for e in entries}):
        experiment = record.experiment_for(dataset)
        token = None
        while True:
            page = client.search_runs(
                [experiment], f"tags.{TAG_SOURCE} = 'published'", max_results=50_000, page_token=token
            )
            for run in page:
                existing.setdefault(run.data.tags.get(TAG_BASELINE_KEY, ""), []).append(run)
            token = page.token
            if not token:
                break
    for key, runs in existing.items():
        digest = wanted.get(key, (None,))[0]
        keep = [r for r in runs if r.data.tags.get(TAG_BASELINE_DIGEST) == digest and r.info.status == "FINISHED"]
        for run in runs:
            if keep and run is keep[0]:
                continue
            client.delete_run(run.info.run_id)
            report.deleted += key not in wanted
        if keep:
            report.unchanged += 1
            wanted.pop(key)
        elif key in wanted:
            report.replaced += 1
    for key, (digest, group) in wanted.items():
        name, params, metrics, extra = _run_content(group)
        tags = {**extra["tags"], TAG_BASELINE_KEY: key, TAG_BASELINE_DIGEST: digest}
        experiment = record.experiment_for(group[0]["dataset"])
        with record.tracked_run(experiment, name, tags) as run_id:
            record.log(run_id, params=params, metrics=metrics, curves=extra["curves"])
    report.created = len(wanted) - report.replaced
    return report
