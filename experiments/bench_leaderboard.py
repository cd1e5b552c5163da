"""Leaderboard query cost on a SQLite MLflow store with 1,000 and 10,000 runs (target: <= 2 s at 10k).

Builds each store quickly: a few dozen template runs through the normal API (record.tracked_run +
log_batch), then copies of their rows with new run ids through sqlite3 (columns read from the
live schema, so this follows MLflow's tables), with random accuracies and learning rates. About
30% of the runs are kind=fold / trial / study, which the leaderboard's filter must skip.

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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ferbench import record  # noqa: E402
from ferbench.leaderboard import leaderboard, pool, search_our_runs  # noqa: E402

FAMILIES = ["five_layer_cnn", "deeper_cnn", "baseline_cnn", "nishime_cnn", "vgg19_pca_svm",
            "resnet50_head", "mini_xception", "transfer_vgg16"]
DATASETS = {"fer2013": ["official", "holdout:0.2"], "jaffe": ["kfold:10", "holdout:0.2"],
            "ckplus": ["kfold:10", "loso"], "sfew": ["kfold:5", "official"]}
KINDS = ["run"] * 7 + ["fold", "trial", "study"]


def templates(client) -> list[str]:
    ids = []
    for dataset, protocols in DATASETS.items():
        experiment = record.experiment_for(dataset)
        for family in FAMILIES:
            for protocol in protocols:
                for kind in ("run", "fold", "trial"):
                    tags = {"source": "ferbench", "ferbench.kind": kind, "ferbench.family": family,
                            "ferbench.dataset": dataset, "ferbench.protocol": protocol,
                            "ferbench.fingerprint": f"{dataset}-fp", "ferbench.synthetic": "false",
                            "ferbench.random_weights": "false", "ferbench.tuned": "false",
                            "ferbench.selected_on": "val", "ferbench.seed": "0"}
                    with record.tracked_run(experiment, f"{family}-{protocol}", tags) as run_id:
                        record.log(run_id, params={"lr": 0.001, "dropout": 0.2, "protocol": protocol,
                                                   "seed": 0, "epochs": 10},
                                   metrics={"test_accuracy": 0.5, "test_accuracy_std": 0.02,
                                            "val_accuracy": 0.5, "train_accuracy": 0.6,
                                            "test_macro_f1": 0.4, "wall_time_s": 10.0})
                    ids.append((run_id, kind))
    return ids


def clone(db: Path, sources: list[tuple[str, str]], total: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    by_kind: dict[str, list[str]] = {}
    for run_id, kind in sources:
        by_kind.setdefault(kind, []).append(run_id)
    con = sqlite3.connect(db)
    tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
              if any(col[1] == "run_uuid" for col in con.execute(f"PRAGMA table_info('{t}')"))]
    columns = {t: [c[1] for c in con.execute(f"PRAGMA table_info('{t}')")] for t in tables}
    with con:
        for _ in range(total - len(sources)):
            source = rng.choice(by_kind.get(rng.choice(KINDS)) or by_kind["run"])
            new = uuid.uuid4().hex
            for table in tables:
                cols = columns[table]
                picked = ", ".join("?" if c == "run_uuid" else f'"{c}"' for c in cols)
                names = ", ".join(f'"{c}"' for c in cols)
                con.execute(f'INSERT INTO "{table}" ({names}) '
                            f'SELECT {picked} FROM "{table}" WHERE run_uuid = ?', (new, source))
        for table in ("metrics", "latest_metrics"):
            con.execute(f"UPDATE {table} SET value = 0.3 + (abs(random()) % 400) / 1000.0 "
                        "WHERE key = 'test_accuracy'")
        con.execute("UPDATE params SET value = CAST((abs(random()) % 50) AS TEXT) WHERE key = 'lr'")
    con.close()


def build_store(root: Path, runs: int) -> tuple[str, float]:
    db = root / f"mlflow-{runs}.db"
    uri = f"sqlite:///{db}"
    t0 = time.perf_counter()
    client = record.setup(uri)
    clone(db, templates(client), runs)
    return uri, time.perf_counter() - t0


def time_query(uri: str, repeat: int) -> dict[str, float]:
    client = record.setup(uri)
    total, search = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        runs = search_our_runs(client)
        t1 = time.perf_counter()
        rows = leaderboard(client)
        total.append(time.perf_counter() - t1)
        search.append(t1 - t0)
    return {"search_s": statistics.median(search), "leaderboard_s": statistics.median(total),
            "kind_run": len(runs), "configs": len(pool(runs)), "rows": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = [f"leaderboard query on SQLite MLflow stores (median of {args.repeat}; "
             f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, machine shared)"]
    with tempfile.TemporaryDirectory(prefix="ferbench-bench-lb-") as tmp:
        for size in args.sizes:
            uri, built = build_store(Path(tmp), size)
            figures = time_query(uri, args.repeat)
            line = (f"{size:>6} runs ({figures['kind_run']} kind=run, {figures['configs']} configs, "
                    f"{figures['rows']} rows): search_runs {figures['search_s']:.2f} s, "
                    f"full leaderboard {figures['leaderboard_s']:.2f} s "
                    f"(target <= 2 s at 10,000); store built in {built:.0f} s")
            print(line, flush=True)
            lines.append(line)
    out = Path(__file__).parent / "results" / "bench_leaderboard.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
