"""JAFFE (incl. a palette TIFF) and CK+ (original tree with Emotion files and an RGB frame; CK+48)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.data.readers import load_dataset
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT

runner = CliRunner()


def test_jaffe_names_give_subject_and_expression_and_palette_becomes_grey(jaffe_dir):
    dataset = load_dataset("jaffe", jaffe_dir)
    assert dataset.images.shape == (7, 32, 32) and dataset.images.dtype == np.uint8
    assert dataset.subjects.tolist() == ["KA", "KA", "KM", "KM", "TM", "TM", "TM"]
    assert [dataset.class_names[c] for c in dataset.labels] == [
        "angry",
        "happy",
        "neutral",
        "surprise",
        "disgust",
        "fear",
        "sad",
    ]
    # The palette file (KA.HA2.30) decodes to the grey values it was written from.
    from conftest import write_image

    expected = write_image(jaffe_dir.parent / "probe.png", 101, size=(32, 32))
    assert np.abs(dataset.images[1].astype(int) - expected).max() <= 8
    assert any("README" in w for w in dataset.warnings)


def test_jaffe_name_that_does_not_parse_is_an_error(jaffe_dir):
    bad = jaffe_dir / "KA_smile_01.tiff"
    bad.write_bytes((jaffe_dir / "KA.AN1.39.tiff").read_bytes())
    result = runner.invoke(app, ["datasets", "describe", "jaffe", "--path", str(jaffe_dir)])
    assert result.exit_code == 2 and str(bad) in result.output and "does not parse" in result.output


def test_ck_original_takes_last_frames_of_labelled_sequences(ck_original):
    dataset = load_dataset("ckplus", ck_original)
    assert dataset.variant == "original" and dataset.options["contempt"] == "drop"
    # 3 labelled non-contempt sequences x 3 frames; the unlabelled sequence is not read.
    assert len(dataset) == 9 and dataset.class_names == EMOTIONS
    assert dataset.class_counts()["angry"] == 3 and dataset.class_counts()["happy"] == 3
    assert dataset.subjects.tolist() == ["S005"] * 3 + ["S010"] * 6
    assert dataset.image_shape == (30, 40)  # the RGB frame became grey
    assert any("contempt" in w for w in dataset.warnings)


def test_ck_contempt_kept_as_eighth_class_and_first_frame_neutral(ck_original):
    dataset = load_dataset("ckplus", ck_original, contempt="keep", ck_frames=2, ck_first_neutral=True)
    assert dataset.class_names == EMOTIONS_WITH_CONTEMPT
    counts = dataset.class_counts()
    assert counts["contempt"] == 2 and counts["neutral"] == 4 and len(dataset) == 12
    assert dataset.options == {"contempt": "keep", "ck_frames": 2, "ck_first_neutral": True}


def test_ck48_is_detected_with_subjects(ck48):
    dataset = load_dataset("ckplus", ck48)
    assert dataset.variant == "ck+48" and len(dataset) == 18
    assert Counter(dataset.subjects.tolist()) == {"S011": 9, "S022": 9}
    kept = load_dataset("ckplus", ck48, contempt="keep")
    assert kept.class_counts()["contempt"] == 6 and kept.fingerprint != dataset.fingerprint


def test_ck_emotion_file_with_unknown_code_is_an_error(ck_original):
    label = next((ck_original / "Emotion").rglob("*_emotion.txt"))
    label.write_text("   9.0000000e+00\n")
    result = runner.invoke(app, ["datasets", "describe", "ckplus", "--path", str(ck_original)])
    assert result.exit_code == 2 and str(label) in result.output and "unknown emotion code" in result.output


def test_ck_describe_json_counts_subjects(ck_original):
    result = runner.invoke(app, ["datasets", "describe", "ckplus", "--path", str(ck_original), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["subjects"] == 2 and report["splits"] == {} and report["n_images"] == 9


def test_ck_bad_options_are_errors(ck_original):
    with pytest.raises(FerbenchError, match="contempt must be"):
        load_dataset("ckplus", ck_original, contempt="maybe")
    with pytest.raises(FerbenchError, match="ck_frames"):
        load_dataset("ckplus", ck_original, ck_frames=0)
