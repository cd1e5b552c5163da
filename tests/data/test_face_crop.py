"""Face crops: what is found, kept or dropped, and refused input."""

import dataclasses

import numpy as np
import pytest

from ferbench.data.face_crop import crop_faces
from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError


def test_crop_faces_reports_and_modes():
    faces = generate(40, seed=0, image_size=96)
    # faces on a larger plain canvas, so a crop is visibly smaller than the picture
    canvas = np.pad(faces.images, ((0, 0), (32, 32), (40, 24)), mode="edge")
    data = dataclasses.replace(faces, images=canvas)
    kept, report = crop_faces(data, on_miss="keep")
    assert report["found"] + report["missed"] == report["n_images"] == 40
    assert report["kept_uncropped"] == report["missed"] and report["dropped"] == 0
    assert len(kept) == 40 and kept.images.shape == data.images.shape
    assert report["found"] > 0  # the Haar cascade finds some procedural faces
    found = np.setdiff1d(np.arange(40), report["missed_index"])
    # a found face is cropped then resized back: it no longer shows the canvas border
    assert all(not np.array_equal(kept.images[i], data.images[i]) for i in found)
    missed = report["missed_index"]
    assert all(np.array_equal(kept.images[i], data.images[i]) for i in missed)  # same size: untouched
    assert kept.options["face_crop"].startswith("haar:keep") and kept.warnings
    assert kept.fingerprint != data.fingerprint
    dropped, report2 = crop_faces(data, on_miss="drop", size=64)
    assert report2["found"] == report["found"] and report2["dropped"] == report["missed"]
    assert len(dropped) == report["found"] and dropped.images.shape[1:] == (64, 64)
    assert np.array_equal(dropped.labels, data.labels[found])
    assert np.array_equal(dropped.subjects, data.subjects[found])
    again, _ = crop_faces(data, on_miss="keep")
    assert np.array_equal(again.images, kept.images)  # deterministic


def test_crop_faces_bad_input():
    data = generate(7, seed=0)
    with pytest.raises(FerbenchError, match="on_miss"):
        crop_faces(data, on_miss="skip")
    with pytest.raises(FerbenchError, match="detector"):
        crop_faces(data, detector="mtcnn")
    with pytest.raises(FerbenchError, match="margin"):
        crop_faces(data, margin=-0.5)
    blank = generate(7, seed=0)
    blank.images[:] = 0
    with pytest.raises(FerbenchError, match="no face found"):
        crop_faces(blank, on_miss="drop")
