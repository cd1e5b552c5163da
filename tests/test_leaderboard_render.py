"""Leaderboard output: the terminal table at 100 columns and --wide, the HTML page, and the one
leaderboard run that --log keeps per data set and filter."""

from __future__ import annotations

import io
import json
import re

from typer.testing import CliRunner

from ferbench import record
from ferbench.cli import app
from ferbench.leaderboard import Row, ours_text, print_table
from test_leaderboard import fresh_store, migrated_db, our_run  # noqa: F401  (fixtures)

runner = CliRunner()
LEADERBOARD_RUNS = "tags.`ferbench.kind` = 'leaderboard'"


def ci(low, high):
    return {"test_accuracy_ci_low": low, "test_accuracy_ci_high": high}


def small_store() -> dict[str, str]:
    """Two seeds of one family, a short run on a subset, a test-selected paper, and a family
    on a second data set without a published number."""
    return {
        "five": our_run(test=0.45, seed=0, extra=ci(0.434, 0.466)),
        "five_1": our_run(test=0.47, seed=1, extra=ci(0.454, 0.486)),
        "deeper": our_run(family="deeper_cnn", test=0.35, epochs=2, sizes={"train": 504, "val": 63, "test": 63}),
        "mini": our_run(family="mini_xception", test=0.60, extra=ci(0.583, 0.618)),
        "svm": our_run(
            family="cnn_features_pca_svm",
            dataset="jaffe",
            protocol="kfold:10",
            test=0.62,
            std=0.04,
            sizes={"all": 213},
            epochs="n/a",
        ),
    }


def row(**changes) -> Row:
    base = dict(
        family="five_layer_cnn",
        dataset="fer2013",
        ours=0.5,
        ours_std=None,
        ours_n="1 run",
        run_id="r" * 32,
        tuned=False,
        our_protocol="official",
        metric="test_accuracy",
        published=0.4,
        published_id="p.fer2013.x.test",
        paper="p",
        published_protocol="official",
        comparable="yes",
        reasons=[],
        delta=0.1,
    )
    return Row(**{**base, **changes})


def test_ours_shows_its_interval_or_its_std():
    assert ours_text(row(ours_ci=(0.49, 0.51))) == "50.00 ± 1.00"
    assert ours_text(row(ours_ci=(0.48, 0.525))) == "50.00 (48.0–52.5)"
    assert ours_text(row(ours_std=0.02)) == "50.00 ± 2.00 sd"
    assert ours_text(row(ours=None)) == ""


def test_colours_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    piped, terminal = io.StringIO(), Terminal()
    print_table([row(), row(comparable="no", delta=None, reasons=["protocol differs (a vs b)"])], file=piped)
    print_table([row()], file=terminal)
    assert "\x1b[" not in piped.getvalue() and "✓ +10.00" in piped.getvalue()
    assert "✗ protocol differs" in piped.getvalue()
    assert "\x1b[" in terminal.getvalue()


def table_rows(text: str) -> list[str]:
    """Each table row as one line: its wrapped continuation lines joined, spaces collapsed."""
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and rows and line.strip():
            rows[-1] += " " + line.strip()
        elif line.strip():
            rows.append(line)
    return [" ".join(row.split()) for row in rows]


def find(rows: list[str], *parts: str) -> str:
    return next(row for row in rows if all(part in row for part in parts))


def test_table_fits_100_columns_and_wide_shows_every_column():
    runs = small_store()
    narrow = runner.invoke(app, ["leaderboard"])
    assert narrow.exit_code == 0, narrow.output
    assert 80 < max(len(line) for line in narrow.stdout.splitlines()) <= 100  # not rich's 80
    rows = table_rows(narrow.stdout)
    assert find(rows, "five_layer_cnn", " test ").endswith("46.00 ± 12.71 2 seeds 39.00 ~ +7.00 unknown data copy")
    assert find(rows, "deeper_cnn", " test ").endswith("35.00 1 run 48.00 ✗ 630 of 35,887 images +2 more")
    assert find(rows, "mini_xception").endswith(
        "60.00 (58.3–61.8) 1 run 66.00 ✗ published model selected on the test rows +1 more"
    )
    assert find(rows, "cnn_features_pca_svm").endswith("62.00 ± 4.00 sd 10 folds no published number")
    assert "budget: 2 of 10 epochs" not in narrow.stdout and runs["deeper"][:12] not in narrow.stdout

    wide = runner.invoke(app, ["leaderboard", "--wide"])
    assert wide.exit_code == 0, wide.output
    assert 100 < max(len(line) for line in wide.stdout.splitlines()) <= 240
    rows = table_rows(wide.stdout)
    assert find(rows, "family ").endswith("run protocol epochs paper paper id paper protocol Δ reasons vs our best")
    deeper = find(rows, "raghuvanshi2016.fer2013.deeper.test")
    assert f"{runs['deeper'][:12]} official 2 / 10 48.00" in deeper
    assert deeper.endswith("✗ 630 of 35,887 images; budget: 2 of 10 epochs; unknown data copy")
    assert "best of ours here" in find(rows, "arriaga2017.fer2013.mini_xception")  # vs our best


def test_html_is_one_self_contained_page(tmp_path):
    small_store()
    target = tmp_path / "board" / "leaderboard.html"
    result = runner.invoke(app, ["leaderboard", "--format", "html", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and str(target) in result.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<html") == 1 and "<style>" in page
    assert "<td>raghuvanshi2016.fer2013.five_layer.test</td>" in page  # the table's rows
    assert "<td>cnn_features_pca_svm</td>" in page
    for name in ("ours test", "ours val", "published test", "published val"):
        assert f'"name":"{name}"' in page  # labelled chart series
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page  # nothing fetched
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is inline
    to_stdout = runner.invoke(app, ["leaderboard", "--format", "html"])
    assert to_stdout.stdout.startswith("<!DOCTYPE html>") and to_stdout.stdout.count("<html") == 1


def test_log_keeps_one_run_per_dataset_and_filter():
    our_run()
    client = record.setup()
    experiment = record.experiment_for("fer2013")
    with record.tracked_run(experiment, "leaderboard", {"source": "ferbench", "ferbench.kind": "leaderboard"}) as old:
        record.log(old, metrics={"rows": 3, "comparable_rows": 1})  # as earlier versions left it

    first = runner.invoke(app, ["leaderboard", "--log", "--format", "json"])
    second = runner.invoke(app, ["leaderboard", "--log", "--format", "json"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert isinstance(json.loads(second.stdout), list)  # the note went to stderr
    runs = client.search_runs([experiment], LEADERBOARD_RUNS)
    assert len(runs) == 1 and runs[0].info.run_id != old
    run_id = runs[0].info.run_id
    assert f"{run_id} created" in first.stderr and f"{run_id} updated" in second.stderr
    assert set(runs[0].data.metrics) == {"leaderboard/rows", "leaderboard/comparable_rows"}
    names = {a.path for a in client.list_artifacts(run_id, "leaderboard")}
    assert names == {f"leaderboard/leaderboard.{ext}" for ext in ("html", "png", "md", "json")}
    page = client.download_artifacts(run_id, "leaderboard/leaderboard.html")
    assert not re.search(r"<script[^>]*\bsrc=", open(page, encoding="utf-8").read())

    runner.invoke(app, ["leaderboard", "--log", "--family", "five_layer_cnn", "--format", "csv"])
    runs = client.search_runs([experiment], LEADERBOARD_RUNS)
    assert len(runs) == 2  # another filter, another run
    assert {r.data.tags.get("ferbench.filter.family") for r in runs} == {None, "five_layer_cnn"}
