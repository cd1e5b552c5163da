"""The contract of every registered family (built in or from an installed plugin) and of the
tiny test family: `ferbench.testing`'s checks with each family's offline `test_params`.
A family added later is covered here without new test code."""

from __future__ import annotations

from ferbench.families import registry
from ferbench.testing import TinyFamily, parametrize_with_family_checks


@parametrize_with_family_checks([*registry.load_all().values(), TinyFamily])
def test_family_contract(family, check):
    check(family)
