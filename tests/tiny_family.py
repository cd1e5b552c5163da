"""The tiny numpy family and data set of `ferbench.testing`, and a fixture that registers the
family for one test only, so the global registry stays clean."""

from __future__ import annotations

import pytest

from ferbench.families import registry
from ferbench.testing import TinyFamily, tiny_dataset

__all__ = ["TinyFamily", "tiny_dataset", "tiny_family"]


@pytest.fixture
def tiny_family():
    registry._FAMILIES[TinyFamily.name] = TinyFamily
    yield TinyFamily
    registry._FAMILIES.pop(TinyFamily.name, None)
