"""Elementwise functions a cell may apply, one registry entry each (autograd style).

Each entry is a SymPy function whose derivative SymPy computes by ``diff``; sigmoid and relu are
defined here so that their derivatives come out in terms of their own value (σ' = σ(1 − σ)),
which keeps every local derivative in the cell's named quantities (DESIGN.md §4).
"""

from __future__ import annotations

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
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


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
        body = r"\operatorname{relu}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


#: Elementwise functions by the name a cell file uses.
ELEMENTWISE = {
    "tanh": sp.tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "exp": sp.exp,
}

#: Vector functions (not elementwise): only allowed as ``name = softmax(expr)``.
VECTOR = ("softmax",)

#: Every function name a cell file may call.
KNOWN = tuple(ELEMENTWISE) + VECTOR

#: Functions whose derivative is not analytic (complex step does not apply).
NON_ANALYTIC = ("relu",)
