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
    ("dlai_correct.py", "adapter", None, "adapter_dlai_lstm.py"),
    ("dlai_correct.py", "deeplearning-ai", None, None),
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


# ------------------------------------------------------------------------------------------ adapter

LEGACY_ADAPTER = """
MODEL = "rnn"

def loss_and_grads(student, params, xs, targets, h0, c0=None):
    weights = {"Wxh": params["U"].T, "Whh": params["V"].T, "bh": params["b"][:, 0],
               "Why": params["W"].T, "by": params["c"][:, 0]}
    loss, g = student.rnn_loss_and_grads(xs.transpose(2, 0, 1), targets.T, h0.T, weights)
    return loss, {"U": g["Wxh"].T, "V": g["Whh"].T, "b": g["bh"][:, None], "W": g["Why"].T, "c": g["by"][:, None]}
"""


def test_adapter_without_tests_is_the_older_form(tmp_path):
    """No TESTS: loss_and_grads returning (E, gradients) compares E and every parameter, named as ours."""
    (tmp_path / "a.py").write_text(LEGACY_ADAPTER)
    report = check(EXAMPLES / "adapter_submission.py", "adapter", adapter=tmp_path / "a.py", numerical=False)
    assert report.passed, [t.errors for t in report.tests]
    assert [c.name for c in report.tests[0].checks] == ["E", "U", "V", "b", "W", "c"]


def _dlai_adapter(tmp_path, replace=("", "")):
    source = (EXAMPLES / "adapter_dlai_lstm.py").read_text()
    assert replace[0] in source
    (tmp_path / "adapter.py").write_text(source.replace(*replace))
    return tmp_path / "adapter.py"


def test_adapter_upstream_cell_tests_and_zero_c0_reach_the_probes(tmp_path):
    from numeric.checking.conventions import adapter
    cases = {c.name: c for c in adapter.cases(str(_dlai_adapter(tmp_path)))}
    assert list(cases) == ["lstm_cell_backward", "lstm_backward", "lstm_forward"]
    cell, seq = cases["lstm_cell_backward"], cases["lstm_backward"]
    assert all(p.sizes["T"] == 1 and p.dc_last is not None and np.any(p.c0) for p in cell.probes)
    assert all(p.sizes["T"] > 1 and p.dhs is not None and not np.any(p.c0) for p in seq.probes)
    assert max(np.abs(p.dhs).max() for p in seq.probes) > 5  # clipping at ±5 would show
    assert [o.name for o in seq.outputs] == ["dx", "da0", "dWf[:, n_a:]", "dWf[:, :n_a]", "dbi", "dWo[:, n_a:]",
                                             "dbo"]


def test_adapter_reports_use_the_declared_names_and_diagnose(tmp_path):
    source = (EXAMPLES / "dlai_correct.py").read_text().replace('grads["dc_prev"] = dc * ft', 'grads["dc_prev"] = dc')
    (tmp_path / "sub.py").write_text(source)
    report = check(tmp_path / "sub.py", "adapter", adapter=_dlai_adapter(tmp_path), numerical=False)
    cell = next(t for t in report.tests if t.name == "lstm_cell_backward")
    assert not cell.passed and [c.name for c in cell.checks if not c.passed] == ["dc_prev"]
    assert any("dc_prev" in e for e in cell.errors)
    assert cell.diagnosis[0].mistake == "dc-missing-forget-factor"
    assert "Reproduced: dc_prev" in cell.diagnosis[0].evidence


def test_adapter_must_return_what_it_declares(tmp_path):
    adapter = _dlai_adapter(tmp_path, ('c0=g["dc_prev"])', ")"))
    report = check(EXAMPLES / "dlai_correct.py", "adapter", adapter=adapter, numerical=False)
    cell = next(t for t in report.tests if t.name == "lstm_cell_backward")
    assert not cell.passed and any("no 'c0'" in e and "declared" in e for e in cell.errors)
    assert next(t for t in report.tests if t.name == "lstm_backward").passed


ADAPTER_ERRORS = [
    (('"drive": "forward"', '"drive": "backward"'), "drive must be one of"),
    (('"hs": "a"', '"E": "a"'), "'E' is not an output of a lstm test driven by 'forward'"),
    (('"b_q": "dbo"}},', '"b_q": "dbo", "W": "dWy"}},'), "'W' is not an output of a lstm test driven by 'upstream'"),
    (('"cell_backward": {', '"cell_bwd": {'), "defines no function cell_bwd"),
    (('C0 = "zero"', 'C0 = "none"'), "C0 must be"),
    (('C0 = "zero"', 'C0 = "ze" + "ro"'), "C0 must be a literal"),
    (('"outputs": {"hs": "a", "cs": "c"}', '"outputs": {"hs": "a", "cs": "a"}'), "same name"),
]


@pytest.mark.parametrize("replace, text", ADAPTER_ERRORS, ids=[e[1] for e in ADAPTER_ERRORS])
def test_adapter_declaration_errors_are_usage_errors(tmp_path, replace, text):
    with pytest.raises(CheckUsageError, match=text):
        check(EXAMPLES / "dlai_correct.py", "adapter", adapter=_dlai_adapter(tmp_path, replace))


GRU_UPSTREAM_STUDENT = '''
import numpy as np

def s(v):
    return 1 / (1 + np.exp(-v))

def gru_backward(P, xs, dhs, h0):
    """Column layout, no biases: xs (T, D, B), dhs (T, H, B) upstream dL/dh_t, h0 (H, B)."""
    hs, keep = [h0], []
    for x in xs:
        hp = hs[-1]
        r, u = s(P["U_r"] @ x + P["V_r"] @ hp), s(P["U_u"] @ x + P["V_u"] @ hp)
        g = np.tanh(P["U_g"] @ x + P["V_g"] @ (r * hp))
        hs.append(u * hp + (1 - u) * g)
        keep.append((hp, r, u, g))
    G = {k: np.zeros_like(v) for k, v in P.items()}
    dxs, carry = np.zeros_like(xs), np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        hp, r, u, g = keep[t]
        dh = dhs[t] + carry
        dg = dh * (1 - u) * (1 - g ** 2)
        du = dh * (hp - g) * u * (1 - u)
        drh = P["V_g"].T @ dg
        dr = drh * hp * r * (1 - r)
        for name, d, inp in (("g", dg, r * hp), ("u", du, hp), ("r", dr, hp)):
            G["U_" + name] += d @ xs[t].T
            G["V_" + name] += d @ inp.T
        dxs[t] = P["U_g"].T @ dg + P["U_u"].T @ du + P["U_r"].T @ dr
        carry = dh * u + drh * r + P["V_u"].T @ du + P["V_r"].T @ dr
    return G, dxs, carry
'''

GRU_UPSTREAM_ADAPTER = '''
MODEL = "gru"
BIAS = False
TESTS = {"backward": {"name": "gru_backward", "drive": "upstream",
                      "outputs": ["U_r", "V_r", "U_u", "V_u", "U_g", "V_g", "xs", "h0"]}}

def backward(student, params, xs, dhs, h0, c0, dc_last):
    grads, dxs, dh0 = student.gru_backward(params, xs, dhs, h0)
    return dict(grads, xs=dxs, h0=dh0)
'''


@pytest.mark.parametrize("mutation, passes", [(("", ""), True), (("(1 - g ** 2)", "(1 - g)"), False)])
def test_adapter_drives_any_model_by_an_upstream_gradient(tmp_path, mutation, passes):
    (tmp_path / "sub.py").write_text(GRU_UPSTREAM_STUDENT.replace(*mutation))
    (tmp_path / "adapter.py").write_text(GRU_UPSTREAM_ADAPTER)
    report = check(tmp_path / "sub.py", "adapter", adapter=tmp_path / "adapter.py", numerical=False)
    assert report.passed == passes, [t.errors for t in report.tests]
    if not passes:
        assert {c.name for c in report.tests[0].checks if not c.passed} >= {"U_g", "xs", "h0"}
