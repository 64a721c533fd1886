"""The adjoint program of one time step: reverse-mode chain rule, node by node, over a cell.

Local derivatives come from SymPy: every equation is turned into a scalar *template* (each named
quantity a scalar symbol, each matrix product ``A @ y`` an opaque symbol) and ``sympy.diff`` of the
template gives the elementwise coefficient of each input — tanh′ = 1 − tanh², σ′ = σ(1 − σ) are
then rewritten in terms of the node's own value, products give the other factor. Matrix products
contribute Aᵀ(…) to their right operand and (…)yᵀ to the parameter A. No ``MatrixSymbol.diff``
(DESIGN.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr, MatrixSymbol,
                   OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derive import naming, output
from derive.cellfile import Bin, Call, Cell, Name, Neg, Num, names_in
from derive.functions import sympy_function
from derive.naming import NEXT  # noqa: F401 — re-exported: callers import the program's suffixes from here


class Softmax(MatrixExpr):
    """softmax(z) of a column vector (columnwise for a batch): a vector function, not elementwise."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _latex(self, printer):
        return r"\operatorname{softmax}\left(%s\right)" % printer._print(self.arg)

    def _sympystr(self, printer):
        return f"softmax({printer._print(self.arg)})"


@dataclass(frozen=True)
class Assign:
    """One statement of the program: ``target = expr`` or ``target += expr``.

    Attributes:
        target: The MatrixSymbol assigned (identifier name, e.g. ``da_f``, ``dV``).
        expr: A SymPy matrix expression over the program's symbols, built from MatMul, MatAdd,
            Transpose, HadamardProduct, HadamardPower, OneMatrix, scalar multiples, DiagMatrix-free
            elementwise functions (``ElementwiseApplyFunction``) and :class:`Softmax`.
        op: ``"="`` or ``"+="`` (parameter gradients accumulate over time).
        rule: The rule(s) applied, e.g. ``"derivative of tanh"``, ``"softmax + cross-entropy"``.
        batch_sum: With a batch (extra columns), sum ``expr`` over the batch axis first. True for
            gradients of column-vector parameters (biases, peepholes); matrix parameters get the
            batch sum from the matrix product ``(…) @ yᵀ`` itself.
    """

    target: MatrixSymbol
    expr: MatrixExpr
    op: str = "="
    rule: str = ""
    batch_sum: bool = False


@dataclass(frozen=True)
class AdjointProgram:
    """Forward and backward statements of one time step t of a cell (shapes: batch of one column).

    Symbols are MatrixSymbols with identifier names and symbolic shapes over the cell's dims:
    ``x`` (D, 1), ``h``/``h_prev`` (H, 1), params by their names, the one-hot target ``o`` (K, 1).
    The adjoint of a quantity ``n`` is ``d<n>`` = ∂E/∂n_t (E the loss summed over all steps).

    Attributes:
        cell: The parsed cell.
        symbols: Every symbol by name (params, ``x``, ``o``, states, ``<state>_prev``, nodes,
            adjoints ``d…``).
        forward: ``node = expr`` in evaluation order (includes z and ô = Softmax(z)).
        incoming: state → ``d<state>_next``: the adjoint arriving at the state s_t from step t+1
            (the previous iteration's carry; zeros at t = T).
        backward: The adjoint assignments in execution order: ``dz = ohat − o (+ …)``, then each
            node's adjoint as Σ over its consumers of (local derivative)ᵀ · consumer adjoint, then
            ``dx`` and the carries ``d<state>_prev``.
        grads: Parameter → its ``d<P> += …`` accumulation (in parameter order), using adjoints
            computed in ``backward``.
        carries: state → ``d<state>_prev``, the adjoint to pass to step t−1 (becomes that step's
            ``d<state>_next``); after step 1 it is the gradient of the initial state.
    """

    cell: Cell
    symbols: dict[str, MatrixSymbol]
    forward: tuple[Assign, ...]
    incoming: dict[str, MatrixSymbol]
    backward: tuple[Assign, ...]
    grads: dict[str, Assign]
    carries: dict[str, MatrixSymbol]
    rules: dict[str, str] = field(default_factory=dict)

    def backward_by_target(self) -> dict[str, Assign]:
        return {a.target.name: a for a in self.backward}


def dims(cell: Cell) -> dict[str, sp.Symbol]:
    return {d: sp.Symbol(d, integer=True, positive=True) for d in cell.dims}


def _shape(cell, name, dimsyms):
    r, c = cell.shape(name)
    return tuple(dimsyms[d] if d != "1" else sp.Integer(1) for d in (r, c))


# ---------------------------------------------------------------------------------------------
# Templates: an equation as a scalar SymPy expression SymPy can differentiate


class _Template:
    """A node's equation as a scalar expression: names → symbols, each ``A @ y`` → an opaque symbol."""

    def __init__(self, expr):
        self.opaque: dict[sp.Symbol, tuple[str, object]] = {}  # opaque symbol → (A, y's tree)
        self.expr = self._build(expr)

    def _build(self, e):
        if isinstance(e, Name):
            return sp.Symbol(e.id)
        if isinstance(e, Num):
            return sp.nsimplify(e.value)
        if isinstance(e, Neg):
            return -self._build(e.x)
        if isinstance(e, Call):
            return sympy_function(e.fn)(sp.Symbol(e.arg.id))
        if e.op == "@":
            s = sp.Symbol(f"_mm{len(self.opaque)}")
            self.opaque[s] = (e.left.id, e.right)
            return s
        left, right = self._build(e.left), self._build(e.right)
        return {"+": left + right, "-": left - right, "*": left * right}[e.op]


class _Builder:
    """Turns templates back into matrix expressions over the program's MatrixSymbols."""

    def __init__(self, cell: Cell):
        self.cell = cell
        self.dims = dims(cell)
        self.sym: dict[str, MatrixSymbol] = {}

    def symbol(self, name, shape_of=None) -> MatrixSymbol:
        """The program's MatrixSymbol ``name`` (made on first use) with the shape of ``shape_of or name``."""
        if name not in self.sym:
            self.sym[name] = MatrixSymbol(name, *_shape(self.cell, shape_of or name, self.dims))
        return self.sym[name]

    S = symbol  # the short name derive/derivation.py calls

    def adjoint(self, name, shape_of=None) -> MatrixSymbol:
        """The adjoint ∂E/∂name, shaped like ``shape_of or name``."""
        return self.symbol(naming.adjoint(name), shape_of or name)

    def shape_of_ast(self, e):
        names = sorted(names_in(e))
        if isinstance(e, Bin) and e.op == "@":
            return (self.symbol(e.left.id).shape[0], sp.Integer(1))
        return self.symbol(names[0]).shape if names else None

    def mat(self, e, shape):
        """Forward expression tree → matrix expression."""
        if isinstance(e, Name):
            return self.symbol(e.id)
        if isinstance(e, Num):
            return sp.nsimplify(e.value) * OneMatrix(*shape)
        if isinstance(e, Neg):
            return -self.mat(e.x, shape)
        if isinstance(e, Call):
            arg = self.symbol(e.arg.id)
            return Softmax(arg) if e.fn == "softmax" else arg.applyfunc(sympy_function(e.fn))
        if e.op == "@":
            A = self.symbol(e.left.id)
            return MatMul(A, self.mat(e.right, (A.shape[1], sp.Integer(1))))
        left, right = self.mat(e.left, shape), self.mat(e.right, shape)
        if e.op == "+":
            return MatAdd(left, right)
        if e.op == "-":
            return MatAdd(left, -right)
        return HadamardProduct(left, right)

    def from_scalar(self, s, shape, opaque):
        """Scalar template expression → elementwise matrix expression of the given shape."""
        if s.is_Number:
            return OneMatrix(*shape) if s == 1 else s * OneMatrix(*shape)
        if isinstance(s, sp.Symbol):
            if s in opaque:
                A, right = opaque[s]
                Am = self.symbol(A)
                return MatMul(Am, self.mat(right, (Am.shape[1], sp.Integer(1))))
            return self.symbol(s.name)
        if s.is_Add:
            terms = sorted(s.args, key=lambda a: (not a.is_Number, sp.default_sort_key(a)))
            return MatAdd(*[self.from_scalar(a, shape, opaque) for a in terms])
        if s.is_Mul:
            coeff, rest = s.as_coeff_Mul()
            factors = [self.from_scalar(f, shape, opaque) for f in sp.Mul.make_args(rest)]
            body = factors[0] if len(factors) == 1 else HadamardProduct(*factors)
            return body if coeff == 1 else coeff * body
        if s.is_Pow and s.exp.is_Integer and s.exp > 0:
            return HadamardPower(self.from_scalar(s.base, shape, opaque), s.exp)
        if isinstance(s, sp.Function) and len(s.args) >= 1 and isinstance(s.args[0], sp.Symbol):
            d = sp.Dummy("d")
            return ElementwiseApplyFunction(sp.Lambda(d, s.func(d, *s.args[1:])), self.symbol(s.args[0].name))
        raise NotImplementedError(f"cannot express {s} elementwise")


def _had(coef, g):
    """coef ⊙ g, skipping a coefficient of one."""
    if isinstance(coef, OneMatrix):
        return g
    if isinstance(coef, MatMul) and len(coef.args) == 2 and isinstance(coef.args[1], OneMatrix):
        return coef.args[0] * g
    return HadamardProduct(coef, g)


def _in_product(e, wrt) -> bool:
    """Does ``wrt`` occur inside an elementwise product with a non-constant factor?"""
    if isinstance(e, Bin):
        if e.op == "*" and wrt in names_in(e) and names_in(e.left) and names_in(e.right):
            return True
        return _in_product(e.left, wrt) or _in_product(e.right, wrt)
    if isinstance(e, Neg):
        return _in_product(e.x, wrt)
    return False


def _rule_for(node, wrt):
    if node.fn:
        return f"derivative of {node.fn}"
    return "product rule" if _in_product(node.expr, wrt) else "chain rule"


@dataclass
class _Local:
    """∂(node)/∂(wrt) as vector–Jacobian product and as a Jacobian (for display).

    Attributes:
        vjp: matrix expressions to add into the adjoint of wrt.
        param_grad: for parameters: contributions (…) @ yᵀ or elementwise.
        jacobian: the Jacobian for display; None for the identity or no dependence.
        rule: the rule applied (``"derivative of tanh"``, ``"chain rule"``…).
        identity: the Jacobian is the identity (wrt enters the node as a plain summand).
    """

    vjp: list
    param_grad: list
    jacobian: MatrixExpr | None
    rule: str
    identity: bool = False


def local(builder: _Builder, node, wrt, g) -> _Local:
    """Local derivative of one node's equation with respect to one of its inputs.

    ``g`` is the node's adjoint (a MatrixSymbol). Elementwise coefficients come from
    ``sympy.diff`` of the node's scalar template; function derivatives are rewritten in the
    node's own value (tanh′(a) = 1 − h² with h = tanh(a)).
    """
    if node.fn == "softmax":
        # SymPy derives ∂ô_i/∂z_j = ô_i(δ_ij − ô_j) (derive.output): Jacobian diag(ô) − ô ôᵀ.
        output.softmax_jacobian()
        y = builder.symbol(node.name)
        K = y.shape[0]
        vjp = HadamardProduct(y, MatAdd(g, -MatMul(OneMatrix(K, K), HadamardProduct(y, g))))
        return _Local([vjp], [vjp], MatAdd(DiagMatrix(y), -MatMul(y, Transpose(y))), "softmax Jacobian")
    tpl = _Template(node.expr)
    own = {}
    if node.fn:
        own = {tpl.expr: sp.Symbol(node.name)}
    return _local_expr(builder, tpl, wrt, g, builder.symbol(node.name).shape, own, node)


def _local_expr(builder, tpl, wrt, g, shape, own, node):
    vjp, grads, jac_terms = [], [], []
    s = sp.diff(tpl.expr, sp.Symbol(wrt))
    if own:
        s = s.subs(own)
    if s != 0:
        coef = builder.from_scalar(s, shape, tpl.opaque)
        vjp.append(_had(coef, g))
        grads.append(_had(coef, g))
        jac_terms.append(None if isinstance(coef, OneMatrix) else DiagMatrix(coef))
    for mm, (A, right) in tpl.opaque.items():
        sk = sp.diff(tpl.expr, mm)
        if own:
            sk = sk.subs(own)
        if sk == 0:
            continue
        coef = builder.from_scalar(sk, shape, tpl.opaque)
        gk = _had(coef, g)
        Am = builder.symbol(A)
        if A == wrt:
            grads.append(MatMul(gk, Transpose(builder.mat(right, (Am.shape[1], sp.Integer(1))))))
        if wrt in names_in(right):
            inner = _local_expr(builder, _Template(right), wrt, MatMul(Transpose(Am), gk),
                                (Am.shape[1], sp.Integer(1)), {}, node)
            vjp.extend(inner.vjp)
            grads.extend(inner.param_grad)  # a parameter inside the operand: M1 in M0 @ (M1 @ x)
            head = Am if isinstance(coef, OneMatrix) else MatMul(DiagMatrix(coef), Am)
            if inner.jacobian is None:
                jac_terms.append(head)
            else:
                jac_terms.append(MatMul(head, inner.jacobian))
    n = builder.symbol(wrt).shape[0]
    jac = [Identity(n) if t is None else t for t in jac_terms]
    jacobian = None if not jac else (jac[0] if len(jac) == 1 else MatAdd(*jac))
    if jacobian is not None and isinstance(jacobian, Identity):
        jacobian = None  # identity: marked separately
    rule = _rule_for(node, wrt) if node is not None else "chain rule"
    return _Local(vjp, grads, jacobian, rule, identity=bool(jac_terms) and jac_terms == [None])


# ---------------------------------------------------------------------------------------------
# The program


def _sum(terms):
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else MatAdd(*terms)


@lru_cache(maxsize=64)
def _cached(cell: Cell) -> AdjointProgram:
    return _build(cell)


def adjoint_program(cell: Cell) -> AdjointProgram:
    """The adjoint (reverse-mode) program of one time step of ``cell``.

    Args:
        cell: A parsed cell (:func:`derive.load_cell`).

    Returns:
        An :class:`AdjointProgram`. Running it for t = T, …, 1 with each step's
        ``incoming[s]`` set to the previous iteration's ``carries[s]`` (zeros at t = T) and the
        ``grads`` accumulated from zero computes the full-BPTT gradient of E = Σ_t E_t:

        >>> from derive import load_cell, adjoint_program
        >>> p = adjoint_program(load_cell("rnn"))
        >>> [str(a.target) for a in p.backward]
        ['dz', 'dh', 'da', 'dx', 'dh_prev']
        >>> print(p.backward_by_target()["da"].expr)
        HadamardProduct(-HadamardPower(h, 2) + 1, dh)
        >>> print(p.grads["V"].op, p.grads["V"].expr)
        += da*h_prev.T
    """
    return _cached(cell)


def _build(cell: Cell) -> AdjointProgram:
    """The program in its phases: forward statements, node adjoints in reverse order, the input's and
    the carried adjoints, parameter gradients."""
    reverse = _Reverse(cell)
    forward = reverse.forward_statements()
    incoming = {s: reverse.builder.symbol(naming.incoming(s), s) for s in cell.state_names}
    backward, rules = reverse.node_adjoints(incoming)
    backward.append(reverse.input_adjoint())
    carries = {}
    for s in cell.states:
        statement, rules[naming.previous(s.name)] = reverse.carried_adjoint(s.name)
        backward.append(statement)
        carries[s.name] = statement.target
    grads = {p.name: reverse.parameter_gradient(p) for p in cell.params}
    return AdjointProgram(cell, dict(reverse.builder.sym), tuple(forward), incoming, tuple(backward), grads,
                          carries, rules)


class _Reverse:
    """Reverse-mode accumulation over one cell: who consumes what, the local derivatives (each made
    once), and which adjoints have been assigned so far."""

    def __init__(self, cell: Cell):
        self.cell = cell
        self.builder = _Builder(cell)
        for d in (*cell.params, cell.input, cell.target):
            self.builder.symbol(d.name)
        for s in cell.states:
            self.builder.symbol(naming.previous(s.name), s.name)
        self.consumers: dict[str, list] = {}  # quantity → the nodes whose equations use it
        for node in cell.nodes:
            for n in names_in(node.expr):
                self.consumers.setdefault(n, []).append(node)
        self.assigned: set[str] = set()  # adjoints with a statement (a consumer whose adjoint is not
        # assigned does not affect E: its own contributions cancelled, e.g. s_prev − s_prev)
        self._locals: dict[tuple[str, str], _Local] = {}

    def local(self, node, wrt) -> _Local:
        key = (node.name, wrt)
        if key not in self._locals:
            self._locals[key] = local(self.builder, node, wrt, self.builder.adjoint(node.name))
        return self._locals[key]

    def forward_statements(self) -> list[Assign]:
        """``node = expr`` for every node, in evaluation order."""
        forward = []
        for node in self.cell.nodes:
            target = self.builder.symbol(node.name)
            forward.append(Assign(target, self.builder.mat(node.expr, target.shape), "=", "definition"))
        return forward

    def contributions(self, name, skip_softmax=False) -> tuple[list, list[str], list[str]]:
        """What the consumers of ``name`` send back: (vjp terms, parameter-gradient terms, rules)."""
        vjps, param_grads, rules = [], [], []
        for consumer in self.consumers.get(name, []):
            if skip_softmax and consumer.fn == "softmax":
                continue  # ô's derivative enters with the loss (softmax + cross-entropy), see _loss_terms
            if naming.adjoint(consumer.name) not in self.assigned:
                continue
            loc = self.local(consumer, name)
            vjps.extend(loc.vjp)
            param_grads.extend(loc.param_grad)
            rules.append(loc.rule)
        return vjps, param_grads, rules

    def node_adjoints(self, incoming) -> tuple[list[Assign], dict[str, str]]:
        """Each node's adjoint, last node first: Σ over its consumers, the carry from step t+1 for a
        state, the loss's own term for the logits."""
        cell = self.cell
        backward, rules = [], {}
        for node in reversed(cell.nodes):
            name = node.name
            terms, _, used = self.contributions(name, skip_softmax=True)
            if name in cell.state_names:
                terms.append(incoming[name])
                used.append("carry from step t+1")
            if name == cell.logits:
                self._loss_terms(terms, used)
            expr = _sum(terms)
            if expr is None:
                if name != cell.softmax:  # (ô's adjoint is folded into ô − o; its symbol must not exist)
                    self.builder.adjoint(name)  # the derivation names it though no statement assigns it
                continue
            rules[name] = rule = ", ".join(dict.fromkeys(used))
            backward.append(Assign(self.builder.adjoint(name), expr, "=", rule))
            self.assigned.add(naming.adjoint(name))
        return backward, rules

    def _loss_terms(self, terms: list, used: list[str]) -> None:
        """∂E_t/∂z_t, first among the logits' terms; with cross-entropy also ô's own adjoint (a fed-back ô)."""
        cell, symbol = self.cell, self.builder.symbol
        if cell.loss == "linear":  # E_t = g_tᵀ ŷ_t: g is ∂E/∂ŷ (an upstream gradient)
            terms.insert(0, symbol(cell.target.name))
            used.insert(0, "upstream gradient")
            return
        if cell.loss == "mse":
            output.mse_gradient()  # SymPy derives ŷ − y (asserts the form)
            terms.insert(0, MatAdd(symbol(cell.softmax), -symbol(cell.target.name)))
            used.insert(0, "mean squared error")
            return
        ohat, o = symbol(cell.softmax), symbol(cell.target.name)
        output.cross_entropy_gradient()  # SymPy derives ô − o (asserts the form)
        terms.insert(0, MatAdd(ohat, -o))
        used.insert(0, "softmax + cross-entropy")
        dohat = self.builder.sym.get(naming.adjoint(cell.softmax))
        if dohat is not None:
            output.softmax_jacobian()
            K = ohat.shape[0]
            terms.append(HadamardProduct(ohat, MatAdd(dohat, -MatMul(OneMatrix(K, K), HadamardProduct(ohat, dohat)))))
            used.append("softmax Jacobian diag(ô) − ô ôᵀ")

    def _gathered(self, name, shape_of, unused: str) -> tuple[Assign, str]:
        """``d<name> = Σ`` over its consumers (zeros when none), and the rules applied ("" for none)."""
        terms, _, used = self.contributions(name)
        expr, rule = _sum(terms), ", ".join(dict.fromkeys(used))
        target = self.builder.adjoint(name, shape_of)
        return Assign(target, expr if expr is not None else ZeroMatrix(*target.shape), "=", rule or unused), rule

    def input_adjoint(self) -> Assign:
        """∂E_t/∂x_t (through this step's nodes only)."""
        return self._gathered(self.cell.input.name, None, "x does not affect E")[0]

    def carried_adjoint(self, state: str) -> tuple[Assign, str]:
        """∂E/∂s_{t−1} through this step (becomes the next iteration's incoming adjoint), and its rules."""
        return self._gathered(naming.previous(state), state, "h_prev unused")

    def parameter_gradient(self, param) -> Assign:
        """``dP += …``: this step's contribution to ∂E/∂P (summed over the batch for column vectors)."""
        _, terms, used = self.contributions(param.name)
        total = _sum(terms)  # None when the terms cancelled (− v + v): the gradient is zero
        target = self.builder.adjoint(param.name)
        return Assign(target, total if total is not None else ZeroMatrix(*self.builder.symbol(param.name).shape),
                      "+=", ", ".join(dict.fromkeys(used)) or "does not affect E", batch_sum=param.shape[1] == "1")


def jacobian(cell: Cell, node: str, wrt: str) -> MatrixExpr | None:
    """The local Jacobian ∂node/∂wrt of one equation (``None``: the identity or no dependence)."""
    builder = _Builder(cell)
    return local(builder, cell.node(node), wrt, builder.adjoint(node)).jacobian
