"""Progress bars with rate and ETA (rich, on stderr so stdout stays clean for --json).

`progress(quiet)` yields a Bars object; with quiet=True every call is a no-op, so callers never
branch on quietness. Training bars advance per epoch (a family reports epochs through its
EpochCallback); the rate column shows images per second, the ETA rich's estimate.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Bars:
    def __init__(self, rich_progress=None):
        self._p = rich_progress
        self._started: dict[int, tuple[float, int]] = {}

    def add(self, description: str, total: int | None, images_per_step: int = 0) -> int | None:
        if self._p is None:
            return None
        task = self._p.add_task(description, total=total, rate="")
        self._started[task] = (time.perf_counter(), images_per_step)
        return task

    def advance(self, task: int | None, steps: int = 1, note: str | None = None) -> None:
        if self._p is None or task is None:
            return
        self._p.advance(task, steps)
        start, per_step = self._started[task]
        done = self._p.tasks[self._task_index(task)].completed
        elapsed = max(time.perf_counter() - start, 1e-9)
        rate = f"{per_step * done / elapsed:,.0f} img/s" if per_step else f"{done / elapsed:.2f}/s"
        fields = {"rate": rate}
        if note is not None:
            fields["description"] = note
        self._p.update(task, **fields)

    def done(self, task: int | None) -> None:
        if self._p is not None and task is not None:
            total = self._p.tasks[self._task_index(task)].total
            if total is None:
                self._p.update(task, total=1, completed=1)
            self._p.stop_task(task)

    def log(self, text: str) -> None:
        if self._p is not None:
            self._p.console.print(text, highlight=False)

    def _task_index(self, task: int) -> int:
        return [t.id for t in self._p.tasks].index(task)


@contextmanager
def progress(quiet: bool = False) -> Iterator[Bars]:
    if quiet:
        yield Bars(None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as rich_progress:
        yield Bars(rich_progress)
