"""FeatureFamily: cached CNN features -> fold-exact Gram PCA -> LinearSVC (LIBLINEAR).

Every fold, PCA size, C value and tuning trial reuses the same cached features and the same Gram
matrix; a fit costs one m x m eigendecomposition and a LinearSVC on m x n_components. PCA is fit
on the training part only. Scores are whitened by default (unit variance per component on the
training part), which is what makes LIBLINEAR converge in a few hundred iterations instead of
thousands (measured: 10 s against 0.13 s on JAFFE); whiten=False keeps the PCA geometry and only
rescales all components by one factor. Probabilities are the softmax of the SVM decision values
(an SVM has no calibrated probabilities; the ranking is what metrics use).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from ferbench.data.dataset import Part
from ferbench.errors import FerbenchError
from ferbench.families._feature_inner_cv import InnerCrossValidation, linear_decision
from ferbench.families.base import EpochCallback, Family, NativeModel
from ferbench.features.cache import FeatureSet, feature_set
from ferbench.params import Bool, Float, Int
from ferbench.weights import backbone, check_input_size, missing_imagenet_message, weights_param

if TYPE_CHECKING:
    from ferbench.data.dataset import FaceDataset
    from ferbench.features.gram_pca import FoldPCA


def feature_params(layer_param, default_size: int) -> dict:
    return {
        "layer": layer_param,
        "n_components": Int(200, "PCA components (fit on the training part)", low=1, high=512, log=True),
        "C": Float(1.0, "LinearSVC regularisation", low=1e-4, high=1e3, log=True),
        "whiten": Bool(True, "unit-variance PCA scores (fast LIBLINEAR convergence)"),
        "weights": weights_param(),
        "input_size": Int(default_size, "network input side in pixels", low=1, high=2048, tune=False),
        "ajk": Bool(False, "also report A_JK: leave-one-out accuracy on the training part"),
        "cv_folds": Int(
            0,
            "also report stratified k-fold accuracy on the training part (Ravi's 10-fold column); 0: off",
            low=0,
            high=100,
            tune=False,
        ),
    }


class FeatureFamily(InnerCrossValidation, Family):
    backbone_name: ClassVar[str] = "vgg19"
    preprocessing = ("grey_to_rgb", "resize")
    input_shape = (224, 224, 3)
    validation_fraction = 0.0  # no early stopping: every training row goes into PCA and the SVM (LOO is n - 1)
    thread_safe_folds = True  # eigh and LIBLINEAR release the GIL: folds fit side by side
    MAX_ITER_WHITENED, MAX_ITER_PLAIN = 5000, 20000  # LIBLINEAR iterations (see the module doc)

    # --- learned state: fit sets it all, load what projecting new images needs ----------------
    svc_: Any  # the fitted LinearSVC
    n_classes_: int
    scale_: float | None  # one global factor of the scores when they are not whitened
    mean_: np.ndarray | None  # the explicit PCA, made when first needed after a fit
    components_: np.ndarray | None
    # the fitted data set, its features and its PCA fold (None after load)
    _dataset: FaceDataset | None
    _fs: FeatureSet | None
    _fold: FoldPCA | None

    def __init__(self, **params: Any):
        super().__init__(**params)
        check_input_size(backbone(self.backbone_in_use), self.input_size)

    @property
    def backbone_in_use(self) -> str:
        """The backbone this instance's features come from: the class's, unless a parameter picks one."""
        return self.backbone_name

    @property
    def layer(self) -> str:
        return self.params["layer"]

    @property
    def input_size(self) -> int:
        return self.params["input_size"]

    @classmethod
    def check_input(cls, image_shape, params) -> None:  # the runner's hook: any size is resized
        spec = backbone(cls.backbone_name)
        check_input_size(spec, int(params.get("input_size") or spec.default_size))

    @classmethod
    def unavailable_reason(cls) -> str | None:
        default = cls.params_spec()
        if str(default["weights"].default).lower() == "none":
            return None
        top = default["layer"].default in backbone(cls.backbone_name).top_layers
        return missing_imagenet_message(cls.backbone_name, include_top=top)

    # --- features ----------------------------------------------------------------------------
    def feature_set(self, dataset):
        return feature_set(dataset, self.backbone_in_use, self.params["weights"], self.input_size)

    def _scale(self, fold, k):
        if self.params["whiten"]:
            return None
        # one global factor: keeps relative variances, brings the first component to unit variance
        return float(np.sqrt(fold.values[0] / max(fold.n_train - 1, 1)))

    def _scores_train(self, fold, k):
        z = fold.train_scores(k, self.params["whiten"])
        scale = self._scale(fold, k)
        return z if scale is None else z / scale

    def _max_iter(self) -> int:
        return self.MAX_ITER_WHITENED if self.params["whiten"] else self.MAX_ITER_PLAIN

    def _fit_svc(self, z, y, seed):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.params["C"], max_iter=self._max_iter(), random_state=seed).fit(z, y)

    @classmethod
    def expected_warnings(cls) -> tuple[type[Warning], ...]:
        # LIBLINEAR stopping at max_iter: the `svm_converged` metric reports it per fit
        from sklearn.exceptions import ConvergenceWarning

        return (ConvergenceWarning,)

    # --- learning ----------------------------------------------------------------------------
    def fit(
        self,
        train: Part,
        val: Part | None = None,
        *,
        epochs: int | None = None,
        seed: int = 0,
        callbacks: list[EpochCallback] | None = None,
        verbose: bool = False,
        checkpoint_dir: Path | None = None,
    ) -> Self:
        from ferbench.threads import quiet

        k = self.params["n_components"]
        fs = self.feature_set(train.dataset)
        pca = fs.gram_pca(self.layer)
        fold = pca.fold(train.index, k)
        y = train.labels
        if len(np.unique(y)) < 2:
            raise FerbenchError(f"family {self.name}: the training part has a single class")
        with quiet(*self.expected_warnings()):
            self.svc_ = self._fit_svc(self._scores_train(fold, k), y, seed)
            metrics = {"svm_converged": float(self.svc_.n_iter_ < self._max_iter())}
            for metric, splitter in self._inner_splitters(y, seed).items():
                metrics[metric] = self._inner_accuracy(pca, fs, train, k, seed, splitter)
            self.metrics_ = metrics
        self.classes_ = np.arange(train.dataset.n_classes)
        self.n_classes_ = train.dataset.n_classes
        self._fs, self._fold, self._dataset = fs, fold, train.dataset
        self.mean_ = self.components_ = None
        self.scale_ = self._scale(fold, k)
        return self

    def _decision_to_proba(self, decision: np.ndarray) -> np.ndarray:
        decision = decision if decision.ndim == 2 else np.stack([-decision, decision], axis=1)
        full = np.full((len(decision), self.n_classes_), -np.inf)
        full[:, self.svc_.classes_] = decision
        full -= full.max(axis=1, keepdims=True)
        proba = np.exp(full)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_proba(self, part: Part) -> np.ndarray:
        self.check_fitted()
        k = self.params["n_components"]
        fitted = self._fitted_on(part.dataset)
        if fitted is not None:
            fs, fold = fitted
            if np.array_equal(part.index, fold.train_index):  # the fitted rows: their scores are known
                z = self._scores_train(fold, k)
            else:
                z = fold.scores(fs.gram(self.layer), part.index, k, self.params["whiten"])
                if self.scale_ is not None:
                    z = z / self.scale_
        else:
            z = self._project_explicit(part)
        return self._decision_to_proba(linear_decision(self.svc_, z))

    def _fitted_on(self, dataset: FaceDataset) -> tuple[FeatureSet, FoldPCA] | None:
        """(feature set, PCA fold) of the fit when `dataset` is the fitted data set, else None."""
        if self._dataset is None or self._fs is None or self._fold is None:
            return None
        if dataset is self._dataset or dataset.fingerprint == self._dataset.fingerprint:
            return self._fs, self._fold
        return None

    # --- images outside the fitted data set (and saved models) -------------------------------
    def _explicit_pca(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, scaled components) of the fitted PCA: computed once after a fit, loaded by load."""
        if self.mean_ is None or self.components_ is None:
            if self._fs is None or self._fold is None:
                raise FerbenchError(f"family {self.name} is not fitted yet")
            k = self.params["n_components"]
            train_blocks = self._fs.blocks(self.layer, self._fold.train_index, dtype=np.float64)
            mean, components = self._fold.components(train_blocks, k)
            if self.params["whiten"]:
                scale = np.sqrt(max(self._fold.n_train - 1, 1) / self._fold.values[:k])
            else:
                assert self.scale_ is not None  # every fit without whitening sets it
                scale = np.full(k, 1.0 / self.scale_)
            self.mean_, self.components_ = mean, components * scale[:, None]
        return self.mean_, self.components_

    def _project_explicit(self, part: Part) -> np.ndarray:
        mean, components = self._explicit_pca()
        z = np.zeros((len(part), components.shape[0]))
        for start, block in self.feature_set(part.dataset).blocks(self.layer, part.index, dtype=np.float64):
            width = block.shape[1]
            z += (block - mean[start : start + width]) @ components[:, start : start + width].T
        return z

    def native_model(self) -> NativeModel:
        """The head as a scikit-learn Pipeline (PCA, per-component scaling, LinearSVC) on backbone
        features; the metadata say how to compute those features."""
        from sklearn.decomposition import PCA
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        from ferbench.features.cache import PREPROCESS_VERSION
        from ferbench.weights import resolve

        self.check_fitted()
        mean, components = self._explicit_pca()
        # components_ holds unit principal axes times each score's scale: split them back apart;
        # float32 axes as `save` keeps them (the bulk of the file), applied in float64 to float64 input
        norms = np.linalg.norm(components, axis=1)
        pca = PCA(n_components=len(norms))
        pca.components_ = (components / norms[:, None]).astype(np.float32)
        pca.mean_, pca.n_components_, pca.n_features_in_ = mean, len(norms), len(mean)
        scale = StandardScaler(with_mean=False)
        scale.scale_, scale.n_features_in_ = 1.0 / norms, len(norms)
        name = self.backbone_in_use
        return NativeModel(
            "sklearn",
            Pipeline([("pca", pca), ("scale", scale), ("svm", self.svc_)]),
            np.dtype(np.float64),
            (len(mean),),
            {
                "input": f"float64 features (N, {len(mean)}): layer {self.layer} of {name} ('@gap': "
                "global-average-pooled), flattened and rounded to float16",
                "output": "LinearSVC classes; ferbench's probabilities are the softmax of decision_function",
                "backbone": {
                    "name": name,
                    "layer": self.layer,
                    "weights": str(self.params["weights"]),
                    "weights_identity": resolve(name, self.params["weights"])[1],
                    "input_size": self.input_size,
                    "preprocessing": PREPROCESS_VERSION,
                },
                "features": "ferbench.features.cache.feature_set(images as a FaceDataset, name, weights, "
                "input_size).features(layer)",
            },
        )

    def save(self, directory: Path) -> None:
        mean, components = self._explicit_pca()
        directory = Path(directory)
        np.save(directory / "pca_mean.npy", mean)
        np.save(directory / "pca_components.npy", components.astype(np.float32))
        np.savez(
            directory / "svc.npz", coef=self.svc_.coef_, intercept=self.svc_.intercept_, classes=self.svc_.classes_
        )
        self.save_info(directory)

    @classmethod
    def load(cls, directory: Path) -> FeatureFamily:
        from sklearn.svm import LinearSVC

        directory = Path(directory)
        family, _ = cls.load_info(directory)
        svc = LinearSVC()
        with np.load(directory / "svc.npz") as saved:
            svc.coef_, svc.intercept_, svc.classes_ = saved["coef"], saved["intercept"], saved["classes"]
        family.svc_, family.n_classes_ = svc, len(family.classes_)
        family.mean_ = np.load(directory / "pca_mean.npy")
        family.components_ = np.load(directory / "pca_components.npy").astype(np.float64)
        family._fold = family._fs = family._dataset = None
        family.scale_ = None
        return family
