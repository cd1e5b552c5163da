"""Training a run's folds for the runner: each fold's fitted family, metrics, test probabilities
and epoch curves. A family with epoch checkpoints writes them in the fold's checkpoint directory
and goes on from the newest one; every epoch renews the run's lease."""

from __future__ import annotations

import itertools
import time

import numpy as np

# Names of family history_ keys -> MLflow per-epoch curve names.
CURVES = {
    "loss": "epoch_loss",
    "accuracy": "epoch_accuracy",
    "val_loss": "epoch_val_loss",
    "val_accuracy": "epoch_val_accuracy",
}


def trained_folds(plan, folds, bars, saved, lease, epoch_hook=None):
    """Each of `folds`' (family, metrics, test proba, curves), in order: side by side in threads
    for families that allow it (a feature family's LOO folds), else one after the other, so a
    Keras run logs each fold as soon as it is trained."""
    from ferbench.threads import thread_map

    def train(fold):
        return train_fold(plan, fold, bars, saved, lease, epoch_hook)

    if plan.family_cls.thread_safe_folds and len(folds) > 1:
        # the first fold alone: what every fold shares (features, Gram) is made once, with all
        # BLAS threads, and a bad request fails before any thread starts
        first = train(folds[0])
        return itertools.chain([first], thread_map(train, folds[1:], ignore=plan.family_cls.expected_warnings()))
    return map(train, folds)


def train_fold(plan, fold, bars, saved, lease, epoch_hook=None):
    """Fit one family on the fold's training part; metrics on test (+ val, train).
    epoch_hook(family, epoch, logs), when given, is called after every epoch of an epoch-trained
    family; returning True ends the fit there."""
    from ferbench import checkpoints
    from ferbench.evaluate import classification_metrics

    dataset, family_cls = plan.dataset, plan.family_cls
    train = dataset.part(fold.train)
    val = dataset.part(fold.val) if len(fold.val) else None
    family = family_cls(**plan.params)
    label = f"{family_cls.name} {fold.name}" if len(plan.folds) > 1 else family_cls.name
    extra, done = {}, 0
    if family_cls.epoch_checkpoints:
        extra["checkpoint_dir"] = saved.fold_dir(fold.name)
        done = checkpoints.epochs_done(extra["checkpoint_dir"])
    # a bar of training images; a resumed fit's counts the epochs still to train, so its rate stays true
    first = f"{label}: epoch {done + 1}/{plan.epochs}" if plan.epochs else f"{label}: fit"
    task = bars.add(first, plan.epochs and (plan.epochs - done) * len(train), unit="img")

    def on_epoch(epoch: int, logs: dict[str, float]) -> bool | None:
        lease.renew()
        shown = "  ".join(f"{k} {logs[k]:.3f}" for k in CURVES if k in logs)
        bars.log(f"{label} epoch {epoch + 1}/{plan.epochs}: {shown}")
        bars.update(
            task,
            completed=(epoch + 1 - done) * len(train),
            description=f"{label}: epoch {min(epoch + 2, plan.epochs)}/{plan.epochs}",
        )
        return None if epoch_hook is None else epoch_hook(family, epoch, logs)

    on_epoch.on_batch = lambda images: bars.advance(task, images)  # Keras families: per-batch progress

    t0 = time.perf_counter()
    family.fit(train, val, epochs=plan.epochs, seed=plan.seed, callbacks=[on_epoch], verbose=False, **extra)
    # a resumed fit also counts the epochs an earlier process trained
    fit_time = time.perf_counter() - t0 + family.resumed_fit_s_
    bars.done(task)
    history = family.history_
    curves = {CURVES[k]: list(v) for k, v in history.items() if k in CURVES}
    n_epochs = len(history.get("loss", [])) or (plan.epochs or 1)
    metrics = {"fit_time_s": fit_time, "train_images_per_s": len(train) * n_epochs / fit_time}
    if n_epochs and history.get("loss"):
        metrics["epochs_run"] = float(n_epochs)
    metrics.update(family.metrics_)  # family-specific, e.g. Ravi's A_JK
    proba = family.predict_proba(dataset.part(fold.test))
    metrics.update(classification_metrics(dataset.labels[fold.test], proba, dataset.class_names))
    if val is not None:
        val_proba = family.predict_proba(val)
        metrics.update(classification_metrics(val.labels, val_proba, dataset.class_names, "val_"))
    # Training accuracy: the last epoch's running figure when the family reports one (a second
    # pass over a large training part would cost minutes); else one prediction pass.
    if history.get("accuracy"):
        metrics["train_accuracy"] = float(history["accuracy"][-1])
    else:
        metrics["train_accuracy"] = float(np.mean(family.predict(train) == train.labels))
    return family, metrics, proba, curves
