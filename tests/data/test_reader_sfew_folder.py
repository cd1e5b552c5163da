"""SFEW (Train/ Val/ colour) and the generic ImageFolder reader with a class map."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.data.readers import load_dataset
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS

runner = CliRunner()


def test_sfew_train_val_is_the_official_split_in_colour(sfew_dir):
    dataset = load_dataset("sfew", sfew_dir)
    assert dataset.images.shape == (21, 24, 36, 3) and dataset.images.dtype == np.uint8
    assert Counter(dataset.splits.tolist()) == {"train": 14, "val": 7}
    assert dataset.class_counts() == {name: 3 for name in EMOTIONS} and dataset.subjects is None


def test_sfew_without_split_folders_has_no_splits(sfew_dir):
    dataset = load_dataset("sfew", sfew_dir / "Train")
    assert dataset.splits is None and len(dataset) == 14


def test_sfew_folder_matching_no_layout(tmp_path):
    (tmp_path / "holiday" / "beach").mkdir(parents=True)
    result = runner.invoke(app, ["datasets", "describe", "sfew", "--path", str(tmp_path / "holiday")])
    assert result.exit_code == 2 and "matches no SFEW layout" in result.output


@pytest.fixture
def mapped_folder(tmp_path, sfew_dir):
    root = tmp_path / "mine"
    for src, dst in (("Happy", "happy_face"), ("Sad", "sad_face")):
        shutil.copytree(sfew_dir / "Train" / src, root / dst)
    return root


def test_folder_reader_uses_the_class_map(mapped_folder):
    dataset = load_dataset("folder", mapped_folder, class_map="happy_face=happy, sad_face=sad")
    assert dataset.class_counts()["happy"] == 2 and dataset.class_counts()["sad"] == 2
    assert dataset.images.ndim == 4  # colour files stay colour
    grey = load_dataset("folder", mapped_folder, class_map="happy_face=happy,sad_face=sad", colour=False)
    assert grey.images.ndim == 3 and grey.fingerprint != dataset.fingerprint


def test_folder_without_map_needs_emotion_names(mapped_folder):
    result = runner.invoke(app, ["datasets", "describe", "folder", "--path", str(mapped_folder)])
    assert result.exit_code == 2 and "happy_face" in result.output and "class map" in result.output
    result = runner.invoke(
        app,
        ["datasets", "describe", "folder", "--path", str(mapped_folder), "--data-option", "class_map=happy_face=joy"],
    )
    assert result.exit_code == 2 and "happy_face=joy" in result.output


def test_folder_with_split_level_and_json(sfew_dir, tmp_path):
    root = tmp_path / "split"
    shutil.copytree(sfew_dir / "Train", root / "train")
    shutil.copytree(sfew_dir / "Val", root / "test")
    result = runner.invoke(app, ["datasets", "describe", "folder", "--path", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["splits"] == {"train": 14, "test": 7}


def test_folder_with_image_size_resizes(mapped_folder):
    dataset = load_dataset("folder", mapped_folder, class_map={"happy_face": "happy", "sad_face": "sad"}, image_size=16)
    assert dataset.image_shape == (16, 16, 3) and dataset.options["image_size"] == 16
    with pytest.raises(FerbenchError, match="image_size"):
        load_dataset("folder", mapped_folder, image_size=3)


def test_a_cached_read_is_listed_current_until_its_source_changes(mapped_folder, tmp_path, monkeypatch):
    from ferbench import inventory

    monkeypatch.setenv("FERBENCH_HOME", str(tmp_path / "store"))
    load_dataset("folder", mapped_folder, class_map="happy_face=happy, sad_face=sad")  # options hashed too
    [entry] = [e for e in inventory.inventory(("datasets",))]
    assert entry.status == "current", entry.reason
    next(p for p in mapped_folder.rglob("*") if p.is_file()).write_bytes(b"changed")
    [entry] = [e for e in inventory.inventory(("datasets",))]
    assert entry.status == "stale"
