import json

import numpy as np
import pytest
from PIL import Image
from tiny_family import tiny_family  # noqa: F401
from typer.testing import CliRunner

from ferbench.cli import app

pytestmark = pytest.mark.usefixtures("tiny_family")
FAMILY = "tiny_test_family"


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def _all_runs(home):
    from mlflow import MlflowClient

    if not (home / "mlflow.db").exists():
        return []
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


def test_run_json_prints_exactly_one_object(isolated_store):
    result = invoke("run", FAMILY, "--dataset", "synthetic", "--protocol", "holdout",
                    "--set", "learning_rate=0.2", "--epochs", "2", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"run_id", "family", "dataset", "protocol", "params", "metrics"}
    assert out["family"] == FAMILY and out["dataset"] == "synthetic"
    assert out["protocol"] == "holdout:0.2" and out["params"]["learning_rate"] == 0.2
    assert 0.0 <= out["metrics"]["test_accuracy"] <= 1.0
    (run,) = _all_runs(isolated_store)
    assert run.info.run_id == out["run_id"] and run.info.status == "FINISHED"
    assert run.data.params["seed"] == "3" and run.data.tags["ferbench.synthetic"] == "true"


def test_run_text_output_kfold(isolated_store):
    result = invoke("run", FAMILY, "--dataset", "synthetic", "--protocol", "kfold:2", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and "±" in result.stdout and "per fold" in result.stdout
    assert len(_all_runs(isolated_store)) == 3  # parent + 2 fold children


def _folder_32px(tmp_path):
    for c, name in enumerate(("happy", "sad")):
        folder = tmp_path / "faces" / name
        folder.mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((32, 32), 40 * c + i, np.uint8)).save(folder / f"{i}.png")
    return str(tmp_path / "faces")


@pytest.mark.parametrize("args, message", [
    (["run", "no_such_family", "--dataset", "synthetic"], "unknown family"),
    (["run", FAMILY, "--dataset", "no_such_data"], "unknown data set"),
    (["run", FAMILY, "--dataset", "synthetic", "--protocol", "bogus"], "unknown protocol"),
    (["run", FAMILY, "--dataset", "synthetic", "--set", "nope=1"], "no parameter nope"),
    (["run", FAMILY, "--dataset", "synthetic", "--set", "learning_rate=fast"], "not a number"),
    (["run", FAMILY, "--dataset", "synthetic", "--set", "learning_rate=50"], "outside"),
    (["run", FAMILY, "--dataset", "synthetic", "--epochs", "0"], "epochs"),
    (["run", FAMILY, "--dataset", "synthetic", "--weights", "none"], "no pretrained weights"),
    (["bench", "--families", "tiny_test_family,nope"], "unknown family nope"),
    (["bench", "--families", FAMILY, "--budget", "huge"], "budget"),
])
def test_bad_input_one_line_exit_2_no_run(isolated_store, args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert _all_runs(isolated_store) == []


def test_input_size_the_data_cannot_serve(isolated_store, tmp_path):
    result = invoke("run", FAMILY, "--dataset", "folder", "--path", _folder_32px(tmp_path))
    assert result.exit_code == 2, result.output
    assert "48x48" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _all_runs(isolated_store) == []


@pytest.mark.parametrize("make_bad", ["file", "readonly"])
def test_unwritable_store(tmp_path, monkeypatch, make_bad):
    import os

    if make_bad == "file":
        target = tmp_path / "store-is-a-file"
        target.write_text("x")
    else:
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions")
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    monkeypatch.setenv("FERBENCH_HOME", str(target))
    result = invoke("run", FAMILY, "--dataset", "synthetic", "--epochs", "1")
    assert result.exit_code == 2, result.output
    assert "not writable" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_models_lists_registry_with_published_numbers():
    result = invoke("models", "--json")
    assert result.exit_code == 0, result.output
    models = {m["name"]: m for m in json.loads(result.stdout)}
    assert models[FAMILY]["input_shape"] == [48, 48, 1]
    assert models[FAMILY]["published"] == []
    text = invoke("models").stdout
    assert FAMILY in text and "published: none" in text


def test_bench_on_synthetic_runs_and_prints_table(isolated_store):
    result = invoke("bench", "--families", FAMILY)
    assert result.exit_code == 0, result.output
    assert FAMILY in result.stdout and "n/a (synthetic)" in result.stdout
    (run,) = _all_runs(isolated_store)
    assert run.info.status == "FINISHED" and run.data.params["epochs"] == "2"  # quick_epochs
    assert run.data.tags["ferbench.bench_budget"] == "quick"
    rows = json.loads(invoke("bench", "--families", FAMILY, "--json", "--budget", "paper").stdout)
    assert rows[0]["status"] == "ok" and rows[0]["published"] == "n/a (synthetic)"


def test_bench_with_seeds_runs_each_family_per_seed_under_a_parent(isolated_store):
    result = invoke("bench", "--families", FAMILY, "--seeds", "0,1,2", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    runs = _all_runs(isolated_store)
    children = [r for r in runs if r.data.tags["ferbench.kind"] == "run"]
    (parent,) = [r for r in runs if r.data.tags["ferbench.kind"] == "seeds"]
    assert sorted(r.data.params["seed"] for r in children) == ["0", "1", "2"]
    assert row["run_id"] == parent.info.run_id
    assert abs(row["accuracy"] - parent.data.metrics["test_accuracy_mean"]) < 1e-12
    assert bad_seeds_refused(invoke("bench", "--families", FAMILY, "--seeds", "2,-1"))


def bad_seeds_refused(result) -> bool:
    return result.exit_code == 2 and "seed -1" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def offline_families(tiny_family):
    """Two tiny families whose defaults cannot run here; one says how bench runs it offline."""
    from ferbench.families import registry

    def unavailable(cls):
        return "needs a weights file (test)"

    made = []
    for name, extra in (("tiny_skipped", {}), ("tiny_offline", {"bench_params": {"learning_rate": 0.3}})):
        cls = type(name, (tiny_family,), {"name": name, "unavailable_reason": classmethod(unavailable),
                                          **extra})
        registry._FAMILIES[name] = cls
        made.append(name)
    yield made
    for name in made:
        registry._FAMILIES.pop(name, None)


def test_bench_skips_with_reason_unless_bench_params(isolated_store, offline_families):
    result = invoke("bench", "--families", "tiny_skipped,tiny_offline", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["family"]: r for r in json.loads(result.stdout)}
    assert rows["tiny_skipped"]["status"] == "skipped"
    assert "weights file" in rows["tiny_skipped"]["reason"]
    assert rows["tiny_offline"]["status"] == "ok"
    (run,) = _all_runs(isolated_store)
    assert run.data.tags["ferbench.family"] == "tiny_offline"
    assert run.data.params["learning_rate"] == "0.3"
