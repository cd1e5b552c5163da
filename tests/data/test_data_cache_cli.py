"""The content-keyed data set cache, the reader listing and the synthetic reader wiring."""

from __future__ import annotations

import json
import os

import numpy as np
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.data import fer2013
from ferbench.data.readers import READERS, load_dataset

runner = CliRunner()


def test_second_read_comes_from_the_cache_and_matches(fer_folder, monkeypatch, isolated_store):
    first = load_dataset("fer2013", fer_folder)
    entries = list((isolated_store / "cache" / "datasets").iterdir())
    assert sorted(p.name.split(".", 1)[1] for p in entries) == ["images.npy", "json", "npz"]  # no temps left

    def not_called(*args, **kwargs):
        raise AssertionError("reader ran although the data is unchanged")

    monkeypatch.setattr(fer2013, "read", not_called)
    again = load_dataset("fer2013", fer_folder)
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.images, first.images) and np.array_equal(again.splits, first.splits)


def test_touched_or_added_files_invalidate_the_cache(fer_folder):
    first = load_dataset("fer2013", fer_folder)
    one = next(fer_folder.rglob("*.jpg"))
    stat = one.stat()
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    calls = []
    original = fer2013.read

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    fer2013.read = counting
    try:
        load_dataset("fer2013", fer_folder)
        from conftest import write_image

        write_image(fer_folder / "train" / "sad" / "Training_77777777.jpg", 777)
        grown = load_dataset("fer2013", fer_folder)
    finally:
        fer2013.read = original
    assert len(calls) == 2 and len(grown) == len(first) + 1


def test_listing_names_every_reader_and_its_needs():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    for info in READERS.values():
        assert info.name in result.output and info.needs in result.output


def test_synthetic_options_come_through(tmp_path):
    result = runner.invoke(app, ["datasets", "describe", "synthetic", "--data-option", "n_images=70", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_images"] == 70 and report["subjects"] is not None
    assert load_dataset("synthetic", n_images=70, seed=1).fingerprint != report["fingerprint"]


def test_path_is_required_for_readers_on_disk():
    result = runner.invoke(app, ["datasets", "describe", "jaffe"])
    assert result.exit_code == 2 and "needs --path" in result.output
