"""Cost of the logged models: wall time, logging time and disk of one synthetic run per family,
with the native flavours (keras_model / sklearn_head beside the pyfunc model) and without them.

Each case runs `ferbench.runner.run` on synthetic data (holdout, `--epochs`), alternating
FERBENCH_NATIVE_MODELS=1 and =0 `--repeats` times in one process and one store, so that both
settings see the same machine load. Disk is the size of each logged model's artifact folder; the
store is a temporary folder, removed at the end (five_layer_cnn's runs fill about 700 MB). Run it
with another ferbench on PYTHONPATH to measure that version the same way.

    python experiments/bench_model_logging.py [--repeats 2] [--epochs 1] [--images 300]
Prints the figures and writes experiments/results/bench_model_logging.txt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from _common import RESULTS, write_atomically  # noqa: E402

CASES = (  # (label, family, params): a tiny test run, a test-sized and a full-sized CNN, a feature family
    ("tiny family", "tiny_test_family", {}),
    ("baseline_cnn, test params", "baseline_cnn", {"filters": 2, "batch_size": 32}),
    ("five_layer_cnn, defaults", "five_layer_cnn", {}),
    (
        "cnn_features_pca_svm, test params",
        "cnn_features_pca_svm",
        {"backbone": "mini_xception", "weights": "none", "layer": "add_3", "n_components": 5},
    ),
)


def model_sizes(run_id: str) -> dict[str, int]:
    """Logged model name -> bytes of its artifact folder."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    from ferbench import record

    c = record.client()
    experiment = c.get_run(run_id).info.experiment_id
    sizes = {}
    for model in c.search_logged_models([experiment], filter_string=f"source_run_id = '{run_id}'"):
        folder = Path(local_file_uri_to_path(model.artifact_location))
        sizes[model.name] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return sizes


def one_run(family: str, params: dict, data, epochs: int, native: bool) -> tuple[float, float, dict]:
    from ferbench import runner

    os.environ["FERBENCH_NATIVE_MODELS"] = "1" if native else "0"
    start = time.perf_counter()
    result = runner.run(family, data, protocol="holdout", params=params, epochs=epochs, quiet=True)
    return time.perf_counter() - start, result.logging_time_s, model_sizes(result.run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="ferbench-model-logging-")
    os.environ["FERBENCH_HOME"] = home
    try:
        lines = measure(args)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    write_atomically(RESULTS / "bench_model_logging.txt", text + "\n")


def measure(args: argparse.Namespace) -> list[str]:
    import ferbench
    from ferbench.data.synthetic import generate
    from ferbench.families import registry
    from ferbench.testing import TinyFamily

    registry._FAMILIES[TinyFamily.name] = TinyFamily
    data = generate(args.images, seed=0)
    lines = [
        f"ferbench from {Path(ferbench.__file__).parent}; {args.images} synthetic images, "
        f"{args.epochs} epoch(s), holdout, {args.repeats} alternating repeats"
    ]
    for label, family, params in CASES:
        one_run(family, params, data, args.epochs, native=True)  # warm-up: imports, graph tracing
        figures: dict[bool, list] = {True: [], False: []}
        for _ in range(args.repeats):
            for native in (True, False):
                figures[native].append(one_run(family, params, data, args.epochs, native))
        for native in (True, False):
            walls, logging = [f[0] for f in figures[native]], [f[1] for f in figures[native]]
            sizes = figures[native][-1][2]
            shown = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sorted(sizes.items()))
            lines.append(
                f"{label:36s} native={'on ' if native else 'off'}: run {statistics.median(walls):6.2f} s, "
                f"logging {statistics.median(logging):5.2f} s, models: {shown or 'none'}"
            )
    lines.append(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return lines


if __name__ == "__main__":
    main()
