"""A run's request, checked: the family, params, protocol and its folds, epochs, seed and store,
all before any MLflow run exists (`prepare`), and what a finished run returns (`RunResult`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ferbench.errors import FerbenchError

if TYPE_CHECKING:
    from ferbench.families.base import Family


@dataclass
class RunResult:
    run_id: str
    family: str
    dataset: str
    protocol: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fold_metrics: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    logging_time_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        keys = ("run_id", "family", "dataset", "protocol", "params", "metrics")
        return {key: asdict(self)[key] for key in keys}


@dataclass
class Plan:
    family_cls: type[Family]
    dataset: Any
    protocol: Any
    folds: list
    params: dict[str, Any]
    epochs: int | None
    seed: int
    experiment_id: str


def resolve_protocol(family_cls, dataset, protocol: str | None, seed: int):
    """(Protocol, folds). Without an explicit text: the family's paper protocol when it applies
    to this data set, else the data set's default."""
    from ferbench.protocols import default_protocol, parse_protocol

    if protocol is not None:
        parsed = parse_protocol(protocol)
        return parsed, family_folds(family_cls, parsed, dataset, seed)
    if family_cls.default_protocol:
        parsed = parse_protocol(family_cls.default_protocol)
        try:
            return parsed, family_folds(family_cls, parsed, dataset, seed)
        except FerbenchError:
            pass  # the paper's protocol does not fit this data set: use the data set's own
    parsed = parse_protocol(default_protocol(dataset))
    return parsed, family_folds(family_cls, parsed, dataset, seed)


def family_folds(family_cls, protocol, dataset, seed: int):
    """A protocol's folds as this family trains on them: a validation part is carved from each
    fold's training rows only for families that use one (family_cls.validation_fraction)."""
    return protocol.folds(dataset, seed=seed, val_fraction=family_cls.validation_fraction)


def prepare(
    family_name, dataset, *, protocol=None, params=None, epochs=None, seed=0, tracking_uri=None, check_available=True
) -> Plan:
    """Check the whole request and open the store; no MLflow run is created here.
    check_available=False skips `unavailable_reason()` (which judges the family's *defaults*)
    for callers whose params make it runnable, e.g. bench with a family's `bench_params`."""
    from ferbench import record
    from ferbench.families import registry

    family_cls = registry.get(family_name)
    # unavailable_reason() judges the defaults (e.g. ImageNet weights missing); a caller that
    # chooses the weights itself (--weights none / a file) is judged by the family's own checks.
    if params and "weights" in params:
        check_available = False
    reason = family_cls.unavailable_reason() if check_available else None
    if reason:
        raise FerbenchError(f"family {family_name} cannot run here: {reason}")
    resolved = family_cls(**(params or {})).params
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise FerbenchError(f"--epochs {epochs!r}: must be an integer >= 1")
    if family_cls.default_epochs is None:
        epochs = None  # the family does not train by epochs
    elif epochs is None:
        epochs = family_cls.default_epochs
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise FerbenchError(f"--seed {seed!r}: must be an integer >= 0")
    family_cls.check_input(dataset.image_shape, resolved)
    parsed, folds = resolve_protocol(family_cls, dataset, protocol, seed)
    for fold in folds:
        if len(fold.train) == 0 or len(fold.test) == 0:
            raise FerbenchError(f"protocol {parsed.name}: fold {fold.name} has an empty part")
    record.setup(tracking_uri)
    record.native_models_enabled()  # a bad FERBENCH_NATIVE_MODELS fails here, not after training
    experiment_id = record.experiment_for(dataset.name)
    return Plan(family_cls, dataset, parsed, folds, resolved, epochs, int(seed), experiment_id)
