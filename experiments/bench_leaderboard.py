"""Leaderboard query cost on a SQLite MLflow store with 1,000 and 10,000 runs (target: <= 2 s at 10k).

Builds each store quickly: a few dozen template runs through the normal API (record.tracked_run +
log_batch), then copies of their rows with new run ids through sqlite3 (columns read from the
live schema, so this follows MLflow's tables), with random accuracies and learning rates. About
80% of the runs are kind=run (each 11 tags, 5 params, 6 metrics), the rest kind=fold and
kind=trial, which the leaderboard's filter skips in SQL; the printed mix is counted in the store.
A real store with k-fold and tuning children has a smaller kind=run share, so this mix is the hard
case for the leaderboard read.

The leaderboard keeps an incremental cache of the runs it read (ferbench.leaderboard), so
three figures matter: a whole leaderboard call on a cold cache (--refresh: a full read, pooling
and the rows), a call with a warm cache and nothing new, and a catch-up call after 100 new runs.
The runs' end times are spread over the past month. On a SQL store the full read takes the
cache's fast path (MLflow's filter, plain columns); the same read through
MlflowClient.search_runs, which stores without the fast path (an MLflow server, a file store)
use, is timed beside it.

Wall time and CPU time (time.process_time) are both printed: on a shared, loaded machine wall
time can be many times the CPU time, which is the figure an idle machine would see.

    python experiments/bench_leaderboard.py [--sizes 1000 10000] [--repeat 3]

Prints the figures and writes them to experiments/results/bench_leaderboard.txt.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["FERBENCH_HOME"] = tempfile.mkdtemp(prefix="ferbench-bench-lb-home-")  # the leaderboard cache goes here

from _common import RESULTS, write_atomically
from ferbench import record
from ferbench.leaderboard import (
    RUN_FILTER,
    experiment_ids,
    leaderboard,
    pool,
    search,
    search_our_runs,
    sql_store,
)

FAMILIES = [
    "five_layer_cnn",
    "deeper_cnn",
    "baseline_cnn",
    "nishime_cnn",
    "vgg19_pca_svm",
    "resnet50_head",
    "mini_xception",
    "transfer_vgg16",
]
DATASETS = {
    "fer2013": ["official", "holdout:0.2"],
    "jaffe": ["kfold:10", "holdout:0.2"],
    "ckplus": ["kfold:10", "loso"],
    "sfew": ["kfold:5", "official"],
}
KINDS = ["run"] * 8 + ["fold", "trial"]
FRESH = "run_uuid IN (SELECT run_uuid FROM fresh)"  # the rows one clone() call added


def templates(client) -> list[str]:
    ids = []
    for dataset, protocols in DATASETS.items():
        experiment = record.experiment_for(dataset)
        for family in FAMILIES:
            for protocol in protocols:
                for kind in ("run", "fold", "trial"):
                    tags = {
                        "source": "ferbench",
                        "ferbench.kind": kind,
                        "ferbench.family": family,
                        "ferbench.dataset": dataset,
                        "ferbench.protocol": protocol,
                        "ferbench.fingerprint": f"{dataset}-fp",
                        "ferbench.synthetic": "false",
                        "ferbench.random_weights": "false",
                        "ferbench.tuned": "false",
                        "ferbench.selected_on": "val",
                        "ferbench.seed": "0",
                    }
                    with record.tracked_run(experiment, f"{family}-{protocol}", tags) as run_id:
                        record.log(
                            run_id,
                            params={"lr": 0.001, "dropout": 0.2, "protocol": protocol, "seed": 0, "epochs": 10},
                            metrics={
                                "test_accuracy": 0.5,
                                "test_accuracy_std": 0.02,
                                "val_accuracy": 0.5,
                                "train_accuracy": 0.6,
                                "test_macro_f1": 0.4,
                                "wall_time_s": 10.0,
                            },
                        )
                    ids.append((run_id, kind))
    return ids


def clone(db: Path, sources: list[tuple[str, str]], total: int, seed: int = 0) -> dict[str, int]:
    """Copy template runs up to `total`; returns how many runs of each kind the store holds."""
    rng = random.Random(seed)
    kinds: dict[str, int] = {}
    for _, kind in sources:
        kinds[kind] = kinds.get(kind, 0) + 1
    by_kind: dict[str, list[str]] = {}
    for run_id, kind in sources:
        by_kind.setdefault(kind, []).append(run_id)
    con = sqlite3.connect(db)
    tables = [
        t
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if any(col[1] == "run_uuid" for col in con.execute(f"PRAGMA table_info('{t}')"))
    ]
    columns = {t: [c[1] for c in con.execute(f"PRAGMA table_info('{t}')")] for t in tables}
    with con:
        con.execute("CREATE TEMP TABLE fresh (run_uuid TEXT PRIMARY KEY)")
        for _ in range(total - len(sources)):
            kind = rng.choice(KINDS)
            kind = kind if kind in by_kind else "run"
            kinds[kind] = kinds.get(kind, 0) + 1
            source = rng.choice(by_kind[kind])
            new = uuid.uuid4().hex
            con.execute("INSERT INTO fresh VALUES (?)", (new,))
            for table in tables:
                cols = columns[table]
                picked = ", ".join("?" if c == "run_uuid" else f'"{c}"' for c in cols)
                names = ", ".join(f'"{c}"' for c in cols)
                con.execute(
                    f'INSERT INTO "{table}" ({names}) SELECT {picked} FROM "{table}" WHERE run_uuid = ?', (new, source)
                )
        for table in ("metrics", "latest_metrics"):
            con.execute(
                f"UPDATE {table} SET value = 0.3 + (abs(random()) % 400) / 1000.0 "
                f"WHERE key = 'test_accuracy' AND {FRESH}"
            )
        con.execute(f"UPDATE params SET value = CAST((abs(random()) % 50) AS TEXT) WHERE key = 'lr' AND {FRESH}")
        # spread the runs over the past month, as a store that grew over time
        now = int(time.time() * 1000)
        con.execute(f"UPDATE runs SET end_time = {now} - 3600000 - (abs(random()) % 2592000000) WHERE {FRESH}")
        con.execute(f"UPDATE runs SET start_time = end_time - 60000 WHERE {FRESH}")
    con.close()
    return kinds


def kind_counts(db: Path) -> dict[str, int]:
    """Runs per ferbench.kind in a store this script built (benchmark bookkeeping only)."""
    with sqlite3.connect(db) as con:
        return dict(
            con.execute("SELECT value, COUNT(*) FROM tags WHERE key = 'ferbench.kind' GROUP BY value").fetchall()
        )


def build_store(root: Path, runs: int) -> tuple[str, float, dict[str, int]]:
    db = root / f"mlflow-{runs}.db"
    uri = f"sqlite:///{db}"
    if db.exists():  # --store-dir: reuse a store built by an earlier run of this script
        return uri, 0.0, kind_counts(db)
    t0 = time.perf_counter()
    client = record.setup(uri)
    kinds = clone(db, templates(client), runs)
    return uri, time.perf_counter() - t0, kinds


def _timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def add_new_runs(db: Path, n: int) -> None:
    """n more kind=run runs, finished just now (what a catch-up read must fetch)."""
    with sqlite3.connect(db) as con:
        sources = [
            r
            for (r,) in con.execute("SELECT run_uuid FROM tags WHERE key = 'ferbench.kind' AND value = 'run' LIMIT 50")
        ]
    clone_runs = [(s, "run") for s in sources]
    before = kind_counts(db).get("run", 0)
    with sqlite3.connect(db) as con:
        old = {r for (r,) in con.execute("SELECT run_uuid FROM runs")}
    clone(db, clone_runs, len(clone_runs) + n, seed=n)
    with sqlite3.connect(db) as con:
        now = int(time.time() * 1000)
        fresh = [(r,) for (r,) in con.execute("SELECT run_uuid FROM runs") if r not in old]
        con.executemany(f"UPDATE runs SET end_time = {now} WHERE run_uuid = ?", fresh)
    assert kind_counts(db).get("run", 0) == before + n


def time_query(uri: str, repeat: int, db: Path) -> dict[str, float]:
    """Medians over `repeat` of: the whole leaderboard call on a cold cache (--refresh), the full
    read alone (fast path, then through search_runs), pooling, and the whole call on a warm cache
    with nothing new; then one catch-up call after 100 new runs."""
    client = record.setup(uri)
    if sql_store(client) is None:
        raise SystemExit("the leaderboard's SQL fast path does not apply to this store")
    ids = experiment_ids(client)
    figures: dict[str, list[float]] = {}

    def note(name, wall, cpu):
        figures.setdefault(f"{name}_wall", []).append(wall)
        figures.setdefault(f"{name}_cpu", []).append(cpu)

    for _ in range(repeat):
        rows, *cold = _timed(leaderboard, client, refresh=True)
        runs, *full = _timed(search_our_runs, client, refresh=True)
        slow, *orm = _timed(search, client, ids, RUN_FILTER, fast=False)
        assert len(slow) == len(runs)
        del slow
        ours, *pooled = _timed(pool, runs)
        rows, *warm = _timed(leaderboard, client)
        note("cold", *cold), note("full", *full), note("orm", *orm), note("pool", *pooled), note("warm", *warm)
    add_new_runs(db, 100)
    rows_new, *catch_up = _timed(leaderboard, client)
    note("catchup", *catch_up)
    out = {name: statistics.median(values) for name, values in figures.items()}
    return out | {"kind_run": len(runs), "configs": len(ours), "rows": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=None,
        help="Keep the stores here and reuse them on the next run (default: temp).",
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    lines = [
        f"leaderboard query on SQLite MLflow stores (median of {args.repeat}; "
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at start: wall >> cpu means the machine was busy)"
    ]
    with tempfile.TemporaryDirectory(prefix="ferbench-bench-lb-") as tmp:
        root = args.store_dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            uri, built, kinds = build_store(root, size)
            f = time_query(uri, args.repeat, root / f"mlflow-{size}.db")
            mix = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
            line = (
                f"{size:>6} runs ({mix}; read {f['kind_run']} kind=run, {f['configs']} configs, "
                f"{f['rows']} rows; store built in {built:.0f} s)\n"
                f"        leaderboard, cold cache (--refresh)  wall {f['cold_wall']:6.2f} s"
                f"  cpu {f['cold_cpu']:5.2f} s  (target <= 2 s at 10,000 runs)\n"
                f"          of which the full read (fast path) wall {f['full_wall']:6.2f} s"
                f"  cpu {f['full_cpu']:5.2f} s\n"
                f"          same read through search_runs      wall {f['orm_wall']:6.2f} s"
                f"  cpu {f['orm_cpu']:5.2f} s  (stores without the fast path)\n"
                f"          pooling                            wall {f['pool_wall']:6.2f} s"
                f"  cpu {f['pool_cpu']:5.2f} s\n"
                f"        leaderboard, warm cache, none new    wall {f['warm_wall']:6.2f} s"
                f"  cpu {f['warm_cpu']:5.2f} s\n"
                f"        leaderboard after 100 new runs       wall {f['catchup_wall']:6.2f} s"
                f"  cpu {f['catchup_cpu']:5.2f} s"
            )
            print(line, flush=True)
            lines.append(line)
    out = RESULTS / "bench_leaderboard.txt"
    write_atomically(out, "\n".join(lines) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
