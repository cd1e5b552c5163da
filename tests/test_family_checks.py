"""`ferbench.testing` itself: each check fails for a family that breaks what it checks, and
`parametrize_with_family_checks` names and marks its cases."""

from __future__ import annotations

import pytest

from ferbench.testing import TinyFamily, checks, parametrize_with_family_checks


class _Untitled(TinyFamily):
    title = ""


class _Eager(TinyFamily):
    def __init__(self, **params):
        super().__init__(**params)
        self.w_ = None


class _Unguarded(TinyFamily):
    def predict_proba(self, part):
        return self._softmax(self._features(part.images))


class _Silent(TinyFamily):
    def fit(self, train, val=None, *, callbacks=None, **kwargs):
        return super().fit(train, val, **kwargs)


class _Unnormalised(TinyFamily):
    def predict_proba(self, part):
        return super().predict_proba(part) * 2


class _Caching(TinyFamily):
    def predict_images(self, images):
        import uuid

        from ferbench import store

        (store.cache_dir("features") / uuid.uuid4().hex).mkdir()
        return super().predict_images(images)


class _BatchDependent(TinyFamily):
    def predict_proba(self, part):
        proba = super().predict_proba(part) + super().predict_proba(part).mean(axis=0)
        return proba / proba.sum(axis=1, keepdims=True)


class _Forgetful(TinyFamily):
    @classmethod
    def load(cls, directory):
        loaded = super().load(directory)
        loaded.params = cls().params
        return loaded


class _Unseeded(TinyFamily):
    fits = 0

    def fit(self, train, val=None, *, seed=0, **kwargs):
        type(self).fits += 1
        return super().fit(train, val, seed=seed + type(self).fits, **kwargs)


@pytest.mark.parametrize(
    "family, check",
    [
        (_Untitled, checks.check_metadata),
        (_Eager, checks.check_builds),
        (_Unguarded, checks.check_predict_before_fit_raises),
        (_Silent, checks.check_fit),
        (_Unnormalised, checks.check_predict_proba),
        (_Caching, checks.check_predict_proba),
        (_BatchDependent, checks.check_subset_predictions),
        (_Forgetful, checks.check_save_load),
        (_Unseeded, checks.check_same_seed_same_result),
    ],
    ids=lambda value: value.__name__.strip("_"),
)
def test_a_check_fails_for_a_family_that_breaks_it(family, check):
    with pytest.raises(AssertionError):
        check(family)


def test_parametrize_ids_and_expected_failures():
    (mark,) = parametrize_with_family_checks([TinyFamily], {TinyFamily.name: {"check_fit": "why"}}).mark.args[1:]
    assert [param.id for param in mark] == [f"tiny_test_family-{check.__name__}" for check in checks.CHECKS]
    marked = {param.id: [m.kwargs for m in param.marks] for param in mark if param.marks}
    assert marked == {"tiny_test_family-check_fit": [{"reason": "why", "strict": True}]}
