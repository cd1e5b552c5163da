"""Speed and memory of reading FER-2013 (folder layout): first read, cached re-read, memory.

Each measurement runs in a fresh subprocess (so peak RSS, from getrusage ru_maxrss, is that
read's own) against a fresh, temporary ferbench store. Targets: first read <= 20 s,
cached re-read <= 1 s, images ~83 MB uint8 in memory, peak RSS <= 400 MB.

    python experiments/bench_data_loading.py [PATH ...]   (default: $FERBENCH_FER2013)
Prints the figures and writes them to experiments/results/bench_data_loading.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import FER2013_HELP, RESULTS, fer2013_path, write_atomically

REPEATS = 3
CHILD = """
import json, resource, sys, time
start = time.perf_counter()
from ferbench.data.readers import load_dataset
dataset = load_dataset("fer2013", sys.argv[1])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "n_images": len(dataset),
                  "shape": list(dataset.images.shape), "mb": dataset.images.nbytes / 1e6,
                  "fingerprint": dataset.fingerprint, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def measure(path: Path, home: str) -> dict:
    env = dict(os.environ, FERBENCH_HOME=home)
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(path: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="ferbench-bench-") as home:
        first = measure(path, home)
        # The machine is shared: repeat the short cached read and report the best and the median.
        again = sorted((measure(path, home) for _ in range(REPEATS)), key=lambda r: r["seconds"])
    cached = again[len(again) // 2]
    assert all(r["fingerprint"] == first["fingerprint"] for r in again), "cached copy differs"
    return [
        f"data: {path} ({first['n_images']} images, array {tuple(first['shape'])} uint8)",
        f"first read (decode + cache write, incl. imports): {first['seconds']:.2f} s wall, "
        f"{first['cpu']:.2f} s CPU   (target <= 20 s)",
        f"cached re-read (imports + stat walk + load), {REPEATS} runs: best {again[0]['seconds']:.2f} s, "
        f"median {cached['seconds']:.2f} s wall, {cached['cpu']:.2f} s CPU   (target <= 1 s)",
        f"images in memory:                                 {first['mb']:.1f} MB (1e6 bytes; target ~83 MB)",
        f"peak RSS, first read:                             {first['peak_rss_mb']:.0f} MB   (target <= 400 MB)",
        f"peak RSS, cached re-read:                         {cached['peak_rss_mb']:.0f} MB",
        f"fingerprint: {first['fingerprint']} (same on every read)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", metavar="PATH", help=FER2013_HELP + "; several are read in turn")
    args = parser.parse_args()
    paths = [fer2013_path(parser, given) for given in args.paths or [None]]
    lines = [f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}"]
    for path in paths:
        lines += report(path)
    text = "\n".join(lines)
    print(text)
    write_atomically(RESULTS / "bench_data_loading.txt", text + "\n")


if __name__ == "__main__":
    main()
