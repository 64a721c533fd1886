"""Elementwise functions a cell may apply: one :class:`Elementwise` registry entry each (autograd style).

An entry holds everything the toolkit needs to know about one function — its value in closed form and
its derivative written in the function's own value (σ′ = σ(1 − σ), so every local derivative stays in
the cell's named quantities, DESIGN.md §4), the NumPy code a generated module applies, its mpmath form
(the certificate), its display in Unicode and LaTeX, the one-line justification the derivation prints,
and its kinks when it is piecewise. Parser, adjoint program, derivation, certificate, evaluator,
lambdify, printers and the generated runtime all read it here: adding a function is one entry (see
``softplus`` and ``hard_sigmoid`` below) and a test.

This module imports neither SymPy nor NumPy nor mpmath: the cell-file parser reads :data:`KNOWN` from
it and must stay cheap (tests/test_layers.py). The SymPy function of an entry is built on first use
(:attr:`Elementwise.sympy`), as are its mpmath and NumPy forms.

Functions that only appear inside derivatives (the unit step of relu, the band of hard_sigmoid) are
entries too, with ``callable=False``: a cell file cannot call them.

>>> REGISTRY["sigmoid"].unicode, REGISTRY["relu"].kinks, "softmax" in KNOWN
('σ', (0,), True)
>>> import sympy
>>> a = sympy.Symbol("a")
>>> sympy.diff(REGISTRY["sigmoid"].sympy(a), a)
(1 - sigmoid(a))*sigmoid(a)
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Callable


@dataclass(frozen=True)
class Elementwise:
    """One elementwise function and everything each layer needs to know about it.

    The SymPy side is declared by either ``builtin`` (SymPy's own function, e.g. ``tanh``) or by
    ``closed`` and ``derivative``, from which :attr:`sympy` builds a ``sympy.Function`` subclass named
    ``name`` on first use. Forms that need a numeric library take it as their first argument, so that
    this module imports none.

    Attributes:
        name: the SymPy class name (for a cell function also the name a cell file calls).
        numpy: the code a generated module applies, taking ``(a, out=None)``.
        unicode, latex: the function's name in displayed equations.
        why: the one-line justification of its derivative, printed by the derivation.
        mp_form: ``(mpmath, v) → value``: the function on mpmath numbers (the certificate's
            high-precision evaluation); bound to mpmath by :attr:`mpmath`.
        builtin: the name of SymPy's own function when SymPy has it (``tanh``, ``exp``, ``Heaviside``).
        closed: ``(sympy, x) → expr``: the value in closed form, used for numeric arguments and evalf.
        derivative: ``(y, x, f) → expr``: the derivative in the function's own value ``y = name(x)``;
            ``f`` gives the registry's SymPy functions by name (softplus′ = f.sigmoid(x)).
        numbers: which arguments ``closed`` evaluates at once: ``"Float"`` (analytic functions keep
            exact arguments symbolic) or ``"Number"`` (piecewise ones: any number).
        kinks: the arguments where it is not analytic (finite differences must keep away from them).
        helper: runtime source defining ``numpy`` when it is not a NumPy function.
        sup_slope: sup |φ′|, the γ of the norm bound ‖∂h_t/∂h_k‖₂ ≤ (γ‖V‖₂)^{t−k}; None if not used there.
        callable: whether a cell file may call it (False for functions of derivatives only).
        np_form: ``(numpy, a) → value``: the forward function on NumPy arrays for the SymPy evaluator
            (``sympy.lambdify``), written independently of ``helper``; None when SymPy's own NumPy
            printer knows it. Bound to NumPy by :attr:`evaluate`.
        needs: the functions whose helpers its derivative calls (softplus′ = σ).
    """

    name: str
    numpy: str
    unicode: str
    latex: str
    why: str
    mp_form: Callable
    builtin: str = ""
    closed: Callable | None = None
    derivative: Callable | None = None
    numbers: str = "Float"
    kinks: tuple = ()
    helper: str = ""
    sup_slope: Fraction | None = None
    callable: bool = True
    np_form: Callable | None = None
    needs: tuple = ()

    def __post_init__(self):
        if bool(self.builtin) == (self.closed is not None):
            raise ValueError(f"elementwise function {self.name!r}: give either builtin (SymPy's own function) "
                             f"or closed (and derivative), not both or neither")
        if self.numbers not in ("Float", "Number"):
            raise ValueError(f"elementwise function {self.name!r}: numbers={self.numbers!r}; expected 'Float' "
                             f"or 'Number'")

    @property
    def sympy(self):
        """The SymPy function (built on first use; its ``fdiff`` is the derivative in its own value)."""
        with _BUILD_LOCK:  # one class per function, even when threads ask at once: SymPy compares by class
            if self.name not in _BUILT:
                sp = importlib.import_module("sympy")
                _BUILT[self.name] = getattr(sp, self.builtin) if self.builtin else _sympy_function(self, sp)
            return _BUILT[self.name]

    @property
    def mpmath(self) -> Callable:
        """The function on mpmath numbers, ``v → value``."""
        return partial(self.mp_form, importlib.import_module("mpmath"))

    @property
    def evaluate(self) -> Callable | None:
        """The evaluator's NumPy form, ``a → value``, or None when SymPy's NumPy printer knows the function."""
        return None if self.np_form is None else partial(self.np_form, importlib.import_module("numpy"))

    @property
    def gamma(self):
        """γ = sup |φ′| as a SymPy rational (the derivation prints it), or None."""
        if self.sup_slope is None:
            return None
        return importlib.import_module("sympy").Rational(self.sup_slope.numerator, self.sup_slope.denominator)


_BUILT: dict = {}  # name → the SymPy function built from its entry
_BUILD_LOCK = threading.Lock()


class _Functions:
    """The registry's SymPy functions as attributes, for ``derivative`` forms: ``f.sigmoid(x)``."""

    def __getattr__(self, name):
        return REGISTRY[name].sympy


def _sympy_function(entry: Elementwise, sp):
    """A ``sympy.Function`` subclass named ``entry.name`` whose ``fdiff`` is ``entry.derivative``."""
    at_numbers = "is_Float" if entry.numbers == "Float" else "is_Number"

    def at_numbers_only(cls, x):
        return entry.closed(sp, x) if getattr(x, at_numbers) else None

    def latex(self, printer, exp=None):
        body = r"%s\left(%s\right)" % (entry.latex, printer._print(self.args[0]))
        return body if exp is None else r"%s^{%s}" % (body, exp)

    namespace = {"__module__": __name__, "__qualname__": entry.name, "__doc__": entry.why,
                 "eval": classmethod(at_numbers_only), "_latex": latex}
    if entry.derivative is not None:
        namespace["fdiff"] = lambda self, argindex=1: entry.derivative(self, self.args[0], _Functions())
    if entry.callable:  # a function of the argument (not only of a derivative's value): evalf by closed form
        namespace["_eval_evalf"] = lambda self, prec: entry.closed(sp, self.args[0]).evalf(prec)
    if entry.numbers == "Float":  # analytic: its closed form is in exp
        namespace["_eval_rewrite_as_exp"] = lambda self, x, **kwargs: entry.closed(sp, x)
    return type(entry.name, (sp.Function,), namespace)


# ---- the entries ---------------------------------------------------------------------------------


def _mp_relu(mp, v):
    return v if v > 0 else mp.mpf(0)


def _mp_hard_sigmoid(mp, v):
    return min(mp.mpf(1), max(mp.mpf(0), v / 6 + mp.mpf(1) / 2))


def _sp_hard_sigmoid(sp, x):
    return sp.Min(1, sp.Max(0, sp.Rational(1, 6) * x + sp.Rational(1, 2)))


def _np_hard_sigmoid(np, a):
    """clip(a/6 + 1/2, 0, 1); a complex step sees slope 1/6 inside (−3, 3) and 0 outside."""
    if not np.iscomplexobj(a):
        return np.clip(a / 6 + 0.5, 0, 1)
    inside = (np.real(a) > -3) & (np.real(a) < 3)
    return np.clip(np.real(a) / 6 + 0.5, 0, 1) + 1j * np.imag(a) / 6 * inside


_REGISTRY = (
    Elementwise("tanh", "np.tanh", "tanh", r"\tanh",
                "SymPy: d tanh(a)/da = 1 − tanh(a)², written with the node's own value",
                lambda mp, v: mp.tanh(v), builtin="tanh", sup_slope=Fraction(1)),
    Elementwise("sigmoid", "_sigmoid", "σ", r"\sigma",
                "SymPy: dσ(a)/da = σ(a)(1 − σ(a)), written with the node's own value",
                lambda mp, v: 1 / (1 + mp.exp(-v)),
                closed=lambda sp, x: 1 / (1 + sp.exp(-x)), derivative=lambda y, x, f: y * (1 - y),
                sup_slope=Fraction(1, 4), np_form=lambda np, a: 0.5 * (1.0 + np.tanh(0.5 * a)), helper='''
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
    Elementwise("relu", "_relu", "relu", r"\operatorname{relu}",
                "SymPy: d relu(a)/da = H(a), the unit step (not analytic at 0)", _mp_relu,
                closed=lambda sp, x: sp.Max(0, x), derivative=lambda y, x, f: f.Heaviside(y, 0),
                numbers="Number", kinks=(0,), np_form=lambda np, a: a * (np.real(a) > 0), helper='''
def _relu(a, out=None):
    """max(0, a) on the real part (not analytic at 0)."""
    if _KINK_MARGINS is not None and a.size:
        _KINK_MARGINS.append(float(np.abs(a.real).min()))
    return np.multiply(a, a.real > 0, out=out)


def _step(a):
    """H(a) with H(0) = 0: the derivative of relu, written in relu's own value."""
    return (a.real > 0).astype(a.dtype)
'''),
    Elementwise("exp", "np.exp", "exp", r"\exp", "SymPy: d exp(a)/da = exp(a)", lambda mp, v: mp.exp(v),
                builtin="exp"),
    Elementwise("softplus", "_softplus", "softplus", r"\operatorname{softplus}",
                "SymPy: d softplus(a)/da = σ(a), the logistic function of the argument",
                lambda mp, v: mp.log(1 + mp.exp(v)),
                # σ(a) reads better than 1 − e^(−y) in its own value y, and is the same number
                closed=lambda sp, x: sp.log(1 + sp.exp(x)), derivative=lambda y, x, f: f.sigmoid(x),
                needs=("sigmoid",), np_form=lambda np, a: np.log(1.0 + np.exp(a)), helper='''
def _softplus(a, out=None):
    """softplus(a) = log(1 + e^a) without overflow: m + log(e^(−m) + e^(a−m)) with m = max(Re a, 0)
    (m only shifts, so the complex step stays exact)."""
    m = np.maximum(a.real, 0.0)
    return np.add(m, np.log(np.exp(-m) + np.exp(a - m)), out=out)
'''),
    # PyTorch's hardsigmoid: clip(x/6 + 1/2, 0, 1), kinks at x = ±3
    Elementwise("hard_sigmoid", "_hard_sigmoid", "hard_sigmoid", r"\operatorname{hard\_sigmoid}",
                "SymPy: d hard_sigmoid(a)/da = band(y) = 1/6 where 0 < y < 1, else 0, in the node's own value y "
                "(not analytic at a = ±3)", _mp_hard_sigmoid,
                closed=_sp_hard_sigmoid, derivative=lambda y, x, f: f.band(y), numbers="Number", kinks=(-3, 3),
                np_form=_np_hard_sigmoid, helper='''
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
    Elementwise("Heaviside", "_step", "step", r"\operatorname{step}",
                "the unit step H(y), H(0) = 0: the derivative of relu in its own value",
                lambda mp, v: mp.mpf(1) if v > 0 else mp.mpf(0), builtin="Heaviside", callable=False),
    Elementwise("band", "_band", "band", r"\operatorname{band}",
                "1/6 where 0 < y < 1, else 0: the derivative of hard_sigmoid in its own value",
                lambda mp, v: mp.mpf(1) / 6 if 0 < v < 1 else mp.mpf(0),
                closed=lambda sp, y: sp.Rational(1, 6) if 0 < y < 1 else sp.Integer(0), numbers="Number",
                callable=False),
)

#: Every elementwise function (cell functions and functions of derivatives) by SymPy class name.
REGISTRY: dict[str, Elementwise] = {e.name: e for e in _REGISTRY}

#: Vector functions (not elementwise): only allowed as ``name = softmax(expr)``.
VECTOR = ("softmax",)

#: Every function name a cell file may call (the parser's list).
KNOWN = tuple(e.name for e in _REGISTRY if e.callable) + VECTOR

#: Functions whose derivative is not analytic (complex step does not apply).
NON_ANALYTIC = tuple(e.name for e in _REGISTRY if e.callable and e.kinks)


def sympy_function(name: str):
    """The SymPy function a cell file calls as ``name`` (built on first use)."""
    return REGISTRY[name].sympy


def entry_of(application) -> Elementwise:
    """The registry entry of a SymPy function application, e.g. ``sigmoid(a)`` (by its class, so a
    SymPy function that merely shares a registry name is refused)."""
    entry = REGISTRY.get(getattr(application.func, "__name__", ""))
    if entry is None or entry.sympy is not application.func:
        raise KeyError(f"{application} is not an application of a registered elementwise function")
    return entry


def helpers(names) -> str:
    """The runtime source of the helpers the named functions and their derivatives call (in registry
    order): a generated module carries only these."""
    wanted = {name for name in names if name in REGISTRY}
    wanted |= {need for name in wanted for need in REGISTRY[name].needs}
    return "".join("\n\n" + e.helper.strip("\n") + "\n" for e in _REGISTRY if e.name in wanted and e.helper)


def __getattr__(name: str):
    """``ELEMENTWISE`` (name → SymPy function of every cell function) and the built SymPy classes by
    name (``derive.functions.sigmoid``, which is also where pickle finds them), made on first access."""
    if name == "ELEMENTWISE":
        return {e.name: e.sympy for e in _REGISTRY if e.callable}
    if name in REGISTRY and not REGISTRY[name].builtin:
        return REGISTRY[name].sympy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
