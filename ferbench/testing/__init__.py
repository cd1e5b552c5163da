"""The family contract, shipped with ferbench so that any family, built in or from a plugin, is
tested the same way.

Each `check_*` function takes a family class, runs it with its `test_params` on tiny synthetic
data (one epoch) and asserts one property; `CHECKS` lists them all. With pytest:

    from ferbench.testing import parametrize_with_family_checks

    @parametrize_with_family_checks([MyFamily])
    def test_my_family(family, check):
        check(family)

Checks write only into a temporary ferbench store of their own. `TinyFamily` and
`tiny_dataset` are a millisecond-fast family and data set for tests of everything around
families (runs, tracking, tuning).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ferbench.families.base import Family
from ferbench.testing._support import check_dataset, check_parts, private_store
from ferbench.testing.checks import (
    CHECKS,
    check_bad_params_raise,
    check_builds,
    check_fit,
    check_metadata,
    check_params_round_trip,
    check_params_spec,
    check_predict_before_fit_raises,
    check_predict_proba,
    check_run_is_logged,
    check_same_seed_same_result,
    check_save_load,
    check_subset_predictions,
    check_tunable_params_sample,
)
from ferbench.testing.tiny import TinyFamily, tiny_dataset

if TYPE_CHECKING:
    import pytest

# family classes, or a name -> class mapping such as registry.load_all()
Families = Mapping[str, type[Family]] | Iterable[type[Family]]

__all__ = [
    "CHECKS",
    "TinyFamily",
    "check_bad_params_raise",
    "check_builds",
    "check_dataset",
    "check_fit",
    "check_metadata",
    "check_params_round_trip",
    "check_params_spec",
    "check_parts",
    "check_predict_before_fit_raises",
    "check_predict_proba",
    "check_run_is_logged",
    "check_same_seed_same_result",
    "check_save_load",
    "check_subset_predictions",
    "check_tunable_params_sample",
    "family_checks",
    "parametrize_with_family_checks",
    "private_store",
    "tiny_dataset",
]


def _classes(families: Families) -> list[type[Family]]:
    return list(families.values()) if isinstance(families, Mapping) else list(families)


def family_checks(families: Families) -> Iterable[tuple[type[Family], Callable[..., Any]]]:
    """(family class, check) for every family and every check, family by family (so the checks
    that read one fit share it)."""
    for family_cls in _classes(families):
        for check in CHECKS:
            yield family_cls, check


def parametrize_with_family_checks(
    families: Families, expected_failures: Mapping[str, Mapping[str, str]] | None = None
) -> pytest.MarkDecorator:
    """A pytest parametrize decorator over (family, check) pairs, with ids like
    `five_layer_cnn-check_fit`. `families`: classes, or a name -> class mapping such as
    `registry.load_all()`. `expected_failures`: family name -> {check name: reason}, run as
    strict xfails (a fixed family then fails until its entry goes)."""
    import pytest

    expected = expected_failures or {}
    params = []
    for family_cls, check in family_checks(families):
        reason = expected.get(family_cls.name, {}).get(check.__name__)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(family_cls, check, id=f"{family_cls.name}-{check.__name__}", marks=marks))
    return pytest.mark.parametrize("family, check", params)
