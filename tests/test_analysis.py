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
    assert boxes[9] == (24, 36, 12, 24)  # region 10: third row, second column
    assert boxes[10] == (24, 36, 24, 36)  # region 11
    cover = np.zeros((48, 48), int)
    for r0, r1, c0, c1 in occ.grid_boxes(48, 48, 5):
        cover[r0:r1, c0:c1] += 1
    assert (cover == 1).all()  # uneven grid: no gap, no overlap
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
    result = occ.occlusion_scan(
        predict, images, labels, ("dark", "bright"), values=(0.0, 1.0), batch_size=64
    )  # several predict calls of masked variants
    assert result.mean_output.shape == (2, 2, 16, 2)
    assert list(result.counts) == [4, 6]
    change = result.own_class("change")  # [true class, value, region]
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
    assert (images == 128).all()  # input untouched
    proba = np.tile([[0.2, 0.8]], (50, 1))
    labels = np.array([1] * 40 + [0] * 10)
    first = occ.select_correct(proba, labels, 7, seed=3)
    assert len(first) == 7 and (labels[first] == 1).all()
    assert np.array_equal(first, occ.select_correct(proba, labels, 7, seed=3))
    assert len(occ.select_correct(proba, labels, None)) == 40


def test_nishime_matrix_is_reordered_to_canonical_rows_true():
    from ferbench.analysis.confusion import _canonical_matrix, nishime_comparable, nishime_published

    order = ["ne", "ha", "an", "di", "fe", "sa", "su"]
    values = np.eye(7) * 50 + 5
    values[0, 1] = 33  # true neutral predicted happy
    matrix = _canonical_matrix({"labels": order, "rows": True, "matrix": values.tolist()})
    assert matrix[EMOTIONS.index("neutral"), EMOTIONS.index("happy")] == pytest.approx(0.33)
    transposed = _canonical_matrix({"labels": order, "matrix": values.T.tolist(), "rows": "predicted"})
    assert np.allclose(matrix, transposed)
    with pytest.raises(FerbenchError, match="labels"):
        _canonical_matrix({"labels": order[:3], "matrix": values.tolist()})
    # the baselines file: Table 2 (rows sum to ~1, happy recall 76.2 %) and the keep-only Table 3
    table2, table3 = nishime_published(), nishime_published((11, 10))
    assert np.allclose(table2["matrix"].sum(axis=1), 1.0, atol=0.01)
    assert table2["matrix"][3, 3] == pytest.approx(0.762)
    assert table3["matrix"][3, 3] == pytest.approx(0.5977) and nishime_published((1, 2)) is None
    assert nishime_comparable({"ferbench.dataset": "fer2013", "ferbench.protocol": "official"}, EMOTIONS) is None
    assert "kfold" in nishime_comparable({"ferbench.dataset": "fer2013", "ferbench.protocol": "kfold:10"}, EMOTIONS)
    assert "jaffe" in nishime_comparable({"ferbench.dataset": "jaffe"}, EMOTIONS)


def test_confusion_figure_panels_share_one_percent_scale_with_readable_cell_text():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ferbench.analysis.confusion import confusion_figure

    ours = np.array([[0.9, 0.1, 0.0], [0.224, 0.3, 0.476], [0.0, 0.0, 1.0]])
    fig = confusion_figure(ours, ["a", "b", "c"], "ours", np.eye(3), "theirs")
    left, right = fig.axes
    assert [ax.images[0].get_clim() for ax in (left, right)] == [(0, 100), (0, 100)]
    cells = {t.get_text(): t.get_color() for t in left.texts}
    assert list(cells) == ["90", "10", "0", "22", "30", "48", "100"]
    assert cells["90"] == cells["100"] == "white" and cells["48"] == cells["22"] == "black"
    assert (left.get_xlabel(), left.get_ylabel(), left.get_title()) == ("predicted", "true", "ours")
    assert [t.get_text() for t in right.get_xticklabels()] == ["a", "b", "c"]
    plt.close(fig)


# --- the real path: runner -> logged model -> analysis -------------------------------------------
def _tiny_fer2013_run(family: str, tmp_path, **run_kwargs):
    """A 210-row fer2013.csv (blobs per class, official Training/PublicTest/PrivateTest usage),
    trained under the official protocol, the data path recorded on the run."""
    from ferbench import runner
    from ferbench.data.readers import load_dataset
    from ferbench.testing import tiny_dataset

    blobs = tiny_dataset(210, splits=True)
    usage = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
    lines = ["emotion,pixels,Usage"] + [
        f"{label},{' '.join(map(str, image.ravel()))},{usage[split]}"
        for image, label, split in zip(blobs.images, blobs.labels, blobs.splits, strict=True)
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    data = load_dataset("fer2013", path)
    result = runner.run(
        family, data, protocol="official", quiet=True, extra_tags={"ferbench.data_path": str(path)}, **run_kwargs
    )
    return data, result


def _artifacts(run_id: str, folder: str) -> set[str]:
    from mlflow.tracking import MlflowClient

    from ferbench.store import mlflow_tracking_uri

    client = MlflowClient(mlflow_tracking_uri())
    return {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run_id, folder)}


def test_confusion_and_occlusion_of_a_logged_run(tiny_family, isolated_store, tmp_path):
    from ferbench.analysis import open_run
    from ferbench.analysis.confusion import analyze_confusion
    from ferbench.analysis.occlusion import analyze_occlusion

    data, result = _tiny_fer2013_run(tiny_family.name, tmp_path, epochs=2)
    target = open_run(result.run_id)
    assert target.dataset.fingerprint == data.fingerprint
    assert len(target.test) == 42 and len(target.val) == 21  # PrivateTest, PublicTest
    summary = analyze_confusion(target)
    assert summary["accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    assert summary["recall"]["happy"] == pytest.approx(result.metrics["test_recall_happy"])
    assert np.allclose(summary["rates"].sum(axis=1), 1.0)
    # FER-2013 + official: beside Nishime's Table 2, on PublicTest (the paper's split, our val)
    assert summary["nishime"], summary["why_not"]
    assert {
        "confusion_normalized.csv",
        "confusion_normalized.png",
        "per_class_recall.png",
        "vs_nishime.csv",
        "vs_nishime.png",
    } <= _artifacts(result.run_id, "analysis/confusion")

    occ_summary = analyze_occlusion(
        target, grid=4, values=(0.0, 1.0), keeps=((10, 11), (2, 3)), max_images=12, batch_size=100
    )
    assert occ_summary["n_used"] == min(12, occ_summary["n_correct"]) > 0
    files = _artifacts(result.run_id, "analysis/occlusion")
    assert {
        "occlusion.csv",
        "keep_10_11_confusion.csv",
        "keep_10_11_confusion.png",
        "README.txt",
        "keep_10_11_vs_nishime.png",
        "keep_2_3_confusion.csv",
    } <= files
    assert "keep_2_3_vs_nishime.png" not in files  # the paper has no such table
    assert occ_summary["keep"]["10_11"]["nishime"] == "Table 3"
    assert {"lines_per_class.png", "heatmaps_per_class.png"} <= files
    # the scan's unmasked baseline is the model's own output on those images
    res = occ_summary["result"]
    assert res.mean_output.shape == (7, 2, 16, 7)
    assert np.all(res.baseline[res.counts > 0].argmax(axis=1) == np.flatnonzero(res.counts > 0))

    # bad input on the same store: changed data, a run without a model, an unknown id
    from mlflow.tracking import MlflowClient

    from ferbench.store import mlflow_tracking_uri

    client = MlflowClient(mlflow_tracking_uri())
    client.set_tag(result.run_id, "ferbench.fingerprint", "0" * 16)
    with pytest.raises(FerbenchError, match="fingerprint"):
        open_run(result.run_id)
    bare = client.create_run(client.get_run(result.run_id).info.experiment_id).info.run_id
    with pytest.raises(FerbenchError, match="no loadable"):
        open_run(bare)
    with pytest.raises(FerbenchError, match="unknown run id"):
        open_run("0123456789abcdef0123456789abcdef")


def test_run_without_data_path_asks_for_path():
    from ferbench.analysis import dataset_for_run

    with pytest.raises(FerbenchError, match="ferbench.data_path.*--path"):
        dataset_for_run({"ferbench.dataset": "fer2013"}, {})
    with pytest.raises(FerbenchError, match="--dataset"):
        dataset_for_run({}, {})
    rebuilt = dataset_for_run(
        {"ferbench.dataset": "synthetic", "ferbench.data_options": '{"n_images": 30, "n_subjects": 3}'}, {}
    )
    assert len(rebuilt) == 30


def test_cross_dataset_label_mapping_and_scores():
    from ferbench.analysis.cross_dataset import cross_scores, eval_part, label_map
    from ferbench.data.dataset import FaceDataset

    images = np.zeros((4, 8, 8), np.uint8)
    seven = FaceDataset(images, [0, 3, 3, 6], name="seven")
    reordered = FaceDataset(images, [0, 1, 1, 2], class_names=("neutral", "happiness", "angry"), name="ro")
    assert list(label_map(EMOTIONS, reordered, "seven")) == [6, 3, 0]
    with_contempt = FaceDataset(images, [7, 0, 1, 2], class_names=EMOTIONS + ("contempt",), name="ck")
    with pytest.raises(FerbenchError, match="contempt.*no output"):
        label_map(EMOTIONS, with_contempt, "fer2013")
    odd = FaceDataset(images, [0, 0, 0, 0], class_names=("smirk",), name="folder")
    with pytest.raises(FerbenchError, match="smirk.*canonical"):
        label_map(EMOTIONS, odd, "fer2013")
    assert len(label_map(EMOTIONS + ("contempt",), seven, "ck")) == 7  # 8-class model on 7 classes

    proba = np.eye(7)[[0, 3, 5, 6]]  # predicts angry, happy, surprise, neutral
    score = cross_scores(seven.labels, proba, list(EMOTIONS))
    assert score["accuracy"] == pytest.approx(0.75)
    # present classes: angry 1/1, happy 1/2, neutral 1/1 -> macro recall over 3 classes, not 7
    assert score["macro_recall"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert score["absent"] == ["disgust", "fear", "sad", "surprise"]
    split = FaceDataset(images, [0, 1, 2, 3], splits=["train", "train", "test", "test"], name="s")
    part, where = eval_part(split)
    assert list(part.index) == [2, 3] and where == "test split"
    assert len(eval_part(seven)[0]) == 4
    from ferbench.analysis.cross_dataset import conform

    colour = np.zeros((2, 96, 64, 3), np.uint8)
    colour[..., 1] = 200
    grey = conform(colour, (48, 48))
    assert grey.shape == (2, 48, 48) and grey.dtype == np.uint8 and 100 < grey.mean() < 150
    assert conform(grey, (24, 24, 3)).shape == (2, 24, 24, 3)
    assert conform(grey, (48, 48)) is grey
