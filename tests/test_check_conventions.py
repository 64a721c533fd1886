"""Correct implementations pass in every convention; usage errors are the checker's (exit code 2)."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.checking import CheckUsageError, check
from numeric.checking.demo import EXAMPLES

PASSING = [
    ("cs231n_correct.py", "cs231n", None, None),
    ("course_rnn_correct.py", "course", "rnn", None),
    ("course_lstm_correct.py", "course", "lstm", None),
    ("minchar_correct.py", "min-char-rnn", None, None),
    ("adapter_submission.py", "adapter", None, "adapter_example.py"),
]


@pytest.mark.parametrize("example, convention, model, adapter", PASSING, ids=[p[1] + "-" + p[0] for p in PASSING])
def test_correct_examples_pass(example, convention, model, adapter):
    report = check(EXAMPLES / example, convention, model,
                   adapter=EXAMPLES / adapter if adapter else None, numerical=False)
    assert report.passed, [(t.name, t.errors) for t in report.tests]
    assert report.exit_code == 0 and report.load_error is None


def test_cs231n_checks_every_function_with_the_numerical_number():
    report = check(EXAMPLES / "cs231n_correct.py", "cs231n", seed=0)  # the numerical number is noisy: fixed probes
    names = [t.name for t in report.tests]
    assert names == ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                     "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]
    grads = [c for t in report.tests for c in t.checks if c.kind == "gradient"]
    assert grads and all(c.numerical_error is not None and c.numerical_error < 1e-5 for c in grads)
    assert all(c.error < 1e-12 for t in report.tests for c in t.checks)


GRU_COURSE = '''
import numpy as np

def s(v):
    return 1 / (1 + np.exp(-v))

def bptt(x, o, h0, params):
    P = params
    T = len(x)
    hs, cache = [h0], []
    for t in range(T):
        hp = hs[-1]
        r = s(P["U_r"] @ x[t] + P["V_r"] @ hp)
        u = s(P["U_u"] @ x[t] + P["V_u"] @ hp)
        g = np.tanh(P["U_g"] @ x[t] + P["V_g"] @ (r * hp))
        hs.append(u * hp + (1 - u) * g)
        cache.append((hp, r, u, g))
    G = {k: np.zeros_like(v) for k, v in P.items()}
    carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        hp, r, u, g = cache[t]
        z = P["W"] @ hs[t + 1]
        p = np.exp(z - z.max()); p /= p.sum(); p[o[t]] -= 1
        G["W"] += np.outer(p, hs[t + 1])
        dh = P["W"].T @ p + carry
        dg = dh * (1 - u) * (1 - g ** 2)
        du = dh * (hp - g) * u * (1 - u)
        drh = P["V_g"].T @ dg
        dr = drh * hp * r * (1 - r)
        for k, d, inp in (("r", dr, hp), ("u", du, hp), ("g", dg, r * hp)):
            G["U_" + k] += np.outer(d, x[t])
            G["V_" + k] += np.outer(d, inp)
        carry = dh * u + drh * r + P["V_r"].T @ dr + P["V_u"].T @ du
    return G
'''


def test_course_gru_dict_convention(tmp_path):
    path = tmp_path / "gru.py"
    path.write_text(GRU_COURSE)
    report = check(path, "course", "gru", numerical=False)
    assert report.passed, [(t.name, t.errors) for t in report.tests]
    path.write_text(GRU_COURSE.replace("dh * (1 - u) * (1 - g ** 2)", "dh * (1 - u) * (1 - g)"))
    report = check(path, "course", "gru", numerical=False)
    bptt = next(t for t in report.tests if t.name == "bptt")
    assert not bptt.passed and any("dU_g" in e for e in bptt.errors)


USAGE = [
    (dict(submission="nope.py", convention="cs231n"), "no such file"),
    (dict(convention="keras"), "unknown convention"),
    (dict(convention="cs231n", models="gru"), "not checked by convention"),
    (dict(convention="adapter"), "needs --adapter"),
    (dict(convention="course", allow_imports=("os",)), "--allow-import"),
]


@pytest.mark.parametrize("kwargs, text", USAGE, ids=[u[1] for u in USAGE])
def test_usage_errors(kwargs, text):
    kwargs = dict(kwargs)
    submission = kwargs.pop("submission", EXAMPLES / "cs231n_correct.py")
    with pytest.raises(CheckUsageError, match=text):
        check(submission, **kwargs)


def test_float32_results_are_held_to_the_float32_bound(tmp_path):
    src = (EXAMPLES / "course_rnn_correct.py").read_text().replace(
        "    return dU, dV, dW\n", "    return dU.astype(np.float32), dV.astype(np.float32), dW.astype(np.float32)\n")
    path = tmp_path / "f32.py"
    path.write_text(src)
    report = check(path, "course", "rnn", numerical=False)
    assert report.passed
    bptt = next(t for t in report.tests if t.name == "bptt")
    assert all(c.tolerance == pytest.approx(1e-4) for c in bptt.checks)


def test_saturated_correct_code_with_another_formula_passes(tmp_path):
    """1/cosh² instead of 1 − h² on probes with large weights: rounding differs, the check must not fail."""
    src = (EXAMPLES / "course_rnn_correct.py").read_text()
    src = src.replace("delta = (1.0 - h[t] ** 2) * dh", "delta = dh / np.cosh(np.arctanh(np.clip(h[t], -1 + 1e-16, 1 - 1e-16))) ** 2")
    path = tmp_path / "sat.py"
    path.write_text(src)
    assert check(path, "course", "rnn", numerical=False).passed


def test_probes_are_deterministic():
    from numeric.checking.conventions import cs231n
    a, b = cs231n.cases(("rnn",))[1].probes[0], cs231n.cases(("rnn",))[1].probes[0]
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params) and np.array_equal(a.dhs, b.dhs)
