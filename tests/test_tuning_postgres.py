"""Distributed tuning on PostgreSQL: two worker processes on one study, started on a fresh schema.

Needs the server that .ci/run starts (FERBENCH_TEST_POSTGRES_URL); skipped when unset.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HELPER = Path(__file__).parent / "tuning_helpers.py"

from tuning_helpers import tiny_sgd  # noqa: E402, F401  (fixture)


def _fresh_schema(url: str) -> None:
    """Drop every Optuna table and enum type, so the workers race on creating them."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
        conn.execute(sqlalchemy.text("CREATE SCHEMA public"))
    engine.dispose()


def test_two_workers_on_one_study_finish_exactly_n_unique_trials(pg_url, isolated_store):
    import optuna

    from ferbench import record

    _fresh_schema(pg_url)
    record.setup()  # the shared MLflow store exists before the workers start
    name = f"pg-{uuid.uuid4().hex[:8]}"
    args = {
        "trials": 8,
        "study_name": name,
        "storage": pg_url,
        "pruner": "none",
        "final": False,
        "fixed": {"sleep_s": 0.05},
    }
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    workers = [
        subprocess.Popen(
            [sys.executable, str(HELPER), json.dumps(args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    for worker, out in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out[-2000:]
    study = optuna.load_study(study_name=name, storage=pg_url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 8
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    ran = [json.loads(out.split("RESULT ", 1)[1])["ran"] for out in outputs]
    assert sorted(ran[0] + ran[1]) == sorted(t.number for t in done)
    # both workers logged under the one parent run, and no trial run stayed RUNNING
    parents = {json.loads(out.split("RESULT ", 1)[1])["parent_run_id"] for out in outputs}
    assert len(parents) == 1
    client = record.client()
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.mlflow.parentRunId = '{parents.pop()}'",
    )
    assert len([r for r in runs if r.data.tags.get("ferbench.kind") == "trial"]) == 8
    assert all(r.info.status == "FINISHED" for r in runs)


@pytest.mark.usefixtures("tiny_sgd")
def test_resume_on_postgres_adds_up_to_the_total(pg_url):
    from ferbench.tuning import tune
    from tuning_helpers import tiny_dataset

    name = f"pg-{uuid.uuid4().hex[:8]}"
    tune("tiny_sgd_test", tiny_dataset(), trials=2, study_name=name, storage=pg_url, final=False)
    result = tune("tiny_sgd_test", tiny_dataset(), trials=3, study_name=name, storage=pg_url, final=False)
    assert result.counts["COMPLETE"] + result.counts["PRUNED"] == 3 and len(result.ran) == 1
    assert "ferbench:***@" in result.storage
