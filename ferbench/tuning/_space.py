"""What a study searches and how: the search space from a family's parameter specs and `--space`
overrides, the sampler and the pruner."""

from __future__ import annotations

from ferbench.errors import FerbenchError
from ferbench.params import Choice, Float, Int, Param
from ferbench.tuning._objective import LOW_FIDELITY_STEP


def parse_space(spec: dict[str, Param], items: list[str] | None, fixed: dict) -> dict[str, Param]:
    """The tuning space: tune=True params not fixed, with `key=low:high` / `key=a,b` overrides."""
    space = {k: s for k, s in spec.items() if s.tune and k not in fixed}
    for item in items or []:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or key not in spec:
            raise FerbenchError(f"--space {item!r}: expected key=low:high with key one of {', '.join(sorted(spec))}")
        if key in fixed:
            raise FerbenchError(f"--space {key}: also fixed by --set; give one of them")
        base = spec[key]
        if isinstance(base, Choice):
            try:
                chosen = tuple(base.parse(key, t) for t in text.split(",") if t.strip())
            except FerbenchError as exc:
                raise FerbenchError(f"--space {item!r}: {exc}") from None
            if not chosen:
                raise FerbenchError(f"--space {item!r}: expected a comma-separated subset of {base.choices}")
            space[key] = Choice(chosen[0], base.help, True, choices=chosen)
            continue
        if not isinstance(base, (Float, Int)):
            raise FerbenchError(f"--space {item!r}: {key} is not a numeric or choice parameter")
        low_text, colon, high_text = text.partition(":")
        if not colon:
            raise FerbenchError(f"--space {item!r}: expected key=low:high")
        try:
            low, high = base.parse(key, low_text), base.parse(key, high_text)
        except FerbenchError as exc:
            raise FerbenchError(f"--space {item!r}: {exc}") from None
        if not low < high:
            raise FerbenchError(f"--space {item!r}: low {low} must be below high {high}")
        if base.log and low <= 0:
            raise FerbenchError(f"--space {item!r}: {key} is searched on a log scale; low must be > 0")
        if isinstance(base, Int):
            space[key] = Int(int(low), base.help, True, low=int(low), high=int(high), log=base.log, step=base.step)
        else:
            space[key] = Float(float(low), base.help, True, low=float(low), high=float(high), log=base.log)
    if not space:
        raise FerbenchError("nothing to tune: every tunable parameter is fixed by --set")
    return space


TPE_STARTUP_TRIALS = 5  # random trials before TPE models; `rung-screen` stops them at the first rung


def make_sampler(kind: str, seed: int):
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, multivariate=True)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise FerbenchError(f"--sampler {kind!r}: expected tpe or random")


def make_pruner(kind: str, n_steps: int, rung_step: int = LOW_FIDELITY_STEP):
    """`rung_step`: where `rung` and `rung-screen` cut (the cheap first rung unless told)."""
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if kind in ("rung", "rung-screen"):
        from ferbench.tuning._pruners import FirstRungPruner

        return FirstRungPruner(step=rung_step, screened=TPE_STARTUP_TRIALS if kind == "rung-screen" else 0)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 2), reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise FerbenchError(f"--pruner {kind!r}: expected median, rung, rung-screen, hyperband or none")
