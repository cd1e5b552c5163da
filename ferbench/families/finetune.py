"""Raghuvanshi & Choksi (2016): VGG16 / VGGFace with two trained fully connected layers on top,
keeping only the lower layers (cut at block3/block4_pool) or the whole convolutional network,
with the number of fine-tuned backbone layers as a parameter."""

from __future__ import annotations

from ferbench.errors import FerbenchError
from ferbench.families._base_head import HeadFamily, head_params
from ferbench.families.registry import register
from ferbench.params import Choice, Text

KEEP = ("block3_pool", "block4_pool", "block5_pool")


class _Finetune(HeadFamily):
    backbone_name = "vgg16"
    paper = "raghuvanshi2016"
    input_shape = (224, 224, 3)
    default_protocol = "official"
    default_epochs = 10  # the paper trained 10 epochs per run
    quick_epochs = 2
    param_specs = {
        **head_params(units=(512, 512), dropout=0.5, size=224, tune_layers=3),
        "keep": Choice("block5_pool", "last VGG16 layer kept (lower layers only, or the whole network)", choices=KEEP),
    }

    def _cut(self, model) -> str:
        return self.params["keep"]

    def _feature_layer(self) -> str:
        return f"{self.params['keep']}@gap"


@register
class VGG16Finetune(_Finetune):
    name = "vgg16_finetune"
    title = "VGG16 ImageNet, lower or all layers, + two trained FC layers (Raghuvanshi & Choksi 2016)"
    test_params = {
        "weights": "none",
        "input_size": 32,
        "batch_size": 16,
        "units": 8,
        "fine_tune_layers": 2,
        "keep": "block4_pool",
    }
    notes = (
        "FC sizes are not given in the paper: two FC-512 layers with dropout 0.5 on globally pooled "
        "features. fine_tune_layers counts Keras layers from the top of the kept backbone "
        "(0 = frozen, trained on cached features; -1 = all)."
    )


@register
class VGGFaceFinetune(_Finetune):
    name = "vggface_finetune"
    title = "VGGFace (user-supplied weights) + two trained FC layers (Raghuvanshi & Choksi 2016)"
    param_specs = {
        **_Finetune.param_specs,
        "weights": Text("", "PATH to VGGFace weights in Keras VGG16 layout", tune=False, allow_empty=True),
    }
    test_params = {"weights": "none", "input_size": 32, "batch_size": 16, "units": 8, "fine_tune_layers": 0}
    notes = (
        "VGGFace weights are not distributed with Keras: pass --weights PATH to a Keras .h5 file of the "
        "VGG16-layout VGGFace network without its top (e.g. keras-vggface's "
        "rcmalli_vggface_tf_notop_vgg16.h5); layers are matched in order."
    )

    @classmethod
    def unavailable_reason(cls):
        return "needs VGGFace weights: pass --weights PATH (Keras VGG16-layout .h5, not distributed by Keras)"

    def fit(self, train, val=None, **kwargs):
        weights = str(self.params["weights"]).strip().lower()
        if weights in ("", "imagenet"):
            raise FerbenchError(
                "vggface_finetune needs --weights PATH to VGGFace weights (Keras VGG16 layout .h5, e.g. "
                "rcmalli_vggface_tf_notop_vgg16.h5); ImageNet weights are not VGGFace"
            )
        return super().fit(train, val, **kwargs)
