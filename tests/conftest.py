"""Shared test setup: every test gets its own empty ferbench store, offline and quiet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REAL_FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty MLflow SQLite database, migrated once per session: MLflow's schema migrations
    cost several seconds for every new store, and most tests make one."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri())
    return folder / "mlflow.db"


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch, migrated_mlflow_db) -> Path:
    """FERBENCH_HOME in a temp dir, holding a copy of the migrated (empty) MLflow database;
    no inherited MLflow / Optuna locations."""
    home = tmp_path / "ferbench-store"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    monkeypatch.setenv("FERBENCH_HOME", str(home))
    for var in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL server that .ci/run starts, or skip."""
    url = os.environ.get("FERBENCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("FERBENCH_TEST_POSTGRES_URL not set (.ci/run starts PostgreSQL)")
    return url


@pytest.fixture
def real_fer2013() -> Path:
    """The real FER-2013 folder, or skip (tests must never need it)."""
    path = Path(os.environ.get("FERBENCH_FER2013", REAL_FER2013))
    if not (path / "train").is_dir():
        pytest.skip("real FER-2013 not available")
    return path


@pytest.fixture
def tiny_family():
    """ferbench.testing's TinyFamily in the registry for one test only, so the registry the
    contract tests read stays clean."""
    from ferbench.families import registry
    from ferbench.testing import TinyFamily

    registry._FAMILIES[TinyFamily.name] = TinyFamily
    yield TinyFamily
    registry._FAMILIES.pop(TinyFamily.name, None)
