"""Occlusion analysis after Nishime et al.: which face regions drive each class's output.

The face is cut into a `grid` x `grid` mesh of regions numbered 1..grid**2 row-major (on a 4x4
grid regions 10 and 11 hold the mouth, 6 and 7 the eyes). Each region is masked in turn with every
mask value, and we record how the output of every class moves, averaged over the correctly
classified test images of each true class (the paper plots the output of the image's own class).

Mask values are intensities on the [0, 1] scale of the raw image: pixel = round(value * 255) on
the uint8 input, applied *before* the model's own preprocessing (the logged model contains it),
which is how the paper masks its input images before GCN/ZCA.

"Keep only" (the paper's Tables 3 and 4) masks every region except the chosen ones, on all test
images; the paper's Figure 10 shows the masked area black, so the default keep-mask value is 0.0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ferbench.analysis._occlusion_figures import plot_heatmaps, plot_lines
from ferbench.errors import FerbenchError

PAPER_VALUES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
PAPER_KEEPS = ((10, 11), (6, 7, 10, 11))
Predict = Callable[[np.ndarray], np.ndarray]


def grid_boxes(height: int, width: int, grid: int) -> list[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of every region, row-major, so box k is region k + 1."""
    if grid < 1 or grid > min(height, width):
        raise FerbenchError(f"--grid {grid}: must be between 1 and the image side ({min(height, width)})")
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    return [(rows[r], rows[r + 1], cols[c], cols[c + 1]) for r in range(grid) for c in range(grid)]


def parse_values(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise FerbenchError(f"--values {text!r}: expected numbers separated by commas") from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise FerbenchError(f"--values {text!r}: expected one or more intensities in [0, 1]")
    return values


def parse_regions(text: str, grid: int) -> tuple[int, ...]:
    try:
        regions = tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise FerbenchError(f"--keep {text!r}: expected region numbers separated by commas") from None
    if not regions or any(not 1 <= r <= grid * grid for r in regions):
        raise FerbenchError(f"--keep {text!r}: regions are numbered 1..{grid * grid} on a {grid}x{grid} grid")
    return regions


def _pixel(value: float) -> np.uint8:
    return np.uint8(round(value * 255))


def mask_regions(images: np.ndarray, boxes, regions, value: float) -> np.ndarray:
    """Copy of `images` with the given regions (1-based) set to `value`."""
    out = images.copy()
    for region in regions:
        r0, r1, c0, c1 = boxes[region - 1]
        out[:, r0:r1, c0:c1] = _pixel(value)
    return out


def keep_only(images: np.ndarray, boxes, keep, value: float) -> np.ndarray:
    """Copy of `images` with every region except `keep` set to `value`."""
    return mask_regions(images, boxes, [k for k in range(1, len(boxes) + 1) if k not in keep], value)


@dataclass
class OcclusionResult:
    """mean_output[g, v, r, c]: mean output of class c over the correctly classified images of
    true class g with region r + 1 masked by values[v]; baseline[g, c]: the same unmasked."""

    class_names: tuple[str, ...]
    values: tuple[float, ...]
    grid: int
    mean_output: np.ndarray
    baseline: np.ndarray
    counts: np.ndarray  # correctly classified images used, per true class

    @property
    def mean_change(self) -> np.ndarray:
        return self.mean_output - self.baseline[:, None, None, :]

    @property
    def n_images(self) -> int:
        return int(self.counts.sum())

    def own_class(self, kind: str = "output") -> np.ndarray:
        """[g, v, r]: the curve the paper plots, the image's own class output (or its change)."""
        data = self.mean_output if kind == "output" else self.mean_change
        g = np.arange(len(self.class_names))
        return data[g, :, :, g]

    def rows(self):
        """Every number, one CSV row each."""
        change = self.mean_change
        for g, true in enumerate(self.class_names):
            if not self.counts[g]:
                continue
            for v, value in enumerate(self.values):
                for r in range(self.grid * self.grid):
                    for c, out in enumerate(self.class_names):
                        yield (
                            true,
                            int(self.counts[g]),
                            value,
                            r + 1,
                            out,
                            float(self.baseline[g, c]),
                            float(self.mean_output[g, v, r, c]),
                            float(change[g, v, r, c]),
                        )

    CSV_HEADER = (
        "true_class",
        "n_images",
        "mask_value",
        "region",
        "output_class",
        "baseline_output",
        "mean_output",
        "mean_change",
    )


def select_correct(proba: np.ndarray, labels: np.ndarray, max_images: int | None, seed: int = 0):
    """Positions of correctly classified images; at most `max_images`, drawn by a seeded shuffle
    (so reruns use the same images) and returned in their original order."""
    correct = np.flatnonzero(np.argmax(proba, axis=1) == labels)
    if max_images is not None and len(correct) > max_images:
        rng = np.random.default_rng(seed)
        correct = np.sort(rng.choice(correct, size=max_images, replace=False))
    return correct


def occlusion_scan(
    predict: Predict,
    images: np.ndarray,
    labels: np.ndarray,
    class_names,
    *,
    grid: int = 4,
    values=PAPER_VALUES,
    baseline: np.ndarray | None = None,
    batch_size: int = 2048,
) -> OcclusionResult:
    """Mask every region with every value on `images` (already the correctly classified ones) and
    average the outputs per true class. All masked variants of a chunk of images go through one
    `predict` call of about `batch_size` rows."""
    n_classes = len(class_names)
    boxes = grid_boxes(images.shape[1], images.shape[2], grid)
    n_regions, n_values = len(boxes), len(values)
    pixels = [_pixel(v) for v in values]
    sums = np.zeros((n_classes, n_values, n_regions, n_classes))
    if baseline is None:
        baseline = predict(images)
    counts = np.bincount(labels, minlength=n_classes)
    base = np.zeros((n_classes, n_classes))
    np.add.at(base, labels, baseline)

    per_image = n_values * n_regions
    chunk = max(1, batch_size // per_image)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk]
        variants = np.repeat(block[:, None], per_image, axis=1)  # (b, v*r, H, W[, C])
        for v, pixel in enumerate(pixels):
            for r, (r0, r1, c0, c1) in enumerate(boxes):
                variants[:, v * n_regions + r, r0:r1, c0:c1] = pixel
        proba = predict(variants.reshape((-1,) + images.shape[1:]))
        proba = proba.reshape(len(block), n_values, n_regions, n_classes)
        np.add.at(sums, labels[start : start + chunk], proba)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts[:, None, None, None]
        base = base / counts[:, None]
    return OcclusionResult(tuple(class_names), tuple(values), grid, np.nan_to_num(mean), np.nan_to_num(base), counts)


# --- the analysis of a logged run ----------------------------------------------------------------
def analyze_occlusion(
    target,
    *,
    grid: int = 4,
    values=PAPER_VALUES,
    keeps=PAPER_KEEPS,
    keep_value: float = 0.0,
    max_images: int | None = 500,
    seed: int = 0,
    batch_size: int = 2048,
    out=None,
) -> dict:
    """Occlusion scan over (at most `max_images`) correctly classified test images, then the
    keep-only confusion matrices over the whole test part; files logged under analysis/occlusion/."""
    from ferbench.analysis._files import Workspace, save_figure, write_csv
    from ferbench.analysis.confusion import (
        confusion_figure,
        confusion_rates,
        nishime_comparable,
        nishime_published,
        part_for_split,
        side_by_side,
        write_matrix_csv,
    )

    names = list(target.dataset.class_names)
    images, labels = target.test.images, target.test.labels
    boxes = grid_boxes(images.shape[1], images.shape[2], grid)  # validates --grid early
    for keep in keeps:
        if any(not 1 <= r <= len(boxes) for r in keep):
            raise FerbenchError(f"--keep {','.join(map(str, keep))}: regions are 1..{len(boxes)}")
    proba = target.predict(images, batch_size)
    chosen = select_correct(proba, labels, max_images, seed)
    if len(chosen) == 0:
        raise FerbenchError(f"run {target.run_id} classifies no test image correctly; nothing to occlude")
    result = occlusion_scan(
        lambda x: target.predict(x, batch_size),
        images[chosen],
        labels[chosen],
        names,
        grid=grid,
        values=values,
        baseline=proba[chosen],
        batch_size=batch_size,
    )
    n_correct = int(np.sum(proba.argmax(axis=1) == labels))
    summary: dict[str, Any] = {
        "n_test": int(len(labels)),
        "n_correct": n_correct,
        "n_used": result.n_images,
        "used_per_class": dict(zip(names, map(int, result.counts), strict=True)),
        "keep": {},
    }
    with Workspace("occlusion", out) as ws:
        write_csv(ws.file("occlusion.csv"), OcclusionResult.CSV_HEADER, result.rows())
        save_figure(plot_lines(result), ws.file("lines_per_class.png"))
        save_figure(plot_heatmaps(result), ws.file("heatmaps_per_class.png"))
        for keep in keeps:
            label = "_".join(map(str, keep))
            masked = keep_only(images, boxes, keep, keep_value)
            y_pred = target.predict(masked, batch_size).argmax(axis=1)
            counts, rates, recall = confusion_rates(labels, y_pred, names)
            accuracy = float(np.mean(y_pred == labels))
            summary["keep"][label] = {"accuracy": accuracy, "recall": dict(zip(names, map(float, recall), strict=True))}
            write_matrix_csv(
                ws.file(f"keep_{label}_confusion.csv"), names, rates, {"recall": recall, "support": counts.sum(axis=1)}
            )
            save_figure(
                confusion_figure(
                    rates, names, f"keep only {','.join(map(str, keep))} (mask {keep_value:g}): acc {accuracy:.3f}"
                ),
                ws.file(f"keep_{label}_confusion.png"),
            )
            # Nishime's Tables 3/4, on the split the paper scored on, when the protocol matches.
            comparable = grid == 4 and nishime_comparable(target.tags, names) is None
            published = nishime_published(keep) if comparable else None
            part = part_for_split(target, published["split"]) if published else None
            if part is not None and published is not None:
                masked_part = keep_only(part.images, boxes, keep, keep_value)
                y_part = target.predict(masked_part, batch_size).argmax(axis=1)
                side_by_side(ws, published, y_part, part, f"keep_{label}_vs_nishime")
                summary["keep"][label]["nishime"] = published["source"]
        ws.file("README.txt").write_text(
            f"Occlusion analysis of run {target.run_id} ({target.fold}).\n"
            f"grid {grid}x{grid}, regions 1..{grid * grid} row-major; mask values {list(values)} "
            "as intensities on [0,1] (pixel = round(value*255)) applied to the raw image.\n"
            f"Scan over {result.n_images} of {n_correct} correctly classified test images "
            f"(at most {max_images}, seeded choice, seed {seed}); per class: {summary['used_per_class']}.\n"
            f"Keep-only matrices: all {len(labels)} test images, every other region set to "
            f"{keep_value:g}; rows = true class.\n"
        )
        summary["artifacts"] = ws.publish(target.run_id, target.tracking_uri)
    summary["result"] = result
    return summary
