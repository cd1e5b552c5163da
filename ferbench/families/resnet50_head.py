"""Gong et al. (2020): frozen ResNet-50 (ImageNet) + global average pooling + a trained dense
softmax head; Adam, lr 0.01, weight decay 0.001, batch 256, stratified 5-fold; optional face crop."""

from __future__ import annotations

from functools import lru_cache

from ferbench.data.dataset import FaceDataset, Part
from ferbench.families._base_head import HeadFamily, head_params
from ferbench.families.registry import register
from ferbench.params import Bool


@register
class ResNet50Head(HeadFamily):
    name = "resnet50_head"
    paper = "gong2020"
    title = "Frozen ResNet-50 ImageNet + GAP + dense softmax head (Gong 2020)"
    backbone_name = "resnet50"
    input_shape = (224, 224, 3)
    default_protocol = "kfold:5"
    default_epochs = 200
    quick_epochs = 10
    param_specs = {
        **head_params(lr=0.01, batch=256, weight_decay=0.001, size=224),
        "face_crop": Bool(False, "crop faces with ferbench.data.face_crop.crop_faces first", tune=False),
    }
    test_params = {"weights": "none", "input_size": 32, "batch_size": 16}
    notes = (
        "Weight decay is PyTorch-style Adam weight_decay (an L2 term, gradient 0.001*w), "
        "implemented as a Keras L2(0.0005) kernel penalty on the head, not AdamW. The head trains "
        "on cached pooled features (one backbone pass). Gong also used ResNet-18/34: Keras has no "
        "pretrained ResNet-18/34, so they are not offered. Gong cropped faces with FaceNet/MTCNN; "
        "face_crop=true uses ferbench's detector (ferbench.data.face_crop.crop_faces, default haar)."
    )

    def _cropped(self, part: Part) -> Part:
        if not self.params["face_crop"]:
            return part
        return _face_crops(part.dataset).part(part.index)

    def fit(self, train: Part, val: Part | None = None, **kwargs):
        return super().fit(self._cropped(train), self._cropped(val) if val is not None else None, **kwargs)

    def predict_proba(self, part: Part):
        return super().predict_proba(self._cropped(part))


@lru_cache(maxsize=2)  # each is a copy of a whole data set: the last two (a run's, an analysis's)
def _face_crops(dataset: FaceDataset) -> FaceDataset:
    from ferbench.data.face_crop import crop_faces

    return crop_faces(dataset)[0]
