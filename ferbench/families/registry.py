"""The registry: how every command finds model families. No command holds a hard-coded list."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from ferbench.errors import FerbenchError

if TYPE_CHECKING:
    from ferbench.families.base import Family

_FAMILIES: dict[str, type[Family]] = {}
_NOT_FAMILY_MODULES = {"base", "registry", "keras_base", "feature_base"}


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: `@register class FiveLayerCNN(KerasFamily): name = "five_layer_cnn" ...`."""
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} has no family name")
    existing = _FAMILIES.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"family {cls.name!r} registered twice ({existing.__name__}, {cls.__name__})")
    _FAMILIES[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Family]]:
    """Import every family module in this package, then return name -> class, sorted by name."""
    import ferbench.families as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_") or module.name in _NOT_FAMILY_MODULES:
            continue
        importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_FAMILIES.items()))


def get(name: str) -> type[Family]:
    families = load_all()
    if name not in families:
        raise FerbenchError(f"unknown family {name!r}; known: {', '.join(families)}")
    return families[name]
