"""Analyses: occlusion maths on a hand-made model, Nishime's matrix, label mapping, and the real
path through the runner's logged model (synthetic data, the smallest CNN)."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench.analysis import occlusion as occ
from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS


def region_model(region: int, grid: int = 4):
    """Probabilities of 2 classes driven only by the mean brightness of one region: bright -> 1."""
    def predict(images):
        boxes = occ.grid_boxes(images.shape[1], images.shape[2], grid)
        r0, r1, c0, c1 = boxes[region - 1]
        p1 = images[:, r0:r1, c0:c1].reshape(len(images), -1).mean(axis=1) / 255.0
        return np.stack([1 - p1, p1], axis=1)
    return predict


def test_grid_boxes_row_major_and_cover_the_image():
    boxes = occ.grid_boxes(48, 48, 4)
    assert len(boxes) == 16
    assert boxes[9] == (24, 36, 12, 24)           # region 10: third row, second column
    assert boxes[10] == (24, 36, 24, 36)          # region 11
    cover = np.zeros((48, 48), int)
    for r0, r1, c0, c1 in occ.grid_boxes(48, 48, 5):
        cover[r0:r1, c0:c1] += 1
    assert (cover == 1).all()                     # uneven grid: no gap, no overlap
    with pytest.raises(FerbenchError, match="--grid"):
        occ.grid_boxes(48, 48, 0)


def test_parsers_reject_bad_values_and_regions():
    assert occ.parse_values("0,0.5,1") == (0.0, 0.5, 1.0)
    assert occ.parse_regions("11,10", 4) == (10, 11)
    for bad in ("", "a", "1.5", "-0.1"):
        with pytest.raises(FerbenchError, match="--values"):
            occ.parse_values(bad)
    for bad in ("0", "17", "x"):
        with pytest.raises(FerbenchError, match="--keep"):
            occ.parse_regions(bad, 4)


def test_scan_moves_only_the_region_the_model_reads():
    rng = np.random.default_rng(0)
    images = rng.integers(100, 200, size=(10, 48, 48), dtype=np.uint8)
    labels = np.array([1] * 6 + [0] * 4)
    predict = region_model(11)
    result = occ.occlusion_scan(predict, images, labels, ("dark", "bright"), values=(0.0, 1.0),
                                batch_size=64)  # several predict calls of masked variants
    assert result.mean_output.shape == (2, 2, 16, 2)
    assert list(result.counts) == [4, 6]
    change = result.own_class("change")           # [true class, value, region]
    untouched = np.delete(np.arange(16), 10)
    assert np.allclose(change[:, :, untouched], 0.0)
    # class "bright": masking region 11 black removes all of it, white gives the maximum
    assert result.mean_output[1, 0, 10, 1] == pytest.approx(0.0)
    assert result.mean_output[1, 1, 10, 1] == pytest.approx(1.0)
    assert change[0, 0, 10] > 0.3 and change[1, 0, 10] < -0.3
    rows = list(result.rows())
    assert len(rows) == 2 * 2 * 16 * 2 and len(rows[0]) == len(occ.OcclusionResult.CSV_HEADER)


def test_keep_only_masks_everything_else_and_select_is_deterministic():
    images = np.full((3, 48, 48), 128, np.uint8)
    kept = occ.keep_only(images, occ.grid_boxes(48, 48, 4), (10, 11), 0.2)
    assert (kept[:, 24:36, 12:36] == 128).all()
    assert (kept[:, :24] == 51).all() and (kept[:, 36:] == 51).all()
    assert (images == 128).all()                  # input untouched
    proba = np.tile([[0.2, 0.8]], (50, 1))
    labels = np.array([1] * 40 + [0] * 10)
    first = occ.select_correct(proba, labels, 7, seed=3)
    assert len(first) == 7 and (labels[first] == 1).all()
    assert np.array_equal(first, occ.select_correct(proba, labels, 7, seed=3))
    assert len(occ.select_correct(proba, labels, None)) == 40


def test_nishime_matrix_is_reordered_to_canonical_rows_true():
    from ferbench.analysis.confusion import _canonical_matrix, nishime_comparable

    order = ["ne", "ha", "an", "di", "fe", "sa", "su"]
    values = np.eye(7) * 50 + 5
    values[0, 1] = 33                              # true neutral predicted happy
    matrix = _canonical_matrix({"rows": order, "columns": order, "values": values.tolist()})
    assert matrix[EMOTIONS.index("neutral"), EMOTIONS.index("happy")] == pytest.approx(0.33)
    transposed = _canonical_matrix({"rows": order, "columns": order, "values": values.T.tolist(),
                                    "rows_are": "predicted"})
    assert np.allclose(matrix, transposed)
    assert nishime_comparable({"ferbench.dataset": "fer2013", "ferbench.protocol": "official"},
                              EMOTIONS) is None
    assert "kfold" in nishime_comparable({"ferbench.dataset": "fer2013", "ferbench.protocol": "kfold:10"},
                                         EMOTIONS)
    assert "jaffe" in nishime_comparable({"ferbench.dataset": "jaffe"}, EMOTIONS)
