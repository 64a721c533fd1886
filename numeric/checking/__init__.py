"""Check someone else's RNN/LSTM backprop safely, say which gradient is wrong, where, and probably why.

Public entry points (docs/checking.md):

- :func:`check` — one submission under one convention → :class:`CheckReport`.
- :func:`check_batch` — every submission in a folder, in parallel processes → summary dict.
- :func:`demo_check` — the shipped example with a planted mistake (what ``bptt demo`` ends with).
- :mod:`numeric.checking.pytest_plugin` — the pytest integration for course CI.
- :func:`write_json`, :func:`write_gradescope` — the report files (written by the parent process only).

NumPy and the standard library only; student code never runs in this process (numeric/checking/sandbox.py).
"""

from numeric.checking.api import check
from numeric.checking.conventions import CheckUsageError
from numeric.checking.results import ArrayCheck, CheckReport, Diagnosis, TestResult

__all__ = ["check", "check_batch", "demo_check", "demo_submission", "write_json", "write_gradescope",
           "CheckReport", "TestResult", "ArrayCheck", "Diagnosis", "CheckUsageError"]


def __getattr__(name):  # the writers and batch mode load on first use
    if name in ("write_json", "write_gradescope"):
        from numeric.checking import writers
        return getattr(writers, name)
    if name == "check_batch":
        from numeric.checking.batch import check_batch
        return check_batch
    if name in ("demo_check", "demo_submission"):
        from numeric.checking import demo
        return getattr(demo, name)
    raise AttributeError(name)
