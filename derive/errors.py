"""The one error a cell file can raise: where (file, line, column) and what was expected."""

from __future__ import annotations


class CellError(ValueError):
    """A cell file that cannot be used.

    Attributes:
        path: File name (or ``<string>``).
        line: 1-based line number, or 0 when the problem is not tied to a line.
        message: What is wrong.
        expected: What would have been accepted (may be empty).
        source: The offending source line, for context.
        column: 1-based column of the problem inside ``source`` (0: unknown).
    """

    def __init__(self, path: str, line: int, message: str, expected: str = "",
                 source: str = "", column: int = 0):
        self.path, self.line, self.message = path, line, message
        self.expected, self.source, self.column = expected, source, column
        super().__init__(self.format())

    def format(self) -> str:
        """One line naming the problem and the expectation, then the source line with a caret."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.message}"
        if self.expected:
            text += f"; expected {self.expected}"
        if self.source:
            text += f"\n    {self.source}"
            if self.column:
                text += "\n    " + " " * (self.column - 1) + "^"
        return text
