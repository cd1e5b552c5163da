"""`ferbench` in a child process, with the tiny numpy family registered: what a user's shell sees
(exit code, stdout, stderr) without TensorFlow or a long training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from ferbench.testing import TinyFamily
from ferbench.families import registry
registry._FAMILIES[TinyFamily.name] = TinyFamily
{before}
from ferbench.cli import main
sys.argv = ["ferbench", *{args!r}]
main()
"""


def cli_process(home: Path, *args: str, before: str = "", env: dict | None = None, **popen) -> subprocess.Popen:
    """Start `ferbench ARGS` on the store `home`; `before` is Python run first (a patch)."""
    full = {**os.environ, "FERBENCH_HOME": str(home), **(env or {})}
    for name in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE"):
        if name not in (env or {}):
            full.pop(name, None)
    code = SCRIPT.format(tests=str(TESTS), before=before, args=list(args))
    return subprocess.Popen(
        [sys.executable, "-c", code], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def cli(home: Path, *args: str, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    process = cli_process(home, *args, **kwargs)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
