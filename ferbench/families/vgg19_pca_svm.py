"""Ravi (2019): VGG19 (ImageNet, 224x224, grey repeated to RGB, Keras preprocessing) features
from block1_pool..block5_pool or fc1, PCA (50/100/150/200), linear SVM (LIBLINEAR)."""

from __future__ import annotations

from ferbench.families._base_feature import FeatureFamily, feature_params
from ferbench.families.registry import register
from ferbench.params import Choice

RAVI_LAYERS = ("block1_pool", "block2_pool", "block3_pool", "block4_pool", "block5_pool", "fc1")
RAVI_PCA = (50, 100, 150, 200)


@register
class VGG19PcaSvm(FeatureFamily):
    name = "vgg19_pca_svm"
    paper = "ravi2019"
    title = "VGG19 ImageNet features (one layer) + PCA + linear SVM (Ravi 2019)"
    backbone_name = "vgg19"
    input_shape = (224, 224, 3)
    default_protocol = "holdout:0.2"
    param_specs = {
        **feature_params(Choice("block4_pool", "VGG19 layer whose output is the feature", choices=RAVI_LAYERS), 224),
    }
    test_params = {
        "weights": "none",
        "input_size": 32,
        "layer": "block5_pool",
        "n_components": 5,
        "ajk": True,
        "cv_folds": 2,
    }
    notes = (
        "Paper: PCA 200 for JAFFE, 100 for CK+, block4_pool best on both; A_JK (train_ajk_accuracy, "
        "param ajk=true) is leave-one-out on the training part and the 10-fold column "
        "(train_cv_accuracy, param cv_folds=10) stratified 10-fold on it. The paper's two-step selection "
        "(two best A_JK, then least |A_JK - test|) looks at test rows: offered by `ferbench grid "
        "--select ravi` and flagged as test-selected. fc1 needs the full network (224x224 with "
        "ImageNet weights). Features are cached once per data set; every fold's PCA comes exactly "
        "from the Gram matrix. Scores are whitened before LIBLINEAR (whiten=false keeps raw PCA)."
    )
