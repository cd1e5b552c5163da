"""An analysis's files: written atomically into a temporary workspace, then logged as artifacts
under `analysis/<name>/` of the run (and copied to --out when given)."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ferbench import store
from ferbench.analysis._run import client

ARTIFACT_DIR = "analysis"


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Path:
    """Write to a temporary name then rename, so a failure leaves no half-written file."""
    path = Path(path)
    with store.atomic_write(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(header))
        for row in rows:
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    return path


def save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with store.atomic_write(path) as handle:  # the format comes from the suffix: the temp name has none
            fig.savefig(handle, dpi=100, format=path.suffix.lstrip("."))
    finally:
        plt.close(fig)
    return path


def use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


class Workspace:
    """A temporary folder for one analysis; `publish` logs it under analysis/<name>/ of the run
    and, when `out` is given, also copies it there."""

    def __init__(self, name: str, out: str | Path | None = None):
        self.name = name
        self.out = Path(out) if out else None
        self._tmp = tempfile.TemporaryDirectory(prefix=f"ferbench-{name}-")
        self.dir = Path(self._tmp.name)

    def __enter__(self):
        use_agg()
        return self

    def __exit__(self, *exc):
        self._tmp.cleanup()

    def file(self, filename: str) -> Path:
        return self.dir / filename

    def publish(self, run_id: str, tracking_uri: str) -> list[str]:
        import shutil

        from ferbench.record import log_files

        client(tracking_uri)  # the store the run is in
        artifact_path = f"{ARTIFACT_DIR}/{self.name}"
        log_files(run_id, self.dir, artifact_path)
        if self.out:
            target = self.out / self.name
            target.mkdir(parents=True, exist_ok=True)
            for item in sorted(self.dir.iterdir()):
                shutil.copy2(item, target / item.name)
        return [f"{artifact_path}/{p.name}" for p in sorted(self.dir.iterdir())]
