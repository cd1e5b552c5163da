"""The pieces of the CPU recipe (fast_vgg) and of mini_xception_scratch that the family contract
does not see: the smoothed loss, the stride workaround, flip averaging at test time, the fit stop
an epoch callback asks for, the one-cycle schedule, and TTA in comparisons."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ferbench.comparability import NOT_COMPARABLE, judge, paired_plan
from ferbench.data.dataset import FaceDataset
from ferbench.families.fast_vgg import FastVGG
from ferbench.families.mini_xception_scratch import MiniXceptionScratch
from ferbench.layers import EveryOtherPixel, SparseSmoothedCrossentropy
from test_comparability import entry, ours


def tiny(n=28, size=48, seed=0):
    rng = np.random.default_rng(seed)
    return FaceDataset(rng.integers(0, 256, (n, size, size), dtype=np.uint8), np.arange(n) % 7, name="tiny")


def test_smoothed_loss_is_cross_entropy_against_the_smoothed_target():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    labels = np.array([0, 1])
    target = np.full((2, 3), 0.1 / 3) + np.eye(3)[labels] * 0.9
    expected = np.mean(-np.sum(target * np.log(proba), axis=1))
    got = float(SparseSmoothedCrossentropy(0.1)(labels, proba))
    assert got == pytest.approx(expected, rel=1e-5)
    unsmoothed = float(SparseSmoothedCrossentropy(0.0)(labels, proba))
    assert unsmoothed == pytest.approx(
        float(keras.losses.sparse_categorical_crossentropy(labels, proba).numpy().mean())
    )


def test_every_other_pixel_then_1x1_conv_equals_the_strided_conv():
    x = np.random.default_rng(0).random((2, 31, 30, 3)).astype(np.float32)
    kernel = np.random.default_rng(1).random((1, 1, 3, 4)).astype(np.float32)
    strided = keras.layers.Conv2D(4, 1, strides=2, padding="same", use_bias=False)
    plain = keras.layers.Conv2D(4, 1, use_bias=False)
    strided.build(x.shape)
    plain.build((2, 16, 15, 3))
    strided.set_weights([kernel])
    plain.set_weights([kernel])
    # the forward pass of the strided conv is safe; its gradient is what the workaround avoids
    np.testing.assert_allclose(plain(EveryOtherPixel()(x)), strided(x), rtol=1e-6)
    assert EveryOtherPixel().compute_output_shape((None, 31, 30, 3)) == (None, 16, 15, 3)


def test_mini_xception_scratch_has_the_fer_files_size():
    model = MiniXceptionScratch().build_model(np.zeros((2, 48, 48), np.uint8), 7)
    assert model.count_params() == 58_423  # emotion_model.hdf5 of the fer package


def test_tta_averages_each_image_with_its_mirror():
    data = tiny()
    family = FastVGG(**FastVGG.test_params).fit(data.part(np.arange(21)), epochs=1, seed=0)
    test = data.part(np.arange(21, 28))
    plain = family.predict_proba(test)
    mirrored = data.images[21:28, :, ::-1]
    family_mirror = FaceDataset(np.ascontiguousarray(mirrored), data.labels[21:28], name="m")
    flipped = family.predict_proba(family_mirror.part())
    family.params["tta"] = True
    family._inference = None  # the graph is traced per setting
    np.testing.assert_allclose(family.predict_proba(test), (plain + flipped) / 2, rtol=1e-5, atol=1e-6)


def test_an_epoch_callback_returning_true_ends_the_fit():
    data = tiny()
    seen = []

    def stop_after_two(epoch, logs):
        seen.append(epoch)
        return epoch == 1

    family = FastVGG(**FastVGG.test_params).fit(data.part(np.arange(21)), epochs=5, callbacks=[stop_after_two])
    assert seen == [0, 1] and len(family.history_["loss"]) == 2


def test_one_cycle_warms_up_then_anneals_to_zero():
    family = FastVGG(learning_rate=0.1, warmup=0.2)
    family.total_steps_ = 100
    schedule = keras.optimizers.schedules.deserialize(family.optimizer().get_config()["learning_rate"])
    rates = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    assert rates[0] == pytest.approx(0.1 / 25) and rates[1] < rates[2] == pytest.approx(0.1)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0.0, abs=1e-6)


def test_tta_runs_are_compared_only_with_tta_numbers():
    assert judge(ours(tta=True), entry(tta=False)).status == NOT_COMPARABLE
    assert "test-time augmentation" in judge(ours(tta=True), entry(tta=None)).reasons[0]
    assert judge(ours(tta=True), entry(tta=True)).delta == pytest.approx(0.45 - 0.39)
    assert judge(ours(tta=False), entry(tta=False)).delta == pytest.approx(0.45 - 0.39)
    plain = ours(run_id="a", seed_runs={0: "a"})
    flipped = ours(run_id="b", seed_runs={0: "b"}, tta=True, metrics={"test_accuracy": 0.5})
    other = ours(run_id="c", seed_runs={0: "c"}, metrics={"test_accuracy": 0.4})
    pairs, _ = paired_plan([plain, flipped, other])
    assert pairs == {"c": ("c", "a")}  # the TTA run is in a group of its own


def test_training_pipelines_run_without_the_tfdata_autotuner():
    # the autotuner held every pass ~3 s past its last batch on the development machine
    data = tiny(n=8)
    batches = FastVGG(**FastVGG.test_params)._pipeline(data.part(), 4, labels=True)(None)
    assert batches.options().autotune.enabled is False
    assert sum(len(labels) for _, labels in batches) == 8
