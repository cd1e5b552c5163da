"""`--data-option KEY=VALUE`: one meaning, the reader's options, on every command that reads data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.cli._data import parse_data_options, share_data_options
from ferbench.data.readers import READERS
from ferbench.errors import FerbenchError

pytestmark = pytest.mark.usefixtures("tiny_family")
FAMILY = "tiny_test_family"
SYNTHETIC_OPTIONS = "n_images, seed, n_subjects, image_size"

# Every command that reads a data set named on its command line, reading `synthetic`.
READING_COMMANDS = {
    "datasets describe": ["datasets", "describe", "synthetic"],
    "run": ["run", FAMILY, "--dataset", "synthetic"],
    "grid": ["grid", FAMILY, "--dataset", "synthetic"],
    "tune": ["tune", FAMILY, "--dataset", "synthetic", "--trials", "1"],
    "bench": ["bench", "--families", FAMILY, "--dataset", "synthetic"],
    "analyze cross-dataset": ["analyze", "cross-dataset", FAMILY, "--train", "synthetic", "--eval", "synthetic"],
}


def invoke(*args):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def reads(monkeypatch):
    """The reader calls a command makes; each stops the command with a FerbenchError, before any work."""
    calls = []

    def stop(name, path=None, **options):
        calls.append((name, options))
        raise FerbenchError("read stopped by the test")

    monkeypatch.setattr("ferbench.data.readers.load_dataset", stop)
    return calls


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", READING_COMMANDS.values(), ids=READING_COMMANDS)
def test_every_command_hands_the_typed_options_to_the_reader(reads, command):
    result = invoke(*command, "--data-option", "n_images=70", "--data-option", "seed=3")
    assert "read stopped by the test" in _one_error_line(result)
    assert reads and all(name == "synthetic" for name, _ in reads)
    assert all(options["n_images"] == 70 and options["seed"] == 3 for _, options in reads)


@pytest.mark.parametrize("command", READING_COMMANDS.values(), ids=READING_COMMANDS)
def test_an_option_the_reader_lacks_is_one_line_naming_it_and_the_valid_ones(reads, command):
    line = _one_error_line(invoke(*command, "--data-option", "contempt=keep"))
    assert "--data-option contempt" in line and SYNTHETIC_OPTIONS in line
    assert reads == []  # refused before the reader ran


def test_reproduce_reads_the_rows_data_set_with_the_options(reads, tmp_path):
    result = invoke("reproduce", "nishime2017", "--path", str(tmp_path), "--data-option", "skip_corrupt=true")
    assert "read stopped by the test" in _one_error_line(result)
    assert reads == [("fer2013", {"use_cache": True, "skip_corrupt": True})]
    line = _one_error_line(
        invoke("reproduce", "nishime2017", "--path", str(tmp_path), "--data-option", "contempt=keep")
    )
    assert line == "error: --data-option contempt: data set fer2013 has no such option; its options: skip_corrupt"


@pytest.mark.parametrize(
    "text, message",
    [
        ("n_images=many", "--data-option n_images=many: expected a whole number"),
        ("n_images", "--data-option 'n_images': expected key=value"),
        ("=3", "--data-option '=3': expected key=value"),
    ],
)
def test_a_malformed_option_is_one_line(reads, text, message):
    assert _one_error_line(invoke("datasets", "describe", "synthetic", "--data-option", text)) == f"error: {message}"
    assert reads == []


def test_values_are_typed_by_the_readers_signature():
    assert parse_data_options("ckplus", ["contempt=keep", "ck_frames=2", "ck_first_neutral=TRUE", "image_size=64"]) == {
        "contempt": "keep",
        "ck_frames": 2,
        "ck_first_neutral": True,
        "image_size": 64,
    }
    assert parse_data_options("folder", ["class_map=a=happy,b=sad", "colour=false"]) == {
        "class_map": "a=happy,b=sad",
        "colour": False,
    }
    with pytest.raises(FerbenchError, match="skip_corrupt=yes: expected true or false"):
        parse_data_options("jaffe", ["skip_corrupt=yes"])


@pytest.mark.parametrize("name", READERS)
def test_every_option_of_every_reader_has_a_type(name):
    for option in READERS[name].options:
        try:
            parsed = parse_data_options(name, [f"{option}=true"])
        except FerbenchError as exc:  # a whole number wanted: refused in one line, not a KeyError
            assert "expected a whole number" in str(exc)
        else:
            assert set(parsed) == {option}


def test_several_data_sets_share_the_options_their_readers_take():
    shares = share_data_options(["ckplus", "jaffe"], ["contempt=keep", "image_size=64"])
    assert shares == {"ckplus": ["contempt=keep", "image_size=64"], "jaffe": ["image_size=64"]}
    with pytest.raises(
        FerbenchError,
        match="n_images: none of these data sets has such an option; "
        "their options: ckplus: .*; jaffe: skip_corrupt, image_size",
    ):
        share_data_options(["ckplus", "jaffe"], ["n_images=5"])


def test_the_old_set_spelling_is_gone_from_describe():
    result = invoke("datasets", "describe", "synthetic", "--set", "n_images=70")
    assert result.exit_code == 2 and "No such option" in result.output


def test_describe_reads_a_written_folder_with_a_class_map_and_image_size(tmp_path):
    for c, folder in enumerate(("happy_face", "sad_face")):
        (tmp_path / "faces" / folder).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((32, 32), 60 * c + 10 * i, np.uint8)
            Image.fromarray(pixels).save(tmp_path / "faces" / folder / f"{i}.png")
    result = invoke(
        "datasets",
        "describe",
        "folder",
        "--path",
        str(tmp_path / "faces"),
        "--json",
        "--data-option",
        "class_map=happy_face=happy,sad_face=sad",
        "--data-option",
        "image_size=16",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {name: n for name, n in report["classes"].items() if n} == {"happy": 3, "sad": 3}
    assert report["image_shape"] == [16, 16]
    assert report["options"]["image_size"] == 16


def test_a_run_records_the_data_options_it_read_with(isolated_store):
    from mlflow import MlflowClient

    from ferbench.record.tags import TAG_DATA_OPTIONS

    result = invoke(
        "run",
        FAMILY,
        "--dataset",
        "synthetic",
        "--protocol",
        "holdout",
        "--epochs",
        "1",
        "--json",
        "--data-option",
        "n_images=70",
        "--data-option",
        "n_subjects=7",
    )
    assert result.exit_code == 0, result.output
    run = MlflowClient(f"sqlite:///{isolated_store / 'mlflow.db'}").get_run(json.loads(result.stdout)["run_id"])
    recorded = json.loads(run.data.tags[TAG_DATA_OPTIONS])
    assert recorded["n_images"] == 70 and recorded["n_subjects"] == 7


def test_the_resume_hint_after_ctrl_c_repeats_the_data_options(monkeypatch):
    def interrupted(*args, **kwargs):
        exc = KeyboardInterrupt()
        exc.ferbench_run_id = "abc123"
        raise exc

    monkeypatch.setattr("ferbench.runner.run", interrupted)
    result = invoke("run", FAMILY, "--dataset", "synthetic", "--data-option", "n_images=70")
    assert result.exit_code == 130, result.output
    assert (
        f"resume with ferbench run {FAMILY} --dataset synthetic --data-option n_images=70 --resume abc123"
        in result.stderr
    )
