"""Speed of the synthetic generator (target: 2,000 48x48 images in < 2 s).

Run: /work/venv/bin/python experiments/bench_synthetic.py
Prints the figures and writes them to experiments/results/bench_synthetic.txt.
"""

import time
from pathlib import Path

from ferbench.data.synthetic import generate


def main() -> None:
    lines = []
    generate(100, seed=0)  # warm-up (imports, allocator)
    for n in (2000, 10000):
        times = []
        for seed in range(3):
            start = time.perf_counter()
            data = generate(n, seed=seed)
            times.append(time.perf_counter() - start)
        lines.append(
            f"synthetic n={n} size=48: best {min(times):.3f} s, worst {max(times):.3f} s over 3 seeds "
            f"({n / min(times):.0f} img/s), {data.images.nbytes / 1e6:.1f} MB uint8"
        )
    lines.append(f"target: n=2000 in < 2 s -> {'OK' if float(lines[0].split('best ')[1].split(' ')[0]) < 2 else 'MISSED'}")
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "bench_synthetic.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
