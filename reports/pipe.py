"""Plain text for pipes and files: the terminal pads table and panel lines to its width, a file
should not carry that padding. :class:`StripTrailingSpaces` wraps ``sys.stdout`` when it is not a
terminal and removes the spaces at the end of every line it passes on."""

from __future__ import annotations

import io


class StripTrailingSpaces(io.TextIOBase):
    """A text stream that forwards whole lines to ``target`` with their trailing spaces removed.

    A partial line is held back until its newline (or :meth:`close`), since spaces written now may
    turn out to be the end of the line.

    >>> out = io.StringIO()
    >>> s = StripTrailingSpaces(out)
    >>> _ = s.write("a table   \\nrow "); _ = s.write(" 1  \\n"); s.close()
    >>> out.getvalue()
    'a table\\nrow  1\\n'
    """

    def __init__(self, target):
        super().__init__()
        self.target = target
        self._pending = ""
        #: the reader of the pipe left (a write raised BrokenPipeError)
        self.broken = False

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Rich answers a broken pipe by pointing this descriptor at /dev/null (Console.on_broken_pipe)
        return self.target.fileno()

    @property
    def encoding(self):
        return getattr(self.target, "encoding", "utf-8")

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        if lines:
            try:
                self.target.write("".join(line.rstrip(" ") + "\n" for line in lines))
            except BrokenPipeError:
                self.broken = True
                raise
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        if self._pending:
            self.target.write(self._pending.rstrip(" "))
            self._pending = ""
        self.target.flush()
        super().close()
