"""Runs left RUNNING by a process that was killed outright (kill -9, a lost machine) are marked
KILLED by the next ferbench command that opens the store.

A run is closed only when its lease (ferbench.leases) is stale: released, its process gone on
this host, or its heartbeat older than the timeout on another host. A run without a lease is never
touched, nor one whose lease is fresh. The leases are read first (files in the store); only when
one is stale is MLflow asked, in one query, which runs are still RUNNING. TensorFlow is never
loaded here.
"""

from __future__ import annotations

import sys

from ferbench import checkpoints, leases


def stale_leases(uri: str) -> dict[str, tuple[leases.Lease, dict]]:
    """Run id -> (stale lease, run.json), for checkpoints of runs recorded in the store at `uri`."""
    root = checkpoints.root()
    if not root.is_dir():
        return {}
    found = {}
    for directory in root.iterdir():
        if directory.name.startswith(".") or not directory.is_dir():
            continue
        lease = leases.read(directory)
        if lease is None or not leases.is_stale(lease):
            continue
        try:
            about = checkpoints.read_run_file(directory)
        except (OSError, ValueError):
            continue
        if about.get("tracking_uri") in (None, uri):
            found[directory.name] = (lease, about)
    return found


def _running(client, wanted: set[str]) -> list:
    """The runs among `wanted` that MLflow still has RUNNING."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs, token = [], None
    while experiments:
        page = client.search_runs(
            experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000, page_token=token
        )
        runs += [run for run in page if run.info.run_id in wanted]
        token = page.token
        if not token:
            break
    return runs


def close_stale(client, uri: str) -> list[str]:
    """Mark KILLED the RUNNING runs whose lease is stale; one line on stderr for each."""
    found = stale_leases(uri)
    if not found:
        return []
    closed = []
    for run in _running(client, set(found)):
        run_id = run.info.run_id
        lease, about = found[run_id]
        try:
            client.set_terminated(run_id, status="KILLED")
        except Exception:  # e.g. a full disk: the next command tries again
            continue
        closed.append(run_id)
        why = (
            "its process ended without closing it"
            if lease.released
            else f"its process is gone ({leases.describe(lease)})"
        )
        family, dataset = about.get("family", "FAMILY"), about.get("dataset", "DATASET")
        print(
            f"run {run_id} marked KILLED: {why}; resume with ferbench run {family} --dataset {dataset} "
            f"--resume {run_id} ...",
            file=sys.stderr,
        )
    return closed
