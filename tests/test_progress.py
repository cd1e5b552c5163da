"""Progress: live bars on a terminal, whole plain lines elsewhere, per-batch counts from Keras."""

import io

import numpy as np
import pytest
from rich.console import Console

from ferbench import progress as progress_module
from ferbench.progress import current, progress


def plain_console(buffer):
    return Console(file=buffer, force_terminal=False, width=80)


def test_off_a_terminal_lines_are_whole_and_rate_limited(monkeypatch):
    buffer = io.StringIO()
    name = "a_family_with_a_rather_long_name fold_with_a_long_name_too: epoch 1/2 " + "x" * 40
    with progress(console=plain_console(buffer)) as bars:
        assert current() is bars
        task = bars.add(name, 200, unit="img")
        bars.advance(task, 64)  # within LOG_EVERY: no line
        monkeypatch.setattr(progress_module, "LOG_EVERY", 0.0)
        bars.advance(task, 64)
        bars.log("epoch 1/2: loss 1.234  accuracy 0.456  val_loss 1.345  val_accuracy 0.432  " + "y" * 30)
        bars.update(task, completed=200)
        bars.done(task)
        bars.advance(task, 5)  # after done: ignored
    lines = buffer.getvalue().splitlines()
    assert lines[0] == f"{name}: started (200 img)"
    assert lines[1].startswith(f"{name}: 128/200 img ") and " img/s " in lines[1] and " ETA " in lines[1]
    assert lines[2].endswith("y" * 30) and len(lines[2]) > 80  # never cut at 80 columns
    assert lines[-1].startswith(f"{name}: done, 200/200 img in ")
    assert len(lines) == 5 and "\x1b" not in buffer.getvalue()  # no cursor movement or colour


def test_quiet_prints_nothing_and_current_is_the_innermost():
    buffer = io.StringIO()
    with progress(console=plain_console(buffer)) as outer:
        with progress(quiet=True) as inner:
            assert current() is inner and inner.add("x", 3) is None
            current().advance(None, 1)
        assert current() is outer
    assert type(current()).__name__ == "Bars" and buffer.getvalue() == ""


@pytest.mark.parametrize("width", [80, 100, 120])
def test_on_a_terminal_one_line_per_task(width):
    from rich.progress import Progress

    bars = Progress(*progress_module._columns(), disable=True)
    tasks = (
        ("five_layer_cnn: folds", 10, ""),
        ("five_layer_cnn fold3: epoch 10/10", 14000, "img"),
        ("cnn_features_pca_svm: fit", None, ""),
        ("mini_xception features at 64 px", 2000, "img"),
    )
    for name, total, unit in tasks:
        task = bars.add_task(name, total=total, unit=unit, per_step=0)
        bars.update(task, advance=3 if total == 10 else 1280)
    console = Console(width=width, force_terminal=False)
    with console.capture() as captured:
        console.print(bars.make_tasks_table(bars.tasks))
    lines = captured.get().splitlines()
    assert len(lines) == 4 and all(len(line) <= width for line in lines)
    assert "1,280/14,000 img" in lines[1] and "3/10" in lines[0]
    if width >= 100:
        assert "mini_xception features at 64 px" in lines[3]


@pytest.mark.parametrize(
    "name, params", [("baseline_cnn", {"filters": 2}), ("resnet50_head", {"weights": "none", "input_size": 32})]
)
def test_keras_batches_reach_on_batch_and_add_up_to_the_epoch(name, params):
    from ferbench.data.synthetic import generate
    from ferbench.families.registry import get

    data = generate(70, seed=0, n_subjects=7)
    train = data.part(np.arange(50))
    seen, epochs = [], []

    def on_epoch(epoch, logs):
        epochs.append((epoch, sum(seen)))

    on_epoch.on_batch = seen.append
    get(name)(batch_size=16, **params).fit(train, epochs=2, callbacks=[on_epoch])
    assert seen == [16, 16, 16, 2] * 2
    assert epochs == [(0, 50), (1, 100)]


def test_feature_extraction_counts_images(tmp_path):
    from ferbench.features.extract import extract
    from ferbench.weights import backbone, build

    buffer = io.StringIO()
    images = np.random.default_rng(0).integers(0, 255, (20, 48, 48), dtype=np.uint8)
    spec = backbone("mini_xception")
    with progress(console=plain_console(buffer)):
        extract(
            build("mini_xception", "none"),
            spec,
            ["add_1@gap"],
            images,
            64,
            {"add_1@gap": tmp_path / "f.npy"},
            batch_size=16,
        )
        extract(
            build("mini_xception", "none"),
            spec,
            ["add_1@gap"],
            images[:3],
            64,
            {"add_1@gap": tmp_path / "g.npy"},
            batch_size=16,
        )  # one batch: no bar
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "mini_xception features at 64 px: started (20 img)"
    assert lines[-1].startswith("mini_xception features at 64 px: done, 20/20 img in ") and len(lines) == 2
