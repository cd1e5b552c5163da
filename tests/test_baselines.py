"""The published-baselines file: schema, coverage of the five papers, and the family links."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import yaml

from ferbench import baselines
from ferbench.errors import FerbenchError
from ferbench.families import registry
from ferbench.labels import EMOTIONS

# Families the papers describe; each must have published numbers in the file.
PAPER_FAMILIES = (
    "vgg19_pca_svm",
    "resnet50_head",
    "nishime_cnn",
    "baseline_cnn",
    "five_layer_cnn",
    "deeper_cnn",
    "vgg16_finetune",
    "vggface_finetune",
    "transfer_vgg16",
    "transfer_inception",
    "transfer_resnet50",
    "transfer_xception",
    "mini_xception",
)


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return baselines.load_all()


def test_every_entry_passes_the_schema(entries):
    assert len(entries) > 100
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        if entry["metric"] == "confusion":
            assert len(entry["matrix"]) == len(entry["labels"])
        else:
            assert 0.0 <= entry["value"] <= 1.0, entry["id"]
        assert entry["family"].startswith("ref:") == bool(entry.get("reference_only"))


def test_every_registered_family_points_into_the_file():
    families = registry.load_all()
    without = baselines.without_numbers()
    for name, cls in families.items():
        published = baselines.for_family(name)
        assert published or name in without, f"family {name} has no baselines and is not listed"
        if published and cls.paper:
            assert cls.paper in {e["paper"] for e in published}, name
    # Every family declared to have no published numbers is registered (a typo would not be).
    for name in without:
        assert name in families, name


@pytest.mark.parametrize("family", PAPER_FAMILIES)
def test_paper_families_have_numbers(family):
    assert baselines.for_family(family)


def test_ravi_table_iii_is_complete(entries):
    ravi = [e for e in entries if e["paper"] == "ravi2019"]
    layers = {e["config"]["layer"] for e in ravi}
    assert layers == {"block1_pool", "block2_pool", "block3_pool", "block4_pool", "block5_pool", "fc1"}
    keys = {(e["dataset"], e["config"]["layer"], e["metric"]) for e in ravi}
    assert len(keys) == len(ravi) == 36
    assert {e["config"]["n_components"] for e in ravi if e["dataset"] == "ckplus"} == {100}
    assert {e["config"]["n_components"] for e in ravi if e["dataset"] == "jaffe"} == {200}
    assert baselines.get("ravi2019.ckplus.block4_pool.ajk")["value"] == pytest.approx(0.9226)
    assert baselines.get("ravi2019.jaffe.block4_pool.test")["selected_on"] == "test"


def test_gong_fold_averages_match_their_folds(entries):
    gong = [e for e in entries if e["paper"] == "gong2020" and e["protocol"] == "kfold:5"]
    groups: dict[tuple, dict] = {}
    for e in gong:
        key = (e["family"], e["variant"], e["config"].get("backbone"), e["config"].get("epochs"))
        groups.setdefault(key, {})[e["split"]] = e["value"]
    with_folds = [g for g in groups.values() if "fold_1" in g]
    assert len(with_folds) == 8  # original, face crop, and 3 depths x 2 epoch settings
    for g in with_folds:
        folds = [g[f"fold_{k}"] for k in range(1, 6)]
        assert statistics.mean(folds) == pytest.approx(g["mean"], abs=0.0006)
    quoted = {e["method"]: e["value"] for e in entries if e["id"].startswith("gong2020.sfew.dhall2011")}
    assert quoted == {"SPI Baseline": 0.19, "LPG": 0.437, "PHOG": 0.463}


def test_nishime_confusion_matches_recalls():
    matrix = baselines.get("nishime2017.fer2013.confusion")
    assert matrix["labels"] == list(EMOTIONS)
    for i, name in enumerate(EMOTIONS):
        assert baselines.get(f"nishime2017.fer2013.recall.{name}")["value"] == matrix["matrix"][i][i]
    assert baselines.get("nishime2017.fer2013.accuracy")["value"] == pytest.approx(0.5702)
    masked = baselines.select(paper="nishime2017", metric="confusion")
    assert len(masked) == 3


def test_raghuvanshi_and_survey_tables(entries):
    rag = {(e["family"], e["metric"]) for e in entries if e["paper"] == "raghuvanshi2016" and "config" not in e}
    # Table 3 has 11 numbers; the dashes are absent.
    assert len(rag) == 11
    assert ("vgg16_finetune", "test_accuracy") not in rag
    survey = [e for e in entries if e["paper"] == "survey_transfer"]
    assert len(survey) == 8 and all(e["protocol"] == "unknown" for e in survey)


def test_peers_carry_their_caveats(entries):
    by_id = {e["id"]: e for e in entries}
    assert by_id["arriaga2017.fer2013.mini_xception"]["selected_on"] == "test"
    assert by_id["wujie_fer_pytorch.fer2013.vgg19"]["selected_on"] == "test"
    assert by_id["tang2013.fer2013.private_lb"]["value"] == pytest.approx(0.7116)
    assert by_id["khaireddin2021.fer2013.vggnet"]["value"] == pytest.approx(0.7328)
    assert by_id["goodfellow2013.fer2013.human"]["reference_only"] is True


DROP = object()  # marks a field the bad entry leaves out


def _write(tmp_path: Path, entry: dict, name: str = "published.yaml") -> Path:
    good = {
        "id": "x.y",
        "family": "five_layer_cnn",
        "paper": "p",
        "dataset": "fer2013",
        "variant": "v",
        "split_sizes": {"train": 10, "val": 2, "test": 2},
        "protocol": "official",
        "subject_independent": None,
        "split": "test",
        "selected_on": "val",
        "tta": False,
        "extra_data": False,
        "metric": "test_accuracy",
        "value": 0.5,
        "source": "T1",
    }
    merged = {k: v for k, v in {**good, **entry}.items() if v is not DROP}
    document = {"schema": 1, "papers": {"p": {"citation": "c"}}, "groups": [{"common": {}, "entries": [merged]}]}
    path = tmp_path / name  # the loader caches by path
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        ({"value": 57.02}, "fraction"),
        ({"paper": "nobody"}, "paper"),
        ({"protocol": "10-fold"}, "protocol"),
        ({"split": "holdout"}, "split"),
        ({"family": "ref:human"}, "reference_only"),
        ({"tta": "maybe"}, "tta"),
        ({"colour": "red"}, "unknown field"),
        ({"metric": "confusion", "value": DROP}, "labels"),
        (
            {"metric": "confusion", "value": DROP, "labels": ["a", "b"], "rows": True, "matrix": [[0.5, 0.5], [0.2]]},
            "matrix",
        ),
        ({"split_sizes": DROP}, "missing field.*split_sizes"),
        ({"split_sizes": {"train": 10, "holdout": 2}}, "split_sizes"),
        ({"split_sizes": {"all": 10, "test": 2}}, "split_sizes"),
        ({"split_sizes": {"all": 0}}, "split_sizes"),
        ({"split_sizes": {"all": True}}, "split_sizes"),
        ({"split_sizes": {}}, "split_sizes"),
        ({"split_sizes": 213}, "split_sizes"),
        ({"classes": 1}, "classes"),
        ({"classes": ["happy", "happy"]}, "classes"),
        ({"classes": "happy,sad"}, "classes"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": "10"}, "epochs"),
        ({"epochs": 10, "config": {"epochs": 20}}, "differs from config epochs"),
    ],
)
def test_schema_rejects_bad_entries(tmp_path, change, message):
    path = _write(tmp_path, change)
    with pytest.raises(FerbenchError, match=message):
        baselines.load_all(path)


def test_good_custom_file_loads(tmp_path):
    path = _write(tmp_path, {})
    assert baselines.load_all(path)[0]["value"] == 0.5
    path = _write(
        tmp_path, {"split_sizes": {"all": 213}, "classes": 8, "epochs": 10, "config": {"epochs": 10}}, "second.yaml"
    )
    assert baselines.load_all(path)[0]["split_sizes"] == {"all": 213}
    path = _write(tmp_path, {"split_sizes": None, "classes": list(EMOTIONS)}, "third.yaml")
    assert baselines.load_all(path)[0]["split_sizes"] is None


FER2013_OFFICIAL = {"train": 28709, "val": 3589, "test": 3589}


def test_entries_state_their_data_variant_and_budget(entries):
    by_id = {e["id"]: e for e in entries}
    for entry in entries:  # every entry that could be compared states its data and label space
        if entry["protocol"] != "unknown" and not entry.get("reference_only"):
            assert entry["split_sizes"] and entry["classes"], entry["id"]
    for paper in ("raghuvanshi2016", "nishime2017", "arriaga2017"):
        assert {str(e["split_sizes"]) for e in entries if e["paper"] == paper} == {str(FER2013_OFFICIAL)}
    assert {e["split_sizes"]["all"] for e in entries if e["paper"] == "ravi2019" and e["dataset"] == "ckplus"} == {210}
    # JAFFE: the paper's denominators (1/166 train, 1/42 test) are an 80/20 split of 208 images
    assert {e["split_sizes"]["all"] for e in entries if e["paper"] == "ravi2019" and e["dataset"] == "jaffe"} == {208}
    assert by_id["ravi2019.ckplus.block4_pool.test"]["classes"] == list(EMOTIONS)  # no contempt
    assert {e["epochs"] for e in entries if e["paper"] == "raghuvanshi2016"} == {10}
    assert all("epochs" not in e for e in entries if e["paper"] == "nishime2017")
    assert by_id["gong2020.sfew.facecrop.table4"]["config"]["epochs"] == 100
    assert by_id["ravi2019.ckplus.block4_pool.test"]["selected_on"] == "test"
