"""What a convention declares for one test: its outputs, its probes, how to call the student, and how to
read reference outputs in the convention's layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from numeric.checking.compare import Axes, describe
from numeric.checking.reference import Probe
from numeric.checking.sandbox import CallOutcome, Sandbox


@dataclass(frozen=True)
class Output:
    """One compared output.

    Attributes:
        name: as the convention names it ("dWx", "next_h", "loss").
        kind: "forward", "gradient" or "input" (an upstream array that must come back unchanged).
        contract: what it is and its shape, for messages ("∂L/∂Wx, (D, H)").
        axes: how to localise it.
        numerical: the reference names whose central differences give the "usual" number (gradients).
    """

    name: str
    kind: str
    contract: str = ""
    axes: Axes = Axes()
    numerical: tuple[str, ...] = ()


@dataclass
class Observation:
    """The student's outputs for one probe (raw decoded values by output name) or why there are none."""

    values: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    mutated_inputs: list[str] = field(default_factory=list)
    fatal: bool = False  # the call failed: later probes would fail the same way
    notes: list[str] = field(default_factory=list)  # how the function was found or driven, for the report


@dataclass
class Case:
    """One test of a convention.

    Attributes:
        name: the test's name (usually the function's).
        model: the reference model name ("rnn", "lstm", "gru", …).
        outputs: compared outputs, forward ones first.
        probes: inputs (reference layout).
        call: (sandbox, probe) → Observation (runs the student's function(s)).
        convert: (reference-keyed dict, probe) → {output name: array}, skipping outputs whose sources are
            missing (so that numerical-gradient dicts convert too).
        upstream: the test passes an upstream gradient (enables the in-place mistakes).
        extra: optional (sandbox, probe) → localisation lines (h-only vs c-only, per loss term).
        optional: a missing function is a note, not a failure (course's forward()).
        depends_on: the test of the forward whose cache this backward uses (cs231n): when that one
            fails, the backward's diagnosis is marked as uncertain.
    """

    name: str
    model: str
    outputs: list[Output]
    probes: list[Probe]
    call: Callable[[Sandbox, Probe], Observation]
    convert: Callable[[dict, Probe], dict]
    upstream: bool = False
    extra: Callable | None = None
    optional: bool = False
    depends_on: str | None = None


def unpack(outcome: CallOutcome, names: list[str], fn: str, arg_names: list[str]) -> Observation:
    """Turn one call's outcome into an Observation: the returned tuple's items named ``names``.

    A single expected value may come back bare; more than one must be a tuple or list of that length.
    """
    obs = Observation()
    if not outcome.ok:
        err = outcome.error or {}
        kind = err.get("type", "")
        where = f" ({err['where']})" if err.get("where") else ""
        if kind == "MissingFunction":
            obs.errors.append(f"{fn}: the submission does not define {fn}()")
        elif kind.startswith("LoadFailed"):
            obs.errors.append(f"{fn}: not run, the submission could not be loaded: {err.get('message', '')}{where}")
        elif kind == "Timeout":
            obs.errors.append(f"{fn}: {err.get('message', '')}")
        else:
            obs.errors.append(f"{fn}: raised {err.get('message', kind)}{where}")
        obs.fatal = True
        return obs
    value = outcome.value
    if len(names) == 1 and not (isinstance(value, (tuple, list)) and len(value) == 1):
        value = (value,)
    if value is None:
        obs.errors.append(f"{fn}: returned None; expected {len(names)} values ({', '.join(names)}) "
                          "— a missing return statement?")
        obs.fatal = True
        return obs
    if not isinstance(value, (tuple, list)):
        obs.errors.append(f"{fn}: returned {describe(value)}; expected {len(names)} values ({', '.join(names)})")
        obs.fatal = True
        return obs
    if len(value) != len(names):
        obs.errors.append(f"{fn}: returned {len(value)} values; expected {len(names)} ({', '.join(names)})")
        obs.fatal = True
        return obs
    obs.values = dict(zip(names, value))
    for index in outcome.mutated:
        if index < len(arg_names):
            obs.mutated_inputs.append(arg_names[index])
    obs.values["__mutated__"] = dict(outcome.mutated)
    return obs


def rows(a: np.ndarray) -> np.ndarray:
    """(H, B) column layout → (B, H) row layout (and back: it is its own inverse for 2-D arrays)."""
    return np.ascontiguousarray(a.T)
