"""Published baselines: ferbench/baselines/published.yaml and its loader.

The file groups entries that share fields (`common`); `load_all()` flattens the groups, validates
every entry against the schema below and returns plain dicts (fresh copies, so callers may edit).
`for_family(name)`: every published number of one family (`ferbench models`, `bench`).

A plugin family may ship its own file of the same schema (class attribute `baselines_file`):
without an explicit path, every function here reads published.yaml and those files. A plugin's
file holds numbers for its own families only; one that fails validation is skipped with a
one-line warning, so a broken plugin never breaks ferbench.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path

from ferbench.errors import FerbenchError

PUBLISHED = Path(__file__).with_name("published.yaml")

DATASETS = ("fer2013", "jaffe", "ckplus", "sfew")
SELECTED_ON = ("val", "test", "unknown", "none")
FIXED_SPLITS = ("train", "val", "test", "val_or_test", "mean")
REQUIRED = (
    "id",
    "family",
    "paper",
    "dataset",
    "variant",
    "split_sizes",
    "protocol",
    "subject_independent",
    "split",
    "selected_on",
    "tta",
    "extra_data",
    "metric",
    "source",
)
OPTIONAL = (
    "value",
    "fingerprint",
    "classes",
    "epochs",
    "reference_only",
    "config",
    "method",
    "notes",
    "matrix",
    "labels",
    "rows",
    "normalize",
)
SPLIT_NAMES = ("train", "val", "test")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_PROTOCOL = re.compile(r"^(official|unknown|loo|loso|holdout(:0?\.\d+)?|(subject-)?kfold(:\d+)?)$")
_METRIC = re.compile(r"^(train|val|test)_[a-z0-9_]+$")
_FOLD = re.compile(r"^fold_\d+$")


def _check(entry: dict, papers: dict, where: str) -> None:
    def bad(message: str) -> FerbenchError:
        return FerbenchError(f"{where}: {message}")

    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}")
    if not isinstance(entry["id"], str) or not _ID.match(entry["id"]):
        raise bad(f"id {entry['id']!r} must be lower case [a-z0-9_.-]")
    family = entry["family"]
    reference = family.startswith("ref:") if isinstance(family, str) else False
    if not isinstance(family, str) or (reference and len(family) < 5):
        raise bad(f"family {family!r} must be a ferbench family name or 'ref:<name>'")
    if bool(entry.get("reference_only", False)) != reference:
        raise bad("reference_only must be true exactly when family starts with 'ref:'")
    if entry["paper"] not in papers:
        raise bad(f"paper {entry['paper']!r} is not listed under papers:")
    if entry["dataset"] not in DATASETS:
        raise bad(f"dataset {entry['dataset']!r} not one of {', '.join(DATASETS)}")
    if not _PROTOCOL.match(str(entry["protocol"])):
        raise bad(f"protocol {entry['protocol']!r} is not a ferbench protocol text or 'unknown'")
    split = str(entry["split"])
    if split not in FIXED_SPLITS and not _FOLD.match(split):
        raise bad(f"split {split!r} not one of {', '.join(FIXED_SPLITS)}, fold_<k>")
    if entry["selected_on"] not in SELECTED_ON:
        raise bad(f"selected_on {entry['selected_on']!r} not one of {', '.join(SELECTED_ON)}")
    for flag in ("subject_independent", "tta", "extra_data"):
        if entry[flag] not in (True, False, None):
            raise bad(f"{flag} must be true, false or null (unknown)")
    fingerprint = entry.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise bad("fingerprint must be a string or null")
    _check_variant(entry, bad)
    if entry["metric"] == "confusion":
        _check_confusion(entry, bad)
    else:
        if not _METRIC.match(str(entry["metric"])):
            raise bad(f"metric {entry['metric']!r} must be an MLflow name like test_accuracy")
        value = entry.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise bad(f"value {value!r} must be a fraction in [0, 1] (percent / 100)")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_variant(entry: dict, bad) -> None:
    """split_sizes (null when unknown), classes and epochs: what decides comparability."""
    sizes = entry["split_sizes"]
    if sizes is not None:
        names = set(sizes) if isinstance(sizes, dict) else set()
        if (
            not names
            or not all(_count(v) for v in sizes.values())
            or not (names == {"all"} or names <= set(SPLIT_NAMES))
        ):
            raise bad(
                f"split_sizes {sizes!r} must map {', '.join(SPLIT_NAMES)} (or all alone) to image counts, or be null"
            )
    classes = entry.get("classes")
    if classes is not None:
        listed = isinstance(classes, list) and all(isinstance(c, str) and c for c in classes)
        if not (_count(classes) and classes > 1) and not (
            listed and len(classes) > 1 and len(set(classes)) == len(classes)
        ):
            raise bad(f"classes {classes!r} must be a count > 1 or a list of distinct names")
    epochs = entry.get("epochs")
    if epochs is not None and not _count(epochs):
        raise bad(f"epochs {epochs!r} must be a positive integer")
    stated = (entry.get("config") or {}).get("epochs")
    if epochs is not None and stated is not None and stated != epochs:
        raise bad(f"epochs {epochs} differs from config epochs {stated}")


def _check_confusion(entry: dict, bad) -> None:
    labels, matrix = entry.get("labels"), entry.get("matrix")
    if "value" in entry:
        raise bad("a confusion entry has a matrix, not a value")
    if not isinstance(labels, list) or not labels:
        raise bad("a confusion entry needs labels (the row and column order)")
    n = len(labels)
    if (
        not isinstance(matrix, list)
        or len(matrix) != n
        or any(not isinstance(row, list) or len(row) != n for row in matrix)
    ):
        raise bad(f"matrix must be {n} rows of {n} values (the order of labels)")
    for row in matrix:
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1 for x in row):
            raise bad("matrix values must be fractions in [0, 1]")
        if entry.get("normalize") == "rows" and abs(sum(row) - 1.0) > 0.01:
            raise bad(f"a row-normalised matrix row sums to {sum(row):.4f}, not 1")
    if entry.get("rows") is not True:
        raise bad("rows: true (rows are the true class) must be stated")


@lru_cache(maxsize=16)
def _load(path: str) -> tuple[dict, tuple[dict, ...], dict]:
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FerbenchError(f"cannot read baselines file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise FerbenchError(f"baselines file {path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != 1:
        raise FerbenchError(f"baselines file {path}: expected a mapping with schema: 1")
    papers = document.get("papers") or {}
    none = document.get("no_published_numbers") or {}
    entries, seen = [], set()
    for g, group in enumerate(document.get("groups") or []):
        common = group.get("common") or {}
        for e, own in enumerate(group.get("entries") or []):
            entry = {**common, **own}
            where = f"{Path(path).name} group {g + 1} entry {e + 1} ({own.get('id', '?')})"
            _check(entry, papers, where)
            if entry["id"] in seen:
                raise FerbenchError(f"{where}: duplicate id {entry['id']!r}")
            seen.add(entry["id"])
            entries.append(entry)
    overlap = sorted(set(none) & {entry["family"] for entry in entries})
    if overlap:
        raise FerbenchError(f"{path}: {', '.join(overlap)} listed under no_published_numbers but has entries")
    return papers, tuple(entries), none


_WARNED: set[str] = set()


def _check_plugin(path: Path, families: tuple[str, ...], document: tuple, taken_ids: set, taken_papers: dict) -> None:
    """A plugin's file speaks only of its own families and takes no id or paper key of another file."""
    papers_, entries, none = document
    for entry in entries:
        if entry["family"] not in families and not entry["family"].startswith("ref:"):
            raise FerbenchError(
                f"{path.name} entry {entry['id']}: family {entry['family']!r} is not one of "
                f"the plugin's ({', '.join(families)})"
            )
        if entry["id"] in taken_ids:
            raise FerbenchError(f"{path.name} entry {entry['id']}: the id is already used")
    strangers = sorted(set(none) - set(families))
    if strangers:
        raise FerbenchError(
            f"{path.name}: no_published_numbers names {', '.join(strangers)}, not the plugin's families"
        )
    clashes = sorted(key for key in papers_ if key in taken_papers and taken_papers[key] != papers_[key])
    if clashes:
        raise FerbenchError(f"{path.name}: paper {', '.join(clashes)} is defined differently elsewhere")


def _documents(path: str | Path | None) -> list[tuple[dict, tuple[dict, ...], dict]]:
    """(papers, entries, no_published_numbers) of the given file, or of published.yaml and the
    files of installed plugins."""
    if path is not None:
        return [_load(str(path))]
    from ferbench.families import registry

    documents = [_load(str(PUBLISHED))]
    for plugin_path, families in registry.plugin_baselines().items():
        taken_ids = {entry["id"] for document in documents for entry in document[1]}
        taken_papers = {key: value for document in documents for key, value in document[0].items()}
        try:
            document = _load(str(plugin_path))
            _check_plugin(plugin_path, families, document, taken_ids, taken_papers)
        except FerbenchError as exc:
            if str(plugin_path) not in _WARNED:
                _WARNED.add(str(plugin_path))
                registry.warn(f"baselines of plugin family {', '.join(families)} skipped: {exc}")
            continue
        documents.append(document)
    return documents


def load_all(path: str | Path | None = None) -> list[dict]:
    """Every published entry, validated, in file order (published.yaml first)."""
    return copy.deepcopy([entry for document in _documents(path) for entry in document[1]])


def papers(path: str | Path | None = None) -> dict[str, dict]:
    return copy.deepcopy({key: value for document in _documents(path) for key, value in document[0].items()})


def without_numbers(path: str | Path | None = None) -> dict[str, str]:
    """Families declared to have no published number -> why."""
    return {key: value for document in _documents(path) for key, value in document[2].items()}


def for_family(name: str, path: str | Path | None = None) -> list[dict]:
    return [entry for entry in load_all(path) if entry["family"] == name]


def get(entry_id: str, path: str | Path | None = None) -> dict:
    for entry in load_all(path):
        if entry["id"] == entry_id:
            return entry
    raise FerbenchError(f"no published baseline with id {entry_id!r}")


def select(path: str | Path | None = None, **fields) -> list[dict]:
    """Entries whose fields equal every given value, e.g. select(dataset="fer2013", split="test")."""
    return [e for e in load_all(path) if all(e.get(k) == v for k, v in fields.items())]
