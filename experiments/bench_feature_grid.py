"""Cost of Ravi's grid against one bare VGG19 forward pass (issue 4's speed and memory targets).

    python experiments/bench_feature_grid.py                      # JAFFE-sized: 213 images, full grid
    python experiments/bench_feature_grid.py --n 981 --protocols kfold:10 --tag ckplus

Weights "none" (no ImageNet download here). Prints and writes experiments/results/<name>.txt:
the bare multi-output forward pass over the set (all 6 layers, no storage), the whole grid
(extraction into the cache + Gram matrices + 6 layers x PCA sizes x protocols, every fold's PCA
and LinearSVC), the SVM fitting time on its own, the ratio (grid - SVM) / forward pass, and the
process's peak RSS. The grid runs in a fresh FERBENCH_HOME, so nothing is cached beforehand.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYERS = ("block1_pool", "block2_pool", "block3_pool", "block4_pool", "block5_pool", "fc1")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=213)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--pca", default="50,100,150,200")
    parser.add_argument("--protocols", default="kfold:10,loo,holdout:0.2")
    parser.add_argument("--tag", default="jaffe")
    parser.add_argument("--skip-forward", action="store_true", help="skip the bare pass (RSS runs)")
    args = parser.parse_args()
    os.environ["FERBENCH_HOME"] = tempfile.mkdtemp(prefix="ferbench-bench-")

    from ferbench.data.synthetic import generate
    from ferbench.families.vgg19_pca_svm import VGG19PcaSvm
    from ferbench.features import extract
    from ferbench.features.cache import feature_set
    from ferbench.cli.grid import pca_limits
    from ferbench.protocols import parse_protocol
    from ferbench.weights import backbone, build

    dataset = generate(args.n, seed=0, n_subjects=10, image_size=96)
    spec = backbone("vgg19")
    lines = [f"data: synthetic {args.n} images {dataset.image_shape}, VGG19 weights none, input {args.size}"]

    forward = float("nan")
    if not args.skip_forward:
        model = extract.layer_outputs(build("vgg19", "none", args.size, include_top=True), list(LAYERS))
        start = time.perf_counter()
        for i in range(0, args.n, 16):
            model.predict_on_batch(extract.prepare(spec, dataset.images[i:i + 16], args.size))
        forward = time.perf_counter() - start
        del model
        lines.append(f"bare forward pass, 6 layers: {forward:.1f} s ({args.n / forward:.2f} img/s)")

    svm_time = [0.0]
    fit_svc = VGG19PcaSvm._fit_svc

    def timed_fit(self, z, y, seed):
        t0 = time.perf_counter()
        try:
            return fit_svc(self, z, y, seed)
        finally:
            svm_time[0] += time.perf_counter() - t0

    VGG19PcaSvm._fit_svc = timed_fit
    pca_sizes = [int(x) for x in args.pca.split(",")]
    protocols = [parse_protocol(p) for p in args.protocols.split(",")]
    folds = {p.name: p.folds(dataset, seed=0) for p in protocols}
    limits = pca_limits(VGG19PcaSvm, {"weights": "none", "input_size": args.size}, dataset, protocols, seed=0)  # cells `ferbench grid` skips

    start = time.perf_counter()
    fs = feature_set(dataset, "vgg19", "none", args.size)
    fs.ensure(list(LAYERS))
    extraction = time.perf_counter() - start
    for layer in LAYERS:
        fs.gram(layer)
    gram_time = time.perf_counter() - start - extraction
    results = []
    for layer in LAYERS:
        for k in pca_sizes:
            for name, fold_list in folds.items():
                if k > limits[name]:
                    results.append((layer, k, name, None, None))
                    continue
                hits = total = 0
                ajk = []
                for fold in fold_list:
                    params = dict(weights="none", input_size=args.size, layer=layer, n_components=k,
                                  ajk=name.startswith("holdout"))
                    family = VGG19PcaSvm(**params).fit(dataset.part(fold.train))
                    hits += int((family.predict(dataset.part(fold.test)) == dataset.labels[fold.test]).sum())
                    total += len(fold.test)
                    ajk.append(family.metrics_.get("train_ajk_accuracy", np.nan))
                results.append((layer, k, name, hits / total, float(np.nanmean(ajk)) if name.startswith("holdout") else None))
    grid = time.perf_counter() - start
    n_fits = sum(len(f) for name, f in folds.items() for k in pca_sizes if k <= limits[name]) * len(LAYERS)
    lines += [
        f"grid: {len(LAYERS)} layers x PCA {pca_sizes} x {list(folds)} = {len(results)} cells, {n_fits} fold fits",
        f"grid total (fresh cache): {grid:.1f} s = extraction {extraction:.1f} s + Gram {gram_time:.1f} s "
        f"+ PCA/SVM {grid - extraction - gram_time:.1f} s",
        f"  of which LinearSVC fitting (incl. A_JK refits): {svm_time[0]:.1f} s",
        f"ratio (grid - SVM fits) / bare forward pass: {(grid - svm_time[0]) / forward:.2f} (target <= 1.2)"
        if forward == forward else "ratio: not measured (--skip-forward)",
        f"peak RSS: {peak_rss_gb():.2f} GB (target <= 4 GB on 981 images)",
        f"backbone passes in the grid: 1 (counter {extract.backbone_passes()} incl. none for the bare pass)",
    ]
    lines.append("cells (layer, PCA, protocol, test accuracy, A_JK on hold-out):")
    lines += [f"  {l:12s} {k:4d} {p:12s} " + ("skipped: PCA larger than the training parts allow" if acc is None
              else f"{acc:.3f}" + (f"  A_JK {a:.3f}" if a is not None else "")) for l, k, p, acc, a in results]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / f"bench_feature_grid{'' if args.tag == 'jaffe' else '_' + args.tag}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
