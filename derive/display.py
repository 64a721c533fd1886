"""Program expressions → display nodes: how the adjoint program's matrix expressions read in a derivation.

The adjoint program (:mod:`derive.program`) is written over identifiers (``h_prev``, ``da_f``, ``dV``);
:class:`DisplayConverter` turns its expressions into the display nodes of :mod:`derive.notation` at a time
index — h_{t−1}, δ_{f,t}, ∂E/∂V — so that every right-hand side of a derivation is SymPy's, converted,
never typed in.
"""

from __future__ import annotations

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derive import naming
from derive.cellfile import Cell
from derive.notation import Diag, Fn, Had, Neg, Outer, Partial, Q, Sq, Times, Tr, delta_name, plus, times
from derive.program import Softmax


class DisplayConverter:
    """Converts the adjoint program's matrix expressions (identifier names) into display nodes at a time index.

    A quantity shows as itself at t (h → h_t, h_prev → h_{t−1}, a node the engine named for a function call
    → the call); an adjoint ``d<n>`` shows as δ by :func:`derive.notation.delta_name`, else as ∂E/∂n_t.
    """

    def __init__(self, cell: Cell):
        self.cell = cell
        self.nodes = {n.name: n for n in cell.nodes}
        self.params = set(cell.param_names)
        self.states = set(cell.state_names)
        self.pre_activations = {n.expr.arg.id for n in cell.nodes if n.fn and n.fn != "softmax"}

    def name(self, identifier: str) -> str:
        """The display identifier of a quantity: the softmax prediction of a cross-entropy cell is ô whatever
        the file calls it (as in the comments of generated code); anything else is itself."""
        if identifier == self.cell.softmax and self.cell.loss == "cross_entropy":
            return "ohat"
        return identifier

    def quantity(self, name: str, t):
        """The display of the quantity ``name`` at time ``t``."""
        node = self.nodes.get(name)
        if node is not None and node.auto and node.fn:
            return Fn(node.fn, self.quantity(node.expr.arg.id, t))
        if name in self.params:
            return Q(name)
        if naming.is_previous(name) and naming.current(name) in self.states:
            return Q(self.name(naming.current(name)), t - 1)
        return Q(self.name(name), t)

    def delta(self, name: str, t, loss=None):
        """δ of the pre-activation ``name`` at ``t`` (``loss``: the superscript (t) of one loss term)."""
        return Q(delta_name(name, self.pre_activations, self.states), t, loss)

    def adjoint(self, name: str, t, loss=None):
        """∂E/∂name at ``t``: δ for pre-activations, ∂E/∂n_t otherwise (∂E_loss/∂… for one loss term)."""
        if delta_name(name, self.pre_activations, self.states):
            return self.delta(name, t, loss)
        E = Q("E", loss) if loss is not None else Q("E")
        if name in self.params:
            return Partial(E, Q(name))
        return Partial(E, self.quantity(name, t))

    def symbol(self, name: str, t, given):
        """A program symbol at ``t``; ``given`` maps symbol names to displays that replace them."""
        if name in given:
            return given[name]
        if naming.is_adjoint(name):
            base = naming.primal(name)
            if naming.is_incoming(name):
                return self.adjoint(base.removesuffix(naming.NEXT), t + 1)
            if naming.is_previous(base):
                return self.adjoint(naming.current(base), t - 1)
            if base in self.nodes or base in self.params or base == self.cell.input.name:
                return self.adjoint(base, t)
        return self.quantity(name, t)

    def convert(self, e, t, given=None):
        """The display of the matrix expression ``e`` at ``t`` (``given``: see :meth:`symbol`)."""
        given = given or {}
        c = lambda x: self.convert(x, t, given)  # noqa: E731 — the recursion, read as "convert"
        if isinstance(e, MatrixSymbol):
            return self.symbol(e.name, t, given)
        if isinstance(e, OneMatrix) and e.shape[1] != 1:
            return Times(Q("ones"), Tr(Q("ones")))  # 1 1ᵀ: sums a column and spreads it back
        if isinstance(e, (OneMatrix, Identity)):
            return sp.Integer(1)
        if isinstance(e, ZeroMatrix):
            return sp.Integer(0)
        if e.is_Number:
            return e
        if isinstance(e, MatAdd):
            return plus(*[c(a) for a in sorted(e.args, key=_term_order)])
        if isinstance(e, MatMul):
            coeff = sp.Mul(*[a for a in e.args if a.is_Number])
            body = times(*[c(a) for a in e.args if not a.is_Number])
            if coeff == -1:
                return Neg(body)
            return body if coeff == 1 else times(coeff, body)
        if isinstance(e, Transpose):
            return Tr(c(e.arg))
        if isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0:  # M @ (M @ y): shown as M M y
            return times(*[c(e.base)] * int(e.exp))
        if isinstance(e, HadamardProduct):
            return self._hadamard(e, c)
        if isinstance(e, HadamardPower) and e.exp == 2:
            return Sq(c(e.base))
        if isinstance(e, ElementwiseApplyFunction):
            return Fn(type(e.function.expr).__name__, c(e.expr))
        if isinstance(e, Softmax):
            return Fn("softmax", c(e.arg))
        if isinstance(e, DiagMatrix):
            return Diag(c(e.args[0]))
        raise TypeError(f"no display for {type(e).__name__}")

    @staticmethod
    def _hadamard(e, c):
        """x ⊙ y ⊙ …, local factors first and the adjoint last (as the textbook writes δ = f′ ⊙ ∂E/∂h)."""
        def is_adjoint(a):
            return isinstance(a, MatrixSymbol) and naming.is_adjoint(a.name) or isinstance(a, MatMul)
        factors = []
        for a in sorted(e.args, key=is_adjoint):
            d = c(a)
            if d == 0:
                return sp.Integer(0)
            factors.extend(d.args if isinstance(d, Had) else [d])
        factors = [f for f in factors if f != 1]
        return factors[0] if len(factors) == 1 else Had(*factors)


def _term_order(a):
    """Terms of a sum: constants first, then the step's own terms, what is carried from t + 1 last;
    positive before negative."""
    names = {s.name for s in a.free_symbols if isinstance(s, MatrixSymbol)}
    carry = any(naming.is_incoming(n) for n in names)
    neg = isinstance(a, MatMul) and a.args[0] == -1
    return (0 if isinstance(a, OneMatrix) else 2 if carry else 1, neg)


def outer(e):
    """u vᵀ → u ⊗ v (the course writes the outer product)."""
    if isinstance(e, Times) and len(e.args) == 2 and isinstance(e.args[1], Tr):
        return Outer(e.args[0], e.args[1].args[0])
    return e


