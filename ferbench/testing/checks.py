"""The family contract as named checks. Each takes a family class, uses its `test_params` on
tiny data, asserts one property and raises AssertionError (or unittest.SkipTest) otherwise."""

from __future__ import annotations

import json
import math
import re
import tempfile
import unittest
from pathlib import Path

import numpy as np

from ferbench.errors import FerbenchError
from ferbench.record.tags import TAG_FAMILY
from ferbench.testing._support import (
    EPOCHS,
    assert_raises,
    check_parts,
    fitted,
    fresh_fit,
    in_private_store,
    learned_attributes,
    registered,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ATOL = 1e-5  # float32 networks: the same rows through another batch differ in the last bits


def check_metadata(family_cls) -> None:
    """name, paper, title and input_shape are set; epochs are consistent."""
    for field in ("name", "paper", "title"):
        value = getattr(family_cls, field)
        assert isinstance(value, str) and value.strip(), f"{family_cls.__qualname__}.{field} is empty"
    assert _NAME.match(family_cls.name), f"family name {family_cls.name!r} is not lower-case [a-z0-9_]"
    shape = tuple(family_cls.input_shape)
    assert len(shape) == 3 and all(isinstance(s, int) and s > 0 for s in shape), f"input_shape {shape}"
    assert shape[2] in (1, 3), f"input_shape {shape}: channels must be 1 or 3"
    if family_cls.default_epochs is not None:
        assert family_cls.default_epochs >= 1, "default_epochs must be at least 1"
        assert family_cls.quick_epochs is not None and family_cls.quick_epochs >= 1, (
            "an epoch-trained family needs quick_epochs >= 1 (bench --budget quick)"
        )


def check_params_spec(family_cls) -> None:
    """Hyperparameters are declared, their defaults are valid, and test_params name only them."""
    specs = family_cls.params_spec()
    assert specs, "a family declares its hyperparameters (params)"
    for name, spec in specs.items():
        assert spec.validate(name, spec.default) == spec.default, f"default of {name} is not valid"
    assert family_cls().params == {n: s.default for n, s in specs.items()}
    unknown = sorted(set(family_cls.test_params) - set(specs))
    assert not unknown, f"test_params name unknown parameters {unknown}"


def check_params_round_trip(family_cls) -> None:
    """Params survive what ferbench does to them: JSON (saved models, MLflow), text (`--set`),
    and a new instance built from an old one's params."""
    params = family_cls(**family_cls.test_params).params
    assert set(params) == set(family_cls.params_spec())
    assert family_cls(**params).params == params
    assert family_cls(**json.loads(json.dumps(params))).params == params
    for name, spec in family_cls.params_spec().items():
        assert spec.parse(name, str(params[name])) == params[name], f"--set {name}={params[name]} changes it"


def check_tunable_params_sample(family_cls) -> None:
    """Every value Optuna draws for a tunable parameter is a valid one."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        for name, spec in family_cls.params_spec().items():
            if spec.tune:  # a log scale needs a search range above 0
                value = spec.suggest(trial, name)
                assert spec.validate(name, value) == value, f"{name}: drawn {value!r} is not valid"


def _outside(spec):
    from ferbench.params import Choice, Float, Int

    if isinstance(spec, Choice):
        return "no-such-choice"
    if isinstance(spec, (Float, Int)):
        if math.isfinite(spec.high):
            return spec.high + 1
        if math.isfinite(spec.low):
            return spec.low - 1
    return None


def check_bad_params_raise(family_cls) -> None:
    """Unknown names, out-of-range values and non-numbers are one-line FerbenchErrors naming the parameter."""
    from ferbench.params import Float, Int

    assert_raises("no parameter", family_cls, no_such_param=1)
    for name, spec in family_cls.params_spec().items():
        bad = _outside(spec)
        if bad is not None:
            assert_raises(re.escape(name), family_cls, **{name: bad})
        if isinstance(spec, (Float, Int)):
            assert_raises(re.escape(name), family_cls, **{name: "not-a-number"})


def check_builds(family_cls) -> None:
    """An instance from test_params holds its checked params and no learned state."""
    family = family_cls(**family_cls.test_params)
    specs = family_cls.params_spec()
    given = {name: specs[name].validate(name, value) for name, value in family_cls.test_params.items()}
    assert family.params == {**{name: spec.default for name, spec in specs.items()}, **given}
    learned = learned_attributes(family)
    assert not learned, f"__init__ sets learned state {learned}: only fit and load may"


@in_private_store
def check_predict_before_fit_raises(family_cls) -> None:
    """Predicting with an unfitted family is a FerbenchError, not an AttributeError."""
    _, _, test = check_parts(family_cls)
    assert_raises("", family_cls(**family_cls.test_params).predict_proba, test)


@in_private_store
def check_fit(family_cls) -> None:
    """fit returns self, sets classes_, and an epoch-trained family reports every epoch."""
    seen = []
    family, returned = fresh_fit(family_cls, callbacks=[lambda epoch, logs: seen.append((epoch, logs))], share=True)
    assert returned is family, "fit must return self"
    n_classes = check_parts(family_cls)[0].dataset.n_classes
    np.testing.assert_array_equal(family.classes_, np.arange(n_classes))
    if family_cls.default_epochs is not None:
        assert [epoch for epoch, _ in seen] == list(range(EPOCHS)), f"epoch callbacks {[e for e, _ in seen]}"
        assert "loss" in seen[0][1], f"epoch logs {sorted(seen[0][1])} have no loss"
        assert len(family.history_["loss"]) == EPOCHS


@in_private_store
def check_predict_proba(family_cls) -> None:
    """Probabilities are (n, n_classes) in [0, 1], rows sum to 1; predict and predict_images agree,
    and predict_images caches nothing (its images are seen once)."""
    from ferbench import store

    family, (_, _, test) = fitted(family_cls), check_parts(family_cls)
    n_classes = test.dataset.n_classes
    proba = family.predict_proba(test)
    assert proba.shape == (len(test), n_classes), f"predict_proba shape {proba.shape}"
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=ATOL)
    predicted = family.predict(test)
    assert predicted.shape == (len(test),) and set(predicted.tolist()) <= set(range(n_classes))
    cache = store.home() / "cache"
    before = sorted(cache.rglob("*"))
    np.testing.assert_allclose(family.predict_images(test.images), proba, atol=ATOL)
    assert sorted(cache.rglob("*")) == before, "predict_images wrote into the cache"


@in_private_store
def check_subset_predictions(family_cls) -> None:
    """The probabilities of some rows, in another order or alone, are those rows of the whole."""
    family, (_, _, test) = fitted(family_cls), check_parts(family_cls)
    whole = family.predict_proba(test)
    positions = np.arange(len(test))[::-2]
    np.testing.assert_allclose(family.predict_proba(test.subset(positions)), whole[positions], atol=ATOL)
    np.testing.assert_allclose(family.predict_proba(test.subset([3])), whole[[3]], atol=ATOL)


@in_private_store
def check_save_load(family_cls) -> None:
    """A saved family loads with the same params and gives the same probabilities."""
    family, (_, _, test) = fitted(family_cls), check_parts(family_cls)
    with tempfile.TemporaryDirectory(prefix="ferbench-check-save-") as directory:
        family.save(Path(directory))
        loaded = family_cls.load(Path(directory))
    assert type(loaded) is family_cls
    assert loaded.params == family.params
    np.testing.assert_allclose(loaded.predict_proba(test), family.predict_proba(test), rtol=1e-5, atol=1e-6)


@in_private_store
def check_same_seed_same_result(family_cls) -> None:
    """Two fits with the same seed give the same probabilities."""
    _, _, test = check_parts(family_cls)
    first = fitted(family_cls).predict_proba(test)
    again = fresh_fit(family_cls, seed=0)[0].predict_proba(test)
    np.testing.assert_allclose(again, first, atol=ATOL, err_msg="seed 0 twice gave different probabilities")


@in_private_store
def check_run_is_logged(family_cls) -> None:
    """`ferbench run` on it finishes one MLflow run with test accuracy, family tag and seed."""
    from mlflow.tracking import MlflowClient

    from ferbench import runner, store

    with registered(family_cls):
        try:
            result = runner.run(
                family_cls.name,
                check_parts(family_cls)[0].dataset,
                protocol="holdout",
                params=family_cls.test_params,
                epochs=EPOCHS,
                quiet=True,
            )
        except FerbenchError as exc:
            if "cannot run here" not in str(exc):
                raise
            raise unittest.SkipTest(str(exc)) from None  # e.g. weights that test_params do not replace
    run = MlflowClient(store.mlflow_tracking_uri()).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
    assert run.data.tags[TAG_FAMILY] == family_cls.name
    assert run.data.params["seed"] == "0"


CHECKS = (
    check_metadata,
    check_params_spec,
    check_params_round_trip,
    check_tunable_params_sample,
    check_bad_params_raise,
    check_builds,
    check_predict_before_fit_raises,
    check_fit,
    check_predict_proba,
    check_subset_predictions,
    check_save_load,
    check_same_seed_same_result,
    check_run_is_logged,
)
