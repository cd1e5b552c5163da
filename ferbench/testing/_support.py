"""What the checks share: their data, a private store, one fit per family, and small asserts."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

import numpy as np

from ferbench.errors import FerbenchError

N_IMAGES, SIZE = 63, 24
EPOCHS = 1
_HOME: tempfile.TemporaryDirectory | None = None
_FITTED: dict[tuple, Any] = {}


def _data_shape(family_cls) -> tuple[int, int]:
    """(side, channels) of check data the runner lets this family take (its `check_input` with
    its test_params): small grey images, else small ones of its channels, else its input shape."""
    if family_cls is None:
        return SIZE, 1
    height, _, channels = family_cls.input_shape
    for side, have in ((SIZE, 1), (SIZE, channels)):
        try:
            family_cls.check_input((side, side) if have == 1 else (side, side, have), family_cls.test_params)
        except FerbenchError:
            continue
        return side, have
    return height, channels


def check_dataset(family_cls=None):
    """63 synthetic faces (9 per class, 7 subjects), 24x24 grey unless the family needs its own
    input size or colour."""
    return _dataset(*_data_shape(family_cls))


@lru_cache(maxsize=4)
def _dataset(side: int, channels: int):
    from dataclasses import replace

    from ferbench.data.synthetic import generate

    dataset = generate(n_images=N_IMAGES, seed=0, n_subjects=7, image_size=max(side, 16))
    images = dataset.images
    if side < 16:  # below the generator's smallest faces: nearest-neighbour subsampling
        rows = np.arange(side) * 16 // side
        images = images[:, rows][:, :, rows]
    if channels != 1:
        images = np.repeat(images[..., None], channels, axis=3)
    return dataset if images is dataset.images else replace(dataset, images=np.ascontiguousarray(images))


def check_parts(family_cls=None):
    """(train, val, test) parts of the check data: 42, 7 and 14 rows, in a shuffled order."""
    dataset = check_dataset(family_cls)
    order = np.random.default_rng(1).permutation(len(dataset))
    return dataset.part(order[:42]), dataset.part(order[42:49]), dataset.part(order[49:])


@contextmanager
def private_store() -> Iterator[Path]:
    """FERBENCH_HOME in one temporary directory per process (removed at exit), and no
    MLFLOW_TRACKING_URI, while a check runs: checks never write into a user's store, and
    feature caches and the MLflow database are made once for all checks."""
    global _HOME
    if _HOME is None:
        _HOME = tempfile.TemporaryDirectory(prefix="ferbench-checks-")
    saved = {key: os.environ.get(key) for key in ("FERBENCH_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["FERBENCH_HOME"] = _HOME.name
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield Path(_HOME.name)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def in_private_store(check: Callable) -> Callable:
    @wraps(check)
    def run(family_cls) -> None:
        with private_store():
            check(family_cls)

    return run


@contextmanager
def registered(family_cls) -> Iterator[None]:
    """The family in the registry under its name for the duration (a class not registered yet,
    like a plugin's before its entry point is installed, can still be run by name)."""
    from ferbench.families import registry

    registry.load_all()
    existing = registry._FAMILIES.get(family_cls.name)
    assert existing in (None, family_cls), (
        f"family name {family_cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}"
    )
    registry._FAMILIES[family_cls.name] = family_cls
    try:
        yield
    finally:
        if existing is None:
            registry._FAMILIES.pop(family_cls.name, None)


def _key(family_cls) -> tuple:
    return family_cls, repr(sorted(family_cls.test_params.items()))


def fresh_fit(family_cls, *, seed: int = 0, callbacks=None, share: bool = False):
    """(family, what fit returned): a new instance from test_params fitted on the check data for
    one epoch. share=True: later `fitted` calls reuse it (a seed-0 fit only)."""
    train, val, _ = check_parts(family_cls)
    family = family_cls(**family_cls.test_params)
    returned = family.fit(train, val, epochs=EPOCHS, seed=seed, callbacks=callbacks)
    if share and seed == 0 and returned is family:
        _FITTED.clear()
        _FITTED[_key(family_cls)] = family
    return family, returned


def fitted(family_cls):
    """One fit (test_params, seed 0) shared by the checks that only read it: a fit is the
    expensive part, and the checks run family by family. A new family replaces the old one."""
    key = _key(family_cls)
    if key not in _FITTED:
        _FITTED.clear()
        _FITTED[key] = fresh_fit(family_cls)[0]
    return _FITTED[key]


def assert_raises(match: str, call: Callable, *args, **kwargs) -> FerbenchError:
    """`call` raises a FerbenchError whose one-line message matches `match`."""
    try:
        call(*args, **kwargs)
    except FerbenchError as exc:
        assert re.search(match, str(exc)), f"FerbenchError {str(exc)!r} does not match {match!r}"
        assert "\n" not in str(exc), f"FerbenchError is not one line: {str(exc)!r}"
        return exc
    except Exception as exc:  # the wrong kind of error is the failure reported
        raise AssertionError(f"raised {type(exc).__name__} ({exc}), not a FerbenchError") from exc
    raise AssertionError(f"{getattr(call, '__qualname__', call)} raised no FerbenchError (expected {match!r})")


def learned_attributes(family) -> list[str]:
    """Public attributes ending in `_`: learned state, which only `fit` and `load` may set."""
    return sorted(k for k in vars(family) if k.endswith("_") and not k.startswith("_"))
