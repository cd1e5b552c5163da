"""The `ferbench` command line: one small Typer module per command group, joined here.

Every module exposes `register(app)`. A FerbenchError raised anywhere below becomes one line on
stderr and exit code 2 (the top-level group catches it), so commands never print tracebacks for
bad input. Heavy imports (TensorFlow, MLflow, Optuna) live inside the commands.
"""

from __future__ import annotations

import importlib
import os

import typer
from typer.core import TyperGroup

from ferbench.errors import FerbenchError

COMMAND_MODULES = (
    "datasets",
    "runs",
    "grid",
    "tune",
    "leaderboard",
    "analyze",
    "ui",
    "cache",
    "compare",
    "reproduce",
    "weights",
)


class _FerbenchGroup(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FerbenchError as exc:
            typer.echo(f"error: {exc}", err=True)
            # typer 0.29 ships its own click: only typer.Exit is understood here.
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            message = _store_failure(exc)
            if message is None:
                raise
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from None


def _store_failure(exc: Exception) -> str | None:
    """One line for what any command can meet while writing: a full disk, a damaged store."""
    from ferbench import store
    from ferbench.errors import damaged_store, disk_full, first_line, full_path, stopped_run

    run_id = stopped_run(exc)
    then = f"; run {run_id} stopped: resume it with --resume {run_id}" if run_id else ""
    if disk_full(exc):
        where = full_path(exc)
        writing = f" writing {where}" if where else ""
        return (
            f"no space left on device{writing} (store {store.home()}): free some space or point "
            f"FERBENCH_HOME elsewhere{then}"
        )
    if damaged_store(exc):
        return (
            f"the MLflow store is damaged ({first_line(exc)}); move {store.home()} aside or point "
            f"FERBENCH_HOME elsewhere{then}"
        )
    return None


def _quiet_environment() -> None:
    # Offline and private by default; set before MLflow / TensorFlow are imported by a command.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO lines from MLflow or alembic
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from ferbench import tf_quiet

    tf_quiet.install()


def build_app() -> typer.Typer:
    _quiet_environment()
    app = typer.Typer(
        cls=_FerbenchGroup,
        help="Benchmark facial expression recognition model families against published numbers.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,
    )

    @app.command()
    def version() -> None:
        """Print the ferbench version."""
        from ferbench import __version__

        typer.echo(__version__)

    for module in COMMAND_MODULES:
        importlib.import_module(f"ferbench.cli.{module}").register(app)
    return app


app = build_app()


def main() -> None:
    app(prog_name="ferbench")
