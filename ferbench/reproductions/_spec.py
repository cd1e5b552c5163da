"""Reproduction specs: one YAML file per paper in this folder, read and checked here.

A spec names the paper, optional `defaults` shared by its rows, and `rows`. Each row gives:
  id             unique within the paper
  family         a registered family, with `params` (its settings for this row)
  dataset        the ferbench data set name the row needs, and its `protocol`
  epochs         the training budget (the paper's epochs); absent for families without epochs
  seeds          the seeds to run
  reproduces     published baseline ids this row reproduces (same method)
  compares_with  published ids shown beside the row although the method differs (a variant)
  notes          what a reader should know
Everything is checked when a spec is loaded, so a bad spec fails before any run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferbench.errors import FerbenchError

SPEC_DIR = Path(__file__).parent
ROW_FIELDS = {
    "id",
    "family",
    "dataset",
    "protocol",
    "epochs",
    "params",
    "seeds",
    "reproduces",
    "compares_with",
    "notes",
}


@dataclass(frozen=True)
class Row:
    paper: str
    id: str
    family: str
    dataset: str
    protocol: str
    epochs: int | None
    params: dict[str, Any]
    seeds: tuple[int, ...]
    reproduces: tuple[str, ...] = ()
    compares_with: tuple[str, ...] = ()
    notes: str = ""
    label: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "label", f"{self.paper}/{self.id}")

    @property
    def published_ids(self) -> tuple[str, ...]:
        return self.reproduces + self.compares_with

    def with_seeds(self, seeds: list[int]) -> Row:
        return Row(
            self.paper,
            self.id,
            self.family,
            self.dataset,
            self.protocol,
            self.epochs,
            self.params,
            tuple(seeds),
            self.reproduces,
            self.compares_with,
            self.notes,
        )


def papers() -> list[str]:
    """Paper keys that have a spec, sorted."""
    return sorted(path.stem for path in SPEC_DIR.glob("*.yaml"))


def load(paper: str) -> list[Row]:
    """The checked rows of one paper's spec."""
    import yaml

    path = SPEC_DIR / f"{paper}.yaml"
    if not path.is_file():
        raise FerbenchError(f"no reproduction spec for paper {paper!r}; known: {', '.join(papers())}")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FerbenchError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(spec, dict) or spec.get("paper") != paper or not isinstance(spec.get("rows"), list):
        raise FerbenchError(f"{path}: needs `paper: {paper}` and a list of `rows`")
    defaults = spec.get("defaults") or {}
    rows = [_row(paper, {**defaults, **raw}, path) for raw in spec["rows"]]
    ids = [row.id for row in rows]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise FerbenchError(f"{path}: row ids repeated: {', '.join(duplicated)}")
    return rows


def _row(paper: str, raw: dict, path: Path) -> Row:
    from ferbench import baselines
    from ferbench.data.readers import READERS
    from ferbench.families import registry
    from ferbench.params import resolve
    from ferbench.protocols import parse_protocol

    where = f"{path.name} row {raw.get('id', '?')!r}"
    unknown = sorted(set(raw) - ROW_FIELDS)
    missing = sorted({"id", "family", "dataset", "protocol", "seeds"} - set(raw))
    if unknown or missing:
        raise FerbenchError(f"{where}: unknown fields {unknown} / missing fields {missing}")
    family_cls = registry.get(raw["family"])
    params = dict(raw.get("params") or {})
    resolve(family_cls.params_spec(), params, f"{where}: family {family_cls.name}")
    if raw["dataset"] not in READERS:
        raise FerbenchError(f"{where}: unknown data set {raw['dataset']!r}")
    parse_protocol(raw["protocol"])
    epochs = raw.get("epochs") if family_cls.default_epochs is not None else None
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise FerbenchError(f"{where}: epochs must be an integer >= 1, got {epochs!r}")
    from ferbench.seeds import check_seeds

    seeds = check_seeds(raw["seeds"], where)
    published = {
        "reproduces": tuple(raw.get("reproduces") or ()),
        "compares_with": tuple(raw.get("compares_with") or ()),
    }
    for ids in published.values():
        for entry_id in ids:
            baselines.get(entry_id)  # an unknown id fails here
    return Row(
        paper,
        str(raw["id"]),
        family_cls.name,
        raw["dataset"],
        str(raw["protocol"]),
        epochs,
        params,
        tuple(seeds),
        notes=str(raw.get("notes") or "").strip(),
        **published,
    )


def select(paper_names: list[str] | None = None, row_ids: list[str] | None = None) -> list[Row]:
    """Rows of the named papers (all papers when none), narrowed to `row_ids` when given; an
    id may be a row id or `paper/row`."""
    chosen = paper_names or papers()
    rows = [row for paper in chosen for row in load(paper)]
    if not row_ids:
        return rows
    picked: list[Row] = []
    for wanted in row_ids:
        matches = [row for row in rows if wanted in (row.id, row.label)]
        if not matches:
            raise FerbenchError(
                f"--rows: no row {wanted!r} in {', '.join(chosen)}; `ferbench reproduce --list` shows the rows"
            )
        picked.extend(m for m in matches if m not in picked)
    return picked
