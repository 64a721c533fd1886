"""Elementwise functions a cell may apply: one :class:`Elementwise` registry entry each (autograd style).

An entry holds everything the toolkit needs to know about one function — its SymPy form (whose
``fdiff`` is the derivative written in the function's own value, σ′ = σ(1 − σ), so every local
derivative stays in the cell's named quantities, DESIGN.md §4), the NumPy code a generated module
applies, its mpmath form (the certificate), its display in Unicode and LaTeX, the one-line
justification the derivation prints, and its kinks when it is piecewise. Parser, adjoint program,
derivation, certificate, evaluator, lambdify, printers and the generated runtime all read it here:
adding a function is one entry (see ``softplus`` and ``hard_sigmoid`` below) and a test.

Functions that only appear inside derivatives (the unit step of relu, the band of hard_sigmoid) are
entries too, with ``callable=False``: a cell file cannot call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
import numpy as np
import sympy as sp


class sigmoid(sp.Function):  # noqa: N801 — SymPy function classes are lower-case
    """Logistic sigmoid σ(x) = 1 / (1 + e^(−x)); SymPy's ``diff`` gives σ(x)(1 − σ(x))."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, x):
        if x.is_Float:
            return 1 / (1 + sp.exp(-x))
        return None

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0]))).evalf(prec)

    def _latex(self, printer, exp=None):
        return _latex_call(r"\sigma", printer, self, exp)


class relu(sp.Function):  # noqa: N801
    """Rectifier max(0, x); its derivative is the step H(relu(x)) with H(0) = 0 (not analytic)."""

    def fdiff(self, argindex=1):
        return sp.Heaviside(relu(self.args[0]), 0)

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)
        return None

    def _eval_evalf(self, prec):
        return sp.Max(0, self.args[0]).evalf(prec)

    def _latex(self, printer, exp=None):
        return _latex_call(r"\operatorname{relu}", printer, self, exp)


class softplus(sp.Function):  # noqa: N801
    """softplus(x) = log(1 + e^x); its derivative is σ(x) — the logistic function of the argument
    (1 − e^(−softplus(x)) in its own value; σ(x) reads better and is the same number)."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_Float:
            return sp.log(1 + sp.exp(x))
        return None

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0])).evalf(prec)

    def _latex(self, printer, exp=None):
        return _latex_call(r"\operatorname{softplus}", printer, self, exp)


#: PyTorch's hard sigmoid: clip(x/6 + 1/2, 0, 1), kinks at x = ±3
_HARD_SLOPE = sp.Rational(1, 6)


class hard_sigmoid(sp.Function):  # noqa: N801
    """hard_sigmoid(x) = min(1, max(0, x/6 + 1/2)) (PyTorch's ``hardsigmoid``); its derivative is
    band(y) = 1/6 where 0 < y < 1 and 0 elsewhere, in its own value y (not analytic at x = ±3)."""

    def fdiff(self, argindex=1):
        return band(hard_sigmoid(self.args[0]))

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Min(1, sp.Max(0, _HARD_SLOPE * x + sp.Rational(1, 2)))
        return None

    def _eval_evalf(self, prec):
        return sp.Min(1, sp.Max(0, _HARD_SLOPE * self.args[0] + sp.Rational(1, 2))).evalf(prec)

    def _latex(self, printer, exp=None):
        return _latex_call(r"\operatorname{hard\_sigmoid}", printer, self, exp)


class band(sp.Function):  # noqa: N801
    """The derivative of hard_sigmoid in its own value: 1/6 where 0 < y < 1, else 0."""

    @classmethod
    def eval(cls, y):
        if y.is_Number:
            return _HARD_SLOPE if 0 < y < 1 else sp.Integer(0)
        return None

    def _latex(self, printer, exp=None):
        return _latex_call(r"\operatorname{band}", printer, self, exp)


def _latex_call(name: str, printer, e, exp):
    body = r"%s\left(%s\right)" % (name, printer._print(e.args[0]))
    return body if exp is None else r"%s^{%s}" % (body, exp)


@dataclass(frozen=True)
class Elementwise:
    """One elementwise function and everything each layer needs to know about it.

    Attributes:
        name: the SymPy class name (for a cell function also the name a cell file calls).
        sympy: the SymPy function; its ``fdiff`` is the derivative in the function's own value.
        numpy: the code a generated module applies, taking ``(a, out=None)``.
        unicode, latex: the function's name in displayed equations.
        mpmath: the function on mpmath numbers (the certificate's high-precision evaluation).
        why: the one-line justification of its derivative, printed by the derivation.
        kinks: the arguments where it is not analytic (finite differences must keep away from them).
        helper: runtime source defining ``numpy`` when it is not a NumPy function.
        gamma: sup |φ′|, the γ of the norm bound ‖∂h_t/∂h_k‖₂ ≤ (γ‖V‖₂)^{t−k}; None if not used there.
        callable: whether a cell file may call it (False for functions of derivatives only).
        evaluate: the forward function on NumPy arrays for the SymPy evaluator (``sympy.lambdify``),
            written independently of ``helper``; None when SymPy's own NumPy printer knows it.
        needs: the functions whose helpers its derivative calls (softplus′ = σ).
    """

    name: str
    sympy: Callable
    numpy: str
    unicode: str
    latex: str
    mpmath: Callable
    why: str
    kinks: tuple = ()
    helper: str = ""
    gamma: sp.Expr | None = None
    callable: bool = True
    evaluate: Callable | None = None
    needs: tuple = ()


def _mp_step(v):
    return mpmath.mpf(1) if v > 0 else mpmath.mpf(0)


_REGISTRY = (
    Elementwise("tanh", sp.tanh, "np.tanh", "tanh", r"\tanh", mpmath.tanh,
                "SymPy: d tanh(a)/da = 1 − tanh(a)², written with the node's own value", gamma=sp.Integer(1)),
    Elementwise("sigmoid", sigmoid, "_sigmoid", "σ", r"\sigma", lambda v: 1 / (1 + mpmath.exp(-v)),
                "SymPy: dσ(a)/da = σ(a)(1 − σ(a)), written with the node's own value", gamma=sp.Rational(1, 4),
                evaluate=lambda a: 0.5 * (1.0 + np.tanh(0.5 * a)), helper='''
def _sigmoid(a, out=None):
    """σ(a) = 1 / (1 + e^(−a)), into ``out`` if given; complex a (complex step): ½(1 + tanh(a/2)),
    finite where e^(−a) is not."""
    if np.iscomplexobj(a):
        return np.multiply(0.5, 1.0 + np.tanh(0.5 * a), out=out)
    with np.errstate(over="ignore"):
        e = np.exp(-a, out=out)
    e += 1.0
    return np.reciprocal(e, out=e)
'''),
    Elementwise("relu", relu, "_relu", "relu", r"\operatorname{relu}", lambda v: v if v > 0 else mpmath.mpf(0),
                "SymPy: d relu(a)/da = H(a), the unit step (not analytic at 0)", kinks=(0,),
                evaluate=lambda a: a * (np.real(a) > 0), helper='''
def _relu(a, out=None):
    """max(0, a) on the real part (not analytic at 0)."""
    if _KINK_MARGINS is not None and a.size:
        _KINK_MARGINS.append(float(np.abs(a.real).min()))
    return np.multiply(a, a.real > 0, out=out)


def _step(a):
    """H(a) with H(0) = 0: the derivative of relu, written in relu's own value."""
    return (a.real > 0).astype(a.dtype)
'''),
    Elementwise("exp", sp.exp, "np.exp", "exp", r"\exp", mpmath.exp, "SymPy: d exp(a)/da = exp(a)"),
    Elementwise("softplus", softplus, "_softplus", "softplus", r"\operatorname{softplus}",
                lambda v: mpmath.log(1 + mpmath.exp(v)),
                "SymPy: d softplus(a)/da = σ(a), the logistic function of the argument", needs=("sigmoid",),
                evaluate=lambda a: np.log(1.0 + np.exp(a)), helper='''
def _softplus(a, out=None):
    """softplus(a) = log(1 + e^a) without overflow: m + log(e^(−m) + e^(a−m)) with m = max(Re a, 0)
    (m only shifts, so the complex step stays exact)."""
    m = np.maximum(a.real, 0.0)
    return np.add(m, np.log(np.exp(-m) + np.exp(a - m)), out=out)
'''),
    Elementwise("hard_sigmoid", hard_sigmoid, "_hard_sigmoid", "hard_sigmoid", r"\operatorname{hard\_sigmoid}",
                lambda v: min(mpmath.mpf(1), max(mpmath.mpf(0), v / 6 + mpmath.mpf(1) / 2)),
                "SymPy: d hard_sigmoid(a)/da = band(y) = 1/6 where 0 < y < 1, else 0, in the node's own value y "
                "(not analytic at a = ±3)", kinks=(-3, 3),
                evaluate=lambda a: np.clip(np.real(a) / 6 + 0.5, 0, 1) + 1j * np.imag(a) / 6
                * ((np.real(a) > -3) & (np.real(a) < 3)) if np.iscomplexobj(a) else np.clip(a / 6 + 0.5, 0, 1),
                helper='''
def _hard_sigmoid(a, out=None):
    """clip(a/6 + 1/2, 0, 1) on the real part (PyTorch's hardsigmoid; not analytic at a = ±3): the
    clipped pieces are constants, so a complex step sees slope 1/6 inside and 0 outside."""
    if _KINK_MARGINS is not None and a.size:
        _KINK_MARGINS.append(float(np.minimum(np.abs(a.real - 3.0), np.abs(a.real + 3.0)).min()))
    inside = (a.real > -3.0) & (a.real < 3.0)
    return np.add(np.where(inside, a / 6.0 + 0.5, 0.0), a.real >= 3.0, out=out)


def _band(y):
    """1/6 where 0 < y < 1, else 0: the derivative of hard_sigmoid in its own value."""
    return ((y.real > 0) & (y.real < 1)) / np.asarray(6.0, y.dtype)
'''),
    Elementwise("Heaviside", sp.Heaviside, "_step", "step", r"\operatorname{step}", _mp_step,
                "the unit step H(y), H(0) = 0: the derivative of relu in its own value", callable=False),
    Elementwise("band", band, "_band", "band", r"\operatorname{band}",
                lambda v: mpmath.mpf(1) / 6 if 0 < v < 1 else mpmath.mpf(0),
                "1/6 where 0 < y < 1, else 0: the derivative of hard_sigmoid in its own value", callable=False),
)

#: Every elementwise function (cell functions and functions of derivatives) by SymPy class name.
REGISTRY: dict[str, Elementwise] = {e.name: e for e in _REGISTRY}

#: Elementwise functions by the name a cell file uses → their SymPy function.
ELEMENTWISE = {e.name: e.sympy for e in _REGISTRY if e.callable}

#: Vector functions (not elementwise): only allowed as ``name = softmax(expr)``.
VECTOR = ("softmax",)

#: Every function name a cell file may call.
KNOWN = tuple(ELEMENTWISE) + VECTOR

#: Functions whose derivative is not analytic (complex step does not apply).
NON_ANALYTIC = tuple(e.name for e in _REGISTRY if e.callable and e.kinks)


def helpers(names) -> str:
    """The runtime source of the helpers the named functions and their derivatives call (in registry
    order): a generated module carries only these."""
    wanted = {name for name in names if name in REGISTRY}
    wanted |= {need for name in wanted for need in REGISTRY[name].needs}
    return "".join("\n\n" + e.helper.strip("\n") + "\n" for e in _REGISTRY if e.name in wanted and e.helper)
