"""Model families. Each module here defines and registers one or more families, except base and
registry and the `_`-prefixed ones (bases and shared parts); `registry.load_all()` finds them by
convention, and installed plugins through the entry-point group `ferbench.families`.

What a family is written against, built in or in a plugin:

    from ferbench.families import Family, KerasFamily, FeatureFamily, register

The names resolve on first use, so importing this package stays cheap for `ferbench --help`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the `X as X` form marks these as re-exported
    from ferbench.families._base_feature import FeatureFamily as FeatureFamily
    from ferbench.families._base_keras import KerasFamily as KerasFamily
    from ferbench.families.base import EpochCallback as EpochCallback
    from ferbench.families.base import Family as Family
    from ferbench.families.registry import register as register

_EXPORTS = {
    "Family": "ferbench.families.base",
    "EpochCallback": "ferbench.families.base",
    "KerasFamily": "ferbench.families._base_keras",
    "FeatureFamily": "ferbench.families._base_feature",
    "register": "ferbench.families.registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
