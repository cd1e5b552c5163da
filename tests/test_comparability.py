"""comparability.judge rule by rule (matching and not), distinct seeds, the subject-independent
figure, and the paired verdicts between our own configurations (with and without artifacts)."""

from __future__ import annotations

import numpy as np
import pytest

from ferbench import baselines, comparability, leaderboard
from ferbench.comparability import Ours, budget_text, judge, read_early_stopping, read_split_sizes
from ferbench.labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT
from ferbench.leaderboard import RunRecord
from ferbench.leaderboard import _cache as leaderboard_cache  # its _read is patched
from test_leaderboard import OFFICIAL_SIZES, by_published, our_run, rows_for


def ours(**changes) -> Ours:
    fields = dict(
        family="five_layer_cnn",
        dataset="fer2013",
        protocol="official",
        fingerprint="f" * 16,
        run_id="r1",
        run_ids=["r1"],
        metrics={"test_accuracy": 0.45, "val_accuracy": 0.44},
        stds={},
        n=1,
        n_folds=None,
        tuned=False,
        random_weights=False,
        synthetic=False,
        selected_on="val",
        split_sizes=dict(OFFICIAL_SIZES),
        classes=EMOTIONS,
        epochs=10,
        early_stopping=False,
        seed_runs={0: "r1"},
    )
    fields.update(changes)
    return Ours(**fields)


def entry(**changes) -> dict:
    base = dict(
        id="p.x",
        family="five_layer_cnn",
        paper="p",
        dataset="fer2013",
        protocol="official",
        split="test",
        selected_on="val",
        tta=False,
        extra_data=False,
        metric="test_accuracy",
        value=0.39,
        fingerprint=None,
        subject_independent=None,
        split_sizes=dict(OFFICIAL_SIZES),
        classes=list(EMOTIONS),
        epochs=10,
    )
    base.update(changes)
    return base


def hard(judgement) -> bool:
    return judgement.status == "no" and judgement.delta is None


# --- data variant ------------------------------------------------------------------------------
def test_matching_data_is_compared_with_a_delta():
    judgement = judge(ours(), entry())
    assert judgement.status == "caveats" and judgement.reasons == ["unknown data copy"]
    assert judgement.delta == pytest.approx(0.06)


def test_a_subset_is_not_compared_and_says_ours_of_theirs():
    judgement = judge(ours(split_sizes={"train": 504, "val": 63, "test": 63}), entry())
    assert hard(judgement) and "630 of 35,887 images" in judgement.reasons
    moved = judge(ours(split_sizes={"train": 28000, "val": 4298, "test": 3589}), entry())
    assert hard(moved) and "train 28,000 of 28,709 images" in moved.reasons
    jaffe = judge(ours(split_sizes={"all": 213}), entry(split_sizes={"all": 208}))
    assert hard(jaffe) and "213 of 208 images" in jaffe.reasons
    assert judge(ours(split_sizes={"all": 208}), entry(split_sizes={"all": 208})).delta is not None


def test_unrecorded_sizes_are_not_compared_unless_the_fingerprint_settles_it():
    assert "data size not recorded" in judge(ours(split_sizes=None), entry()).reasons
    assert hard(judge(ours(split_sizes=None), entry()))
    same = judge(ours(split_sizes=None, classes=None), entry(fingerprint="f" * 16))
    assert same.status == "yes" and same.delta == pytest.approx(0.06)
    other = judge(ours(), entry(fingerprint="e" * 16))
    assert hard(other) and "different data copy (fingerprints differ)" in other.reasons
    unknown = judge(ours(), entry(split_sizes=None))
    assert unknown.status == "caveats" and "published data size unknown" in unknown.reasons


def test_split_sizes_tag_or_image_count():
    assert read_split_sizes({"ferbench.split_sizes": '{"all": 981}'}) == {"all": 981}
    assert read_split_sizes({"ferbench.n_images": "630"}) == {"all": 630}
    assert read_split_sizes({"ferbench.split_sizes": "not json"}) is None
    assert read_split_sizes({}) is None


def test_label_space_must_match():
    reordered = ours(classes=("anger", "neutral", "fear", "happy", "sad", "surprise", "disgust"))
    assert judge(reordered, entry()).delta is not None  # order and spelling do not matter
    contempt = judge(ours(classes=EMOTIONS_WITH_CONTEMPT), entry())
    assert hard(contempt) and "classes differ (ours +contempt)" in contempt.reasons
    counted = judge(ours(classes=EMOTIONS_WITH_CONTEMPT), entry(classes=7))
    assert hard(counted) and "8 of 7 classes" in counted.reasons
    assert judge(ours(classes=EMOTIONS), entry(classes=7)).delta is not None
    assert "label space not recorded" in judge(ours(classes=None), entry()).reasons


# --- budget ---------------------------------------------------------------------------------
def test_fewer_epochs_than_the_paper_are_not_compared():
    short = judge(ours(epochs=2), entry())
    assert hard(short) and "budget: 2 of 10 epochs" in short.reasons
    assert budget_text(ours(epochs=2), entry()) == "2 / 10"
    assert judge(ours(epochs=10), entry()).delta is not None
    longer = judge(ours(epochs=20), entry())
    assert longer.status == "caveats" and "budget: 20 of 10 epochs" in longer.reasons
    assert hard(judge(ours(epochs=None), entry()))
    silent = entry()
    del silent["epochs"]
    assert judge(ours(epochs=2), silent).delta is not None and budget_text(ours(epochs=2), silent) == "2"
    gong = entry(config={"epochs": 100})
    del gong["epochs"]
    assert "budget: 50 of 100 epochs" in judge(ours(epochs=50), gong).reasons


# --- selection --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "published_id",
    ["arriaga2017.fer2013.mini_xception", "ravi2019.ckplus.block4_pool.test", "ravi2019.jaffe.block4_pool.test"],
)
def test_test_selected_published_numbers_are_never_a_win_or_loss(published_id):
    published = baselines.get(published_id)
    matching = ours(
        family=published["family"],
        dataset=published["dataset"],
        protocol=published["protocol"],
        split_sizes=published["split_sizes"],
        classes=tuple(published["classes"]),
        epochs=None,
    )
    judgement = judge(matching, published)
    assert hard(judgement) and "published model selected on the test rows" in judgement.reasons


def test_our_test_selection_is_not_compared():
    judgement = judge(ours(selected_on="test"), entry())
    assert hard(judgement) and "our model selected on the test rows" in judgement.reasons


def test_a_val_number_is_not_compared_with_a_run_that_stopped_or_tuned_on_val():
    nishime = baselines.get("nishime2017.fer2013.accuracy")
    stopped = judge(ours(family="nishime_cnn", early_stopping=True), nishime)
    assert hard(stopped) and "ours selected on the val rows it reports (early stopping)" in stopped.reasons
    tuned = judge(ours(family="nishime_cnn", tuned=True), nishime)
    assert hard(tuned) and "ours selected on the val rows it reports (tuning)" in tuned.reasons
    plain = judge(ours(family="nishime_cnn"), nishime)
    assert plain.status == "caveats" and plain.delta == pytest.approx(0.44 - 0.5702)
    assert judge(ours(early_stopping=True), entry()).delta is not None  # a test number is fine
    raghuvanshi = judge(ours(), baselines.get("raghuvanshi2016.fer2013.five_layer.val"))
    assert hard(raghuvanshi) and "published model selected on the val rows it reports" in raghuvanshi.reasons


def test_early_stopping_param_and_older_keras_runs():
    assert read_early_stopping({"early_stopping": "True", "patience": "3"}) is True
    assert read_early_stopping({"early_stopping": "False", "patience": "3"}) is False
    assert read_early_stopping({"patience": "3"}) is True  # before the param: a Keras family
    assert read_early_stopping({"n_components": "200"}) is False


# --- subjects ---------------------------------------------------------------------------------
def jaffe(protocol="holdout:0.2", **changes) -> Ours:
    fields = dict(family="vgg19_pca_svm", dataset="jaffe", protocol=protocol, split_sizes={"all": 213}, epochs=None)
    return ours(**{**fields, **changes})


def test_image_splits_of_subject_data_meet_only_image_splits():
    random_split = entry(
        family="vgg19_pca_svm",
        dataset="jaffe",
        protocol="holdout:0.2",
        split_sizes={"all": 213},
        subject_independent=False,
        epochs=None,
    )
    both = judge(jaffe(), random_split)
    assert both.status == "caveats" and "not subject-independent" in both.reasons and both.delta is not None
    for stated, word in ((True, "is"), (None, "may be")):
        judgement = judge(jaffe(), dict(random_split, subject_independent=stated))
        assert hard(judgement) and f"ours not subject-independent (published {word})" in judgement.reasons
    assert "not subject-independent" not in judge(ours(), entry()).reasons  # fer2013: no subjects
    assert jaffe("loso").subject_independent is True and jaffe("kfold:10").subject_independent is False


def test_subject_independent_figure_is_of_the_same_family_and_data():
    image_split = jaffe()
    loso = jaffe("loso", run_id="r2", metrics={"test_accuracy": 0.6})
    other_family = jaffe("subject-kfold:5", family="cnn_features_pca_svm", metrics={"test_accuracy": 0.9})
    other_copy = jaffe("subject-kfold:5", fingerprint="e" * 16, metrics={"test_accuracy": 0.9})
    candidates = [image_split, loso, other_family, other_copy]
    assert comparability.subject_independent_peer(image_split, candidates, "test_accuracy") is loso
    assert comparability.subject_independent_peer(loso, candidates, "test_accuracy") is None
    assert comparability.subject_independent_peer(image_split, [image_split], "test_accuracy") is None


def test_leaderboard_shows_the_subject_independent_figure_beside_an_image_split():
    jaffe_run = dict(family="vgg19_pca_svm", dataset="jaffe", sizes={"all": 208}, epochs="n/a")
    our_run(protocol="holdout:0.2", test=0.9, **jaffe_run)
    our_run(protocol="loso", test=0.6, **jaffe_run)
    row = by_published(rows_for(), "ravi2019.jaffe.block1_pool.test")
    assert row.comparable == "caveats" and "not subject-independent" in row.reasons
    assert row.delta == pytest.approx(0.9 - 0.8810)
    assert row.subject_independent == pytest.approx(0.6) and row.subject_independent_protocol == "loso"
    filtered = by_published(rows_for(protocol="holdout:0.2"), "ravi2019.jaffe.block1_pool.test")
    assert filtered.subject_independent == pytest.approx(0.6)  # a protocol filter keeps the figure


# --- seeds ------------------------------------------------------------------------------------
def record_of(run_id, seed, test, end_time) -> RunRecord:
    tags = {
        "ferbench.family": "five_layer_cnn",
        "ferbench.dataset": "fer2013",
        "ferbench.protocol": "official",
        "ferbench.seed": str(seed),
        "ferbench.split_sizes": '{"all": 10}',
    }
    return RunRecord(run_id, "1", end_time, tags, {"seed": str(seed), "epochs": "10"}, {"test_accuracy": test})


def test_n_counts_distinct_seeds_and_keeps_the_latest_run_of_a_seed():
    runs = [record_of("old", 0, 0.2, 100), record_of("new", 0, 0.4, 200), record_of("other", 1, 0.6, 150)]
    (pooled,) = leaderboard.pool(runs)
    assert pooled.n == 2 and pooled.spread_of("test_accuracy") == "2 seeds"
    assert pooled.metrics["test_accuracy"] == pytest.approx(0.5)
    assert sorted(pooled.run_ids) == ["new", "other"] and pooled.seed_runs == {0: "new", 1: "other"}
    (single,) = leaderboard.pool(runs[:2])
    assert single.n == 1 and single.run_ids == ["new"]


# --- paired comparison between our own configurations -------------------------------------------
def test_paired_plan_pairs_a_shared_seed_with_the_best_of_the_same_data_and_protocol():
    best = ours(run_id="b1", metrics={"test_accuracy": 0.7}, seed_runs={0: "b0", 1: "b1"})
    other = ours(family="deeper_cnn", run_id="o2", seed_runs={1: "o1", 2: "o2"})
    lone = ours(family="baseline_cnn", run_id="l1", protocol="holdout:0.2")
    pairs, best_of = comparability.paired_plan([best, other, lone])
    assert pairs == {"o2": ("o1", "b1")} and best_of["o2"] is best and "l1" not in best_of
    no_common = ours(family="deeper_cnn", run_id="o7", seed_runs={7: "o7", 5: "o5"})
    assert comparability.paired_plan([best, no_common])[0] == {"o7": ("o5", "b0")}  # lowest seeds


def test_paired_verdicts_from_the_predictions_artifact_and_cached_by_pair(monkeypatch):
    from ferbench import predictions

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 7, 300)

    def run_with_predictions(family, test, right):
        run_id = our_run(family=family, test=test)
        y_pred = np.where(np.arange(300) < right, y_true, (y_true + 1) % 7)
        predictions.log_predictions(run_id, np.arange(300), y_true, np.eye(7)[y_pred], fingerprint="f" * 16)
        return run_id

    run_with_predictions("five_layer_cnn", 0.90, 270)
    run_with_predictions("deeper_cnn", 0.50, 150)
    run_with_predictions("nishime_cnn", 0.89, 268)
    our_run(family="baseline_cnn", test=0.45)  # recorded without the artifact
    rows = rows_for()
    paired = {r.family: r.paired for r in rows if not r.reference_only}
    assert paired["five_layer_cnn"] == "best of ours here"
    assert paired["deeper_cnn"] == "worse than five_layer_cnn (p < 0.001)"
    assert paired["nishime_cnn"].startswith("within noise of five_layer_cnn (p = ")
    assert paired["baseline_cnn"] == "no per-image predictions"

    def no_loading(run_id):
        raise AssertionError("a cached pair was loaded again")

    monkeypatch.setattr(predictions, "load_predictions", no_loading)
    monkeypatch.setattr(leaderboard_cache, "_read", {})  # read the pairs back from the file
    assert {r.family: r.paired for r in rows_for() if not r.reference_only} == paired
