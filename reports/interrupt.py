"""Ctrl-C: stop at once, children included (``check --batch`` runs worker processes that run sandboxed
submissions), then let :func:`reports.cli.main` print one line and exit 130."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (Linux /proc; elsewhere an empty list), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name (field 2) may contain spaces and ')': the parent pid follows the last ')'
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), ()):
            found.append(child)
            queue.append(child)
    return found


def _on_sigint(signum, frame):
    # Kill the children before raising: a process pool would otherwise wait for its running tasks.
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    raise KeyboardInterrupt


@contextmanager
def children_die_with_ctrl_c():
    """While inside: Ctrl-C kills this process's children, then raises KeyboardInterrupt here.
    The previous handler comes back afterwards (main() also runs inside pytest, in-process)."""
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
