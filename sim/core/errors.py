"""The one error type users see: a bad input file, named with its key path and what is allowed."""

from __future__ import annotations


class InputError(Exception):
    """A scenario or experiment file (or an override of one) that cannot be used.

    Each problem is one line ``FILE: KEY: what is wrong; what is allowed``. The command line prints
    the lines and exits with status 2; nothing is run or written.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def problem(file: str, key: str, message: str) -> str:
    """Format one problem line; ``key`` is a dotted key path ('' for the whole file)."""
    return f"{file}: {key}: {message}" if key else f"{file}: {message}"
