"""Run a convention's cases against a submission in one sandbox and build the report."""

from __future__ import annotations

import time

import numpy as np

from numeric.checking.case import Case
from numeric.checking.compare import close, localise, max_entry_error, rel, tolerance_for, validate
from numeric.checking.diagnose import diagnose
from numeric.checking.mistakes import MISTAKES
from numeric.checking.reference import numerical_grads, reference_outputs
from numeric.checking.results import ArrayCheck, CheckReport, Diagnosis, TestResult
from numeric.checking.sandbox import Sandbox


def run_case(case: Case, sandbox: Sandbox, numerical: bool = True) -> TestResult:
    """Call the student on every probe, compare with the reference, localise, diagnose."""
    start = time.monotonic()
    result = TestResult(case.name, passed=True)
    students, refs, used = [], [], []
    mutated_inputs: set[str] = set()
    for probe in case.probes:
        obs = case.call(sandbox, probe)
        if obs.errors:
            if case.optional and any("does not define" in e for e in obs.errors):
                result.notes.append(f"{case.name}: the optional function is not defined; skipped")
                result.seconds = time.monotonic() - start
                return result
            result.errors.extend(obs.errors)
            result.passed = False
            if obs.fatal:
                break
            continue
        obs.values.pop("__mutated__", None)
        mutated_inputs.update(obs.mutated_inputs)
        students.append(obs.values)
        refs.append(case.convert(reference_outputs(probe), probe))
        used.append(probe)
    if students:
        result.checks = _compare(case, used, students, refs, numerical)
        if any(not c.passed for c in result.checks):
            result.passed = False
            result.errors.extend(c.message for c in result.checks if not c.passed and c.message)
            result.diagnosis = diagnose(case, used, students, refs)
            if case.extra is not None:
                result.notes.extend(_extra_notes(case, sandbox, used[0]))
    if mutated_inputs:
        result.passed = False
        names = ", ".join(sorted(mutated_inputs))
        result.errors.append(f"{case.name}: modifies its input{'s' if len(mutated_inputs) > 1 else ''} {names} "
                             "in place (the caller's arrays must not change)")
        result.diagnosis.insert(0, Diagnosis("mutates-input", 0.99,
                                             f"{MISTAKES['mutates-input']}: {names} differed after the call."))
    result.seconds = time.monotonic() - start
    return result


def _compare(case: Case, probes, students, refs, numerical: bool) -> list:
    checks = []
    for output in case.outputs:
        name = output.name
        check = ArrayCheck(name, output.kind, passed=True)
        worst, seen = -1.0, False
        for p, (stu, ref) in enumerate(zip(students, refs)):
            if name not in ref or _absent(stu.get(name)):
                continue
            seen = True
            arr, message = validate(name, stu.get(name), ref[name], output.contract)
            if arr is None:
                check.passed, check.message = False, f"{case.name}: {message} [probe {p + 1}: {probes[p].label()}]"
                check.error = None
                break
            tol = tolerance_for(arr.dtype)
            check.tolerance = tol
            err = rel(arr.astype(np.float64), ref[name])
            if err > worst:
                worst = err
                check.error = err
                if err > tol:
                    check.passed = False
                    check.where = [f"probe {p + 1} ({probes[p].label()}):"] + [
                        "  " + line for line in localise(arr.astype(np.float64), ref[name], output.axes, tol)]
                    verb = ("changed" if output.kind == "input" else "differs from the reference")
                    check.message = (f"{case.name}: {name} ({output.contract}) {verb}: relative error {err:.2e} > "
                                     f"{tol:.0e} [probe {p + 1}: {probes[p].label()}]")
        if not seen:
            continue
        if numerical and output.kind == "gradient" and output.numerical and check.error is not None:
            check.numerical_error = _numerical_number(case, probes[0], students[0], output)
        checks.append(check)
    return checks


def _absent(value) -> bool:
    """An optional output the submission (adapter) did not return."""
    return isinstance(value, str) and value == "__absent__"


def _numerical_number(case: Case, probe, student: dict, output) -> float | None:
    names = []
    for n in output.numerical:  # cs231n's packed Wx stands for U_i, U_f, U_q, U_g
        if n in probe.params or n in ("xs", "h0", "c0"):
            names.append(n)
        else:
            names += [f"{n}_{g}" for g in "ifqg" if f"{n}_{g}" in probe.params]
    grads = _numerical_inputs(probe, names)
    conv = case.convert(grads, probe)
    arr = student.get(output.name)
    if output.name not in conv or not isinstance(arr, np.ndarray):
        return None
    value = max_entry_error(arr, conv[output.name])
    return value if np.isfinite(value) else None


def _numerical_inputs(probe, names: list[str]) -> dict:
    from dataclasses import replace
    from numeric.checking.reference import scalar_objective
    out = numerical_grads(probe, [n for n in names if n in probe.params])
    eps = 1e-6
    for name in names:
        if name not in ("xs", "h0", "c0") or getattr(probe, name) is None:
            continue
        base = getattr(probe, name)
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1, -1):
                moved = base.copy()
                moved[idx] += sign * eps
                vals.append(scalar_objective(replace(probe, **{name: moved}), probe.params))
            grad[idx] = (vals[0] - vals[1]) / (2 * eps)
        out[name] = grad
    return out


def _extra_notes(case: Case, sandbox: Sandbox, probe) -> list[str]:
    lines = []
    wrong, exact = [], []
    for label, derived in case.extra(probe):
        obs = case.call(sandbox, derived)
        if obs.errors:
            return lines
        obs.values.pop("__mutated__", None)
        ref = case.convert(reference_outputs(derived), derived)
        bad = [o.name for o in case.outputs if o.kind == "gradient" and o.name in ref
               and not close(obs.values.get(o.name) if isinstance(obs.values.get(o.name), np.ndarray) else None,
                             ref[o.name], tolerance_for(np.float64))]
        if label.startswith("t="):
            (wrong if bad else exact).append(label[2:])
        else:
            lines.append(f"{label}: " + (f"wrong ({', '.join(bad)})" if bad else "exact"))
    if wrong or exact:
        line = "upstream gradient at one step t only: "
        if wrong:
            line += f"wrong for t={','.join(wrong)}"
        if exact:
            line += ("; " if wrong else "") + f"exact for t={','.join(exact)}"
        lines.append(line)
    return lines


def run_cases(cases: list[Case], sandbox: Sandbox, report: CheckReport, numerical: bool = True) -> CheckReport:
    """Run every case (each one's failure is its own) and fill ``report``."""
    start = time.monotonic()
    load_error = sandbox.ensure_started()
    if load_error is not None:
        where = f" ({load_error['where']})" if load_error.get("where") else ""
        report.load_error = f"{load_error.get('message', load_error.get('type'))}{where}"
        report.load_error += _load_hint(load_error)
    for case in cases:
        result = run_case(case, sandbox, numerical)
        forward = next((t for t in report.tests if t.name == case.depends_on), None)
        if forward is not None and not forward.passed and not result.passed:
            result.notes.insert(0, f"{case.depends_on} is wrong too and this backward receives its cache: "
                                   "fix the forward first (the diagnosis assumes a correct forward)")
            for d in result.diagnosis:
                d.confidence = round(d.confidence * 0.5, 3)
        report.tests.append(result)
    report.notes.extend(sandbox.load_notes)
    report.notes.extend(f"process restarted: {e}" for e in sandbox.events)
    report.seconds += time.monotonic() - start
    return report


def _load_hint(error: dict) -> str:
    message = error.get("message", "")
    if error.get("type") == "SyntaxError" and "print" in (error.get("where") or "") + message:
        return " — Python 2 print statement? Use print(...)"
    if error.get("type") == "Timeout":
        return " — the module runs something long at import time (a training loop?); guard it with " \
               "if __name__ == '__main__':"
    if error.get("type") in ("FileNotFoundError", "PermissionError") and ("open" in message or "reading" in message):
        return " — the module reads a file at import time"
    return ""
