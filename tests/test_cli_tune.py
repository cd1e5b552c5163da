"""`ferbench tune` and `ferbench studies` through Typer's CliRunner; docker-compose validation."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from tuning_helpers import tiny_dataset, tiny_sgd  # noqa: E402, F401

pytestmark = pytest.mark.usefixtures("tiny_sgd")

from ferbench.cli import app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def tiny(monkeypatch):
    import ferbench.cli.tune as cli_tune

    monkeypatch.setattr(cli_tune, "load_data", lambda name, path, options: tiny_dataset(name=name))


def invoke(*args):
    return runner.invoke(app, list(args))


def test_tune_json_then_studies_and_show(tiny):
    result = invoke(
        "tune",
        "tiny_sgd_test",
        "--dataset",
        "tinyset",
        "--trials",
        "3",
        "--study",
        "cli",
        "--sampler",
        "random",
        "--pruner",
        "hyperband",
        "--epochs",
        "3",
        "--no-final",
        "--json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["study"] == "cli" and payload["finished"] is True
    assert payload["counts"]["COMPLETE"] + payload["counts"]["PRUNED"] == 3
    listed = invoke("studies", "--json")
    assert listed.exit_code == 0, listed.output
    row = next(r for r in json.loads(listed.stdout) if r["study"] == "cli")
    assert row["family"] == "tiny_sgd_test" and row["complete"] + row["pruned"] == 3
    text = invoke("studies")
    assert "cli  tiny_sgd_test on tinyset" in text.output
    shown = invoke("studies", "show", "cli", "--json")
    assert shown.exit_code == 0, shown.output
    trials = json.loads(shown.stdout)
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert set(trials[0]["params"]) == {"alpha", "eta0", "loss"}


def test_tune_text_output_resumes(tiny):
    first = invoke(
        "tune",
        "tiny_sgd_test",
        "--dataset",
        "tinyset",
        "--trials",
        "2",
        "--no-final",
        "--set",
        "loss=log_loss",
        "--space",
        "alpha=1e-4:1e-2",
    )
    assert first.exit_code == 0, first.output
    assert "created, target 2 finished trials (complete + pruned)" in first.output and "best trial" in first.output
    second = invoke(
        "tune", "tiny_sgd_test", "--dataset", "tinyset", "--trials", "3", "--no-final", "--set", "loss=log_loss"
    )
    assert second.exit_code == 0, second.output
    assert "resumed, target 3 finished trials" in second.output and second.output.count("trial 2:") == 1


def test_tune_ends_with_one_readable_block(tiny):
    result = invoke(
        "tune",
        "tiny_sgd_test",
        "--dataset",
        "tinyset",
        "--trials",
        "2",
        "--epochs",
        "2",
        "--sampler",
        "random",
        "--pruner",
        "none",
        "--set",
        "loss=modified_huber",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("study "))
    head, *params, tested = lines[start + 1 :]
    assert re.fullmatch(r"best trial [01]: val accuracy \d\.\d{4}", head), head
    assert {line.split()[0] for line in params} == {"alpha", "eta0", "loss", "sleep_s"}
    assert all(line.startswith("  ") and len(line.split()) == 2 for line in params)
    assert "  loss     modified_huber" in params and "  sleep_s  0" in params
    assert re.fullmatch(r"tested once: test accuracy \d\.\d{4}, macro-F1 \d\.\d{4} \(run [0-9a-f]{32}\)", tested)
    assert not any(mark in line for line in lines[start:] for mark in "{}'\"")  # no dict or JSON text


def test_summaries_say_how_many_trials_completed_were_pruned_and_failed(tiny, isolated_store):
    import optuna

    from ferbench import store

    result = invoke(
        "tune",
        "tiny_sgd_test",
        "--dataset",
        "tinyset",
        "--trials",
        "3",
        "--study",
        "counted",
        "--sampler",
        "random",
        "--pruner",
        "none",
        "--epochs",
        "2",
        "--no-final",
    )
    assert result.exit_code == 0, result.output
    assert (
        "study counted: 3 complete, 0 pruned, 0 failed; 3 of 3 finished trials (complete + pruned) wanted"
        in result.stdout
    )
    study = optuna.load_study(study_name="counted", storage=store.optuna_storage_url())
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    listed = invoke("studies")
    assert listed.exit_code == 0, listed.output
    assert (
        "counted  tiny_sgd_test on tinyset [official]  4 trials: 3 complete, 0 pruned, 1 failed; "
        "3 of 3 finished trials (complete + pruned) wanted"
    ) in listed.stdout
    row = next(r for r in json.loads(invoke("studies", "--json").stdout) if r["study"] == "counted")
    assert (row["trials"], row["complete"], row["fail"], row["target"]) == (4, 3, 1, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "--trials 0"),
        (["--trials", "-3"], "--trials -3"),
        (["--trials", "2", "--space", "alpha=2:1"], "--space"),
        (["--trials", "2", "--space", "alpha"], "--space"),
        (["--trials", "2", "--set", "nothing=1"], "no parameter nothing"),
        (["--trials", "2", "--pruner", "sometimes"], "--pruner"),
        (["--trials", "2", "--protocol", "kfold:1"], "kfold:1"),
        (["--trials", "2", "--storage", "postgresql+psycopg://a:pw@127.0.0.1:1/db"], "cannot connect"),
        (["--trials", "2", "--storage", "nosuchdialect://x"], "--storage"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny, args, message):
    result = invoke("tune", "tiny_sgd_test", "--dataset", "tinyset", "--no-final", *args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0] and "pw@" not in result.output


def test_study_of_another_family_or_dataset_exits_2(tiny, monkeypatch):
    ok = invoke("tune", "tiny_sgd_test", "--dataset", "tinyset", "--trials", "1", "--study", "x", "--no-final")
    assert ok.exit_code == 0, ok.output
    import ferbench.cli.tune as cli_tune

    monkeypatch.setattr(cli_tune, "load_data", lambda name, path, options: tiny_dataset(seed=3, name=name))
    clash = invoke("tune", "tiny_sgd_test", "--dataset", "other", "--trials", "2", "--study", "x", "--no-final")
    assert clash.exit_code == 2 and "study 'x' exists with" in clash.output


def test_unknown_family_and_missing_study_exit_2(tiny):
    assert invoke("tune", "no_such_family", "--dataset", "tinyset", "--trials", "1").exit_code == 2
    shown = invoke("studies", "show", "ghost")
    assert shown.exit_code == 2 and "no study named 'ghost'" in shown.output


def _compose_command():
    """`docker compose` (v2 plugin) when present, else the standalone `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="neither `docker compose` nor docker-compose on PATH")
def test_docker_compose_file_validates_with_the_example_env_and_requires_passwords():
    import yaml

    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "MLFLOW_", "OPTUNA_", "FERBENCH_"))}
    compose = [*_compose_command(), "-f", str(ROOT / "docker-compose.yml")]
    out = subprocess.run(
        [*compose, "--env-file", str(ROOT / "tracking" / ".env.example"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert {"postgres", "mlflow", "worker"} <= set(services)
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for service in services.values():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1"
    worker_env = services["worker"]["environment"]
    assert worker_env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert worker_env["FERBENCH_OPTUNA_STORAGE"].startswith("postgresql+psycopg://optuna:")
    assert services["worker"]["command"][0] == "tune"
    # no .env: no built-in password, compose stops and says what to do
    bare = subprocess.run([*compose, "config"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert bare.returncode != 0 and "is missing, set it in .env" in bare.stderr
    text = (ROOT / "docker-compose.yml").read_text()
    assert "PASSWORD:-" not in text and text.count("PASSWORD:?") == 5


def test_the_database_password_is_on_no_command_line():
    entrypoint = (ROOT / "tracking" / "mlflow-entrypoint.sh").read_text()
    command = entrypoint[entrypoint.index("exec mlflow server") :]
    assert "PASSWORD" not in command and "export PGPASSWORD" in entrypoint
    initdb = (ROOT / "tracking" / "initdb" / "01-databases.sh").read_text()
    psql = initdb[initdb.index("psql ") : initdb.index("<<'SQL'")]
    assert "PASSWORD" not in psql and "\\getenv mlflow_password MLFLOW_DB_PASSWORD" in initdb
    for path in (ROOT / "tracking" / "mlflow-entrypoint.sh", ROOT / "tracking" / "initdb" / "01-databases.sh"):
        assert ":-mlflow" not in path.read_text() and ":-optuna" not in path.read_text()
