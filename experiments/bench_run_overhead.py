"""Overhead of `ferbench run` on a FER-2013-shaped workload: throughput, logging share, memory.

1. Training throughput of five_layer_cnn through `ferbench.runner.run` against bare
   `keras.Model.fit` on the same model (the family's own build_model), the same data (a subset
   of real FER-2013: N_TRAIN training, N_VAL validation images, official protocol) and the same
   batch size, one epoch each. Bare fits run before and after the runner run and are averaged,
   because the CPU is shared. Target: ratio >= 0.95.
2. MLflow logging share of the runner run's wall time (params, tags, metrics, curves,
   confusion matrix PNG/CSV, report, pyfunc model incl. saving the Keras model). Target <= 2%.
3. Peak RSS of `ferbench run five_layer_cnn --dataset fer2013` on the *full* data set, in a
   fresh subprocess: sampled from /proc (VmHWM) while it reads the data, builds the pipeline
   and trains for RSS_SECONDS, then stopped with SIGTERM (a full epoch takes ~12 min here; the
   run must then end KILLED, which is checked too). Target <= 2 GB.

    python experiments/bench_run_overhead.py [FER2013_PATH]   (default: $FERBENCH_FER2013)
Prints the figures and writes experiments/results/bench_run_overhead.txt.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

from _common import FER2013_HELP, FERBENCH_CLI, RESULTS, fer2013_path, write_atomically

N_TRAIN, N_VAL, N_TEST = 800, 200, 200
RSS_SECONDS = 120


def subset(dataset, seed=0):
    """N_TRAIN/N_VAL/N_TEST rows of the official splits, as a new data set (uint8 copied)."""
    from ferbench.data.dataset import FaceDataset

    rng = np.random.default_rng(seed)
    rows = []
    for split, n in (("train", N_TRAIN), ("val", N_VAL), ("test", N_TEST)):
        pool = np.flatnonzero(dataset.splits == split)
        rows.append(np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False)))
    index = np.concatenate(rows)
    return FaceDataset(
        dataset.images[index],
        dataset.labels[index],
        dataset.class_names,
        splits=dataset.splits[index],
        name="fer2013",
        variant="subset-overhead",
    )


def bare_fit(data, seed=0):
    """keras Model.fit on numpy uint8 arrays: the family's model, same batch size, same val."""
    import keras

    from ferbench.families import registry

    family = registry.get("five_layer_cnn")()
    train = np.flatnonzero(data.splits == "train")
    val = np.flatnonzero(data.splits == "val")
    x = data.images[..., None]
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    model = family.build_model(data.images[train], data.n_classes)
    model.fit(
        x[train],
        data.labels[train],
        batch_size=family.params["batch_size"],
        epochs=1,
        validation_data=(x[val], data.labels[val]),
        verbose=0,
    )
    return len(train) / (time.perf_counter() - t0)


def peak_rss(path: Path, store: str) -> tuple[float, str]:
    """(VmHWM in MB of `ferbench run five_layer_cnn` on full FER-2013 after RSS_SECONDS, status)."""
    uri = f"sqlite:///{store}/mlflow.db"
    cmd = [
        *FERBENCH_CLI,
        "run",
        "five_layer_cnn",
        "--dataset",
        "fer2013",
        "--path",
        str(path),
        "--epochs",
        "1",
        "--json",
        "--tracking-uri",
        uri,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb, start = 0, time.perf_counter()
    while proc.poll() is None and time.perf_counter() - start < RSS_SECONDS:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            break
        time.sleep(1.0)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("ferbench-fer2013")
    runs = client.search_runs([exp.experiment_id]) if exp else []
    status = ",".join(r.info.status for r in runs) or "no run"
    return peak_kb / 1024, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help=FER2013_HELP)
    path = fer2013_path(parser, parser.parse_args().path)
    # A fixed home keeps the decoded-data cache between runs; MLflow goes to a fresh temp store.
    home = os.environ.setdefault("FERBENCH_HOME", str(Path(tempfile.gettempdir()) / "ferbench-overhead"))
    store = tempfile.mkdtemp(prefix="ferbench-overhead-mlflow-")
    uri = f"sqlite:///{store}/mlflow.db"
    from ferbench import runner
    from ferbench.data.readers import load_dataset

    lines = [
        f"bench_run_overhead: FER-2013 at {path}; home {home}; MLflow {uri}; cores {os.cpu_count()}; "
        f"load average at start {os.getloadavg()[0]:.1f}"
    ]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    t0 = time.perf_counter()
    full = load_dataset("fer2013", path)
    data = subset(full)
    say(
        f"data: full FER-2013 {len(full)} images read in {time.perf_counter() - t0:.1f} s; "
        f"subset {N_TRAIN} train / {N_VAL} val / {N_TEST} test, 48x48 grey, batch 128, 1 epoch"
    )
    del full

    bare = [bare_fit(data)]
    result = runner.run("five_layer_cnn", data, protocol="official", epochs=1, quiet=True, tracking_uri=uri)
    bare.append(bare_fit(data))
    ours = result.metrics["train_images_per_s"]
    ratio = ours / float(np.mean(bare))
    say(
        f"throughput: bare keras fit {bare[0]:.1f} and {bare[1]:.1f} img/s (mean "
        f"{np.mean(bare):.1f}); ferbench.runner.run {ours:.1f} img/s; ratio {ratio:.3f} "
        f"(target >= 0.95) {'OK' if ratio >= 0.95 else 'MISSED'}"
    )
    share = result.logging_time_s / result.wall_time_s
    say(
        f"logging: {result.logging_time_s:.2f} s of MLflow logging in a {result.wall_time_s:.1f} s "
        f"run = {100 * share:.2f}% (target <= 2%) {'OK' if share <= 0.02 else 'MISSED'} "
        f"(incl. confusion PNG, report, pyfunc model with the saved Keras model; run "
        f"{result.run_id})"
    )

    mb, status = peak_rss(path, tempfile.mkdtemp(prefix="ferbench-rss-mlflow-"))
    say(
        f"memory: peak RSS (VmHWM) {mb:.0f} MB of `ferbench run five_layer_cnn --dataset fer2013` "
        f"on the full data set, sampled for the first {RSS_SECONDS} s (data read, pipeline built, "
        f"training under way), then SIGTERM; target <= 2048 MB {'OK' if mb <= 2048 else 'MISSED'}; "
        f"run status after SIGTERM: {status}"
    )
    out = RESULTS / "bench_run_overhead.txt"
    write_atomically(out, "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
