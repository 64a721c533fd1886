"""The example ``bptt demo`` ends with: a CS231n RNN whose backward forgets dh_next."""

from __future__ import annotations

from pathlib import Path

from numeric.checking.api import check
from numeric.checking.results import CheckReport

EXAMPLES = Path(__file__).with_name("examples")


def demo_submission() -> Path:
    """The shipped submission with a planted mistake (``dh-next-not-added`` in ``rnn_backward``)."""
    return EXAMPLES / "cs231n_planted_dh_next.py"


def demo_check() -> CheckReport:
    """Check the planted example (RNN part of cs231n, ~0.5 s). The report's ``rnn_backward`` test fails
    and its top diagnosis is ``dh-next-not-added``; render it with
    ``reports.check_report.CheckReportView(report)``."""
    return check(demo_submission(), "cs231n", ("rnn",))
