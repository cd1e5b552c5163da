"""Normalised confusion matrix and per-class recall of a logged run, beside Nishime's Table 2.

Rows are the true class and each row sums to 1 (so the diagonal is the per-class recall). The
paper's table labels its rows "predicted", but its rows sum to 100 % and its diagonal matches the
per-class scores quoted in its text, so its rows are the true class too; the published entry
(ferbench/baselines/published.yaml) records the row/column order we compare in.
"""

from __future__ import annotations

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.labels import EMOTIONS, canonical
from ferbench.record.tags import TAG_DATASET, TAG_FAMILY, TAG_PROTOCOL

NISHIME_PAPER = "nishime"


def confusion_rates(y_true, y_pred, class_names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, row-normalised rates, per-class recall) over all classes of the label space."""
    from ferbench.evaluate import confusion

    n = len(class_names)
    counts = confusion(y_true, y_pred, n)
    rates = confusion(y_true, y_pred, n, normalize="true")
    return counts, rates, np.diag(rates).copy()


def matrix_rows(names, matrix, extra: dict[str, np.ndarray] | None = None):
    """CSV rows: true class, one column per predicted class, then any extra per-row columns."""
    for i, name in enumerate(names):
        row = [name] + [float(v) for v in matrix[i]]
        for values in (extra or {}).values():
            row.append(values[i] if isinstance(values[i], (int, np.integer)) else float(values[i]))
        yield row


def write_matrix_csv(path, names, matrix, extra: dict[str, np.ndarray] | None = None):
    from ferbench.analysis._files import write_csv

    header = ["true\\pred", *names, *(extra or {})]
    return write_csv(path, header, matrix_rows(names, matrix, extra))


def plot_matrix(ax, matrix, names, title: str) -> None:
    """Rates as whole percentages on one 0-100 colour scale, so that two panels compare."""
    from sklearn.metrics import ConfusionMatrixDisplay

    percent = 100 * np.asarray(matrix)
    display = ConfusionMatrixDisplay(percent, display_labels=list(names))
    display.plot(
        ax=ax,
        cmap="Blues",
        colorbar=False,
        values_format=".0f",
        xticks_rotation=45,
        im_kw={"vmin": 0, "vmax": 100},
        text_kw={"fontsize": 6},
    )
    # sklearn picks the text colour from each panel's own range; on the shared scale white only
    # reads on the darker half
    for text, value in zip(display.text_.flat, percent.flat, strict=True):
        text.set_color("white" if value > 50 else "black")
    ax.tick_params(labelsize=7)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set(xlabel="predicted", ylabel="true", title=title)


def confusion_figure(matrix, names, title: str, other=None, other_title: str = ""):
    """One matrix, or two side by side (ours, published) on the same colour scale."""
    import matplotlib.pyplot as plt

    panels = 1 if other is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels, 4.6), squeeze=False)
    plot_matrix(axes[0, 0], matrix, names, title)
    if other is not None:
        plot_matrix(axes[0, 1], other, names, other_title)
    fig.tight_layout()
    return fig


def recall_figure(recall, names, title: str, other=None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(names))
    width = 0.4 if other is not None else 0.7
    ax.bar(x - (width / 2 if other is not None else 0), recall, width, label="this run")
    if other is not None:
        ax.bar(x + width / 2, other, width, label="published")
        ax.legend(fontsize=7)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set(ylim=(0, 1), ylabel="recall", title=title)
    fig.tight_layout()
    return fig


# --- the published matrices ----------------------------------------------------------------------
def nishime_published(keep=None) -> dict | None:
    """Nishime's confusion matrix from the baselines file (Table 2, or with `keep` the keep-only
    Tables 3/4) as rates in canonical order, rows = true class; None when the file has none.
    Returns {"matrix", "split" (the split the paper scored on), "source", "id"}."""
    from ferbench import baselines

    wanted = tuple(sorted(keep)) if keep else None
    for entry in baselines.load_all():
        if entry.get("metric") != "confusion" or not str(entry.get("paper", "")).startswith(NISHIME_PAPER):
            continue
        regions = (entry.get("config") or {}).get("keep_regions")
        if (tuple(sorted(regions)) if regions else None) != wanted:
            continue
        return {
            "matrix": _canonical_matrix(entry),
            "split": str(entry.get("split", "test")),
            "source": str(entry.get("source", "")),
            "id": str(entry.get("id", "")),
        }
    return None


def _canonical_matrix(entry: dict) -> np.ndarray:
    """Reorder a published matrix {labels, matrix (fractions or percent), rows: true|predicted}
    into the canonical order with rows = true class."""
    labels = [canonical(str(n)) for n in entry.get("labels") or []]
    values = np.asarray(entry.get("matrix"), dtype=np.float64)
    if values.shape != (len(labels), len(labels)) or None in labels:
        raise FerbenchError(f"published.yaml {entry.get('id', '')}: confusion matrix does not match its labels")
    if str(entry.get("rows", True)).lower().startswith("pred"):
        values = values.T
    if values.max() > 1.0:
        values = values / 100.0
    order = [labels.index(name) if name in labels else None for name in EMOTIONS]
    out = np.zeros((len(EMOTIONS), len(EMOTIONS)))
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            if a is not None and b is not None:
                out[i, j] = values[a, b]
    return out


def part_for_split(target, split: str):
    """The run's part that matches a published split: "val" (FER-2013 PublicTest under the
    official protocol) or "test"; None when the run has no such part."""
    if split == "val":
        return target.val if target.val is not None and len(target.val) else None
    return target.test if split == "test" else None


def side_by_side(ws, published: dict, y_pred, part, stem: str) -> None:
    """Write ours-vs-published CSV and PNG for one published matrix."""
    from ferbench.analysis._files import save_figure

    names = list(EMOTIONS)
    _, rates, recall = confusion_rates(part.labels, y_pred, names)
    theirs = published["matrix"]
    write_matrix_csv(
        ws.file(f"{stem}.csv"),
        names,
        rates,
        {"recall": recall, "published_recall": np.diag(theirs), "recall_delta": recall - np.diag(theirs)},
    )
    save_figure(
        confusion_figure(
            rates,
            names,
            f"this run, {published['split']} part (n={len(part)})",
            theirs,
            f"Nishime et al. {published['source']} ({published['split']})",
        ),
        ws.file(f"{stem}.png"),
    )
    save_figure(
        recall_figure(recall, names, f"per-class recall vs Nishime {published['source']}", np.diag(theirs)),
        ws.file(f"{stem}_recall.png"),
    )
    note = (
        f"This run on its {published['split']} part ({len(part)} images) beside Nishime et al. "
        f"{published['source']} ({published['id']}), rows = true class, columns = predicted.\n"
    )
    if published["split"] == "val":
        note += (
            "The paper's class counts match FER-2013 PublicTest, which is ferbench's val split under "
            "the official protocol; our runs early-stop on that part, so our figures there are "
            "slightly optimistic. The run's test (PrivateTest) matrix is confusion_normalized.csv.\n"
        )
    ws.file(f"{stem}.txt").write_text(note)


def nishime_comparable(tags: dict, class_names) -> str | None:
    """None when the run's protocol matches the paper's (FER-2013, official split, the seven
    canonical classes); otherwise why the side-by-side is not shown."""
    dataset, protocol = tags.get(TAG_DATASET), tags.get(TAG_PROTOCOL)
    if dataset != "fer2013":
        return f"Nishime's matrix is on FER-2013; this run is on {dataset}"
    if protocol != "official":
        return f"Nishime's matrix uses the official FER-2013 split; this run used protocol {protocol}"
    if tuple(class_names) != EMOTIONS:
        return "this run's label space differs from the seven FER-2013 classes"
    return None


def analyze_confusion(target, out=None) -> dict:
    """Compute, write and log the analysis for an opened run (ferbench.analysis.RunTarget)."""
    from ferbench.analysis._files import Workspace, save_figure

    names = list(target.dataset.class_names)
    proba = target.predict(target.test.images)
    y_true = target.test.labels
    counts, rates, recall = confusion_rates(y_true, proba.argmax(axis=1), names)
    why_not = nishime_comparable(target.tags, names)
    published = None
    if why_not is None:
        published = nishime_published()
        if published is None:
            why_not = "the baselines file holds no Nishime confusion matrix"
        elif part_for_split(target, published["split"]) is None:
            why_not = f"the run has no {published['split']} part to match the paper's split"
            published = None
    title = f"{target.tags.get(TAG_FAMILY, '?')} on {target.dataset.name} ({target.fold}, test)"
    with Workspace("confusion", out) as ws:
        write_matrix_csv(
            ws.file("confusion_normalized.csv"), names, rates, {"recall": recall, "support": counts.sum(axis=1)}
        )
        save_figure(confusion_figure(rates, names, title), ws.file("confusion_normalized.png"))
        save_figure(recall_figure(recall, names, title), ws.file("per_class_recall.png"))
        if published is not None:
            # Compare on the split the paper scored on (its Table 2 is on PublicTest = our val).
            part = part_for_split(target, published["split"])
            y_pred = target.predict(part.images).argmax(axis=1)
            side_by_side(ws, published, y_pred, part, "vs_nishime")
        else:
            ws.file("vs_nishime.txt").write_text(f"No side-by-side with Nishime: {why_not}.\n")
        artifacts = ws.publish(target.run_id, target.tracking_uri)
    return {
        "accuracy": float(np.mean(proba.argmax(axis=1) == y_true)),
        "n_images": int(len(y_true)),
        "recall": dict(zip(names, map(float, recall), strict=True)),
        "rates": rates,
        "nishime": published is not None,
        "why_not": why_not,
        "artifacts": artifacts,
    }
