"""Step-by-step BPTT derivations as data.

:func:`derive` turns a cell and its :func:`~derive.program.adjoint_program` into numbered
:class:`Step` s — rule, equation (SymPy display objects, :mod:`derive.notation`) and a one-line
justification. Every right-hand side is converted from the program's SymPy expressions (which
SymPy derived from the cell's equations), never typed in. The general form costs O(T) (the
unrolled sums have T terms); the course's Elman steps appear for single-state cells h_t = f(a_t).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, MatrixSymbol, OneMatrix,
                   Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix

from derive.cellfile import PREV, Cell, names_in
from derive.functions import REGISTRY
from derive.notation import (Diag, Fn, Had, Leq, Neg, Norm, Outer, Partial, Power, Q, Sq, Text, Times, TProd,
                             TSum, Tr, plus, render, times)
from derive.program import NEXT, AdjointProgram, Softmax, _Builder, adjoint_program, local

t_, k_, j_ = sp.symbols("t k j", integer=True)
T_ = sp.Symbol("T", integer=True, positive=True)


@dataclass(frozen=True)
class Step:
    """One numbered step of a derivation.

    Attributes:
        number: 1-based position.
        section: The heading it belongs to (e.g. ``"Output layer"``).
        rule: The rule applied (``"chain rule"``, ``"sum over time"``, ``"derivative of tanh"``…).
        sides: The equation as a chain ``sides[0] = sides[1] = …`` of SymPy display objects.
        justification: One line saying why.
    """

    number: int
    section: str
    rule: str
    sides: tuple
    justification: str

    def latex(self) -> str:
        return " = ".join(render(s, "latex") for s in self.sides)

    def text(self) -> str:
        return " = ".join(render(s, "unicode") for s in self.sides)


@dataclass(frozen=True)
class Derivation:
    """A derivation of ∂E/∂θ for a cell: numbered steps plus what they were derived for.

    Attributes:
        cell: The parsed cell.
        wrt: Parameters whose gradients are derived.
        steps_T: The number of time steps T of the unrolled part (the course's E_T example).
        truncate: Truncation length k of truncated BPTT, or ``None`` (full BPTT).
        steps: The numbered steps.
        program: The adjoint program the steps were converted from.
    """

    cell: Cell
    wrt: tuple[str, ...]
    steps_T: int
    truncate: int | None
    steps: tuple[Step, ...]
    program: AdjointProgram = field(repr=False)

    @property
    def title(self) -> str:
        return f"BPTT for the {self.cell.name} cell"

    def sections(self) -> list[tuple[str, list[Step]]]:
        out: list[tuple[str, list[Step]]] = []
        for s in self.steps:
            if not out or out[-1][0] != s.section:
                out.append((s.section, []))
            out[-1][1].append(s)
        return out

    def _repr_latex_(self) -> str:
        rows = [r"\text{(%d)}\quad & %s && \text{%s}" % (s.number, s.latex(), s.rule) for s in self.steps]
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def _repr_markdown_(self) -> str:
        lines = [f"**{self.title}**", ""]
        for section, steps in self.sections():
            lines += [f"*{section}*", ""]
            lines += [f"{s.number}. ${s.latex()}$ — *{s.rule}*: {s.justification}" for s in steps]
            lines.append("")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Program expressions → display expressions


class _Display:
    def __init__(self, cell: Cell, prog: AdjointProgram):
        self.cell, self.prog = cell, prog
        self.nodes = {n.name: n for n in cell.nodes}
        self.params = set(cell.param_names)
        self.states = set(cell.state_names)

    def quantity(self, name, t):
        node = self.nodes.get(name)
        if node is not None and node.auto and node.fn:
            return Fn(node.fn, self.quantity(node.expr.arg.id, t))
        if name in self.params:
            return Q(name)
        if name.endswith(PREV) and name[: -len(PREV)] in self.states:
            return Q(name[: -len(PREV)], t - 1)
        return Q(name, t)

    def adjoint(self, name, t, loss=None):
        """δ for pre-activations (a, a_f, …), ∂E/∂n_t otherwise (∂E_loss/∂… for one loss term)."""
        E = Q("E", loss) if loss is not None else Q("E")
        if name == "a" or name.startswith("a_"):
            return Q("delta" + name[1:], t, loss)
        if name in self.params:
            return Partial(E, Q(name))
        return Partial(E, self.quantity(name, t))

    def symbol(self, name, t, over):
        if name in over:
            return over[name]
        if name.startswith("d"):
            base = name[1:]
            if base.endswith(NEXT):
                return self.adjoint(base[: -len(NEXT)], t + 1)
            if base.endswith(PREV):
                return self.adjoint(base[: -len(PREV)], t - 1)
            if base in self.nodes or base in self.params or base == self.cell.input.name:
                return self.adjoint(base, t)
        return self.quantity(name, t)

    def conv(self, e, t, over=None):
        over = over or {}
        c = lambda x: self.conv(x, t, over)  # noqa: E731
        if isinstance(e, MatrixSymbol):
            return self.symbol(e.name, t, over)
        if isinstance(e, OneMatrix) and e.shape[1] != 1:
            return Times(Q("ones"), Tr(Q("ones")))  # 1 1ᵀ: sums a column and spreads it back
        if isinstance(e, (OneMatrix, Identity)):
            return sp.Integer(1)
        if isinstance(e, ZeroMatrix):
            return sp.Integer(0)
        if e.is_Number:
            return e
        if isinstance(e, MatAdd):
            def key(a):
                names = {s.name for s in a.free_symbols if isinstance(s, MatrixSymbol)}
                carry = any(n.endswith(NEXT) for n in names)
                neg = isinstance(a, MatMul) and a.args[0] == -1
                return (0 if isinstance(a, OneMatrix) else 2 if carry else 1, neg)
            return plus(*[c(a) for a in sorted(e.args, key=key)])
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
            def is_adj(a):
                return isinstance(a, MatrixSymbol) and a.name.startswith("d") or isinstance(a, MatMul)
            factors = []
            for a in sorted(e.args, key=is_adj):
                d = c(a)
                if d == 0:
                    return sp.Integer(0)
                factors.extend(d.args if isinstance(d, Had) else [d])
            factors = [f for f in factors if f != 1]
            return factors[0] if len(factors) == 1 else Had(*factors)
        if isinstance(e, HadamardPower) and e.exp == 2:
            return Sq(c(e.base))
        if isinstance(e, ElementwiseApplyFunction):
            return Fn(type(e.function.expr).__name__, c(e.expr))
        if isinstance(e, Softmax):
            return Fn("softmax", c(e.arg))
        if isinstance(e, DiagMatrix):
            return Diag(c(e.args[0]))
        raise TypeError(f"no display for {type(e).__name__}")


def _outer(e):
    """u vᵀ → u ⊗ v (the course writes the outer product)."""
    if isinstance(e, sp.Basic) and e.__class__.__name__ == "Times" and len(e.args) == 2 and isinstance(e.args[1], Tr):
        return Outer(e.args[0], e.args[1].args[0])
    return e


def _total_jacobian(cell: Cell, b: _Builder, target: str, source: str):
    """∂target/∂source through the step's equations (other inputs held fixed), as a MatrixExpr."""
    memo: dict[str, object] = {}
    nodes = {n.name: n for n in cell.nodes}

    def J(name):
        if name == source:
            return Identity(b.S(source).shape[0])
        if name not in nodes:
            return None
        if name in memo:
            return memo[name]
        terms = []
        for inp in sorted(names_in(nodes[name].expr)):
            Jin = J(inp)
            if Jin is None:
                continue
            loc = local(b, nodes[name], inp, b.S("d" + name, name))
            edge = Identity(b.S(name).shape[0]) if loc.identity else loc.jacobian
            if edge is None:
                continue
            terms.append(edge if isinstance(Jin, Identity) else (Jin if isinstance(edge, Identity) else MatMul(edge, Jin)))
        memo[name] = None if not terms else (terms[0] if len(terms) == 1 else MatAdd(*terms))
        return memo[name]

    return J(target)


# ---------------------------------------------------------------------------------------------
# The derivation


class _Steps:
    def __init__(self):
        self.items: list[Step] = []
        self.section = ""

    def add(self, rule, sides, why):
        self.items.append(Step(len(self.items) + 1, self.section, rule, tuple(sides), why))


def _half_square(yhat, y):
    """½ (ŷ − y)ᵀ (ŷ − y) for display."""
    r = plus(yhat, Neg(y))
    return times(sp.Rational(1, 2), Tr(r), r)


def _course_form(cell: Cell) -> tuple[str, str] | None:
    """(state, pre-activation) for single-state cells s_t = f(a_t) feeding z_t; else None."""
    if len(cell.states) != 1:
        return None
    s = cell.states[0].name
    if s == cell.softmax:
        return None
    node = cell.node(s)
    if not node.fn or node.fn == "softmax":
        return None
    a = node.expr.arg.id
    users = [n.name for n in cell.nodes if s + PREV in names_in(n.expr)]
    if users != [a]:
        return None
    return s, a


def derive(cell: Cell, wrt: tuple[str, ...] | None = None, steps: int = 3,
           truncate: int | None = None) -> Derivation:
    """Derive ∂E/∂θ for the parameters ``wrt`` of ``cell`` step by step.

    Args:
        cell: A parsed cell (:func:`derive.load_cell`).
        wrt: Parameter names (default: all, in declaration order).
        steps: T, the length of the unrolled example (the course uses T = 3).
        truncate: Truncated BPTT length k ≥ 1 (docs/models.md), or ``None`` for full BPTT.

    Raises:
        ValueError: unknown parameter, T < 1 or k < 1.
    """
    names = cell.param_names
    wrt = tuple(names) if not wrt else tuple(wrt)
    bad = [p for p in wrt if p not in names]
    if bad:
        raise ValueError(f"unknown parameter {bad[0]!r} for cell {cell.name}; expected one of {', '.join(names)}")
    if steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    if truncate is not None and truncate < 1:
        raise ValueError(f"--truncate must be at least 1, got {truncate}")
    if truncate is not None and truncate >= steps:
        truncate_eff = None
    else:
        truncate_eff = truncate
    prog = adjoint_program(cell)
    D = _Display(cell, prog)
    S = _Steps()
    T = steps
    bw = prog.backward_by_target()
    b = _Builder(cell)
    for name, sym in prog.symbols.items():
        b.sym[name] = sym

    # 1. The cell -------------------------------------------------------------------------------
    S.section = "The cell (one time step t)"
    for a, node in zip(prog.forward, cell.nodes):
        if node.auto and node.fn:
            continue
        S.add("definition", (D.quantity(node.name, t_), D.conv(a.expr, t_)),
              f"{cell.path}, line {node.line}" + (" (pre-activation named by the engine)" if node.auto else ""))
    ohat, o = D.quantity(cell.softmax, t_), Q(cell.target.name, t_)
    if cell.loss == "linear":
        S.add("definition", (Q("E", t_), times(Tr(o), ohat)),
              f"{cell.target.name}_t is the gradient arriving from outside the cell (an output layer it feeds)")
    elif cell.loss == "mse":
        S.add("definition", (Q("E", t_), _half_square(ohat, o)),
              "squared error of the prediction, halved so that its gradient is the residual; "
              "a masked (NaN) target entry contributes no term")
    else:
        S.add("definition", (Q("E", t_), Neg(times(Tr(o), Fn("log", ohat)))),
              "cross-entropy of the prediction with the one-hot target")
    S.add("sum over time", (Q("E"), TSum(Q("E", t_), t_, 1, T_)), "the loss of a sequence is the sum of its terms")

    # 2. Output layer ----------------------------------------------------------------------------
    S.section = "Output layer"
    z = D.quantity(cell.logits, t_)
    dz_plain = D.conv(MatAdd(prog.symbols[cell.softmax], -prog.symbols[cell.target.name]), t_)
    if cell.loss == "linear":
        S.add("upstream gradient", (Partial(Q("E", t_), ohat), o), "E_t is linear in the prediction")
    elif cell.loss == "mse":
        S.add("mean squared error", (Partial(Q("E", t_), ohat), dz_plain),
              "SymPy: ∂/∂ŷ₁ of ½ Σₖ (ŷₖ − yₖ)² is ŷ₁ − y₁")
    else:
        S.add("softmax + cross-entropy",
              (Partial(Q("E", t_), z), times(Partial(Q("E", t_), ohat), Partial(ohat, z)), dz_plain),
              "SymPy: ∂/∂z₁ of −Σₖ oₖ log softmaxₖ(z) is ô₁ − o₁ once Σₖ oₖ = 1 (o is one-hot)")

    course = _course_form(cell)
    if course:
        _course_steps(S, cell, prog, D, course, wrt, T, truncate_eff)

    # 3. Local derivatives -------------------------------------------------------------------------
    S.section = "Local derivatives (SymPy, in the cell's own quantities)"
    nodes = {n.name: n for n in cell.nodes}
    for node in cell.nodes:
        if node.fn == "softmax":
            continue
        # inputs in the order the cell computes them; parameters, inputs and previous states (computed before
        # the step) by name, so the order does not depend on the string hash seed
        for inp in sorted(names_in(node.expr), key=lambda n: ([m.name for m in cell.nodes].index(n)
                                                              if n in nodes else -1, n)):
            if inp in cell.param_names or inp == cell.input.name:
                continue
            loc = local(b, node, inp, prog.symbols["d" + node.name])
            jac = sp.Integer(1) if loc.identity else (D.conv(loc.jacobian, t_) if loc.jacobian is not None else None)
            if jac is None:
                continue
            rule = loc.rule
            why = {**{f"derivative of {name}": entry.why for name, entry in REGISTRY.items()},
                   "product rule": "SymPy differentiates the elementwise product: the other factor remains",
                   }.get(rule, "the equation is linear in this input: its matrix remains (the identity when none)")
            if inp.endswith(PREV) and inp[: -len(PREV)] == node.name and rule == "product rule":
                rule = "cell-state carry"
                why = "SymPy differentiates the product with the gates held fixed: the memory is carried by this factor"
            S.add(rule, (Partial(D.quantity(node.name, t_), D.quantity(inp, t_)), jac), why)
            if rule == "cell-state carry":
                _carry_through_time(S, D, node.name, D.conv(loc.jacobian, j_))
    for s in cell.states:
        J = _total_jacobian(cell, b, s.name, s.name + PREV)
        if J is None:
            continue
        disp = D.conv(J, t_)
        lhs = Partial(D.quantity(s.name, t_), D.quantity(s.name + PREV, t_))
        if len(render(disp)) > 150 or any(st.sides == (lhs, disp) for st in S.items):
            continue  # too long to read, or the same as the one-edge step above (LSTM's diag(f_t))
        others = [o_.name + PREV for o_ in cell.states if o_.name != s.name]
        why = "every path through the step's equations" + (
            f", {', '.join(render(D.quantity(n, t_)) for n in others)} held fixed" if others else "")
        gated = any(n.fn == "sigmoid" for n in cell.nodes)
        if gated and any(st.sides[0] == lhs for st in S.items):
            why += " (the local step above holds the gates fixed)"
        S.add("total derivative" if gated else "chain rule", (lhs, disp), why)

    # 4. Backward recursion ------------------------------------------------------------------------
    S.section = "Back through time: the δ recursion (general t)"
    carries = {s: bw[prog.carries[s].name] for s in cell.state_names}
    over_t = {f"d{s}{NEXT}": D.conv(carries[s].expr, t_ + 1) for s in cell.state_names}
    for a in prog.backward:
        name = a.target.name
        if name.endswith(PREV) or name == "d" + cell.input.name:
            continue
        lhs = D.symbol(name, t_, {})
        rhs = D.conv(a.expr, t_, over_t)
        users = [render(D.quantity(n.name, t_)) for n in cell.nodes
                 if name[1:] in names_in(n.expr) and n.fn != "softmax"]
        why = _why_backward(a.rule, users)
        below = cell.layers > 1 and name[1:] in cell.state_names and any(
            name[1:] in names_in(n.expr) and n.name != cell.logits for n in cell.nodes)
        if below:  # a stacked cell: this state is the input of the layer above
            why += f"; δ comes down from the layer above ({', '.join(users)}) as well as back in time"
        S.add(a.rule.split(", ")[0] if a.rule else "chain rule", (lhs, rhs), why)
    carried = [D.adjoint(n.name[1:], T_ + 1) for n in _adjoints_in(carries)]
    if carried:
        S.add("boundary", (*carried, sp.Integer(0)),
              "nothing arrives from step T + 1: the terms carried from t + 1 vanish at t = T")

    # 5. Parameter gradients ---------------------------------------------------------------------------
    S.section = "Gradients: sum over time"
    for p in wrt:
        g = prog.grads[p]
        term = D.conv(g.expr, t_)
        S.add("sum over time", (Partial(Q("E"), Q(p)), TSum(term, t_, 1, T_)),
              f"{p} is shared by every step: its gradient sums the local terms"
              + (" (summed over the batch)" if g.batch_sum else ""))
    if truncate_eff is not None:
        S.section = f"Truncated BPTT (k = {truncate_eff})"
        for p in wrt:
            g = prog.grads[p]
            if _output_only(cell, g):
                continue  # E_t reaches z_t only: nothing to truncate
            adjs = {s.name for s in g.expr.free_symbols if isinstance(s, MatrixSymbol) and s.name.startswith("d")}
            over = {n: D.adjoint(n[1:], k_, t_) for n in adjs}
            term = D.conv(g.expr, k_, over)
            lo = sp.Max(1, t_ - truncate_eff + 1)
            S.add("truncated BPTT", (Partial(Q("E"), Q(p)), TSum(TSum(term, k_, lo, t_), t_, 1, T_)),
                  f"each E_t sends its gradient back at most {truncate_eff} steps (docs/models.md); "
                  "the superscript (t) marks the recursion started by E_t alone")

    # 6. Unrolled for T ----------------------------------------------------------------------------------
    S.section = f"Unrolled for T = {T}" + (f", truncated to k = {truncate_eff}" if truncate_eff else "")
    for p in wrt:
        g = prog.grads[p]
        adjs = {s.name for s in g.expr.free_symbols if isinstance(s, MatrixSymbol) and s.name.startswith("d")}
        terms = []
        for t in range(T, 0, -1):
            if truncate_eff is None or _output_only(cell, g):
                terms.append(D.conv(g.expr, sp.Integer(t)))
                continue
            for k in range(t, max(1, t - truncate_eff + 1) - 1, -1):
                over = {n: D.adjoint(n[1:], sp.Integer(k), sp.Integer(t)) for n in adjs}
                terms.append(D.conv(g.expr, sp.Integer(k), over))
        uses_init = any(s.name.endswith(PREV) for s in g.expr.free_symbols if isinstance(s, MatrixSymbol))
        S.add("sum over time", (Partial(Q("E"), Q(p)), plus(*terms)),
              "the sum written out, t = T … 1" + ("; the t = 1 term uses the initial state" if uses_init else ""))
    return Derivation(cell, wrt, T, truncate, tuple(S.items), prog)


def _output_only(cell: Cell, g) -> bool:
    """True when a gradient uses only the output layer's adjoint ∂E_t/∂z_t (truncation cannot reach it)."""
    adjs = {s.name for s in g.expr.free_symbols if isinstance(s, MatrixSymbol) and s.name.startswith("d")}
    return adjs == {"d" + cell.logits} and cell.softmax not in cell.state_names


def _adjoints_in(carries):
    """The adjoints (d… symbols of step t+1) that the carried terms are made of, in a stable order."""
    seen = {}
    for a in carries.values():
        for sym in sorted(a.expr.free_symbols, key=lambda x: str(x)):
            if isinstance(sym, MatrixSymbol) and sym.name.startswith("d") and not sym.name.endswith(NEXT):
                seen.setdefault(sym.name, sym)
    return list(seen.values())


def _why_backward(rule: str, users: list[str]) -> str:
    """One line: where the adjoint comes from (its consumers) and which local rule applies."""
    parts = rule.split(", ") if rule else []
    if "upstream gradient" in parts:
        text = "the gradient arriving from outside" + ("; plus what flows back from step t + 1" if len(parts) > 1 else "")
        return text
    if "mean squared error" in parts:
        text = "the output layer gives ŷ − y"
    elif "softmax + cross-entropy" in parts:
        text = "the output layer gives ô − o" + ("; ô fed back adds its softmax Jacobian" if len(parts) > 1 else "")
    elif len(users) == 1 and parts and parts[0].startswith("derivative of"):
        text = f"{parts[0]} (in terms of its own value), times the adjoint of {users[0]}"
    elif users:
        text = "Σ over its uses (" + ", ".join(users) + ") of (local derivative)ᵀ × adjoint"
    else:
        text = "chain rule"
    if "carry from step t+1" in parts:
        text += ("; " if users else ": ") + "plus what flows back from step t + 1"
    return text


def _course_steps(S: _Steps, cell: Cell, prog: AdjointProgram, D: _Display, course, wrt, T: int,
                  truncate: int | None) -> None:
    """The course's E_T example: chain rule through the unrolled network, Σ_k, ∂h_T/∂h_k, δ_k^{(T)}."""
    s, a = course
    bw = prog.backward_by_target()
    Tn = sp.Integer(T)
    S.section = f"The course's example: {render(Q('E', Tn))}, the loss of step T = {T}"
    sT, ohT, oT = D.quantity(s, Tn), D.quantity(cell.softmax, Tn), Q(cell.target.name, Tn)
    zT = D.quantity(cell.logits, Tn)
    E_T = Q("E", Tn)
    dz_T = D.conv(bw["d" + cell.logits].expr, Tn, {})
    E_def = (_half_square(ohT, oT) if cell.loss == "mse" else times(Tr(oT), ohT) if cell.loss == "linear"
             else Neg(times(Tr(oT), Fn("log", ohT))))
    S.add("definition", (E_T, E_def), f"the loss term of step {T}")
    out_params = [p for p in wrt if p in names_in(cell.node(cell.logits).expr)]
    for p in out_params:
        g = prog.grads[p]
        val = _outer(D.conv(g.expr, Tn, {"d" + cell.logits: dz_T}))
        S.add("chain rule", (Partial(E_T, Q(p)), times(Partial(E_T, ohT), *([] if zT == ohT else [Partial(ohT, zT)]), Partial(zT, Q(p))), val),
              "only the last step's output layer; u ⊗ v = u vᵀ" if isinstance(val, Outer) else
              "only the last step's output layer")
    dh_T = D.conv(bw["d" + s].expr, Tn, {"d" + cell.logits: dz_T, f"d{s}{NEXT}": sp.Integer(0)})
    S.add("chain rule", (Partial(E_T, sT), times(Partial(E_T, ohT), Partial(ohT, sT)), dh_T),
          f"{render(E_T)} depends on {render(sT)} only through {render(zT)} = "
          f"{render(D.conv(prog.forward[[n.name for n in cell.nodes].index(cell.logits)].expr, Tn))}")
    b = _Builder(cell)
    for name, sym in prog.symbols.items():
        b.sym[name] = sym
    J = _total_jacobian(cell, b, s, s + PREV)
    sj, sj1 = D.quantity(s, j_), D.quantity(s, j_ - 1)
    aj = D.quantity(a, j_)
    S.add("chain rule", (Partial(sj, sj1), times(Partial(sj, aj), Partial(aj, sj1)), D.conv(J, j_)),
          f"derivative of {cell.node(s).fn} (SymPy) times the recurrent matrix")
    sk = D.quantity(s, k_)
    S.add("chain rule through time", (Partial(sT, sk), TProd(Partial(sj, sj1), j_, k_ + 1, Tn),
                                       TProd(D.conv(J, j_), j_, k_ + 1, Tn)),
          "the Jacobians of the steps between k and T multiply (later steps on the left)")
    _norm_bound(S, cell, D, s, J, Tn)
    rec = [p for p in wrt if p not in out_params]
    k0 = 1 if truncate is None else max(1, T - truncate + 1)
    for p in rec:
        path = times(Partial(E_T, ohT), Partial(ohT, sT), Partial(sT, sk), Partial(sk, Q(p)))
        S.add("sum over paths", (Partial(E_T, Q(p)), TSum(path, k_, 0, Tn)),
              f"{p} acts at every step k; ∂{render(sk)}/∂{p} is the immediate derivative with "
              f"{render(D.quantity(s, k_ - 1))} held fixed")
    if rec:
        s0 = D.quantity(s, sp.Integer(0))
        S.add("initial state", (Partial(s0, Q("θ")), sp.Integer(0)),
              f"{render(s0)} is given (not computed from any parameter), so the k = 0 term vanishes "
              f"and the sum starts at k = 1")
        if truncate is not None:
            S.add("truncated BPTT", (Text(f"k ≥ {k0}"),),
                  f"with truncation {truncate}, E_{T} reaches back only to k = {k0} = T − {truncate} + 1")
        delta_k = Q("delta" + a[1:], k_, Tn)
        S.add("definition of δ", (delta_k, Partial(E_T, D.quantity(a, k_))),
              f"the error at the pre-activation of step k caused by {render(E_T)} alone")
        prev_delta = None
        deltas = {}
        for k in range(T, k0 - 1, -1):
            kk = sp.Integer(k)
            if k == T:
                dh = dh_T
            else:
                carry = bw["d" + s + PREV].expr
                dh = D.conv(carry, kk + 1, {"d" + a: prev_delta})
            val = D.conv(bw["d" + a].expr, kk, {"d" + s: dh})
            dk = Q("delta" + a[1:], kk, Tn)
            S.add("δ recursion" if k < T else f"derivative of {cell.node(s).fn}", (dk, val),
                  "start at the output of step T" if k == T else
                  f"back one step: (∂{render(D.quantity(a, kk + 1))}/∂{render(D.quantity(s, kk))})ᵀ, "
                  f"then the derivative of {cell.node(s).fn}")
            prev_delta = dk
            deltas[k] = dk
        for p in rec:
            g = prog.grads[p]
            general = D.conv(g.expr, k_, {"d" + a: delta_k})
            terms = [D.conv(g.expr, sp.Integer(k), {"d" + a: deltas[k]}) for k in range(T, k0 - 1, -1)]
            uses_prev = any(n.name.endswith(PREV) for n in g.expr.free_symbols if isinstance(n, MatrixSymbol))
            S.add("sum over time", (Partial(E_T, Q(p)), TSum(general, k_, k0, Tn), plus(*terms)),
                  f"∂{render(E_T)}/∂{render(D.quantity(a, k_))} = {render(delta_k)}, times the local factor "
                  f"∂{render(D.quantity(a, k_))}/∂{p}"
                  + (f"; with {render(D.quantity(s, sp.Integer(0)))} = 0 (the default) the k = 1 term is zero too"
                     if uses_prev and k0 == 1 else ""))
    S.add("sum over time", (Partial(Q("E"), Q("θ")), TSum(Partial(Q("E", t_), Q("θ")), t_, 1, T_)),
          "the full loss: the same for every Eₜ; the δ's of all loss terms add up, δₖ = Σ_{t≥k} δₖ⁽ᵗ⁾, "
          "which is the recursion below")


#: sup |φ'| of the state's function: the γ of the bound ‖∂h_t/∂h_k‖₂ ≤ (γ‖V‖₂)^{t−k}
_GAMMA = {name: entry.gamma for name, entry in REGISTRY.items() if entry.gamma is not None}


def _norm_bound(S: _Steps, cell: Cell, D: _Display, s: str, J, Tn) -> None:
    """‖∂s_T/∂s_k‖₂ ≤ Π ‖diag(φ′)‖₂ ‖V‖₂ ≤ (γ‖V‖₂)^{T−k} for s_t = φ(… + V s_{t−1}) (Pascanu et al. 2013)."""
    fn = cell.node(s).fn
    local_j = D.conv(J, j_)
    if fn not in _GAMMA or not isinstance(local_j, Times) or len(local_j.args) != 2:
        return
    diag, V = local_j.args
    gamma = _GAMMA[fn]
    base = Norm(V) if gamma == 1 else times(gamma, Norm(V))
    lhs = Norm(Partial(D.quantity(s, Tn), D.quantity(s, k_)))
    S.add("norm bound", (Leq(lhs, TProd(times(Norm(diag), Norm(V)), j_, k_ + 1, Tn), Power(base, Tn - k_)),),
          f"‖AB‖₂ ≤ ‖A‖₂‖B‖₂, and |{fn}′| ≤ γ = {gamma}: the far terms (small k) vanish geometrically when "
          f"γ‖{render(V)}‖₂ is below 1; they can explode only if it is above 1 (Pascanu, Mikolov & Bengio 2013). "
          "bptt flow measures both sides")


def _carry_through_time(S: _Steps, D: _Display, state: str, local_j) -> None:
    """∂c_T/∂c_k along the memory alone: a product of diagonal matrices (the LSTM's forget gates)."""
    lhs = Partial(D.quantity(state, T_), D.quantity(state, k_))
    S.add("carry through time", (lhs, TProd(local_j, j_, k_ + 1, T_)),
          "along the memory path alone (gates held fixed): diagonal factors, no matrix power — the product of "
          "the gates stays near 1 while they stay near 1, so the memory neither vanishes nor explodes. "
          "bptt flow measures it")
