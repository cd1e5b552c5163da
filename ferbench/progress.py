"""Progress of long work (training, feature extraction, folds) on stderr, so stdout stays clean.

`progress(quiet)` yields a Bars object; with quiet=True every call is a no-op, so callers never
branch on quietness. On a terminal: rich bars with a count, a rate and an ETA, and `log` lines
(such as each epoch's metrics) printed whole above them. Off a terminal (piped, a log file): plain
lines that are never cut, with no cursor movement: one when a task starts, at most one every
LOG_EVERY seconds while it runs, and one when it ends.

A bar counts steps; `unit="img"` makes it count images (rate in img/s), and `images_per_step`
turns steps of many images (epochs) into an image rate. `current()` is the innermost active Bars,
for work deep inside a family (feature extraction) that has no Bars argument.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

LOG_EVERY = 30.0  # seconds between plain progress lines of one task
_ACTIVE: list[Bars] = []


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _count(done: float, total: float | None, unit: str) -> str:
    if total is None:
        return f"{int(done):,} {unit}".strip() if unit and done else ""
    return f"{int(done):,}/{int(total):,} {unit}".strip()


def _rate(per_second: float | None, unit: str, per_step: int) -> str:
    """Images per second; nothing for bars of other steps (folds), whose rate says little."""
    if not per_second or not (unit or per_step):
        return ""
    return f"{per_second * (per_step or 1):,.0f} {unit or 'img'}/s"


class Bars:
    """The no-op Bars (quiet); the interface of the two real ones."""

    def add(self, description: str, total: int | None, images_per_step: int = 0, unit: str = "") -> int | None:
        return None

    def advance(self, task: int | None, steps: float = 1, note: str | None = None) -> None:
        return None

    def update(self, task: int | None, *, completed: float | None = None, description: str | None = None) -> None:
        return None

    def done(self, task: int | None) -> None:
        return None

    def log(self, text: str) -> None:
        return None


class RichBars(Bars):
    """Live bars on a terminal."""

    def __init__(self, rich_progress):
        self._p = rich_progress

    def add(self, description, total, images_per_step=0, unit=""):
        return self._p.add_task(description, total=total, unit=unit, per_step=images_per_step)

    def advance(self, task, steps=1, note=None):
        if task is not None:
            self._p.update(task, advance=steps, **({"description": note} if note is not None else {}))

    def update(self, task, *, completed=None, description=None):
        if task is not None:
            fields = {k: v for k, v in (("completed", completed), ("description", description)) if v is not None}
            self._p.update(task, **fields)

    def done(self, task):
        if task is None:
            return
        found = next((t for t in self._p.tasks if t.id == task), None)
        if found is not None and found.total is None:
            self._p.update(task, total=found.completed or 1, completed=found.completed or 1)
        self._p.stop_task(task)

    def log(self, text):
        self._p.console.print(text, highlight=False, markup=False, soft_wrap=True)


class PlainBars(Bars):
    """Whole lines for logs and pipes: start, every LOG_EVERY seconds, end."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()  # folds of feature families fit in threads
        self._tasks: dict[int, dict] = {}
        self._next = 0

    def _write(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def add(self, description, total, images_per_step=0, unit=""):
        with self._lock:
            self._next += 1
            now = time.perf_counter()
            self._tasks[self._next] = {
                "description": description,
                "total": total,
                "done": 0.0,
                "unit": unit,
                "per_step": images_per_step,
                "start": now,
                "said": now,
            }
            size = "" if total is None else f" ({int(total):,}{' ' + unit if unit else ''})"
            self._write(f"{description}: started{size}")
            return self._next

    def advance(self, task, steps=1, note=None):
        self._move(task, steps=steps, description=note)

    def update(self, task, *, completed=None, description=None):
        self._move(task, completed=completed, description=description)

    def _move(self, task, steps=0.0, completed=None, description=None):
        if task is None:
            return
        with self._lock:
            t = self._tasks.get(task)
            if t is None:  # already done
                return
            t["done"] = completed if completed is not None else t["done"] + steps
            if description is not None:
                t["description"] = description
            now = time.perf_counter()
            if now - t["said"] >= LOG_EVERY:
                t["said"] = now
                self._write(self._line(t, now))

    def _line(self, t: dict, now: float, end: bool = False) -> str:
        elapsed = now - t["start"]
        speed = t["done"] / elapsed if elapsed > 0 else None
        count, rate = _count(t["done"], t["total"], t["unit"]), _rate(speed, t["unit"], t["per_step"])
        if end:
            return f"{t['description']}: done{', ' + count if count else ''} in {_clock(elapsed)}" + (
                f" ({rate})" if rate else ""
            )
        eta = f"ETA {_clock(max(t['total'] - t['done'], 0) / speed)}" if t["total"] and speed else ""
        return " ".join(p for p in (f"{t['description']}:", count, rate, f"elapsed {_clock(elapsed)}", eta) if p)

    def done(self, task):
        if task is None:
            return
        with self._lock:
            t = self._tasks.pop(task, None)
            if t is not None:
                self._write(self._line(t, time.perf_counter(), end=True))

    def log(self, text):
        with self._lock:
            self._write(text)


def current() -> Bars:
    """The innermost active Bars (a no-op one when none is active)."""
    return _ACTIVE[-1] if _ACTIVE else Bars()


@contextmanager
def progress(quiet: bool = False, console=None) -> Iterator[Bars]:
    """Bars on stderr (or a given rich Console): live on a terminal, plain lines otherwise,
    nothing when quiet."""
    with ExitStack() as stack:
        if quiet:
            bars = Bars()
        else:
            if console is None:
                from rich.console import Console

                console = Console(stderr=True)
            bars = RichBars(stack.enter_context(_rich(console))) if console.is_terminal else PlainBars(console.file)
        _ACTIVE.append(bars)
        try:
            yield bars
        finally:
            _ACTIVE.remove(bars)


def _columns():
    """Spinner, description (cut with an ellipsis when the line is short), bar, count, rate, times:
    one line per task from 80 columns up (the bar gives way first, then the description)."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn
    from rich.table import Column
    from rich.text import Text

    class Described(ProgressColumn):
        def render(self, task):
            return Text(task.description, no_wrap=True, overflow="ellipsis")

    class Count(ProgressColumn):
        def render(self, task):
            return Text(_count(task.completed, task.total, task.fields["unit"]), style="progress.download")

    class Rate(ProgressColumn):
        def render(self, task):
            # running: the last 20 s; stopped: the whole task, set-up included, as the plain lines say
            speed = task.completed / task.elapsed if task.stop_time is not None and task.elapsed else task.speed
            return Text(_rate(speed, task.fields["unit"], task.fields["per_step"]), style="progress.data.speed")

    class Times(ProgressColumn):
        def render(self, task):
            ended = task.finished or task.stop_time is not None  # stopped: done, or stopped early
            eta = "" if ended or task.total is None else f" ETA {_clock(task.time_remaining)}"
            return Text(f"{_clock(task.elapsed)}{eta}", style="progress.elapsed")

    fixed = Column(no_wrap=True)
    return (
        SpinnerColumn(table_column=fixed),
        Described(table_column=Column(max_width=40)),
        BarColumn(bar_width=None, table_column=Column(min_width=6, max_width=16)),
        Count(table_column=fixed),
        Rate(table_column=fixed),
        Times(table_column=fixed),
    )


@contextmanager
def _rich(console):
    from rich.progress import Progress

    with Progress(*_columns(), console=console, transient=False, speed_estimate_period=20.0) as rich_progress:
        yield rich_progress
