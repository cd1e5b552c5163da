"""`ferbench ui`: the MLflow UI on the configured store, bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import typer

from ferbench.errors import FerbenchError

HOST = "127.0.0.1"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) != 0


# start-up notices of `mlflow server` that are neither warnings nor errors
_NOTICES = ("[MLflow] Security middleware enabled with default settings",)


def server_command(tracking_uri: str, port: int) -> list[str]:
    """`mlflow server` on the store; artifacts stay where each experiment says (local paths).
    uvicorn logs warnings and errors only: no line per HTTP request, no start-up chatter."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        tracking_uri,
        "--registry-store-uri",
        tracking_uri,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--uvicorn-opts",
        "--no-access-log --log-level warning",
    ]
    if tracking_uri.startswith("sqlite:///"):
        from ferbench.store import mlflow_artifact_root

        command += ["--default-artifact-root", mlflow_artifact_root(), "--no-serve-artifacts"]
    return command


def server_environment() -> dict[str, str]:
    """MLflow's INFO lines (database set-up, migrations) and the libraries' Python warnings
    (deprecations) off too; a user's own settings win."""
    return {
        **os.environ,
        "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL") or "WARNING",
        "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS") or "ignore",
    }


def forward(lines, out) -> None:
    """The server's output to `out` (our stderr), less its start-up notices: stdout keeps only
    the address line."""
    for line in lines:
        if not line.startswith(_NOTICES):
            out.write(line)
            out.flush()


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FerbenchError(f"the MLflow server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise FerbenchError(f"the MLflow server did not answer {url}/health within {timeout:.0f} s")


def experiment_links(url: str) -> list[tuple[str, str]]:
    """(name, link) for each ferbench experiment, opening on its runs table: MLflow 3 opens an
    experiment on its GenAI overview unless the link (or the browser, once) picks "Model training"."""
    import json

    with urllib.request.urlopen(f"{url}/ajax-api/2.0/mlflow/experiments/search?max_results=1000", timeout=10) as answer:
        experiments = json.load(answer).get("experiments", [])
    return [
        (e["name"], f"{url}/#/experiments/{e['experiment_id']}?workflowType=machine_learning")
        for e in sorted(experiments, key=lambda e: e["name"])
        if e["name"].startswith("ferbench-")
    ]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def ui(
    port: int = typer.Option(5000, "--port", help="Port on 127.0.0.1."),
    tracking_uri: str | None = typer.Option(
        None, "--tracking-uri", help="MLflow store (default: MLFLOW_TRACKING_URI or ./ferbench-store)."
    ),
) -> None:
    """Start the MLflow UI on the ferbench store (Ctrl-C stops it)."""
    from ferbench import record

    if not 1 <= port <= 65535:
        raise FerbenchError(f"--port {port} is not a TCP port")
    if not port_is_free(port):
        raise FerbenchError(f"--port {port}: something already listens on {HOST}:{port}")
    record.setup(tracking_uri)  # a bad or unwritable store fails here, in one line
    from ferbench import store

    uri = store.mlflow_tracking_uri(tracking_uri)
    if not uri.startswith(("sqlite:", "postgresql", "mysql", "mssql", "file:", "/")):
        raise FerbenchError(
            f"--tracking-uri {uri}: `ferbench ui` serves a database store; "
            "for a tracking server, open that server's address instead"
        )
    url = f"http://{HOST}:{port}"
    # SIGTERM (service managers, `timeout`) must stop the server too, not orphan it.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    process = subprocess.Popen(
        server_command(uri, port),
        env=server_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    threading.Thread(target=forward, args=(process.stdout, sys.stderr), daemon=True).start()
    try:
        wait_healthy(url, process)
        typer.echo(f"MLflow UI: {url}  (store: {uri}; Ctrl-C stops it)")
        for name, link in experiment_links(url):
            typer.echo(f"  {name}: {link}")
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
