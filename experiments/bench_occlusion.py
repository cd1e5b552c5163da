"""Occlusion speed: masked images per second through a logged model, and the time that implies
for the default FER-2013 analysis (500 correctly classified images x 16 regions x 6 values).

    python experiments/bench_occlusion.py [--family nishime_cnn] [--images 700] [--max-images 60]

Trains the family for one epoch on synthetic data in a throw-away store, then times
`ferbench analyze occlusion`'s scan (one predict call per chunk of masked variants) at a few
batch sizes. Prints the figures and writes them to experiments/results/bench_occlusion.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from _common import RESULTS, write_atomically


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="nishime_cnn")
    parser.add_argument("--images", type=int, default=700, help="synthetic images to train on")
    parser.add_argument("--max-images", type=int, default=60, help="correct images to scan")
    parser.add_argument("--batch-sizes", default="512,2048")
    args = parser.parse_args()

    os.environ["FERBENCH_HOME"] = tempfile.mkdtemp(prefix="ferbench-bench-occ-")
    from ferbench import runner
    from ferbench.analysis import open_run
    from ferbench.analysis.occlusion import PAPER_VALUES, occlusion_scan, select_correct
    from ferbench.data.readers import load_dataset

    lines = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    data = load_dataset("synthetic", n_images=args.images, n_subjects=20)
    t0 = time.perf_counter()
    result = runner.run(
        args.family, data, epochs=1, quiet=True, extra_tags={"ferbench.data_options": json.dumps(data.options)}
    )
    say(
        f"{args.family}: 1 epoch on {args.images} synthetic images, run logged in "
        f"{time.perf_counter() - t0:.1f} s (test accuracy {result.metrics['test_accuracy']:.3f})"
    )
    target = open_run(result.run_id)
    images, labels = target.test.images, target.test.labels
    t0 = time.perf_counter()
    proba = target.predict(images)
    say(f"plain prediction: {len(images)} images in {time.perf_counter() - t0:.2f} s")
    chosen = select_correct(proba, labels, args.max_images)
    if len(chosen) == 0:
        chosen = select_correct(proba, proba.argmax(axis=1), args.max_images)  # speed only
    per_image = 16 * len(PAPER_VALUES)
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        cpu0, t0 = time.process_time(), time.perf_counter()
        occlusion_scan(
            partial(target.predict, batch_size=batch_size),
            images[chosen],
            labels[chosen],
            target.dataset.class_names,
            baseline=proba[chosen],
            batch_size=batch_size,
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        rate = len(chosen) * per_image / wall
        say(
            f"batch {batch_size}: {len(chosen)} images x {per_image} masks = {len(chosen) * per_image} "
            f"forward passes in {wall:.1f} s wall ({cpu:.1f} s CPU): {rate:.0f} masked images/s; "
            f"500 images -> {500 * per_image / rate / 60:.1f} min"
        )
    say(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the machine is shared)")
    write_atomically(RESULTS / "bench_occlusion.txt", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
