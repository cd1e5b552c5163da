"""The one exception type that the CLI turns into a one-line message and exit code 2."""


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
