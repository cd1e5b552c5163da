"""Feature cache (one backbone pass, reused), streamed Gram matrix and fold-exact Gram PCA."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError
from ferbench.features import backbone_passes, cache, feature_set
from ferbench.features.gram_pca import GramPCA


def test_gram_pca_equals_sklearn_on_each_fold(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(50, 900)) * np.linspace(4, 0.1, 900) + rng.normal(size=900)).astype(np.float16)
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(cache, "GRAM_BLOCK_BYTES", 50 * 8 * 128)  # several column blocks
    gram = cache.streamed_gram(tmp_path / "x.npy")
    xf = x.astype(np.float64)
    np.testing.assert_allclose(gram, xf @ xf.T, rtol=1e-10)
    pca = GramPCA(gram)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(50)
        train, test = np.sort(order[:38]), order[38:]
        for whiten in (False, True):
            ref = PCA(12, whiten=whiten, svd_solver="full").fit(xf[train])
            fold = pca.fold(train, 12)
            ours_train, ref_train = fold.train_scores(12, whiten), ref.transform(xf[train])
            signs = np.sign((ours_train * ref_train).sum(axis=0))
            assert np.all(np.abs(signs) == 1)  # no component of ours is orthogonal to sklearn's
            # ours follow one sign rule: each component's largest-magnitude training score is positive
            peaks = ours_train[np.abs(ours_train).argmax(axis=0), np.arange(ours_train.shape[1])]
            assert np.all(peaks > 0), peaks
            np.testing.assert_allclose(ours_train, ref_train * signs, atol=1e-6 * np.abs(ref_train).max())
            ref_test = ref.transform(xf[test]) * signs
            np.testing.assert_allclose(
                fold.scores(gram, test, 12, whiten), ref_test, atol=1e-6 * np.abs(ref_test).max()
            )
        mean, components = fold.components(cache.column_blocks(tmp_path / "x.npy", fold.train_index, np.float64), 12)
        np.testing.assert_allclose(mean, ref.mean_, atol=1e-9)
        np.testing.assert_allclose(components, ref.components_ * signs[:, None], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_blocks_widen_float16_to_the_same_values_as_numpy(tmp_path, monkeypatch, dtype):
    every = np.arange(2**16, dtype=np.uint16).view(np.float16)  # subnormals, -0.0, inf and NaN included
    x = np.concatenate([every, every[::-1]]).reshape(4, -1)
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(cache, "GRAM_BLOCK_BYTES", 4 * 8 * 1000)  # several column blocks
    for rows in (None, np.array([3, 0])):
        blocks = [block for _, block in cache.column_blocks(tmp_path / "x.npy", rows, dtype=dtype)]
        assert len(blocks) > 1 and all(block.dtype == dtype for block in blocks)
        ours = np.concatenate(blocks, axis=1)
        expected = (x if rows is None else x[rows]).astype(dtype)
        assert ours.tobytes() == expected.tobytes()  # bit for bit, NaN payloads and signs of zero too


def test_pca_size_beyond_training_rows_is_one_line_error():
    gram = np.eye(10) + 1.0
    with pytest.raises(FerbenchError, match=r"n_components 9 .* 9 training rows give at most 8"):
        GramPCA(gram).fold(np.arange(9), 9)


def test_second_run_does_no_backbone_pass():
    from ferbench.families.registry import get

    dataset = generate(n_images=21, seed=0, n_subjects=3, image_size=24)
    cls = get("vgg19_pca_svm")
    params = dict(weights="none", input_size=32, layer="block5_pool", n_components=4)
    before = backbone_passes()
    cls(**params).fit(dataset.part(np.arange(14)))
    assert backbone_passes() == before + 1
    cache._kept_set.cache_clear()  # a new process: only the disk cache remains
    family = cls(**{**params, "layer": "block5_pool", "n_components": 3, "C": 0.1}).fit(dataset.part(np.arange(7, 21)))
    family.predict_proba(dataset.part(np.arange(7)))
    assert backbone_passes() == before + 1


def test_all_layers_in_one_pass_float16_on_disk():
    dataset = generate(n_images=10, seed=1, n_subjects=2, image_size=24)
    fs = feature_set(dataset, "vgg19", "none", 32)
    before = backbone_passes()
    fs.ensure(["block1_pool", "block3_pool", "fc1"])
    assert backbone_passes() == before + 1
    features = fs.features("block1_pool")
    assert features.dtype == np.float16 and features.shape == (10, 16 * 16 * 64)
    assert isinstance(features, np.memmap)
    assert fs.features("fc1").shape == (10, 4096)
    assert not list(fs.directory.glob("*.tmp-*"))


def test_stored_features_are_the_float32_outputs_rounded_to_float16():
    """The graph's clip-and-cast keeps numpy's bits: round to nearest even, clipped at +-65504."""
    from ferbench.features import extract
    from ferbench.weights import backbone, build

    dataset = generate(n_images=10, seed=2, n_subjects=2, image_size=24)
    layers = ["block1_pool", "fc1"]
    fs = feature_set(dataset, "vgg19", "none", 32)
    fs.ensure(layers)
    model = extract.layer_outputs(build("vgg19", "none", 32, include_top=True), layers)
    padded = np.zeros((extract.batch_size_for(32), 32, 32, 3), np.float32)
    padded[:10] = extract.prepare(backbone("vgg19"), dataset.images, 32)
    for name, out in zip(layers, model.predict_on_batch(padded), strict=True):
        rounded = np.clip(
            np.asarray(out, np.float32)[:10].reshape(10, -1), -extract.FLOAT16_MAX, extract.FLOAT16_MAX
        ).astype(np.float16)
        assert np.array_equal(np.asarray(fs.features(name)).view(np.uint16), rounded.view(np.uint16))


@pytest.mark.parametrize("size", [32, 160])  # batches of 16 and of 4
def test_an_images_features_do_not_depend_on_its_batch_or_position(size):
    from ferbench.data.dataset import FaceDataset
    from ferbench.features import extract

    dataset = generate(n_images=7, seed=3, n_subjects=2, image_size=24)
    fewer = FaceDataset(dataset.images[2:5], dataset.labels[2:5], dataset.class_names, name="fewer")
    assert extract.batch_size_for(size) == (16 if size < 160 else 4)
    rows = [feature_set(d, "vgg19", "none", size).features("block1_pool") for d in (dataset, fewer)]
    assert np.array_equal(np.asarray(rows[0][2:5]).view(np.uint16), np.asarray(rows[1]).view(np.uint16))


def test_kept_feature_sets_are_bounded_and_ad_hoc_images_are_not_kept():
    from dataclasses import replace

    from ferbench.data.dataset import ADHOC

    dataset = generate(n_images=7, seed=1, n_subjects=1, image_size=24)
    first = feature_set(dataset, "vgg19", "none", 32)
    assert feature_set(dataset, "vgg19", "none", 32) is first
    for seed in range(cache.KEPT_SETS):
        feature_set(generate(n_images=7, seed=10 + seed, n_subjects=1, image_size=24), "vgg19", "none", 32)
    assert feature_set(dataset, "vgg19", "none", 32) is not first  # the least recently used went
    adhoc = replace(dataset, name=ADHOC)
    assert feature_set(adhoc, "vgg19", "none", 32) is not feature_set(adhoc, "vgg19", "none", 32)


def test_predicting_raw_images_writes_no_feature_cache_entry(isolated_store):
    from ferbench.families.registry import get

    dataset = generate(n_images=21, seed=0, n_subjects=3, image_size=24)
    family = get("vgg19_pca_svm")(weights="none", input_size=32, layer="block5_pool", n_components=4)
    family.fit(dataset.part(np.arange(14)))
    entries = sorted((isolated_store / "cache" / "features").iterdir())
    before = backbone_passes()
    proba = family.predict_images(dataset.images[14:])
    assert backbone_passes() == before + 1  # the new images went through the backbone, in memory
    assert sorted((isolated_store / "cache" / "features").iterdir()) == entries
    np.testing.assert_allclose(proba, family.predict_proba(dataset.part(np.arange(14, 21))), atol=1e-6)


def test_a_model_saved_in_the_earlier_layout_loads(tmp_path):
    """family.json of earlier versions held `n_classes` instead of `classes`, and for the
    mini-Xception no family name."""
    import json

    from ferbench.families.registry import get

    dataset = generate(n_images=21, seed=0, n_subjects=3, image_size=24)
    cls = get("vgg19_pca_svm")
    family = cls(weights="none", input_size=32, layer="block5_pool", n_components=4).fit(dataset.part(np.arange(14)))
    family.save(tmp_path)
    info = json.loads((tmp_path / "family.json").read_text())
    assert info["classes"] == list(range(7))
    (tmp_path / "family.json").write_text(json.dumps({"params": info["params"], "n_classes": 7}))
    loaded = cls.load(tmp_path)
    np.testing.assert_array_equal(loaded.classes_, np.arange(7))
    test = dataset.part(np.arange(14, 21))
    np.testing.assert_allclose(loaded.predict_proba(test), family.predict_proba(test), atol=1e-6)
    (tmp_path / "family.json").write_text(json.dumps({**info, "family": "resnet50_head"}))
    with pytest.raises(FerbenchError, match="holds family 'resnet50_head', not 'vgg19_pca_svm'"):
        cls.load(tmp_path)


def test_unknown_layer_is_one_line_error():
    dataset = generate(n_images=7, seed=1, n_subjects=1, image_size=24)
    fs = feature_set(dataset, "mini_xception", "none", 64)
    with pytest.raises(FerbenchError, match="has no layer block9_pool"):
        fs.ensure(["block9_pool"])
    assert not list(fs.directory.glob("*.npy*"))


@pytest.mark.parametrize("n_classes", [2, 5])
def test_linear_decision_and_predict_equal_sklearn(n_classes):
    from sklearn.svm import LinearSVC

    from ferbench.families._feature_inner_cv import linear_decision, linear_predict

    rng = np.random.default_rng(n_classes)
    z = rng.normal(size=(60, 8))
    y = rng.integers(0, n_classes, 60) + 3  # labels that are not 0..k-1
    svc = LinearSVC(max_iter=5000, random_state=0).fit(z, y)
    test = rng.normal(size=(17, 8))
    np.testing.assert_allclose(linear_decision(svc, test), svc.decision_function(test), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(linear_predict(svc, test), svc.predict(test))
