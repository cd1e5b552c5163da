"""Hyperparameter declarations: one spec gives the default, validates `--set`, and defines the tuning space.

A family declares `params = {"dropout": Float(0.25, "dropout rate", low=0.0, high=0.8), ...}`. The same object
- parses and range-checks a `--set dropout=0.3` string (`parse`),
- checks a value given in code (`validate`),
- becomes an Optuna distribution when `tune=True` (`suggest`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ferbench.errors import FerbenchError

if TYPE_CHECKING:  # optuna is imported only where a study runs
    from optuna.trial import BaseTrial


@dataclass(frozen=True)
class Param:
    default: Any
    help: str = ""
    tune: bool = True

    def parse(self, name: str, text: str) -> Any:
        raise NotImplementedError

    def validate(self, name: str, value: Any) -> Any:
        return self.parse(name, str(value)) if isinstance(value, str) else value

    def suggest(self, trial: BaseTrial, name: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Float(Param):
    low: float = -math.inf
    high: float = math.inf
    log: bool = False
    # The range tuning searches when it differs from the valid one: a penalty may be 0, yet it is
    # searched on a log scale, which cannot reach 0.
    search: tuple[float, float] | None = None

    def parse(self, name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise FerbenchError(f"parameter {name}: {text!r} is not a number") from None
        return self.validate(name, value)

    def validate(self, name: str, value: Any) -> float:
        if isinstance(value, str):
            return self.parse(name, value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FerbenchError(f"parameter {name}: {value!r} is not a number")
        if not (self.low <= value <= self.high):
            raise FerbenchError(f"parameter {name}: {value} is outside [{self.low}, {self.high}]")
        return float(value)

    def suggest(self, trial: BaseTrial, name: str) -> float:
        low, high = self.search or (self.low, self.high)
        return trial.suggest_float(name, low, high, log=self.log)


@dataclass(frozen=True)
class Int(Param):
    low: int = 0
    high: int = 2**31
    log: bool = False
    step: int = 1

    def parse(self, name: str, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise FerbenchError(f"parameter {name}: {text!r} is not an integer") from None
        return self.validate(name, value)

    def validate(self, name: str, value: Any) -> int:
        if isinstance(value, str):
            return self.parse(name, value)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            and not (isinstance(value, float) and value.is_integer())
        ):
            raise FerbenchError(f"parameter {name}: {value!r} is not an integer")
        number = int(value)
        if not (self.low <= number <= self.high):
            raise FerbenchError(f"parameter {name}: {number} is outside [{self.low}, {self.high}]")
        return number

    def suggest(self, trial: BaseTrial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Choice(Param):
    choices: tuple[Any, ...] = field(default_factory=tuple)

    def parse(self, name: str, text: str) -> Any:
        for choice in self.choices:
            if str(choice).lower() == text.strip().lower():
                return choice
        raise FerbenchError(f"parameter {name}: {text!r} is not one of {', '.join(map(str, self.choices))}")

    def validate(self, name: str, value: Any) -> Any:
        if value in self.choices and type(value) is type(self.default):
            return value
        return self.parse(name, str(value))

    def suggest(self, trial: BaseTrial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))


@dataclass(frozen=True)
class Text(Param):
    """A free-text parameter (weights path, layer name); never tuned."""

    allow_empty: bool = False

    def parse(self, name: str, text: str) -> str:
        text = str(text).strip()
        if not text and not self.allow_empty:
            raise FerbenchError(f"parameter {name}: empty value")
        return text

    def validate(self, name: str, value: Any) -> str:
        return self.parse(name, value)

    def suggest(self, trial: BaseTrial, name: str) -> Any:
        return self.default


def Bool(default: bool, help: str = "", tune: bool = False) -> Choice:  # noqa: N802 - reads like a type
    return Choice(default, help, tune, choices=(False, True))


def resolve(specs: dict[str, Param], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overlaid with `given`, every key known and every value checked."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise FerbenchError(f"{owner} has no parameter {', '.join(unknown)}; known: {', '.join(sorted(specs))}")
    out = {name: spec.default for name, spec in specs.items()}
    for name, value in given.items():
        out[name] = specs[name].validate(name, value)
    return out


def parse_assignments(items: list[str] | None, option: str = "--set") -> dict[str, str]:
    """`["dropout=0.3", "l2=1e-4"]` -> {"dropout": "0.3", "l2": "1e-4"}; values stay text for `resolve`.
    `option` is the flag the texts came from, named in the error."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FerbenchError(f"{option} {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out
