"""One error type for bad input, with a message a planner can act on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """A problem with a file or value the user supplied.

    The message names the file, the field (dotted path), the bad value and
    what is allowed. The CLI prints it on one line and exits with status 2.
    """

    def __init__(self, file: object, field: str, problem: str, *, value: object = None,
                 allowed: str | None = None) -> None:
        self.file = str(file) if file is not None else "<input>"
        self.field = field
        self.problem = problem
        self.value = value
        self.allowed = allowed
        parts = [f"{self.file}: {field or '(top level)'}: {problem}"]
        if value is not None:
            parts.append(f"got {value!r}")
        if allowed:
            parts.append(f"allowed: {allowed}")
        super().__init__("; ".join(parts))


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest valid name, or ''."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
