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
