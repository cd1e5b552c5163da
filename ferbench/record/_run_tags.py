"""The tags of a ferbench run: what it trained, on which data (and where that data was read
from), under which protocol and seed, with which code."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.record.tags import (
    TAG_CLASSES,
    TAG_CONTEMPT,
    TAG_DATA_OPTIONS,
    TAG_DATA_PATH,
    TAG_DATASET,
    TAG_DATASET_VARIANT,
    TAG_FAMILY,
    TAG_FINGERPRINT,
    TAG_GIT_COMMIT,
    TAG_KIND,
    TAG_N_IMAGES,
    TAG_PAPER,
    TAG_PROTOCOL,
    TAG_RANDOM_WEIGHTS,
    TAG_SEED,
    TAG_SELECTED_ON,
    TAG_SOURCE,
    TAG_SPLIT_SIZES,
    TAG_SYNTHETIC,
    TAG_TTA,
    TAG_TUNED,
    TAG_VERSION,
    TAG_WEIGHTS,
)


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Commit of the ferbench source tree, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def source_name() -> str:
    """What made this process's runs: `ferbench <command>` from the command line (the installed
    script, or `python -c` running ferbench.cli), else the script's file name."""
    argv = sys.argv or [""]
    program = Path(argv[0]).name or "python"
    if program == "ferbench" or (program == "-c" and "ferbench.cli" in sys.modules):
        command = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""
        return f"ferbench {command}".strip()
    return program


def source_tags() -> dict[str, str]:
    """MLflow's own source tags, which fill its UI's Source column: the command or script that
    made the run and, when ferbench runs from a git checkout, its commit."""
    from mlflow.entities import SourceType
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE

    tags = {MLFLOW_SOURCE_NAME: source_name(), MLFLOW_SOURCE_TYPE: SourceType.to_string(SourceType.LOCAL)}
    commit = git_commit()
    if commit:
        tags[MLFLOW_GIT_COMMIT] = commit
    return tags


def weights_tag(params: dict[str, Any]) -> str:
    if "weights" not in params:
        return "n/a"
    value = str(params["weights"])
    if value.lower() in ("imagenet", "none"):
        return value.lower()
    return value if value.startswith("file:") else f"file:{Path(value).name}"


def common_tags(family_cls, dataset, protocol, seed: int, params: dict[str, Any]) -> dict[str, str]:
    """The tags of a ferbench run of `family_cls` on `dataset`."""
    from ferbench import __version__

    tags = {
        TAG_SOURCE: "ferbench",
        TAG_KIND: "run",
        TAG_FAMILY: family_cls.name,
        TAG_PAPER: family_cls.paper,
        TAG_DATASET: dataset.name,
        TAG_DATASET_VARIANT: dataset.variant,
        TAG_FINGERPRINT: dataset.fingerprint,
        TAG_N_IMAGES: str(len(dataset)),
        TAG_SPLIT_SIZES: json.dumps(split_sizes(dataset)),
        TAG_CLASSES: ",".join(dataset.class_names),
        TAG_PROTOCOL: getattr(protocol, "name", protocol),
        TAG_SEED: str(seed),
        TAG_VERSION: __version__,
        TAG_WEIGHTS: weights_tag(params),
        TAG_RANDOM_WEIGHTS: str(bool(family_cls.uses_random_weights(params))).lower(),
        TAG_SYNTHETIC: str(bool(dataset.is_synthetic)).lower(),
        TAG_TUNED: "false",
        # without early stopping nothing is chosen on the validation rows
        TAG_SELECTED_ON: "none" if params.get("early_stopping") is False else "val",
    }
    if "tta" in params:
        tags[TAG_TTA] = str(bool(params["tta"])).lower()
    if "contempt" in dataset.options:
        tags[TAG_CONTEMPT] = str(dataset.options["contempt"])
    tags.update(data_location_tags(dataset))
    tags.update(source_tags())
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    return tags


def split_sizes(dataset) -> dict[str, int]:
    """Images per official split (train, val, test first), or {"all": n} without splits."""
    from ferbench.data.dataset import SPLIT_ORDER

    if dataset.splits is None:
        return {"all": len(dataset)}
    names, counts = np.unique(dataset.splits, return_counts=True)
    found = dict(zip(names.tolist(), counts.tolist(), strict=True))
    ordered = [name for name in SPLIT_ORDER if name in found] + sorted(set(found) - set(SPLIT_ORDER))
    return {name: found[name] for name in ordered}


def data_location_tags(dataset) -> dict[str, str]:
    """Where the data set was read from and with which reader options, so analyses can rebuild
    it (its fingerprint tag then proves it is the same content)."""
    from ferbench.data.readers import READERS

    tags = {}
    if dataset.source and Path(dataset.source).exists():
        tags[TAG_DATA_PATH] = str(Path(dataset.source).absolute())
    reader = READERS.get(dataset.name)
    options = {k: v for k, v in dataset.options.items() if reader and k in reader.options}
    if options:
        tags[TAG_DATA_OPTIONS] = json.dumps(options, sort_keys=True)
    return tags
