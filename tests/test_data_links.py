"""Symbolic links in a data folder: links to files are read, a directory link that loops is
skipped and counted in one warning line, one that leads out of the folder is refused in one line.
Neither ever reaches the user as `OSError: [Errno 40]`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ferbench.cli import app
from ferbench.data import cache
from ferbench.data.readers import load_dataset


@pytest.fixture
def faces(tmp_path):
    root = tmp_path / "faces"
    for c, name in enumerate(("happy", "sad")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((48, 48), 40 * c + i, np.uint8)).save(root / name / f"{i}.png")
    return root


def _describe(path):
    return CliRunner().invoke(app, ["datasets", "describe", "folder", "--path", str(path), "--json"])


def test_a_link_loop_is_skipped_and_reported_in_one_line(faces):
    plain = cache.stat_key("folder", faces, {})
    (faces / "happy" / "again").symlink_to("..")  # happy/again/happy/again/... without end
    (faces / "sad" / "self").symlink_to("self")  # a link to itself
    result = _describe(faces)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_images"] == 6
    assert [w for w in report["warnings"] if "link" in w] == [
        f"skipped 2 link(s) that loop or lead nowhere in {faces}: happy/again; sad/self"
    ]
    assert cache.stat_key("folder", faces, {}) != plain  # adding or removing such a link changes the key
    again = load_dataset("folder", faces)  # from the cache, with the same warning
    assert any("skipped 2 link(s)" in w for w in again.warnings)


def test_links_to_files_are_followed_anywhere(faces, tmp_path):
    elsewhere = tmp_path / "elsewhere.png"
    Image.fromarray(np.full((48, 48), 200, np.uint8)).save(elsewhere)
    (faces / "sad" / "linked.png").symlink_to(elsewhere)
    before = cache.stat_key("folder", faces, {})
    assert len(load_dataset("folder", faces)) == 7
    Image.fromarray(np.full((64, 64), 10, np.uint8)).save(elsewhere)  # the target changed
    assert cache.stat_key("folder", faces, {}) != before


def test_a_directory_link_out_of_the_folder_is_refused_in_one_line(faces, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (faces / "sad" / "more").symlink_to(outside)
    result = _describe(faces)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "a directory link out of the data folder" in lines[0] and str(outside) in lines[0]


def test_a_link_inside_the_folder_is_followed(faces):
    (faces / "extra").mkdir()
    (faces / "happy" / "alias").symlink_to(faces / "extra")
    assert cache.keyed_tree("folder", faces, {})[1] is None
