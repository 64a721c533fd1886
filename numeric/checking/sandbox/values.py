"""The values the sandbox hands to the rest of the checker (parent side, no student code here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SandboxError(RuntimeError):
    """The checker itself could not start the sandbox (not the submission's fault)."""


@dataclass
class Handle:
    """An opaque value (a cs231n cache) kept inside the child; ``generation`` names the child process."""

    ident: int
    generation: int


@dataclass
class Other:
    """A returned value that is not an array, a container of arrays, a cache or None: a wrong output,
    reported by its type name. A string is always an ``Other``, whatever it says."""

    type: str


@dataclass
class CallOutcome:
    """The result of one call.

    Attributes:
        ok: the function returned (``value`` is set).
        value: the decoded return value: arrays (NumPy scalars for returned numbers), tuples, lists,
            dicts with string keys, Handle, None, Other.
        error: for a failed call, {"type", "message", "where", "traceback"}; type is the exception
            class name, or one the checker sets: "Timeout", "ProcessDied", "MissingFunction",
            "LoadFailed:…", "ProtocolError", "BudgetSpent", "StaleCache".
        mutated: {argument index: the argument's value after the call} for arguments changed in place
            (re-checked against what was sent).
        seconds: wall-clock time of the call.
    """

    ok: bool
    value: Any = None
    error: dict | None = None
    mutated: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Limits:
    """Per-submission limits.

    Attributes:
        timeout: seconds per call.
        load_timeout: seconds to start the process and load the submission.
        budget: total seconds of the submission's calls and loads; once spent, every remaining call fails
            at once (a submission sleeping just under ``timeout`` in every function stops here).
        memory_mb: address-space limit of the child.
        max_processes: RLIMIT_NPROC (threads) for the child's user.
        file_mb: largest file the child may write (RLIMIT_FSIZE).
        work_mb: size of the child's private work folder (a tmpfs, when namespaces are in force).
    """

    timeout: float = 10.0
    load_timeout: float = 20.0
    budget: float = 60.0
    memory_mb: int = 1024
    max_processes: int = 64
    file_mb: int = 16
    work_mb: int = 64


def error(kind: str, message: str) -> dict:
    """An error dict set by the checker (not reported by the child)."""
    return {"type": kind, "message": message, "where": "", "traceback": ""}
