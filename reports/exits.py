"""Exit codes and the one exception every command raises for unusable input.

A module of its own so that the sub-commands never import ``reports.cli`` (which imports them):
``python -m reports.cli`` loads ``reports.cli`` twice (as ``__main__`` and as a module), and an
exception class defined there would exist twice and escape the ``except``.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: 128 + SIGINT, what a shell reports for a command ended by Ctrl-C
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE: the reader of a pipe (`bptt … | head`) left early
EXIT_BROKEN_PIPE = 141


class UsageError(Exception):
    """Unusable input (bad flag value, unreadable file): reported in one line, exit code 2."""
