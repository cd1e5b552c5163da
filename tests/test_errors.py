import pytest

from ferbench.errors import FerbenchError, first_line


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("\n\n  bad value  \nmore detail"), "bad value"),
        (OSError(""), "OSError"),
        (KeyError(), "KeyError"),
        (RuntimeError("x" * 500), "x" * 240),
    ],
)
def test_first_line_is_the_first_non_blank_line(exc, expected):
    assert first_line(exc) == expected


def test_first_line_limit():
    assert first_line(ValueError("abcdef"), 3) == "abc"


def test_ferbench_error_message_is_one_line():
    assert str(FerbenchError("a\n  b\tc")) == "a b c"
