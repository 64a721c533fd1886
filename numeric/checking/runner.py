"""Run a convention's cases against a submission in one sandbox and build the report."""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from numeric.checking import policy
from numeric.checking.case import Case
from numeric.checking.compare import close, localise, max_entry_error, rel, tolerance_for, validate
from numeric.checking.diagnose import diagnose
from numeric.checking.reference import Probe, numerical_grads, reference_outputs
from numeric.checking.results import ArrayCheck, CheckReport, TestResult
from numeric.checking.sandbox import Sandbox


def run_case(case: Case, sandbox: Sandbox, numerical: bool = True, strict_inputs: bool = False,
             timeout: float | None = None, changed: dict[str, list[str]] | None = None) -> TestResult:
    """Call the student on every probe, compare with the reference, localise, diagnose.

    Args:
        strict_inputs: an input changed in place fails the test (default: a warning with the evidence).
        timeout: the per-call limit, to recognise a "large" probe that did not finish in time.
        changed: if given, ``changed[case.name]`` is set to the arguments the calls changed in place.
    """
    start = time.monotonic()
    result = TestResult(case.name, passed=True)
    students, refs, used = [], [], []
    mutated_inputs: set[str] = set()
    slow: tuple[Probe, float] | None = None
    for probe in case.probes:
        began = time.monotonic()
        obs = case.call(sandbox, probe)
        result.notes.extend(n for n in obs.notes if n not in result.notes)
        if obs.errors:
            if case.optional and any("does not define" in e for e in obs.errors):
                result.notes.append(f"{case.name}: the optional function is not defined; skipped")
                result.seconds = time.monotonic() - start
                return result
            elapsed = time.monotonic() - began  # measured here: nothing the child says is trusted
            if probe.extra.get("role") == "large" and timeout and elapsed >= 0.9 * timeout:
                slow = (probe, elapsed)
            result.errors.extend(obs.errors)
            result.passed = False
            if obs.fatal:
                break
            continue
        obs.values.pop("__mutated__", None)
        mutated_inputs.update(obs.mutated_inputs)
        students.append({k: policy.as_number(v) for k, v in obs.values.items()})
        refs.append(case.convert(reference_outputs(probe), probe))
        used.append(probe)
    result.warnings.extend(policy.accept_clipping(case, used, students, refs))
    if students:
        result.checks = _compare(case, used, students, refs, numerical, strict_inputs)
        if any(not c.passed for c in result.checks):
            result.passed = False
            result.errors.extend(c.message for c in result.checks if not c.passed and c.message)
            keep = policy.diagnosis_probes(case, used, students, refs)
            if keep:  # judged on what the submission returned (an adapter may leave out dxs, dh0)
                result.diagnosis = diagnose(case, [used[p] for p in keep], [students[p] for p in keep],
                                            [{k: v for k, v in refs[p].items() if k in students[p]} for p in keep])
            if case.extra is not None:
                result.notes.extend(_extra_notes(case, sandbox, used[0]))
        if not result.checks and not result.errors:
            result.passed = False  # never a pass on nothing compared
            result.errors.append(f"{case.name}: none of its outputs could be compared")
        result.warnings.extend(policy.changed_input_warnings(result.checks))
    if slow is not None:
        result.diagnosis.insert(0, policy.numerical_gradient_diagnosis(case, slow, used, result, timeout))
    if mutated_inputs:
        policy.changed_arguments(result, sorted(mutated_inputs), strict_inputs)
    if changed is not None:
        changed[case.name] = sorted(mutated_inputs)
    result.seconds = time.monotonic() - start
    return result


def _compare(case: Case, probes, students, refs, numerical: bool, strict_inputs: bool = False) -> list:
    checks = []
    for output in case.outputs:
        name = output.name
        check = ArrayCheck(name, output.kind, passed=True)
        worst, seen = -1.0, False
        for p, (stu, ref) in enumerate(zip(students, refs)):
            if name not in ref or name not in stu:  # the convention did not ask for it on this probe
                continue
            seen = True
            arr, message = validate(name, stu[name], ref[name], output.contract)
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
                    check.passed = output.kind == "input" and not strict_inputs
                    check.where = [f"probe {p + 1} ({probes[p].label()}):"] + [
                        "  " + line for line in localise(arr.astype(np.float64), ref[name], output.axes, tol)]
                    if output.kind == "input":
                        change = float(np.max(np.abs(arr.astype(np.float64) - ref[name])))
                        check.message = (f"{case.name}: {name.replace(' (after the call)', '')} was changed in "
                                         f"place by the call: max |change| {change:.3g}, relative {err:.2e} "
                                         f"[probe {p + 1}: {probes[p].label()}]")
                    else:
                        check.message = (f"{case.name}: {name} ({output.contract}) differs from the reference: "
                                         f"relative error {err:.2e} > {tol:.0e} [probe {p + 1}: {probes[p].label()}]")
        if not seen:
            continue
        if numerical and output.kind == "gradient" and output.numerical and check.error is not None:
            check.numerical_error = _numerical_number(case, probes[0], students[0], output)
        checks.append(check)
    return checks


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


def run_cases(cases: list[Case], sandbox: Sandbox, report: CheckReport, numerical: bool = True,
              strict_inputs: bool = False, timeout: float | None = None) -> CheckReport:
    """Run every case (each one's failure is its own) and fill ``report``."""
    start = time.monotonic()
    load_error = sandbox.ensure_started()
    if load_error is not None:
        where = f" ({load_error['where']})" if load_error.get("where") else ""
        report.load_error = f"{load_error.get('message', load_error.get('type'))}{where}"
        report.load_error += _load_hint(load_error)
    changed: dict[str, list[str]] = {}
    for case in cases:
        with threadpool_limits(limits=1):  # one BLAS thread: the reference's matrices are small, and spinning
            result = run_case(case, sandbox, numerical, strict_inputs, timeout, changed)  # threads cost more
        if case.depends_on and changed.get(case.depends_on) and not result.passed:
            policy.cache_of_a_changed_input(result, case.depends_on, changed[case.depends_on])
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
