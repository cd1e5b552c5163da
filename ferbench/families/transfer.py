"""The survey's transfer-learning families on FER-2013 (VGG16, ResNet50, Xception, Inception):
an ImageNet backbone, global average pooling and a trained dense head.

The survey gives no head, optimiser or schedule: we use GAP + Dense(256, relu) + dropout 0.5 +
softmax, Adam 1e-3, frozen backbone (fine_tune_layers=0, trained on cached features); raise
fine_tune_layers to also train the top of the backbone."""

from __future__ import annotations

from ferbench.families._base_head import HeadFamily, head_params
from ferbench.families.registry import register
from ferbench.weights import backbone

_NOTE = (
    "Survey reports train 98.9-99.8% (overfit) and validation/test without a fixed split or "
    "seed; its head and training schedule are unspecified (ours: GAP + Dense 256 + dropout 0.5)."
)


def _family(key: str, backbone_name: str, size: int, title: str, extra_note: str = ""):
    cls = type(
        f"Transfer_{key}",
        (HeadFamily,),
        {
            "name": f"transfer_{key}",
            "paper": "survey_transfer",
            "title": title,
            "backbone_name": backbone_name,
            "input_shape": (size, size, 3),
            "default_protocol": "official",
            "param_specs": head_params(units=(256,), dropout=0.5, size=size),
            "test_params": {
                "weights": "none",
                "input_size": backbone(backbone_name).min_size,
                "batch_size": 16,
                "units": 8,
            },
            "notes": _NOTE + (" " + extra_note if extra_note else ""),
            "__module__": __name__,
        },
    )
    return register(cls)


TransferVGG16 = _family("vgg16", "vgg16", 224, "Survey: VGG16 ImageNet + trained head")
TransferResNet50 = _family("resnet50", "resnet50", 224, "Survey: ResNet50 ImageNet + trained head")
TransferXception = _family("xception", "xception", 299, "Survey: Xception ImageNet + trained head")
TransferInception = _family(
    "inception",
    "inception_v3",
    299,
    "Survey: InceptionV3 ImageNet + trained head",
    "The survey used Inception v1 (GoogLeNet), which Keras does not ship: "
    "this family uses InceptionV3 instead, so it is not the paper's network.",
)
