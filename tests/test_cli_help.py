"""Every command's --help reads on an 80-column terminal: nothing wider, no default cut short."""

from __future__ import annotations

import inspect

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from ferbench.cli import app

WIDTH = 80


def _command_paths(command, path=()):
    yield list(path)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*path, name))


COMMANDS = list(_command_paths(get_command(app)))


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)}, prog_name="ferbench")
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_the_nested_commands():
    assert ["datasets", "describe"] in COMMANDS and ["analyze", "cross-dataset"] in COMMANDS and len(COMMANDS) > 20


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "ferbench")
def test_help_fits_80_columns_and_cuts_no_default(path):
    lines = _help(path).splitlines()
    assert max(map(len, lines)) == WIDTH  # the panels span the terminal: it was rendered at 80
    too_wide = [line for line in lines if len(line) > WIDTH]
    cut = [line for line in lines if "…" in line]
    assert not too_wide and not cut, "\n".join(too_wide + cut)


def test_the_grid_layers_default_is_shown_whole():
    text = " ".join(line.strip("│ ") for line in _help(["grid"]).splitlines())
    assert "[default: block1_pool, block2_pool, block3_pool, block4_pool, block5_pool, fc1]" in " ".join(text.split())


@pytest.mark.parametrize("path", [path for path in COMMANDS if path], ids=" ".join)
def test_a_commands_summary_is_one_line_as_the_command_list_keeps_line_breaks(path):
    command = get_command(app)
    for name in path:
        command = command.commands[name]
    summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert "\n" not in summary, summary
