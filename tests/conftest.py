"""Shared test setup: every test gets its own empty ferbench store, offline and quiet."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REAL_FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch) -> Path:
    """FERBENCH_HOME in a temp dir; no inherited MLflow / Optuna locations."""
    home = tmp_path / "ferbench-store"
    monkeypatch.setenv("FERBENCH_HOME", str(home))
    for var in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def real_fer2013() -> Path:
    """The real FER-2013 folder, or skip (tests must never need it)."""
    path = Path(os.environ.get("FERBENCH_FER2013", REAL_FER2013))
    if not (path / "train").is_dir():
        pytest.skip("real FER-2013 not available")
    return path
