"""`ferbench cache list / clear`: each entry's status, and removal that keeps what is read or written."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ferbench import inventory, leaderboard
from ferbench.cli import app
from ferbench.data import cache as data_cache
from ferbench.data.synthetic import generate
from ferbench.features import FeatureSet, backbone_passes
from ferbench.features.cache import feature_key
from ferbench.inventory import _listing  # its shutil.rmtree is patched

LAYER = "block5_pool"
TRACKING_URI = "sqlite:///elsewhere/mlflow.db"


def invoke(*args, input=None):
    return CliRunner().invoke(app, ["cache", *args], input=input)


def listed(*args) -> dict[tuple[str, str], dict]:
    result = invoke("list", "--json", *args)
    assert result.exit_code == 0, result.output
    return {(e["kind"], e["name"]): e for e in json.loads(result.stdout)["entries"]}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def tree(root) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real features entry and one data set entry, written once by ferbench's own code."""
    home = tmp_path_factory.mktemp("template") / "ferbench-store"
    dataset = generate(n_images=6, seed=0, n_subjects=2, image_size=24)
    source = tmp_path_factory.mktemp("source") / "faces.csv"
    source.write_text("pixels\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERBENCH_HOME", str(home))
        features = FeatureSet(dataset, "vgg19", "none", 32)
        features.ensure([LAYER])
        dataset_key = data_cache.stat_key("csv", source, {})
        data_cache.save(dataset_key, dataset, data_cache.key_inputs("csv", source, {}))
    return home / "cache", dataset, features.directory.name, dataset_key, source


def _copy_features(current, target, **meta_changes):
    shutil.copytree(current, target)
    for meta_path in target.glob("meta-*.json"):
        meta_path.write_text(json.dumps(json.loads(meta_path.read_text()) | meta_changes))
    return target.name


@pytest.fixture
def crafted(built, isolated_store):
    """The template copied into this test's store, plus one entry of every status; returns
    (kind, name) -> the status `cache list` must give it."""
    template, _, current_name, dataset_key, _ = built
    root = isolated_store / "cache"
    shutil.copytree(template, root)
    features, datasets = root / "features", root / "datasets"
    current, dead, alive = features / current_name, dead_pid(), os.getpid()
    other_fingerprint = "f" * 16
    other_key = f"vgg19-{feature_key('vgg19', 'none:seed1234', 32, other_fingerprint)}"
    expected = {
        ("features", current_name): "current",
        ("features", _copy_features(current, features / f"vgg19-{'0' * 20}")): "stale",
        # the key matches its fingerprint: only the batch size tells it is stale
        (
            "features",
            _copy_features(current, features / other_key, fingerprint=other_fingerprint, batch_size=8),
        ): "stale",
        ("features", f"{current_name}/.{LAYER}.gram.npy.tmp-{dead}"): "orphaned temp",
        ("features", f"vgg19-{'1' * 20}"): "incomplete",
        ("features", f"vgg19-{'2' * 20}"): "writing",
        ("features", f"vgg19-{'2' * 20}/.fc1.npy.tmp-{alive}"): "writing",
        ("datasets", dataset_key): "current",
        ("datasets", "d" * 32): "stale",
        ("datasets", "e" * 32): "incomplete",
        ("datasets", f".{'c' * 32}.json.tmp-{dead}"): "orphaned temp",
        ("datasets", f".{'b' * 32}.images.npy.tmp-{alive}"): "writing",
        ("leaderboard", leaderboard.cache_path(TRACKING_URI).name): "current",
    }
    (current / f".{LAYER}.gram.npy.tmp-{dead}").write_bytes(b"\0" * 100)
    (features / f"vgg19-{'1' * 20}").mkdir()
    shutil.copy(current / f"{LAYER}.npy", features / f"vgg19-{'1' * 20}" / f"{LAYER}.npy")
    (features / f"vgg19-{'2' * 20}").mkdir()
    (features / f"vgg19-{'2' * 20}" / f".fc1.npy.tmp-{alive}").write_bytes(b"\0" * 10)
    for suffix in (".images.npy", ".npz", ".json"):
        shutil.copy(datasets / f"{dataset_key}{suffix}", datasets / f"{'d' * 32}{suffix}")
    sidecar = datasets / f"{'d' * 32}.json"
    sidecar.write_text(json.dumps(json.loads(sidecar.read_text()) | {"cache_version": 1}))
    shutil.copy(datasets / f"{dataset_key}.images.npy", datasets / f"{'e' * 32}.images.npy")
    (datasets / f".{'c' * 32}.json.tmp-{dead}").write_text("{}")
    (datasets / f".{'b' * 32}.images.npy.tmp-{alive}").write_bytes(b"\0" * 10)
    leaderboard.cache_path(TRACKING_URI).write_bytes(pickle.dumps({"version": 1, "runs": {}}))
    return expected


def test_list_gives_each_entry_its_status(crafted, built):
    _, _, current_name, dataset_key, _ = built
    entries = listed()
    assert {key: e["status"] for key, e in entries.items()} == crafted
    current = entries["features", current_name]
    assert "none:seed1234" in current["description"] and "6 images" in current["description"]
    assert LAYER in current["description"] and current["bytes"] > 0
    batch_stale = [
        e
        for (kind, name), e in entries.items()
        if kind == "features" and e["status"] == "stale" and not name.endswith("0" * 20)
    ]
    assert [e["reason"] for e in batch_stale] == ["batch size 8, today 16"]
    assert entries["features", f"vgg19-{'0' * 20}"]["reason"].startswith("key differs from today's vgg19-")
    assert entries["datasets", dataset_key]["description"].startswith("synthetic (n6-s0-j2-px24), 6 images")
    assert set(listed("--kind", "leaderboard")) == {key for key in crafted if key[0] == "leaderboard"}


def test_list_table_has_a_total_per_kind_and_status(crafted):
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert "total features stale: 2 entries" in result.stdout
    assert "total datasets writing: 1 entry" in result.stdout
    assert "total leaderboard current: 1 entry" in result.stdout


def test_clear_stale_keeps_current_and_written_entries(crafted, built, isolated_store):
    _, dataset, _, dataset_key, _ = built
    removable = {key for key, status in crafted.items() if status in ("stale", "incomplete", "orphaned temp")}
    size = sum(e["bytes"] for key, e in listed().items() if key in removable)
    result = invoke("clear", "--stale", "--yes")
    assert result.exit_code == 0, result.output
    assert f"freed {inventory.human_size(size)} in {len(removable)} entries" in result.stdout
    assert set(listed()) == set(crafted) - removable
    assert not list((isolated_store / "cache" / "features").glob(f"*.tmp-{os.getpid()}"))  # none half-removed
    before = backbone_passes()
    features = FeatureSet(dataset, "vgg19", "none", 32).features(LAYER)
    assert backbone_passes() == before and features.shape[0] == len(dataset)
    assert data_cache.load(dataset_key).fingerprint == dataset.fingerprint


def test_clear_all_spares_only_what_is_being_written(crafted):
    result = invoke("clear", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert {key: e["status"] for key, e in listed().items()} == {
        key: status for key, status in crafted.items() if status == "writing"
    }


def test_dry_run_and_declined_confirmation_remove_nothing(crafted, isolated_store):
    before = tree(isolated_store / "cache")
    dry = invoke("clear", "--stale", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing removed" in dry.stdout
    assert f"vgg19-{'1' * 20}" in dry.stdout and "7 entries" in dry.stdout
    declined = invoke("clear", "--kind", "datasets", "--all", input="n\n")
    assert declined.exit_code == 1 and "Remove these 4 entries" in declined.stdout
    assert tree(isolated_store / "cache") == before
    accepted = invoke("clear", "--kind", "datasets", "--all", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert {e["status"] for e in listed("--kind", "datasets").values()} == {"writing"}


def test_interrupted_removal_leaves_no_entry_that_looks_current(crafted, built, isolated_store, monkeypatch):
    _, _, current_name, _, _ = built

    def interrupted(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_listing.shutil, "rmtree", interrupted)
    result = invoke("clear", "--kind", "features", "--all", "--yes")
    assert result.exit_code == 2
    assert "could not remove" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (isolated_store / "cache" / "features" / current_name).exists()
    # renamed to this process's temporary name: "writing" while it lives, "orphaned temp" after
    assert (isolated_store / "cache" / "features" / f"{current_name}.tmp-{os.getpid()}").is_dir()
    assert {e["status"] for e in listed("--kind", "features").values()} == {"writing"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["clear"], "exactly one of --stale"),
        (["clear", "--stale", "--all"], "exactly one of --stale"),
        (["list", "--kind", "thumbnails"], "--kind 'thumbnails' is not one of features, datasets, leaderboard"),
        (["clear", "--stale", "--kind", "models"], "--kind 'models' is not one of"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_store_says_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("FERBENCH_HOME", str(tmp_path / "nowhere"))
    result = invoke("list")
    assert result.exit_code == 2 and "nothing cached" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()  # listing must not create a store


def test_list_imports_no_tensorflow_nor_mlflow(crafted, isolated_store):
    code = (
        "import json, sys\nfrom typer.testing import CliRunner\nfrom ferbench.cli import app\n"
        "result = CliRunner().invoke(app, ['cache', 'list', '--json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert len(json.loads(result.stdout)['entries']) > 10\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'mlflow', 'optuna') if m in sys.modules))\n"
    )
    env = os.environ | {"FERBENCH_HOME": str(isolated_store)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_data_set_whose_source_changed_is_stale(built, crafted, isolated_store):
    template, _, _, dataset_key, source = built
    sidecar = json.loads((template / "datasets" / f"{dataset_key}.json").read_text())
    assert sidecar["cache_version"] == data_cache.CACHE_VERSION
    assert listed("--kind", "datasets")["datasets", dataset_key]["status"] == "current"
    original, stat = source.read_text(), source.stat()
    try:
        source.write_text(original + "0 0 0\n")  # the reader would now hash to another key
        entry = listed("--kind", "datasets")["datasets", dataset_key]
        assert entry["status"] == "stale" and "source" in entry["reason"]
    finally:
        source.write_text(original)
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the shared template's key again


def test_an_extraction_in_progress_is_listed_as_being_written(isolated_store, monkeypatch):
    from ferbench.features import extract

    seen = {}
    real_extract = extract.extract

    def extract_and_look(*args, **kwargs):
        widths = real_extract(*args, **kwargs)  # layers renamed into place, meta not yet written
        seen.update({name: e["status"] for (kind, name), e in listed("--kind", "features").items() if "/" not in name})
        return widths

    monkeypatch.setattr(extract, "extract", extract_and_look)
    features = FeatureSet(generate(n_images=4, seed=1, n_subjects=2, image_size=24), "vgg19", "none", 32)
    features.ensure([LAYER])
    assert seen == {features.directory.name: "writing"}
    assert listed("--kind", "features")["features", features.directory.name]["status"] == "current"
