"""Data sets as every command reads them: a reader name, a path and `--data-option KEY=VALUE` texts.

`--set` is always a family's hyperparameter; a reader's own choices (CK+ `contempt=keep`, synthetic
`n_images=500`, `skip_corrupt=true`, ...) are data options. Each option is checked against the
reader's list in `ferbench.data.readers.READERS` and typed by the reader's signature, so a wrong
name or value is one FerbenchError line, never a traceback from inside a reader.
"""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

import typer

from ferbench.errors import FerbenchError

DATA_OPTION_HELP = "reader option, e.g. n_images=500 (repeatable; `ferbench datasets` lists each reader's)"
DataOption = typer.Option(None, "--data-option", metavar="KEY=VALUE", help=DATA_OPTION_HELP)


def _reader_info(name: str):
    from ferbench.data.readers import READERS

    info = READERS.get(name)
    if info is None:
        raise FerbenchError(f"unknown data set {name!r}; known: {', '.join(READERS)}")
    return info


def _typed(key: str, text: str, hint: Any) -> Any:
    kinds = set(get_args(hint)) or {hint}
    if bool in kinds:
        if text.lower() not in ("true", "false"):
            raise FerbenchError(f"--data-option {key}={text}: expected true or false")
        return text.lower() == "true"
    if int in kinds:
        try:
            return int(text)
        except ValueError:
            raise FerbenchError(f"--data-option {key}={text}: expected a whole number") from None
    return text


def parse_data_options(name: str, texts: list[str] | None) -> dict[str, Any]:
    """`["contempt=keep"]` -> {"contempt": "keep"} for reader `name`, each key one it takes."""
    import importlib

    from ferbench.params import parse_assignments

    info = _reader_info(name)
    given = parse_assignments(texts, option="--data-option")
    unknown = sorted(set(given) - set(info.options))
    if unknown:
        raise FerbenchError(
            f"--data-option {', '.join(unknown)}: data set {name} has no such option; "
            f"its options: {', '.join(info.options)}"
        )
    reader = importlib.import_module(info.module)
    hints = get_type_hints(reader.read if info.needs_path else reader.generate)
    return {key: _typed(key, text, hints[key]) for key, text in given.items()}


def load_data(name: str, path: str | None, data_options: list[str] | None, *, use_cache: bool = True):
    """The FaceDataset that `--dataset NAME --path PATH --data-option KEY=VALUE ...` name."""
    from ferbench.data.readers import load_dataset

    return load_dataset(name, path, use_cache=use_cache, **parse_data_options(name, data_options))


def share_data_options(names: list[str], texts: list[str] | None) -> dict[str, list[str]]:
    """For commands that read several data sets: each reader's share of the `--data-option` texts
    (an option goes to every named reader that takes it; one that none takes is an error)."""
    from ferbench.params import parse_assignments

    readers = {name: _reader_info(name) for name in names}
    for key in parse_assignments(texts, option="--data-option"):
        if not any(key in info.options for info in readers.values()):
            listing = "; ".join(f"{name}: {', '.join(info.options)}" for name, info in readers.items())
            raise FerbenchError(
                f"--data-option {key}: none of these data sets has such an option; their options: {listing}"
            )
    return {
        name: [text for text in texts or () if text.partition("=")[0].strip() in info.options]
        for name, info in readers.items()
    }
