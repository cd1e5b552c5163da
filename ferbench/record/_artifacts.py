"""A run's evaluation files in MLflow: confusion matrix (CSV and figure), classification report
and the per-fold table, under `evaluation/`."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np

import ferbench.record._client as _client


def log_evaluation_artifacts(
    run_id: str,
    y_true,
    proba,
    class_names,
    prefix: str = "test",
    figure: bool = True,
    folds: tuple[list[str], dict[str, list]] | None = None,
) -> None:
    """Confusion matrix (CSV, and PNG unless figure=False: a grid's cells skip the ~0.3 s
    figure each), the classification report and, given (fold names, {column: values}), the
    per-fold table folds.csv, under `evaluation/`."""
    from ferbench.evaluate import confusion, report_text

    names = list(class_names)
    y_true = np.asarray(y_true)
    matrix = confusion(y_true, np.asarray(proba).argmax(axis=1), len(names))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows = ["true\\pred," + ",".join(names)]
        rows += [f"{n}," + ",".join(map(str, r)) for n, r in zip(names, matrix, strict=True)]
        (out / f"{prefix}_confusion_matrix.csv").write_text("\n".join(rows) + "\n")
        (out / f"{prefix}_classification_report.txt").write_text(report_text(y_true, proba, names))
        if folds is not None:
            fold_names, columns = folds
            with open(out / "folds.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["fold", *columns])
                writer.writerows(
                    [name, *(float(values[i]) for values in columns.values())] for i, name in enumerate(fold_names)
                )
        if figure:
            _confusion_figure(matrix, names, prefix, out / f"{prefix}_confusion_matrix.png")
        log_files(run_id, out, artifact_path="evaluation")


def _confusion_figure(matrix: np.ndarray, names: list[str], prefix: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=90)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{prefix} confusion (counts; colour = row rate)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def log_files(run_id: str, local: str | Path, artifact_path: str | None = None) -> None:
    """Log a file, or every file under a folder, as artifacts of run `run_id`: each file whole or
    not at all. On a local store the files go one by one (MLflow writes each to a temporary name,
    then renames it; a folder is otherwise copied in place, and a full disk would leave a torn
    file), and if one fails, the ones this call wrote are removed. A server stores what it gets."""
    client = _client.client()
    local = Path(local)
    root = _local_artifact_dir(client, run_id)
    if root is None:
        if local.is_dir():
            client.log_artifacts(run_id, str(local), artifact_path=artifact_path)
        else:
            client.log_artifact(run_id, str(local), artifact_path=artifact_path)
        return
    files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    written: list[Path] = []
    try:
        for path in files:
            folder = "/".join(
                part
                for part in (artifact_path or "", path.parent.relative_to(local).as_posix() if local.is_dir() else "")
                if part not in ("", ".")
            )
            target = root / folder / path.name
            client.log_artifact(run_id, str(path), artifact_path=folder or None)
            written.append(target)
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise


def _local_artifact_dir(client, run_id: str) -> Path | None:
    """The run's artifact folder when it is on this machine's file system, else None."""
    uri = client.get_run(run_id).info.artifact_uri
    if not uri.startswith("file:"):
        return None
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri))
