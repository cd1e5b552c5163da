"""The one exception type that the CLI turns into a one-line message and exit code 2."""

from collections.abc import Iterator


class FerbenchError(Exception):
    """A user-facing problem: bad input, missing file, impossible request.

    The message must be one line that names the thing at fault (file, option, value).
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class StoreError(FerbenchError):
    """The store (ferbench home, MLflow backend) cannot be used: every command's problem, not one
    family's, so callers that skip a failing family must let it through."""


def first_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's first non-blank line, cut to `limit`, for one-line messages (its type
    name when it has no text: an empty message must not become an empty error)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0].strip()[:limit] if lines else type(exc).__name__


_RUN_ATTRIBUTE = "ferbench_run_id"  # set on an exception by stopped_run
_FULL_TEXT = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or an exception it was raised from, says the disk is full (ENOSPC, EDQUOT,
    or SQLite's "database or disk is full" wrapped by SQLAlchemy and MLflow)."""
    import errno

    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(link).lower() for text in _FULL_TEXT):
            return True
    return False


def full_path(exc: BaseException) -> str | None:
    """The file a disk-full OSError names, if any."""
    import errno

    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT) and link.filename:
            return str(link.filename)
    return None


def damaged_store(exc: BaseException) -> bool:
    """SQLite found the store's file damaged after it was opened."""
    return any(
        text in str(link)
        for link in _chain(exc)
        for text in ("database disk image is malformed", "file is not a database")
    )


def stopped_run(exc: BaseException, run_id: str | None = None) -> str | None:
    """The run that `exc` stopped. The runner notes it on the exception (the innermost run wins)
    so that a command can name the run in its one-line message."""
    if run_id and getattr(exc, _RUN_ATTRIBUTE, None) is None:
        try:
            setattr(exc, _RUN_ATTRIBUTE, run_id)
        except AttributeError:  # an exception type without attributes of its own
            pass
    return getattr(exc, _RUN_ATTRIBUTE, None)
