"""Training throughput of a Keras family under settings that only the process can choose.

    python experiments/profile_training.py [FAMILY] [--param NAME=VALUE ...] [--images N] [--rounds R]

Each setting trains the family on N random 48x48 images (throughput does not depend on their
content) in a fresh process: thread counts, oneDNN and XLA are fixed when TensorFlow starts. The
settings alternate round by round, so each ratio compares runs made minutes apart on this noisy
machine. The images go through the family's own pipeline (uint8 rows gathered per batch, cast in
the graph, augmentation layers in the model); "bare steps" feeds one fixed float batch to
`train_on_batch`, the compute-only bound. Also measured: a 2048 x 2048 matmul, the practical
fp32 peak. Prints a table and writes experiments/results/profile_training-FAMILY.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import RESULTS, write_atomically
from _throughput import NOMINAL_PEAK_GFLOPS, TRAINING_FACTOR

BASE = {"batch_size": 128}
# name -> (environment, family params, worker options)
SETTINGS = {
    "default (batch 128)": ({}, {}, {}),
    "batch 64": ({}, {"batch_size": 64}, {}),
    "batch 256": ({}, {"batch_size": 256}, {}),
    "no augmentation": ({}, {"augment": False}, {}),
    "bare steps (no pipeline, no augmentation)": ({}, {"augment": False}, {"bare": True}),
    "intra-op 2, inter-op 1": ({}, {}, {"intra": 2, "inter": 1}),
    "intra-op 1, inter-op 2": ({}, {}, {"intra": 1, "inter": 2}),
    "oneDNN off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {}, {}),
    "XLA (jit_compile)": ({}, {}, {"jit": True}),
}


class _Rows:
    """What KerasFamily._pipeline reads from a part: images, labels and a length."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)


def worker(family_name: str, params: dict, n_images: int, options: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    if options.get("intra"):
        tf.config.threading.set_intra_op_parallelism_threads(options["intra"])
        tf.config.threading.set_inter_op_parallelism_threads(options["inter"])
    from _throughput import forward_flops
    from ferbench.families import registry

    if options.get("matmul"):
        from _throughput import matmul_peak_gflops

        return {"gflops": matmul_peak_gflops()}
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_images, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, n_images).astype(np.int64)
    family = registry.get(family_name)(**params)
    family.total_steps_ = 10_000
    model = family.build_model(images, 7)
    if options.get("jit"):
        model.compile(optimizer=family.optimizer(), loss=family.loss(), metrics=["accuracy"], jit_compile=True)
    batch = family.params["batch_size"]
    if options.get("bare"):
        x = tf.constant(images[:batch, ..., None].astype(np.float32))
        y = tf.constant(labels[:batch])
        steps = n_images // batch
        for _ in range(3):
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        seconds, done = time.perf_counter() - start, steps * batch
    else:
        batches = family._pipeline(_Rows(images, labels), batch, labels=True)
        model.fit(batches(np.arange(4 * batch)), epochs=1, verbose=0)  # warm-up: tracing
        start = time.perf_counter()
        model.fit(batches(rng.permutation(n_images)), epochs=1, verbose=0)
        seconds, done = time.perf_counter() - start, n_images
    return {"img_per_s": done / seconds, "forward_flops": forward_flops(model)}


def measure(family: str, params: dict, n_images: int, env: dict, options: dict) -> dict:
    request = json.dumps({"family": family, "params": params, "images": n_images, "options": options})
    done = subprocess.run(
        [sys.executable, __file__, "--worker", request],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        request = json.loads(sys.argv[2])
        print(json.dumps(worker(request["family"], request["params"], request["images"], request["options"])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", nargs="?", default="fast_vgg")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--images", type=int, default=2048, help="training images per timed epoch")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="a subset of the settings")
    args = parser.parse_args()
    if args.images < 512 or args.rounds < 1:
        parser.error("--images must be >= 512 and --rounds >= 1")
    from ferbench.errors import FerbenchError
    from ferbench.params import parse_assignments

    try:
        params = {**BASE, **parse_assignments(args.param, option="--param")}
    except FerbenchError as exc:
        parser.error(str(exc))
    chosen = args.only or list(SETTINGS)
    results: dict[str, list] = {name: [] for name in chosen}
    peaks = []
    for round_number in range(args.rounds):
        peaks.append(measure(args.family, params, args.images, {}, {"matmul": True}).get("gflops"))
        for name in chosen:
            env, extra, options = SETTINGS[name]
            out = measure(args.family, {**params, **extra}, args.images, env, options)
            results[name].append(out)
            shown = f"{out['img_per_s']:.1f} img/s" if "img_per_s" in out else out["error"]
            print(f"round {round_number + 1}: {name}: {shown}", file=sys.stderr, flush=True)
    peak = max((p for p in peaks if p), default=None)
    flops = next((o["forward_flops"] for rows in results.values() for o in rows if "forward_flops" in o), None)
    base = results.get(chosen[0])
    lines = [
        f"{args.family} {params}, {args.images} random images per timing, {args.rounds} rounds",
        f"forward {flops / 1e6:.1f} MFLOP/image, training counted as {TRAINING_FACTOR}x"
        if flops
        else "forward FLOPs unknown",
        "matmul peak (GFLOP/s) by round: " + ", ".join(f"{p:.0f}" if p else "-" for p in peaks),
        f"{'setting':44} {'img/s by round':>18} {'ratio':>6} {'GFLOP/s':>8} {'of 157':>7} {'of matmul':>9}",
    ]
    for name in chosen:
        rates = [o.get("img_per_s") for o in results[name]]
        ratios = [r / b["img_per_s"] for r, b in zip(rates, base, strict=True) if r and "img_per_s" in b]
        mean = sum(r for r in rates if r) / max(1, sum(1 for r in rates if r))
        ratio = sum(ratios) / len(ratios) if ratios else float("nan")
        gflops = mean * flops * TRAINING_FACTOR / 1e9 if flops else float("nan")
        of_peak = f"{gflops / peak:.0%}" if peak else "-"
        rate_text = " ".join(f"{r:.0f}" if r else "err" for r in rates)
        lines.append(
            f"{name:44} {rate_text:>18} {ratio:6.2f} {gflops:8.1f} {gflops / NOMINAL_PEAK_GFLOPS:7.0%} {of_peak:>9}"
        )
    text = "\n".join(lines)
    print(text)
    record = {"family": args.family, "params": params, "peaks": peaks, "forward_flops": flops, "results": results}
    write_atomically(RESULTS / f"profile_training-{args.family}.json", json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
