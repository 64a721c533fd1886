"""Display names and equations in the course's notation, for the comments of generated code.

Identifiers (``h_prev``, ``ohat``, ``da_f``) are code; the comments show h_{t−1}, ô_t, δ_f,t. The map
comes from the cell's declarations, never from reading the identifiers as maths:
- names show as the derivation shows them: one display map, :data:`derive.notation.BASES`
  (``C`` is c_t, ``ohat`` is ô_t), so comments and derivations never disagree;
- ``<state>_prev`` is the state at t−1; a function node the normaliser named shows as the call;
- an adjoint shows as δ by the derivation's one rule, :func:`derive.notation.delta_name` (the adjoint of a
  pre-activation, the argument of an elementwise function), every other one as ∂E/∂·;
- equations are printed by a subclass of the derivation's Unicode printer, so ⊙, ᵀ, σ and the minus sign
  are the derivation's own.

>>> from derive.cellfile import load
>>> from derive.program import adjoint_program
>>> p = adjoint_program(load("lstm"))
>>> show = Notation(p.cell)
>>> show.equation(p.forward[8])
'c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t'
"""

from __future__ import annotations

from pathlib import Path

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, OneMatrix

from derive import naming
from derive.cellfile import Cell
from derive.notation import BASES, FUNCTIONS, UnicodePrinter, delta_name, superscript


class Notation:
    """Display names of one cell's symbols, and equations printed with them."""

    def __init__(self, cell: Cell):
        self.cell = cell
        # the derivation's display map (Unicode column), for every state and the prediction
        self.base = {n: BASES.get(n, (n, n))[1] for n in [s.name for s in cell.states] + [cell.softmax]}
        if cell.loss == "cross_entropy":  # ô is the softmax prediction; an mse/linear one shows by the map (yhat: ŷ)
            self.base[cell.softmax] = BASES["ohat"][1]
        self.pre_activation = {n.expr.arg.id for n in cell.nodes if n.fn and n.fn != "softmax"}
        self.states = set(cell.state_names)
        self.calls = {n.name: n for n in cell.nodes if n.auto and n.fn}
        self.params = set(cell.param_names)
        self.file = Path(cell.path).name
        self.lines = {n.name: n.line for n in cell.nodes}  # the cell-file line each quantity comes from

    def value(self, name: str) -> str:
        """h → h_t, h_prev → h_{t−1}, a_f → a_f,t, tanh_C → tanh(c_t), U_f → U_f."""
        if name in self.params:
            return name
        if naming.is_previous(name):
            return f"{self._base(naming.current(name))}_{{t−1}}"
        if name in self.calls and name not in self.pre_activation:
            node = self.calls[name]
            return f"{_function(node.fn)}({self.value(node.expr.arg.id)})"
        return _at_t(self._base(name))

    def _base(self, name: str) -> str:
        return self.base.get(name, name)

    def adjoint(self, name: str) -> str:
        """da_f → δ_f,t (pre-activations, :func:`~derive.notation.delta_name`); dh → ∂E/∂h_t;
        dh_next → ∂E/∂h_t from step t+1."""
        inner = naming.primal(name)
        if naming.is_incoming(name):
            return f"∂E/∂{self.value(inner.removesuffix(naming.NEXT))}|t+1"
        delta = delta_name(inner, self.pre_activation, self.states)
        if delta:
            _, _, sub = delta.partition("_")
            return _at_t(BASES["delta"][1] + ("_" + sub if sub else ""))
        return f"∂E/∂{self.value(inner)}"

    def name(self, name: str) -> str:
        """Any program symbol's display name."""
        if name == self.cell.target.name:
            return f"{name}_t"
        if naming.is_adjoint(name) and name not in self.params and name not in self._values():
            return self.adjoint(name)
        return self.value(name)

    def _values(self) -> set[str]:
        return {self.cell.input.name, *self.params, *(n.name for n in self.cell.nodes),
                *(naming.previous(s.name) for s in self.cell.states)}

    def expr(self, e) -> str:
        return _DisplayPrinter(self).doprint(e)

    def equation_text(self, name: str, e) -> str:
        """``name = e`` in display notation (name a program symbol); just ``e`` when the name is the call.
        A quantity of the cell file starts with the file and line it comes from (``lstm.cell:32  c_t = …``)."""
        lhs, rhs = self.name(name), self.expr(e)
        text = rhs if lhs == rhs else f"{lhs} = {rhs}"
        line = self.lines.get(name)
        return f"{self.file}:{line}  {text}" if line else text

    def equation(self, assign, lhs: str | None = None) -> str:
        """``target = expr`` (or ``+=``, shown as Σ_t) in display notation."""
        target = lhs or self.name(assign.target.name)
        rhs = self.expr(assign.expr)
        if target == rhs:
            return rhs
        if assign.op == "+=":
            return f"{target} = Σ_t {rhs}" if not assign.batch_sum else f"{target} = Σ_t Σ_batch {rhs}"
        return f"{target} = {rhs}"


def _at_t(base: str) -> str:
    """A display base at step t, as comments write it: h → h_t, a_f → a_f,t."""
    return f"{base},t" if "_" in base else f"{base}_t"


def _function(name: str) -> str:
    """A function's display name (σ for sigmoid), from the one display map."""
    return FUNCTIONS.get(name, (name, name))[1]


class _DisplayPrinter(UnicodePrinter):
    """The derivation's Unicode printer for the program's matrix expressions: juxtaposition for products,
    ⊙, ᵀ, σ, display names."""

    def __init__(self, notation: Notation):
        super().__init__()
        self.n = notation

    def _print_MatrixSymbol(self, e):
        return self.n.name(e.name)

    def _print_OneMatrix(self, e):
        return "1"

    def _print_ZeroMatrix(self, e):
        return "0"

    def _print_Transpose(self, e):
        return self.parenthesize(e.arg, 100) + self.symbol["top"]

    def _print_MatMul(self, e):
        coeff, mats = e.as_coeff_matrices()
        if len(mats) == 2 and isinstance(mats[0], OneMatrix):
            body = f"Σ_k({self._print(mats[1])})"
        else:
            body = " ".join(self._paren_matrix(m) for m in mats)
        if coeff == 1:
            return body
        return self.symbol["minus"] + body if coeff == -1 else f"{self._print(coeff)} {body}"

    def _paren_matrix(self, e):
        return f"({self._print(e)})" if isinstance(e, (MatAdd, HadamardProduct)) else self._print(e)

    def _print_MatAdd(self, e):
        terms = sorted(e.args, key=lambda a: (not isinstance(a, OneMatrix),
                                              isinstance(a, MatMul) and bool(a.as_coeff_matrices()[0] < 0)))
        out = self._print(terms[0])
        for t in terms[1:]:
            text = self._print(t)
            minus = self.symbol["minus"]
            out += f" {minus} {text[1:]}" if text.startswith(minus) else f" + {text}"
        return out

    def _print_HadamardProduct(self, e):
        args = [a for a in e.args if not isinstance(a, OneMatrix)]
        args = [a.as_coeff_matrices()[0] if isinstance(a, MatMul) and len(a.as_coeff_matrices()[1]) == 1
                and isinstance(a.as_coeff_matrices()[1][0], OneMatrix) else a for a in args]
        if len(args) != len(e.args) or any(isinstance(a, sp.Number) for a in args):
            return " ".join(self._print(a) if isinstance(a, sp.Number) else
                            (f"({self._print(a)})" if isinstance(a, MatAdd) else self._print(a)) for a in args)
        return self._infix("odot").join(f"({self._print(a)})" if isinstance(a, MatAdd) else self._print(a)
                                        for a in e.args)

    def _print_HadamardPower(self, e):
        return f"{self._paren_matrix(e.base)}{superscript(str(e.exp))}"

    def _print_ElementwiseApplyFunction(self, e):
        name = type(e.function.expr).__name__
        return f"{_function(name)}({self._print(e.expr)})"

    def _print_Softmax(self, e):
        return f"softmax({self._print(e.arg)})"
