"""The deeplearning.ai "Step by Step" convention: correct solutions in several styles pass, every function is
its own test, planted mistakes fail and are named, reports use the assignment's names."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numeric import models
from numeric.checking import check
from numeric.checking.conventions import deeplearning_ai as dlai
from numeric.checking.demo import EXAMPLES
from numeric.checking.reference import make_probe

CORRECT = ["dlai_correct.py", "dlai_correct_stacked.py"]
FUNCTIONS = ["rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward",
             "lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_backward"]


def _check(tmp_path, source: str, model=None):
    path = tmp_path / "submission.py"
    path.write_text(source)
    return check(path, "deeplearning-ai", model, numerical=False)


def _tests(report) -> dict:
    return {t.name: t for t in report.tests}


@pytest.mark.parametrize("example", CORRECT)
def test_correct_solutions_pass_every_function(example):
    report = check(EXAMPLES / example, "deeplearning-ai", numerical=False)
    assert [t.name for t in report.tests] == FUNCTIONS
    assert report.passed, [(t.name, t.errors) for t in report.tests if not t.passed]
    assert all(c.error < 1e-12 for t in report.tests for c in t.checks)


def test_the_usual_numerical_number_is_shown_for_every_gradient():
    # the numerical number is a noisy max entry-wise ratio: fixed probes (secret per-run ones otherwise)
    report = check(EXAMPLES / "dlai_correct.py", "deeplearning-ai", ("lstm",), seed=0)
    grads = [c for t in report.tests for c in t.checks if c.kind == "gradient"]
    assert len(grads) == 11 + 10
    assert all(c.numerical_error is not None and c.numerical_error < 1e-4 for c in grads)


def test_parameters_map_onto_the_reference_lstm():
    """W_G = [V_G | U_G] on concat = [a_prev; xt]: the dict's gates reproduce the reference cell."""
    probe = make_probe("lstm", True, 5, T=1, D=3, H=4, K=2, B=2)
    p = dlai.parameters("lstm", probe.params)
    concat = np.vstack([probe.h0, probe.xs[0]])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    f, i, o = (sig(p[f"W{g}"] @ concat + p[f"b{g}"]) for g in "fio")
    c = f * probe.c0 + i * np.tanh(p["Wc"] @ concat + p["bc"])
    tape = models.get("lstm").forward(probe.params, probe.xs, h0=probe.h0, c0=probe.c0)
    np.testing.assert_allclose(c, tape.cs[0], rtol=1e-13)
    np.testing.assert_allclose(o * np.tanh(c), tape.hs[0], rtol=1e-13)


# (base file, text replaced, replacement, the test that must fail, the mistake its top diagnosis names)
PLANTED = [
    ("dlai_correct.py", "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
     "rnn_cell_backward(da[:, :, t], caches[t])", "rnn_backward", "dh-next-not-added"),
    ("dlai_correct.py", "lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
     "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])", "lstm_backward", "dh-next-not-added"),
    ("dlai_correct_stacked.py", "(da[:, :, t] + carry)", "da[:, :, t]", "rnn_backward", "dh-next-not-added"),
    ("dlai_correct.py", "dz = da_next * (1 - a_next ** 2)", "dz = da_next * (1 - np.tanh(a_next) ** 2)",
     "rnn_cell_backward", "tanh-derivative-of-wrong-quantity"),
    ("dlai_correct.py", "da_next * ot * (1 - tc ** 2)", "da_next * ot * (1 - c_next ** 2)",
     "lstm_cell_backward", "tanh-derivative-of-wrong-quantity"),
    ("dlai_correct_stacked.py", "* (1.0 - a_all[:, :, t + 1] ** 2)", "* (1.0 - a_all[:, :, t] ** 2)",
     "rnn_backward", "tanh-derivative-of-wrong-quantity"),
    ("dlai_correct.py", 'grads["dc_prev"] = dc * ft', 'grads["dc_prev"] = dc', "lstm_cell_backward",
     "dc-missing-forget-factor"),
    ("dlai_correct_stacked.py", "return dz, dv[:n], dv[n:], dc * f", "return dz, dv[:n], dv[n:], dc",
     "lstm_backward", "dc-missing-forget-factor"),
    ("dlai_correct.py", '(("f", dft), ("i", dit), ("c", dcct), ("o", dot))',
     '(("f", dit), ("i", dft), ("c", dcct), ("o", dot))', "lstm_cell_backward", "gate-order"),
    ("dlai_correct_stacked.py", "f, i, o = _sigmoid(z[:n]), _sigmoid(z[n:2 * n]), _sigmoid(z[3 * n:])",
     "o, i, f = _sigmoid(z[:n]), _sigmoid(z[n:2 * n]), _sigmoid(z[3 * n:])", "lstm_cell_forward", "gate-order"),
    ("dlai_correct.py", 'dWax += g["dWax"]\n        dWaa += g["dWaa"]\n        dba += g["dba"]',
     'dWax = g["dWax"]\n        dWaa = g["dWaa"]\n        dba = g["dba"]', "rnn_backward", "weight-grads-not-summed"),
    ("dlai_correct.py", "totals[k] = totals[k] + g[k]", "totals[k] = g[k]", "lstm_backward",
     "weight-grads-not-summed"),
    ("dlai_correct_stacked.py", "dW = dW + np.dot(dz, caches[t][\"v\"].T)", "dW = np.dot(dz, caches[t][\"v\"].T)",
     "lstm_backward", "weight-grads-not-summed"),
    ("dlai_correct.py", "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)", "a_next = np.tanh(Waa @ a_prev + Wax @ xt)",
     "rnn_cell_forward", None),
]


@pytest.mark.parametrize("base, old, new, failing, mistake", PLANTED,
                         ids=[f"{p[3]}-{p[4]}-{i}" for i, p in enumerate(PLANTED)])
def test_planted_mistakes_fail_and_are_named(tmp_path, base, old, new, failing, mistake):
    source = (EXAMPLES / base).read_text()
    assert source.count(old) == 1, old
    model = failing.split("_")[0]
    report = _check(tmp_path, source.replace(old, new), model)
    tests = _tests(report)
    assert not tests[failing].passed
    if mistake is not None:
        assert tests[failing].diagnosis, tests[failing].errors
        assert tests[failing].diagnosis[0].mistake == mistake, [
            (d.mistake, d.confidence, d.evidence) for d in tests[failing].diagnosis]


# reference-side names that must not appear in what a student reads about their outputs
REFERENCE_NAMES = r"\b[UVb]_[fiqg]\b|\bh_0\b|∂L/∂[hc]_(0|t|T|\{)|\bdhs\b|\bdc_last\b"


def _student_text(test) -> str:
    lines = list(test.errors) + list(test.notes)
    lines += [line for c in test.checks for line in c.where]
    lines += [d.evidence.split("Reproduced:")[1] for d in test.diagnosis if "Reproduced:" in d.evidence]
    return "\n".join(lines)


@pytest.mark.parametrize("convention, base, old, new, failing, names", [
    ("deeplearning-ai", "dlai_correct.py", 'grads["dc_prev"] = dc * ft', 'grads["dc_prev"] = dc',
     "lstm_cell_backward", ["dc_prev (∂L/∂c_prev", "upstream through da_next only (dc_next = 0)"]),
    ("deeplearning-ai", "dlai_correct.py", "rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
     "rnn_cell_backward(da[:, :, t], caches[t])", "rnn_backward", ["da0 (∂L/∂a0", "dWaa"]),
    ("cs231n", "cs231n_correct.py", "dx[:, t], dprev_h, dprev_c, a, b_, c_ = lstm_step_backward(dh[:, t] + dprev_h,",
     "dx[:, t], dprev_h, dprev_c, a, b_, c_ = lstm_step_backward(dh[:, t],", "lstm_backward",
     ["dh0 (∂L/∂h0", "per gate block: i "]),
    ("cs231n", "cs231n_correct.py", "dc * f, x.T @ da", "dc, x.T @ da", "lstm_step_backward",
     ["dprev_c (∂L/∂prev_c", "upstream through dnext_h only (dnext_c = 0)"]),
])
def test_reports_speak_the_assignments_names(tmp_path, convention, base, old, new, failing, names):
    import re
    source = (EXAMPLES / base).read_text()
    assert source.count(old) == 1
    path = tmp_path / "submission.py"
    path.write_text(source.replace(old, new))
    report = check(path, convention, "lstm" if "lstm" in failing else "rnn", numerical=False)
    test = _tests(report)[failing]
    assert not test.passed
    text = _student_text(test)
    for name in names:
        assert name in text, text
    assert not re.search(REFERENCE_NAMES, text), re.search(REFERENCE_NAMES, text)


# Held out: written after the convention worked on PLANTED, in the template style of dlai_correct_split.py,
# and run once before any change (results in the report). (text replaced, replacement, failing test, mistake)
HELDOUT = [
    ("lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])",
     "lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])", "lstm_backward", "dh-next-not-added"),
    ("dba = np.sum(dtanh, axis=1, keepdims=1)", "dba = np.mean(dtanh, axis=1, keepdims=1)", "rnn_cell_backward",
     "mean-instead-of-sum"),
    ("dWaa = np.dot(dtanh, a_prev.T)", "dWaa = np.dot(a_prev, dtanh.T)", "rnn_cell_backward",
     "transposed-weight-gradient"),
    ("dWaa = np.dot(dtanh, a_prev.T)", "dWaa = np.dot(dtanh, a_next.T)", "rnn_cell_backward", "off-by-one-h-prev"),
    ("dot = da_next * np.tanh(c_next) * ot * (1 - ot)", "dot = da_next * np.tanh(c_next) * (1 - ot)",
     "lstm_cell_backward", "sigmoid-derivative-of-wrong-quantity"),
    ('dc_prevt = gradients["dc_prev"]', '# dc_prevt = gradients["dc_prev"]', "lstm_backward", "dc-not-carried"),
    ("dx[:, :, t] = dxt\n", "dx[:, :, t] = dxt\n        da_prevt = np.clip(da_prevt, -5, 5)\n", "rnn_backward",
     "clipping-in-backward"),
    ("da_prev = np.dot(Waa.T, dtanh)", "da_prev = np.dot(Waa, dtanh)", "rnn_cell_backward",
     "recurrent-weight-not-transposed"),
    ("* (1 - np.square(cct))", "* (1 - cct)", "lstm_cell_backward", "tanh-derivative-of-wrong-quantity"),
    ('dWf += gradients["dWf"]', 'dWf = gradients["dWf"]', "lstm_backward", "weight-grads-not-summed"),
    ("    c_next = np.zeros((n_a, m))\n", "    c_next = a0\n", "lstm_forward", None),
    ("return e_x / e_x.sum(axis=0)", "return e_x / e_x.sum(axis=1, keepdims=True)", "rnn_cell_forward", None),
]


@pytest.mark.parametrize("old, new, failing, mistake", HELDOUT,
                         ids=[f"{h[2]}-{h[3]}-{i}" for i, h in enumerate(HELDOUT)])
def test_heldout_mutants_fail_and_are_named(tmp_path, old, new, failing, mistake):
    source = (EXAMPLES / "dlai_correct_split.py").read_text()
    assert source.count(old) == 1, old
    report = _check(tmp_path, source.replace(old, new), failing.split("_")[0])
    test = _tests(report)[failing]
    assert not test.passed
    if mistake is not None:
        assert test.diagnosis and test.diagnosis[0].mistake == mistake, [
            (d.mistake, d.confidence, d.evidence) for d in test.diagnosis]


@pytest.mark.parametrize("old, new", [
    ("", ""),
    ("dWax = np.dot(dtanh, xt.T)", "dWax = np.dot(dtanh, xt.T).astype(np.float32)"),
    ("dtanh = (1 - a_next ** 2) * da_next", "dtanh = da_next / np.cosh(np.arctanh(a_next)) ** 2"),
    ("dot = da_next * np.tanh(c_next) * ot * (1 - ot)",
     "dot = da_next * np.tanh(c_next) * sigmoid(-np.log(1 / ot - 1)) * (1 - ot)"),
], ids=["as-is", "float32-result", "1/cosh²", "sigmoid-recomputed"])
def test_heldout_correct_variants_pass(tmp_path, old, new):
    source = (EXAMPLES / "dlai_correct_split.py").read_text()
    assert source.count(old) >= 1
    report = _check(tmp_path, source.replace(old, new))
    assert report.passed, [(t.name, t.errors) for t in report.tests if not t.passed]


@pytest.mark.parametrize("example, model, failing, mistake", [
    ("dlai_planted_da_prev.py", "rnn", "rnn_backward", "dh-next-not-added"),
    ("dlai_planted_dc_forget.py", "lstm", "lstm_cell_backward", "dc-missing-forget-factor"),
])
def test_shipped_planted_examples(example, model, failing, mistake):
    report = check(EXAMPLES / example, "deeplearning-ai", model, numerical=False)
    failed = [t.name for t in report.tests if not t.passed]
    assert failing in failed and all(not name.endswith("forward") for name in failed)
    assert _tests(report)[failing].diagnosis[0].mistake == mistake


@pytest.mark.parametrize("old, new, failing", [
    ('"dba": np.sum(dz, axis=1, keepdims=True)}', '"dba": np.clip(np.sum(dz, axis=1, keepdims=True), -5, 5)}',
     "rnn_cell_backward"),
    ('grads["dW" + name] = d @ concat.T', 'grads["dW" + name] = np.clip(d @ concat.T, -5, 5)', "lstm_cell_backward"),
])
def test_clipping_at_5_inside_a_backward_is_caught(tmp_path, old, new, failing):
    source = (EXAMPLES / "dlai_correct.py").read_text()
    assert source.count(old) == 1
    test = _tests(_check(tmp_path, source.replace(old, new), failing.split("_")[0]))[failing]
    assert not test.passed and test.diagnosis[0].mistake == "clipping-in-backward"


def test_bad_returns_are_clear_failures(tmp_path):
    source = (EXAMPLES / "dlai_correct.py").read_text()
    source = source.replace('return {"dx": dx, "da0": da_prevt,', 'return {"dx": dx, "da": da_prevt,')
    source = source.replace("    return dict(totals, dx=dx, da0=da_prevt)", "    return dx, da_prevt, totals")
    tests = _tests(_check(tmp_path, source))
    assert any("no 'da0'" in e and "(keys: dWaa, dWax, da, dba, dx)" in e for e in tests["rnn_backward"].errors)
    assert any("returned tuple; expected a dict of gradients" in e for e in tests["lstm_backward"].errors)
    assert tests["rnn_cell_backward"].passed and tests["lstm_cell_backward"].passed


def test_cli_exit_codes(capsys):
    from reports.cli import main
    assert main(["check", str(EXAMPLES / "dlai_correct_stacked.py"), "--convention", "deeplearning-ai",
                 "--no-numerical"]) == 0
    assert main(["check", str(EXAMPLES / "dlai_planted_da_prev.py"), "--convention", "deeplearning-ai",
                 "--model", "rnn", "--no-numerical"]) == 1
    assert main(["check", str(EXAMPLES / "dlai_correct.py"), "--convention", "deeplearning-ai",
                 "--model", "gru"]) == 2
    assert "dh-next-not-added" in capsys.readouterr().out


def _load_own(name: str):
    """Our own correct example, imported in this process (no sandbox): an independent check of the mapping."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@given(model=st.sampled_from(["rnn", "lstm"]), cell=st.booleans(), seed=st.integers(0, 10_000),
       T=st.integers(2, 5), D=st.integers(1, 4), H=st.integers(1, 5), K=st.integers(2, 4), B=st.integers(1, 3))
def test_the_converter_maps_the_reference_onto_the_assignments_layout(model, cell, seed, T, D, H, K, B):
    """For random sizes, the convention's reference outputs (case.convert of numeric.models' results) equal
    what the assignment's functions compute in the assignment's layout."""
    from numeric.checking.reference import reference_outputs
    student = _load_own("dlai_correct")
    lstm = model == "lstm"
    probe = make_probe(model, True, seed, T=1 if cell else T, D=D, H=H, K=K, B=B, upstream=True,
                       dc_last=cell and lstm, zero_c0=not cell)
    forward_case, backward_case = [c for c in dlai.cases((model,)) if ("cell" in c.name) == cell]
    args, _names = dlai.forward_args(model, cell, probe)
    got = getattr(student, forward_case.name)(*args)
    ref = forward_case.convert(reference_outputs(probe), probe)
    for name, value in zip([o.name for o in forward_case.outputs], got):
        np.testing.assert_allclose(value, ref[name], rtol=1e-10, atol=1e-12, err_msg=name)
    upstream = [probe.dhs[0]] + ([probe.dc_last] if lstm else []) if cell else [probe.dhs.transpose(1, 2, 0)]
    grads = getattr(student, backward_case.name)(*upstream, got[-1])
    ref = backward_case.convert(reference_outputs(probe), probe)
    for output in backward_case.outputs:
        if output.kind == "gradient":
            np.testing.assert_allclose(grads[output.name], ref[output.name], rtol=1e-9, atol=1e-12,
                                       err_msg=output.name)


def test_a_stacked_weight_gradient_is_localised_to_its_a_prev_or_xt_columns(tmp_path):
    """a_next where a_prev belongs in the backward's concat: only the a_prev columns of dWf… are wrong."""
    source = (EXAMPLES / "dlai_correct.py").read_text()
    old = "    concat = np.concatenate([a_prev, xt], axis=0)\n    grads = {}"
    assert source.count(old) == 1
    report = _check(tmp_path, source.replace(old, old.replace("a_prev, xt", "a_next, xt")), "lstm")
    test = _tests(report)["lstm_cell_backward"]
    assert [c.name for c in test.checks if not c.passed] == ["dWf", "dWi", "dWc", "dWo"]
    for check_ in test.checks:
        if not check_.passed:
            line = next(w for w in check_.where if "per input block" in w)
            assert "a_prev columns" in line and line.endswith("xt columns exact"), line
    assert test.diagnosis[0].mistake == "off-by-one-h-prev"
