"""Pruners of ferbench's own, for the objective's two fidelities (see tuning._objective).

`FirstRungPruner` is successive halving with a single rung: the cheap low-fidelity step. A trial
goes on to its full fit only if its rung value is among the top 1/reduction_factor of every trial
that reported at that rung, pruned ones included; with fewer reports than that, only the best so
far goes on (Optuna's SuccessiveHalvingPruner promotes by the same rule). Why not the median pruner:
it compares with *completed* trials only, which after a few good ones means cutting half of the
good configurations too; and its per-epoch cuts of noisy curves stop trials after most of their
cost is spent. Later steps are never pruned here.

With `screened=n`, the first n trials to report at the rung stop there whatever their value: a
sampler's random start-up trials then inform it at the rung's cost (a fourteenth of a full trial
in the pruning benchmark) instead of training in full before any modelling.
"""

from __future__ import annotations

import math

import optuna

from ferbench.tuning._objective import LOW_FIDELITY_STEP


class FirstRungPruner(optuna.pruners.BasePruner):
    def __init__(self, step: int = LOW_FIDELITY_STEP, reduction_factor: int = 2, screened: int = 0):
        self.step = step
        self.reduction_factor = reduction_factor
        self.screened = screened

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if trial.last_step != self.step:
            return False
        value = trial.intermediate_values[self.step]
        if math.isnan(value):
            return True
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        rivals = [
            t.intermediate_values[self.step]
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and self.step in t.intermediate_values
        ]
        if len(rivals) < self.screened:
            return True
        ranked = sorted((sign * v for v in [value, *rivals] if not math.isnan(v)), reverse=True)
        keep = max(1, len(ranked) // self.reduction_factor)
        return sign * value < ranked[keep - 1]
