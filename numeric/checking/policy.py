"""The grading policy: what fails a test, what is only a warning, and which probes judge what.

A correct submission always passes; only a wrong result fails (docs/checking.md, "Grading policy"):

- an input changed in place is a warning with its evidence, a failure only with ``strict_inputs``;
- on a "clip" probe (min-char-rnn's template clips every gradient at ±5) gradients that are exactly the
  reference clipped at one bound are accepted, with the warning ``clips-gradients-at τ``;
- a call that did not finish a "large" probe in time, after right results on the small ones, is named
  ``numerical-gradient-in-backward``;
- the diagnosis never replays mistakes on a large probe, nor on a clip probe when the others fail.
"""

from __future__ import annotations

import numpy as np

from numeric.checking.case import Case
from numeric.checking.compare import close, tolerance_for
from numeric.checking.mistakes import MISTAKES
from numeric.checking.reference import Probe
from numeric.checking.results import ArrayCheck, Diagnosis, TestResult

NOT_FAILED = "; not failed (--strict-inputs fails it)"


def changed_arguments(result: TestResult, names: list[str], strict_inputs: bool) -> None:
    """Arguments other than the upstream gradients (x, a weight) that differed after the call."""
    listed = ", ".join(names)
    text = (f"{result.name}: modifies its input{'s' if len(names) > 1 else ''} {listed} in place "
            "(the caller's arrays must not change)")
    if strict_inputs:
        result.passed = False
        result.errors.append(text)
        result.diagnosis.insert(0, Diagnosis("mutates-input", 0.99,
                                             f"{MISTAKES['mutates-input']}: {listed} differed after the call."))
    else:
        result.warnings.append(text + NOT_FAILED)


# the state arguments of a step forward (cs231n, deeplearning-ai): changed in place, the cache holds the new state
STATE_ARGUMENTS = ("prev_h", "prev_c", "a_prev", "c_prev", "h0", "a0", "c0")


def cache_of_a_changed_input(result: TestResult, forward: str, names: list[str]) -> None:
    """A failing backward whose cache comes from a forward that changed one of its inputs in place.

    ``c_next = c_prev; c_next *= f; …`` in the forward leaves c_t in the caller's c_prev — and in the cache,
    which holds that same array — so the backward reads c_t where c_{t−1} belongs: exactly the numbers of
    ``off-by-one-h-prev``. The cause is the forward's in-place change: when a state argument was changed and
    the backward's numbers are those of off-by-one, ``mutates-input`` is named first (off-by-one follows, as
    the consequence); otherwise a note says the cache may hold a changed array."""
    listed = ", ".join(names)
    states = [n for n in names if n in STATE_ARGUMENTS]
    top = result.diagnosis[0] if result.diagnosis else None
    if states and top is not None and top.mistake == "off-by-one-h-prev":
        result.diagnosis.insert(0, Diagnosis(
            "mutates-input", top.confidence,
            f"{MISTAKES['mutates-input']}: {forward} changes {', '.join(states)} in place, so the cache it returns "
            f"holds the new state where the previous one belongs, and this backward reads it. That reproduces "
            f"the numbers of an off-by-one state: {top.evidence}"))
        top.confidence = round(top.confidence * 0.5, 3)
        top.evidence = f"(here the consequence of mutates-input in {forward}) {top.evidence}"
        del result.diagnosis[3:]
    else:
        result.notes.append(f"{forward} changes {listed} in place; this backward reads the cache it returned, "
                            "which may hold the changed array")


def diagnosis_probes(case: Case, probes: list[Probe], students: list[dict], refs: list[dict]) -> list[int]:
    """The probes the diagnosis replays: never a "large" one (too big to replay every mistake on); a "clip"
    one only when the ordinary probes are right (there, the template's own clipping would hide the match)."""
    ordinary = [p for p, probe in enumerate(probes) if not probe.extra.get("role")]
    wrong = any(not close(_real_array(students[p][o.name]), refs[p][o.name], tolerance_for(np.float64))
                for p in ordinary for o in case.outputs if o.name in refs[p] and o.name in students[p])
    return ordinary if wrong else [p for p, probe in enumerate(probes) if probe.extra.get("role") != "large"]


def _real_array(value):
    return value if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" else None


def as_number(value):
    """A real scalar (a Python float loss) as a 0-d float64 array, so it is compared and diagnosed like
    every other output."""
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, (bool, np.bool_)):
        if np.isrealobj(value):
            return np.asarray(value, dtype=np.float64)
    return value


def accept_clipping(case: Case, probes: list[Probe], students: list[dict], refs: list[dict]) -> list[str]:
    """A template that clips its gradients (min-char-rnn's ±5): when, on the "clip" probe, the student's
    gradients are the reference clipped at one bound τ — read from the student's numbers — each of them or
    only some (the others exact), every probe whose gradients are so is compared against the clipped
    reference from now on (the same file gets the same verdict on every run, whatever τ), and the warning
    says so. Anything else is compared as usual."""
    for p, probe in enumerate(probes):
        if probe.extra.get("role") != "clip":
            continue
        clipped = _clipped_grads(case, students[p], refs[p], None)
        if not clipped:
            continue
        tau = max(float(np.max(np.abs(a))) for a in clipped.values())
        count, names = 0, set()
        for q in range(len(probes)):
            more = _clipped_grads(case, students[q], refs[q], tau)
            if more:
                count += sum(int(np.sum(np.abs(refs[q][n]) > tau * (1 + 1e-9))) for n in more)
                refs[q].update({n: np.clip(refs[q][n], -tau, tau) for n in more})
                names |= set(more)
        bound = float(f"{tau:.6g}")
        gradients = [o.name for o in case.outputs if o.kind == "gradient" and o.name in refs[p]]
        which = ("every gradient returned equals" if names >= set(gradients) else
                 f"{', '.join(n for n in gradients if n in names)} equal{'s' if len(names) == 1 else ''}")
        rest = "" if names >= set(gradients) else " (the other gradients are not clipped)"
        return [f"clips-gradients-at {bound:g}: {which} the reference clipped to ±{bound:g}{rest} ({count} "
                f"entries clipped, most on the large-gradient probe {probe.label()}); not a failure: the "
                "template clips its gradients"]
    return []


def _clipped_grads(case: Case, student: dict, ref: dict, tau: float | None) -> dict | None:
    """The student's gradient arrays that differ from the reference and equal it clipped at ``tau`` (None:
    at the largest magnitude they contain), when every other gradient equals the reference; else None."""
    names = [o.name for o in case.outputs if o.kind == "gradient" and o.name in ref]
    arrays = {}
    for n in names:
        a = student.get(n)
        if not (isinstance(a, np.ndarray) and a.dtype.kind in "fiu" and a.size == ref[n].size and a.size):
            return None
        arrays[n] = a.reshape(ref[n].shape).astype(np.float64)
    differing = {n: a for n, a in arrays.items() if not close(a, ref[n], tolerance_for(np.float64))}
    if not differing:
        return None  # not clipped: the ordinary comparison passes
    bound = max(float(np.max(np.abs(a))) for a in differing.values()) if tau is None else tau
    if bound <= 0 or not all(close(a, np.clip(ref[n], -bound, bound), tolerance_for(np.float64))
                             for n, a in differing.items()):
        return None
    return differing


def changed_input_warnings(checks: list[ArrayCheck]) -> list[str]:
    """An upstream gradient changed in place: the evidence (which argument, how much), as a warning."""
    return [c.message + NOT_FAILED
            for c in checks if c.kind == "input" and c.passed and c.error is not None and c.tolerance is not None
            and c.error > c.tolerance]


def numerical_gradient_diagnosis(case: Case, slow: tuple[Probe, float], used: list, result: TestResult,
                                  timeout: float) -> Diagnosis:
    probe, elapsed = slow
    small_ok = bool(used) and all(c.passed for c in result.checks if c.kind == "gradient")
    evidence = (f"{MISTAKES['numerical-gradient-in-backward']}: the call did not finish "
                f"the large probe ({probe.label()}) in {timeout:g} s, where an analytic backward takes "
                "milliseconds")
    evidence += (", while its results on the small probes are right." if small_ok else ".")
    return Diagnosis("numerical-gradient-in-backward", 0.9 if small_ok else 0.4, evidence)

