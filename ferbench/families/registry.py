"""The registry: how every command finds model families. No command holds a hard-coded list.

Built-in families are the modules of this package not starting with `_`, found by convention.
Plugins are installed packages that name family classes under the entry-point group
`ferbench.families` (`name = "package.module:Class"`); they are loaded once, after the built-in
ones. A plugin that cannot be loaded (import error, not a Family subclass, a name already taken)
is skipped with a one-line warning on stderr, and everything else works.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ferbench.errors import FerbenchError, first_line

if TYPE_CHECKING:
    from ferbench.families.base import Family

ENTRY_POINT_GROUP = "ferbench.families"
_FAMILIES: dict[str, type[Family]] = {}
_PLUGINS: dict[str, str] = {}  # family name -> the entry point that brought it ("name = value")
_state = {"plugins_loaded": False}


def _same_class(a: type, b: type) -> bool:
    # a module imported twice (reload, a test helper run as a script) gives a new class object
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: `@register class FiveLayerCNN(KerasFamily): name = "five_layer_cnn" ...`."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no family name")
    existing = _FAMILIES.get(cls.name)
    if existing is not None and not _same_class(existing, cls):
        raise TypeError(
            f"family {cls.name!r} registered twice ({existing.__module__}.{existing.__qualname__}, "
            f"{cls.__module__}.{cls.__qualname__})"
        )
    _FAMILIES[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Family]]:
    """Import every family module in this package and every plugin, then return name -> class,
    sorted by name."""
    import ferbench.families as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):  # bases and shared parts; base and registry are loaded already
            continue
        importlib.import_module(f"{package.__name__}.{module.name}")
    load_plugins()
    return dict(sorted(_FAMILIES.items()))


def get(name: str) -> type[Family]:
    families = load_all()
    if name not in families:
        raise FerbenchError(f"unknown family {name!r}; known: {', '.join(families)}")
    return families[name]


# --- plugins ----------------------------------------------------------------------------------
def _entry_points():
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


def warn(message: str) -> None:
    """One line on stderr: a broken plugin must be visible without stopping anything."""
    print(f"warning: {' '.join(message.split())}", file=sys.stderr)


def load_plugins() -> dict[str, str]:
    """Register the families of installed plugins (once per process); family name -> entry point."""
    if not _state["plugins_loaded"]:
        _state["plugins_loaded"] = True
        for entry in sorted(_entry_points(), key=lambda e: (e.name, e.value)):
            problem = _load_plugin(entry)
            if problem:
                warn(f"plugin family {entry.name} ({entry.value}) skipped: {problem}")
    return dict(_PLUGINS)


def _load_plugin(entry) -> str | None:
    """Register one entry point's family; the reason when it cannot be, else None."""
    import inspect

    from ferbench.families.base import Family

    try:
        cls = entry.load()
    except Exception as exc:  # any failure of a plugin's import is reported, not raised
        return f"cannot import it ({type(exc).__name__}: {first_line(exc, 160)})"
    if not (isinstance(cls, type) and issubclass(cls, Family)):
        return "it is not a subclass of ferbench.families.Family"
    if inspect.isabstract(cls):
        return f"{cls.__qualname__} is abstract (methods {', '.join(sorted(cls.__abstractmethods__))})"
    if not cls.name:
        return f"{cls.__qualname__} has no family name"
    existing = _FAMILIES.get(cls.name)
    if existing is not None and not _same_class(existing, cls):
        return f"family name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}"
    _FAMILIES[cls.name] = cls
    _PLUGINS[cls.name] = f"{entry.name} = {entry.value}"
    return None


def plugin_baselines() -> dict[Path, tuple[str, ...]]:
    """Baselines files that plugin families ship (class attribute `baselines_file`, a path, relative
    to the family's module when not absolute) -> the families that name each file."""
    load_plugins()
    files: dict[Path, list[str]] = {}
    for name in sorted(_PLUGINS):
        cls = _FAMILIES.get(name)
        declared = cls.baselines_file if cls is not None else None
        if not declared:
            continue
        path = Path(declared)
        if not path.is_absolute():
            module = sys.modules.get(cls.__module__)
            path = Path(getattr(module, "__file__", "") or ".").parent / path
        files.setdefault(path.resolve(), []).append(name)
    return {path: tuple(names) for path, names in files.items()}
