"""TensorFlow's INFO lines at import ("oneDNN custom operations are on", and absl's "All log
messages before absl::InitializeLog() ...") off the command line's stderr.

TensorFlow's native libraries write them straight to file descriptor 2 while they load, before
TF_CPP_MIN_LOG_LEVEL is consulted, so no logging setting reaches them. `install()` adds an import
hook: the first `import tensorflow` (however it is reached: keras, a family, a feature extractor)
runs with descriptor 2 sent to a temporary file, and every captured line except those INFO lines is
written back to stderr afterwards. Nothing else is hidden, and nothing changes for a process that
never imports TensorFlow.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

# absl's INFO records ("I0000 00:00:1796428538.293465   32358 port.cc:153] ..."), the one
# continuation line TensorFlow's CPU-feature INFO record has, and absl's pre-init notice
_NOISE = re.compile(
    rb"^(I\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] .*|To enable the following instructions: .*"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)$"
)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.inner.exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = [
                    line for line in captured.read().splitlines(keepends=True) if not _NOISE.match(line.rstrip(b"\r\n"))
                ]
                if kept:
                    os.write(2, b"".join(kept))


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Filter TensorFlow's import-time INFO lines in this process (idempotent)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
