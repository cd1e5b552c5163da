"""CNN features: one multi-output pass per data set (extract), an on-disk cache keyed by backbone,
weights, layer, input size and data fingerprint (cache), and fold-exact PCA from the n x n Gram
matrix of the cached features (gram_pca)."""

from ferbench.features.cache import FeatureSet, feature_set
from ferbench.features.extract import backbone_passes
from ferbench.features.gram_pca import FoldPCA, GramPCA

__all__ = ["FeatureSet", "FoldPCA", "GramPCA", "backbone_passes", "feature_set"]
