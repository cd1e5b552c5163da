"""FER-2013: CSV release and folder layout (with and without Usage prefixes), detection, bad input."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.data.readers import load_dataset
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS

runner = CliRunner()


def describe(*args):
    return runner.invoke(app, ["datasets", "describe", *args])


def test_csv_release_reads_pixels_labels_and_usage(fer_csv):
    dataset = load_dataset("fer2013", fer_csv)
    assert dataset.variant == "csv" and dataset.images.shape == (12, 48, 48)
    assert dataset.images.dtype == np.uint8 and dataset.subjects is None
    assert Counter(dataset.splits.tolist()) == {"train": 7, "val": 2, "test": 3}
    assert dataset.labels.tolist() == [i % 7 for i in range(12)]
    first = fer_csv.read_text().splitlines()[1].split(",")[1].split()
    assert dataset.images[0].ravel().tolist() == [int(v) for v in first]


def test_folder_holding_the_csv_is_detected_as_csv(fer_csv):
    assert load_dataset("fer2013", fer_csv.parent).variant == "csv"


def test_folder_layout_recovers_three_way_split_from_prefixes(fer_folder):
    dataset = load_dataset("fer2013", fer_folder)
    assert dataset.variant == "folder" and dataset.image_shape == (48, 48)
    assert Counter(dataset.splits.tolist()) == {"train": 14, "val": 14, "test": 14}
    assert dataset.class_counts() == {name: 6 for name in EMOTIONS}


def test_folder_without_prefixes_falls_back_to_train_test(fer_folder):
    for path in list(fer_folder.rglob("*.jpg")):
        path.rename(path.with_name(path.name.split("_", 1)[1]))
    dataset = load_dataset("fer2013", fer_folder)
    assert Counter(dataset.splits.tolist()) == {"train": 14, "test": 28}
    assert dataset.variant == "folder-no-prefix"


def test_describe_json_is_one_object_with_the_agreed_keys(fer_folder):
    result = describe("fer2013", "--path", str(fer_folder), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_images"] == 42 and report["splits"] == {"train": 14, "val": 14, "test": 14}
    assert report["subjects"] is None and report["image_shape"] == [48, 48]
    assert set(report["classes"]) == set(EMOTIONS) and len(report["fingerprint"]) == 16


def _bad_csv(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, problem",
    [
        ("emotion,image,Usage\n0,1 2,Training\n", "expected columns emotion,pixels,Usage"),
        ("emotion,pixels,Usage\n0," + " ".join(["7"] * 2303) + ",Training\n", "2303 values, expected 2304"),
        ("emotion,pixels,Usage\n0," + " ".join(["7"] * 2303) + " x,Training\n", "not a whole number"),
        ("emotion,pixels,Usage\n9," + " ".join(["7"] * 2304) + ",Training\n", "unknown emotion code '9'"),
        ("emotion,pixels,Usage\n1," + " ".join(["7"] * 2304) + ",Somewhere\n", "unknown Usage"),
    ],
)
def test_bad_csv_is_one_line_naming_the_file(tmp_path, text, problem):
    path = _bad_csv(tmp_path, text)
    result = describe("fer2013", "--path", str(path))
    assert result.exit_code == 2
    assert problem in result.output and str(path) in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_image_stops_and_skip_corrupt_reports_it(fer_folder, damage):
    bad = fer_folder / "train" / "happy" / "Training_99999999.jpg"
    if damage == "garbage":
        bad.write_bytes(b"\xff\xd8 not really a jpeg")
    else:  # a real JPEG cut in half: a decoder must not fill the rest with grey silently
        whole = next(fer_folder.rglob("*.jpg")).read_bytes()
        bad.write_bytes(whole[: len(whole) // 2])
    result = describe("fer2013", "--path", str(fer_folder))
    assert result.exit_code == 2 and str(bad) in result.output and "corrupt" in result.output
    result = describe("fer2013", "--path", str(fer_folder), "--data-option", "skip_corrupt=true", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_images"] == 42
    assert any("skipped 1 corrupt" in w and bad.name in w for w in report["warnings"])


def test_empty_class_folder_and_unknown_layout_and_missing_path(fer_folder, tmp_path):
    empty = fer_folder / "test" / "fear"
    for path in empty.iterdir():
        path.unlink()
    result = describe("fer2013", "--path", str(fer_folder))
    assert result.exit_code == 2 and str(empty) in result.output and "no images" in result.output

    other = tmp_path / "elsewhere"
    (other / "cats").mkdir(parents=True)
    result = describe("fer2013", "--path", str(other))
    assert result.exit_code == 2 and "matches no FER-2013 layout" in result.output

    result = describe("fer2013", "--path", str(tmp_path / "absent"))
    assert result.exit_code == 2 and "absent: path does not exist" in result.output


def test_unknown_reader_and_option_are_errors(fer_csv):
    with pytest.raises(FerbenchError, match="unknown data set 'mnist'"):
        load_dataset("mnist", fer_csv)
    with pytest.raises(FerbenchError, match="has no option n_images"):
        load_dataset("fer2013", fer_csv, n_images=3)


@pytest.mark.real_data
def test_real_fer2013_has_the_canonical_counts(real_fer2013):
    result = describe("fer2013", "--path", str(real_fer2013), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["splits"] == {"train": 28709, "val": 3589, "test": 3589}
    assert report["classes"] == {
        "angry": 4953,
        "disgust": 547,
        "fear": 5121,
        "happy": 8989,
        "sad": 6077,
        "surprise": 4002,
        "neutral": 6198,
    }
    assert report["image_shape"] == [48, 48] and report["subjects"] is None


def test_describe_reports_split_statistics_and_warns_on_blurred_training_images(fer_folder):
    from PIL import Image, ImageFilter

    result = describe("fer2013", "--path", str(fer_folder), "--json")
    report = json.loads(result.output)
    assert list(report["split_statistics"]) == ["train", "val", "test"]
    assert not any("sharpness" in w for w in report["warnings"])
    for path in (fer_folder / "train").rglob("*.jpg"):  # a degraded copy's defect, made on purpose
        Image.open(path).filter(ImageFilter.GaussianBlur(3)).save(path)
    result = describe("fer2013", "--path", str(fer_folder))
    assert result.exit_code == 0, result.output
    assert "the training images are the blurrier ones" in result.output
