"""Run a submission in a separate, isolated process and call its functions with arrays.

The trust boundary shows in the file layout:

- parent side (the checker): ``launcher`` (start, limits, budget, restart), ``cleanup`` (the sweep of
  leftover processes), ``layers`` and one
  module per OS layer (``user``: a separate unprivileged uid as root; ``namespaces``: bubblewrap and the
  filesystem view; ``seccomp``: the system-call filter), ``channel`` (framing and the strict decoder of
  replies), ``values`` (what the rest of the checker receives);
- child side, never imported: ``bootstrap.py`` (applies limits, user and seccomp before any student
  code exists) and ``harness.py`` (loads the submission, runs the calls), both sent as text.

DESIGN.md §6 and docs/checking.md ("The sandbox") describe the layers.
"""

from numeric.checking.sandbox.channel import ProtocolError
from numeric.checking.sandbox.cleanup import sweep
from numeric.checking.sandbox.launcher import ALLOWABLE, BLOCKED_IMPORTS, DEFAULT_PACKAGES, Sandbox
from numeric.checking.sandbox.layers import missing_os_layers
from numeric.checking.sandbox.layers import report as isolation_report
from numeric.checking.sandbox.values import CallOutcome, Handle, Limits, Other, SandboxError

__all__ = ["Sandbox", "CallOutcome", "Handle", "Other", "Limits", "SandboxError", "ProtocolError", "ALLOWABLE",
           "BLOCKED_IMPORTS", "DEFAULT_PACKAGES", "missing_os_layers", "isolation_report", "sweep"]
