"""Which of nishime_cnn's unstated assumptions cost accuracy on FER-2013? Measured, not guessed.

Nishime et al. (2017) report 57.02% on PublicTest (ferbench's `val` split). Nothing here looks at
PublicTest or PrivateTest: every figure comes from a stratified, seeded 10% of the Training
images held out, with the network trained on the other 90%.

Declared before running (the variants, the budget and the decision rule)
-----------------------------------------------------------------------
Budget: every variant trains for a fixed number of epochs (--epochs, 15 by default) with no early
stopping; the held-out accuracy is recorded after every epoch. One seed for screening. (A first
timing probe of `base` gave 15-25 s an epoch on 25,838 images, so 15 epochs, about 5 minutes a
variant, leave the slower-learning variants of stage 2 room to catch up; it was stopped at epoch 6
and is not counted.)

Metric: held-out accuracy after the last epoch of that fixed budget ("last"), because the
family's defaults will train for a fixed budget with no early stopping. The best epoch and its
accuracy are printed too, only to choose the epoch budget later.

Stages (each starts from the winner of the stages before it):
  1. preprocessing: `base` (the defaults measured at 0.464: GCN to unit RMS, ZCA epsilon 1e-6)
     against ZCA regularised as pylearn2 did (`pylearn2`: GCN to an L2 norm of 55, i.e. RMS
     55/48, and filter_bias 0.1), and epsilon 0.01 and 1.0 around it (`zca_eps_0.01`,
     `zca_eps_1`).
  2. training: the LeNet tutorial's plain SGD (learning rate 0.1, batch 500: `sgd_tutorial`),
     dropout 0.5 before the classifier (`dropout_0.5`), flips and shifts (`augment`).
  3. a second seed for the two best variants overall.
Decision rule: a variant replaces the current choice only if its "last" accuracy is higher by at
least 0.010 (about 29 of the 2,871 held-out images; the binomial standard error is about 0.009).
The final pick is the higher mean "last" over two seeds of the two best variants. The epoch
budget of the defaults is the smallest epoch count whose held-out accuracy, in the winner's
curves, is within 0.005 of that curve's best.

Amendment after stage 1, before any stage-2 run: `base` trained on two data orders from the same
initial weights (this script's order, and the tf.data shuffle ferbench's training loop used
before its epoch loop changed; an A/B outside this script) gave 0.527 and 0.459 held-out after
epoch 6. The spread between orders is as large as the spread between stage 1's variants, so
one seed cannot pick among them, and stage 1 keeps `base` by the rule without evidence that it
is better. Stage 2 therefore runs every variant with seeds 0 and 1 for 10 epochs (--epochs 10)
and compares the means of "last" over the two seeds, `base` included; the 0.010 threshold
applies to those means.

As run (docs/nishime.md): `dropout_0.5` and `sgd_tutorial` got no second seed (the first was
0.454 at 10 epochs, and at chance when stopped by hand after 5 epochs), to stay within the compute
budget; `augment`'s second seed ran 30 epochs, whose epoch 10 is the 10-epoch figure.

Each variant prints one line and appends it to experiments/results/nishime_assumptions.txt.

    python experiments/nishime_assumptions.py --path ~/data/fer2013 --variants base pylearn2
    python experiments/nishime_assumptions.py --path ... --spectrum   # ZCA gains per epsilon, no training
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from _common import FER2013_HELP, RESULTS, fer2013_path

RESULTS_FILE = RESULTS / "nishime_assumptions.txt"
HELD_OUT = 0.10
SPLIT_SEED = 0

# The family's defaults when the screening was declared; every variant states its changes to them,
# so the script measures the same things after the family's defaults move.
SCREENING = {
    "gcn_scale": 1.0,
    "zca_epsilon": 1e-6,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 128,
    "dropout": 0.0,
    "augment": False,
}
PYLEARN2 = {"gcn_scale": 55 / 48, "zca_epsilon": 0.1}  # L2 norm 55 over 48x48 pixels; filter_bias 0.1
CHANGES: dict[str, dict] = {
    # stage 1: preprocessing
    "base": {},
    "pylearn2": PYLEARN2,
    "zca_eps_0.01": {"zca_epsilon": 0.01},
    "zca_eps_1": {"zca_epsilon": 1.0},
    # stage 2: training, on stage 1's winner (base, by the rule)
    "sgd_tutorial": {"optimizer": "sgd", "learning_rate": 0.1, "batch_size": 500},
    "dropout_0.5": {"dropout": 0.5},
    "augment": {"augment": True},
}
VARIANTS = {name: {**SCREENING, **changes} for name, changes in CHANGES.items()}


def split_training(dataset, seed=SPLIT_SEED):
    """(train part, held-out part): a stratified 10% of the official Training rows."""
    from sklearn.model_selection import train_test_split

    rows = np.flatnonzero(dataset.splits == "train")
    fit_rows, held_rows = train_test_split(rows, test_size=HELD_OUT, stratify=dataset.labels[rows], random_state=seed)
    return dataset.part(np.sort(fit_rows)), dataset.part(np.sort(held_rows))


def run_variant(name, params, train, held, epochs, seed):
    from ferbench.families.nishime_cnn import NishimeCNN

    # no early stopping: the held-out part is only watched, every epoch
    family = NishimeCNN(**params, early_stopping=False)
    ticks = [time.perf_counter()]

    def progress(epoch, logs):
        ticks.append(time.perf_counter())
        print(
            f"  {name} seed {seed} epoch {epoch + 1}: train {logs.get('accuracy', float('nan')):.3f} "
            f"held-out {logs.get('val_accuracy', float('nan')):.3f} ({ticks[-1] - ticks[-2]:.0f} s)",
            flush=True,
        )

    start = time.perf_counter()
    family.fit(train, held, epochs=epochs, seed=seed, callbacks=[progress])
    wall = time.perf_counter() - start
    curve = family.history_["val_accuracy"]
    best = int(np.argmax(curve))
    # the last epoch's weights through predict_proba: checks the curve's last figure
    kept = float(np.mean(family.predict(held) == held.labels))
    return {
        "variant": name,
        "seed": seed,
        "epochs": len(curve),
        "last": round(curve[-1], 4),
        "best": round(curve[best], 4),
        "best_epoch": best + 1,
        "kept_weights_acc": round(kept, 4),
        "train_last": round(family.history_["accuracy"][-1], 4),
        "wall_s": round(wall, 1),
        # epochs after the first, which also builds the graph
        "s_per_epoch": round(float(np.mean(np.diff(ticks[1:]))), 1) if len(ticks) > 2 else round(wall, 1),
        "params": params,
        "curve": [round(v, 4) for v in curve],
        "n_train": len(train),
        "n_held_out": len(held),
    }


def spectrum(train):
    """How much of the whitened training signal sits in the faintest components, per epsilon."""
    from ferbench import preprocess

    gcn = preprocess.GCN(scale=1.0)
    flat = np.concatenate(
        [
            np.asarray(gcn(preprocess.as_nhwc(train.images[i : i + 2048]).astype("float32"))).reshape(-1, 48 * 48)
            for i in range(0, len(train), 2048)
        ]
    )
    cov = np.cov(flat, rowvar=False)
    values = np.clip(np.linalg.eigvalsh(cov)[::-1], 0, None)
    lines = [
        f"spectrum: GCN (RMS 1) training images, {len(train)} rows: eigenvalue 1 {values[0]:.1f}, "
        f"10 {values[9]:.3f}, 100 {values[99]:.4f}, 500 {values[499]:.5f}, 1000 {values[999]:.6f}, "
        f"2303 {values[2302]:.2e}; top 100 components hold {values[:100].sum() / values.sum():.3f} "
        "of the variance"
    ]
    for eps in (1e-6, 1e-2, 0.1, 1.0):
        out = values / (values + eps)  # variance of each component after whitening
        lines.append(
            f"spectrum: zca_epsilon {eps:g}: whitened variance in components 501-2304 "
            f"(which hold {values[500:].sum() / values.sum():.3f} of the input's) = "
            f"{out[500:].sum() / out.sum():.3f}"
        )
    return lines


def append(line):
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS_FILE.open("a") as handle:
        handle.write(line + "\n")
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", default=None, help=FER2013_HELP)
    parser.add_argument("--variants", nargs="*", default=[], choices=sorted(VARIANTS))
    parser.add_argument(
        "--on",
        default="",
        choices=["", *sorted(CHANGES)],
        help="a variant whose changes the others are applied on top of",
    )
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spectrum", action="store_true")
    args = parser.parse_args()
    path = fer2013_path(parser, args.path)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from ferbench.data.readers import load_dataset

    dataset = load_dataset("fer2013", path)
    train, held = split_training(dataset)
    if args.spectrum:
        for line in spectrum(train):
            append(line)
    on = CHANGES[args.on] if args.on else {}
    for name in args.variants:
        label = f"{args.on}+{name}" if args.on and name != args.on else name
        params = {**SCREENING, **on, **CHANGES[name]}
        result = run_variant(label, params, train, held, args.epochs, args.seed)
        append(json.dumps(result))


if __name__ == "__main__":
    main()
