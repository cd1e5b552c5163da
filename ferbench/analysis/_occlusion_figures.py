"""The occlusion analysis's figures. One figure with a panel per class, not a file per class:
saving a PNG is the slow part."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ferbench.analysis.occlusion import OcclusionResult


def plot_lines(result: OcclusionResult):
    """A panel per class: x = masked region, one line per mask value, y = mean output of that
    class over its correctly classified images (dashed: unmasked)."""
    import matplotlib.pyplot as plt

    n = len(result.class_names)
    cols = min(n, 4)
    fig, axes = plt.subplots(
        -(-n // cols), cols, figsize=(4.2 * cols, 3.0 * -(-n // cols)), squeeze=False, constrained_layout=True
    )
    regions = np.arange(1, result.grid**2 + 1)
    for g, ax in enumerate(axes.flat):
        if g >= n:
            ax.axis("off")
            continue
        ax.set(title=f"{result.class_names[g]} (n={result.counts[g]})", xlabel="masked region", ylabel="mean output")
        if not result.counts[g]:
            ax.text(0.5, 0.5, "no correctly classified image", ha="center", transform=ax.transAxes)
            continue
        for v, value in enumerate(result.values):
            ax.plot(regions, result.mean_output[g, v, :, g], marker="o", ms=2, lw=1, label=f"{value:g}")
        ax.axhline(result.baseline[g, g], color="k", ls="--", lw=1, label="none")
        ax.set_xticks(regions[:: max(1, len(regions) // 8)])
    # on the first panel with curves: a class with no correctly classified image has none
    drawn = next((ax for ax in axes.flat if ax.get_lines()), None)
    if drawn is not None:
        drawn.legend(title="mask", fontsize=6, title_fontsize=6, ncol=2)
    return fig


def plot_heatmaps(result: OcclusionResult):
    """A row per class, a column per mask value: the change of the class's own output laid out
    on the face grid (blue = the output drops when that region is masked)."""
    import matplotlib.pyplot as plt

    n, k = result.grid, len(result.values)
    shown = [g for g in range(len(result.class_names)) if result.counts[g]]
    change = result.own_class("change")
    limit = float(np.abs(change[shown]).max()) if shown else 1.0
    fig, axes = plt.subplots(
        max(1, len(shown)),
        k,
        figsize=(1.5 * k + 1.2, 1.55 * max(1, len(shown))),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for row, g in enumerate(shown):
        for v, value in enumerate(result.values):
            ax = axes[row, v]
            image = ax.imshow(change[g, v].reshape(n, n), cmap="RdBu_r", vmin=-limit or -1, vmax=limit or 1)
            ax.set(xticks=[], yticks=[])
            if row == 0:
                ax.set_title(f"mask {value:g}", fontsize=8)
            if v == 0:
                ax.set_ylabel(result.class_names[g], fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="mean change of own output")
    return fig
