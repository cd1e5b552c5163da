"""`ferbench ui` prints its address and errors, not a line per HTTP request."""

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ferbench.cli import ui


def test_server_logs_no_requests_and_no_info(monkeypatch):
    command = ui.server_command("sqlite:////tmp/x/mlflow.db", 5123)
    opts = command[command.index("--uvicorn-opts") + 1].split()
    assert "--no-access-log" in opts and opts[opts.index("--log-level") + 1] == "warning"
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    assert ui.server_environment()["MLFLOW_LOGGING_LEVEL"] == "WARNING"
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "DEBUG")
    assert ui.server_environment()["MLFLOW_LOGGING_LEVEL"] == "DEBUG"
    out = io.StringIO()
    ui.forward(
        [
            "[MLflow] Security middleware enabled with default settings (localhost-only). ...\n",
            "ERROR:    Exception in ASGI application\n",
        ],
        out,
    )
    assert out.getvalue() == "ERROR:    Exception in ASGI application\n"


@pytest.mark.slow
def test_requests_leave_only_the_address_and_experiment_lines(isolated_store, tmp_path):
    from ferbench import record

    record.setup()
    experiment = record.experiment_for("tinyset")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, err = open(tmp_path / "out", "w+"), open(tmp_path / "err", "w+")
    env = {**os.environ, "FERBENCH_HOME": str(isolated_store)}
    env.pop("MLFLOW_LOGGING_LEVEL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from ferbench.cli import main; main()", "ui", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while "ferbench-tinyset" not in (tmp_path / "out").read_text():
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "err").read_text()
            time.sleep(0.5)
        for path in ("/health", "/", "/ajax-api/2.0/mlflow/experiments/search?max_results=5", "/health"):
            urllib.request.urlopen(url + path, timeout=10).read()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert (tmp_path / "out").read_text().splitlines() == [
        f"MLflow UI: {url}  (store: sqlite:///{isolated_store / 'mlflow.db'}; Ctrl-C stops it)",
        f"  ferbench-tinyset: {url}/#/experiments/{experiment}?workflowType=machine_learning",
    ]
    assert (tmp_path / "err").read_text() == ""  # no request lines, no start-up notices
