"""Issue 12: one registry entry per elementwise function (derive/functions.py), shown by softplus and
hard_sigmoid. Each entry is checked against references it does not share code with: mpmath's numerical
derivative of the entry's own mpmath form, SymPy's exact forms, and PyTorch where installed. The cells
below were written from the issue before the generated code was looked at (blind)."""

import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp

from derive import certify, derive, load_cell
from derive.codegen import generate
from derive.codegen.runtime import RUNTIME
from derive.functions import ELEMENTWISE, KNOWN, NON_ANALYTIC, REGISTRY, Elementwise, entry_of, helpers
from reports.codegen_verify import verify_generated

CELL_FUNCTIONS = [name for name, entry in REGISTRY.items() if entry.callable]
# arguments away from every kink (relu at 0, hard_sigmoid at ±3); some beyond ±3 to reach hard_sigmoid's flat parts
POINTS = [-4.7, -2.9, -0.8, -0.05, 0.3, 1.4, 2.6, 3.8]


def runtime_namespace() -> dict:
    namespace = {"np": np}
    exec(compile(RUNTIME + helpers(REGISTRY), "<runtime>", "exec"), namespace)
    return namespace


def numpy_form(entry, namespace):
    return eval(entry.numpy, namespace)


def test_cell_functions_are_known_to_the_parser():
    for name in ("softplus", "hard_sigmoid"):
        assert name in KNOWN and name in ELEMENTWISE
    assert set(NON_ANALYTIC) == {"relu", "hard_sigmoid"}
    assert "Heaviside" not in KNOWN and "band" not in KNOWN  # functions of derivatives only


@pytest.mark.parametrize("name", CELL_FUNCTIONS)
@pytest.mark.parametrize("x", POINTS)
def test_sympy_derivative_matches_mpmath_numerical_derivative(name, x):
    """fdiff (the derivative in the function's own value) vs mpmath.diff of the entry's mpmath form."""
    entry = REGISTRY[name]
    a = sp.Symbol("a")
    derivative = sp.diff(entry.sympy(a), a).subs(a, sp.Float(x, 30))
    expected = mpmath.diff(entry.mpmath, mpmath.mpf(x))
    assert float(sp.N(derivative, 20)) == pytest.approx(float(expected), abs=1e-12)
    assert float(sp.N(entry.sympy(sp.Float(x, 30)), 20)) == pytest.approx(float(entry.mpmath(mpmath.mpf(x))),
                                                                          abs=1e-14)


@pytest.mark.parametrize("name", CELL_FUNCTIONS)
def test_numpy_forms_match_mpmath_and_complex_step(name):
    """The generated module's helper, its complex step, the evaluator's form and in-place ``out=``."""
    entry = REGISTRY[name]
    namespace = runtime_namespace()
    f = numpy_form(entry, namespace)
    x = np.array(POINTS)
    expected = np.array([float(entry.mpmath(mpmath.mpf(v))) for v in POINTS])
    np.testing.assert_allclose(f(x), expected, rtol=1e-14, atol=1e-15)
    out = np.empty_like(x)
    f(x, out=out)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)
    h = 1e-30
    slope = f(x + 1j * h).imag / h
    np.testing.assert_allclose(slope, [float(mpmath.diff(entry.mpmath, mpmath.mpf(v))) for v in POINTS],
                               rtol=1e-12, atol=1e-15)
    evaluate = entry.evaluate or sp.lambdify(sp.Symbol("a"), entry.sympy(sp.Symbol("a")), "numpy")
    np.testing.assert_allclose(evaluate(x), expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(evaluate(x + 1j * h).imag / h, slope, rtol=1e-12, atol=1e-15)


def test_sympy_functions_are_built_once_even_when_threads_ask_together():
    """SymPy tells functions apart by class: a second 'softplus' class would make softplus(a) ≠ softplus(a)."""
    code = ("import threading\nfrom derive.functions import REGISTRY\nfound = []\n"
            "threads = [threading.Thread(target=lambda: found.append(REGISTRY['softplus'].sympy)) for _ in range(8)]\n"
            "[t.start() for t in threads]; [t.join() for t in threads]\n"
            "assert len(found) == 8 and len({id(f) for f in found}) == 1, found")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_entries_are_found_by_class_not_by_name():
    a = sp.Symbol("a")
    assert entry_of(REGISTRY["softplus"].sympy(a)) is REGISTRY["softplus"]
    assert entry_of(sp.tanh(a)) is REGISTRY["tanh"]
    with pytest.raises(KeyError, match="not an application of a registered"):
        entry_of(sp.Function("softplus")(a))  # a SymPy function that only shares the name


@pytest.mark.parametrize("extra,complaint", [
    ({}, "either builtin"),
    ({"builtin": "tanh", "closed": lambda sp, x: sp.tanh(x)}, "not both"),
    ({"closed": lambda sp, x: x, "numbers": "Integer"}, "expected 'Float' or 'Number'"),
])
def test_a_malformed_entry_is_refused_when_written(extra, complaint):
    with pytest.raises(ValueError, match=complaint):
        Elementwise("f", "np.f", "f", "f", "why", lambda mp, v: v, **extra)


def test_softplus_does_not_overflow():
    f = runtime_namespace()["_softplus"]
    np.testing.assert_allclose(f(np.array([-800.0, 0.0, 800.0])), [0.0, np.log(2.0), 800.0], atol=1e-300)


@pytest.mark.parametrize("name,derivative", [("relu", "Heaviside"), ("hard_sigmoid", "band")])
def test_derivative_helpers_in_own_value(name, derivative):
    """_step(relu(a)) and _band(hard_sigmoid(a)) are the derivatives, 0 exactly at the kinks (as PyTorch)."""
    namespace = runtime_namespace()
    f, df = numpy_form(REGISTRY[name], namespace), numpy_form(REGISTRY[derivative], namespace)
    x = np.array(POINTS + list(REGISTRY[name].kinks))
    expected = [float(mpmath.diff(REGISTRY[name].mpmath, mpmath.mpf(v))) for v in POINTS] + [0.0] * len(
        REGISTRY[name].kinks)
    np.testing.assert_allclose(df(f(x)), expected, atol=1e-12)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    namespace = runtime_namespace()
    x = np.linspace(-5, 5, 41) + 0.013
    for name, reference in [("softplus", torch.nn.functional.softplus),
                            ("hard_sigmoid", torch.nn.functional.hardsigmoid)]:
        xt = torch.tensor(x, requires_grad=True)
        y = reference(xt)
        y.sum().backward()
        ours = numpy_form(REGISTRY[name], namespace)(x)
        np.testing.assert_allclose(ours, y.detach().numpy(), rtol=1e-12, atol=1e-15)
        # the derivatives the generated backward applies: σ(a) for softplus, band(y) in hard_sigmoid's value y
        got = namespace["_sigmoid"](x) if name == "softplus" else namespace["_band"](ours)
        # PyTorch's hardsigmoid backward multiplies by a float32 1/6 even in float64: rtol 1e-7
        np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-7, atol=1e-15)


SOFTPLUS_CELL = """
# softplus state with a hard-sigmoid gate (issue 12), written for this test
cell soft-gate
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param U_g : H x D
param V_g : H x H
param W : K x H
state h : H
a = U @ x + V @ h_prev + b
g = hard_sigmoid(U_g @ x + V_g @ h_prev)
h = g * h_prev + (1 - g) * softplus(a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""

SOFTPLUS_ONLY = """
cell softplus-rnn
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param W : K x H
state h : H
a = U @ x + V @ h_prev + b
h = softplus(a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""

HARD_ONLY = """
cell hard-rnn
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param W : K x H
state h : H
a = 4 * (U @ x + V @ h_prev + b)
h = hard_sigmoid(a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
"""


@pytest.fixture(params=[("soft-gate", SOFTPLUS_CELL), ("softplus-rnn", SOFTPLUS_ONLY), ("hard-rnn", HARD_ONLY)],
                ids=lambda p: p[0])
def cell(request, tmp_path):
    path = tmp_path / f"{request.param[0]}.cell"
    path.write_text(request.param[1])
    return load_cell(str(path))


def test_cell_derives_generates_and_verifies(cell):
    derivation = derive(cell)
    assert derivation.steps
    text = "\n".join(str(step) for step in derivation.steps)
    gen = generate(cell)
    functions = {n.fn for n in cell.nodes if n.fn}
    for name in functions - {"softmax"}:
        assert REGISTRY[name].numpy in gen.source
    result = verify_generated(gen, oracles=("complex-step", "central"))
    assert result.passed, "\n".join(result.summary_lines() if hasattr(result, "summary_lines") else result.notes)
    oracles = {c.oracle for r in result.runs for c in r.comparisons}
    assert {"SymPy program", "complex-step", "central"} <= oracles, oracles
    if "hard_sigmoid" in functions:
        assert gen.module.KINKS == ("hard_sigmoid",)
        assert any("kink" in note for note in result.notes)
    assert text


def test_unused_helpers_are_not_written(cell):
    source = generate(cell).source
    used = {n.fn for n in cell.nodes}
    assert ("def _softplus" in source) == ("softplus" in used)
    assert ("def _hard_sigmoid" in source) == ("hard_sigmoid" in used)


@pytest.mark.slow
def test_certificate_passes(cell):
    result = certify(cell)
    assert result.passed, result.summary()
