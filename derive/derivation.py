"""Step-by-step BPTT derivations as data.

:func:`derive` turns a cell and its :func:`~derive.program.adjoint_program` into numbered
:class:`Step` s — rule, equation (display nodes, :mod:`derive.notation`) and a one-line
justification (:class:`~derive.notation.Prose`: words and display nodes). Every right-hand side is
converted (:class:`derive.display.DisplayConverter`) from the program's SymPy expressions (which SymPy
derived from the cell's equations), never typed in. The general form costs O(T) (the unrolled sums
have T terms); the course's Elman steps appear for single-state cells h_t = f(a_t).

The derivation is written in named phases, one function each, in the order a textbook reads:
:func:`_the_cell`, :func:`_output_layer`, the course's example (:func:`_course_example`, single-state
cells only), :func:`_local_derivatives`, :func:`_delta_recursion`, :func:`_gradients`,
:func:`_truncated_gradients` and :func:`_unrolled`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import Identity, MatAdd, MatMul, MatrixSymbol

from derive import naming
from derive.cellfile import Cell, names_in
from derive.display import DisplayConverter, outer
from derive.functions import REGISTRY
from derive.notation import (AbsVal, Equals, Fn, Geq, Leq, Neg, Norm, Outer, Paren, Partial, PartialOp, Power, Prime,
                             Prose, Q, Sq, SumOver, Times, TProd, TSum, Tr, latex, plus, times, unicode)
from derive.program import AdjointProgram, Assign, _Builder, adjoint_program, local

t_, k_, j_ = sp.symbols("t k j", integer=True)
T_ = sp.Symbol("T", integer=True, positive=True)


@dataclass(frozen=True)
class Step:
    """One numbered step of a derivation.

    Attributes:
        number: 1-based position.
        section: The heading it belongs to (e.g. ``"Output layer"``).
        rule: The rule applied (``"chain rule"``, ``"sum over time"``, ``"derivative of tanh"``…).
        sides: The equation as a chain ``sides[0] = sides[1] = …`` of display nodes.
        why: One line saying why: words and display nodes (a plain string is taken as words).
    """

    number: int
    section: str
    rule: str
    sides: tuple
    why: Prose

    def __post_init__(self):
        if not isinstance(self.why, Prose):
            object.__setattr__(self, "why", Prose(self.why))

    @property
    def justification(self) -> str:
        """The justification as Unicode text."""
        return str(self.why)

    def latex(self) -> str:
        return " = ".join(latex(s) for s in self.sides)

    def text(self) -> str:
        return " = ".join(unicode(s) for s in self.sides)


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
            lines += [f"{s.number}. ${s.latex()}$ — *{s.rule}*: {s.why.render(str, lambda e: f'${latex(e)}$')}"
                      for s in steps]
            lines.append("")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The derivation


def _builder(prog: AdjointProgram) -> _Builder:
    """A matrix-expression builder over the program's own symbols (for local derivatives and Jacobians)."""
    b = _Builder(prog.cell)
    b.sym.update(prog.symbols)
    return b


def _total_jacobian(cell: Cell, b: _Builder, target: str, source: str):
    """∂target/∂source through the step's equations (other inputs held fixed), as a MatrixExpr."""
    memo: dict[str, object] = {}
    nodes = {n.name: n for n in cell.nodes}

    def jacobian(name):
        if name == source:
            return Identity(b.S(source).shape[0])
        if name not in nodes:
            return None
        if name in memo:
            return memo[name]
        terms = []
        for inp in sorted(names_in(nodes[name].expr)):
            inner = jacobian(inp)
            if inner is None:
                continue
            loc = local(b, nodes[name], inp, b.S(naming.adjoint(name), name))
            edge = Identity(b.S(name).shape[0]) if loc.identity else loc.jacobian
            if edge is None:
                continue
            terms.append(edge if isinstance(inner, Identity) else
                         (inner if isinstance(edge, Identity) else MatMul(edge, inner)))
        memo[name] = None if not terms else (terms[0] if len(terms) == 1 else MatAdd(*terms))
        return memo[name]

    return jacobian(target)


class StepList:
    """The steps written so far, numbered in order, each under the current section heading."""

    def __init__(self):
        self.items: list[Step] = []
        self.section = ""

    def add(self, rule: str, sides, why) -> None:
        self.items.append(Step(len(self.items) + 1, self.section, rule, tuple(sides), why))

    def has(self, sides) -> bool:
        return any(s.sides == tuple(sides) for s in self.items)

    def has_lhs(self, lhs) -> bool:
        return any(s.sides[0] == lhs for s in self.items)


@dataclass
class _Writing:
    """What every phase of one derivation reads (the cell, its program, the display) and writes (the steps).

    Attributes:
        cell: The parsed cell.
        program: Its adjoint program.
        show: Program expressions → display nodes.
        steps: The steps written so far.
        wrt: Parameters whose gradients are derived.
        T: The length of the unrolled example.
        truncate: Truncation length k (None: full BPTT, also when k ≥ T).
        builder: Matrix expressions over the program's symbols (local derivatives).
    """

    cell: Cell
    program: AdjointProgram
    show: DisplayConverter
    steps: StepList
    wrt: tuple[str, ...]
    T: int
    truncate: int | None
    builder: _Builder

    @property
    def backward(self) -> dict[str, Assign]:
        return self.program.backward_by_target()


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
    wrt = _checked(cell, wrt, steps, truncate)
    prog = adjoint_program(cell)
    w = _Writing(cell, prog, DisplayConverter(cell), StepList(), wrt, steps,
                 None if truncate is not None and truncate >= steps else truncate, _builder(prog))
    _the_cell(w)
    _output_layer(w)
    course = _course_form(cell)
    if course:
        _course_example(w, *course)
    _local_derivatives(w)
    _delta_recursion(w)
    _gradients(w)
    if w.truncate is not None:
        _truncated_gradients(w)
    _unrolled(w)
    return Derivation(cell, wrt, steps, truncate, tuple(w.steps.items), prog)


def _checked(cell: Cell, wrt, steps: int, truncate: int | None) -> tuple[str, ...]:
    """The parameters to derive (default all); ValueError naming a bad argument."""
    names = cell.param_names
    wrt = tuple(names) if not wrt else tuple(wrt)
    bad = [p for p in wrt if p not in names]
    if bad:
        raise ValueError(f"unknown parameter {bad[0]!r} for cell {cell.name}; expected one of {', '.join(names)}")
    if steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    if truncate is not None and truncate < 1:
        raise ValueError(f"--truncate must be at least 1, got {truncate}")
    return wrt


def _loss_term(cell: Cell, prediction, target):
    """E_t of one step in display nodes: −oᵀ log ô, ½ (ŷ − y)ᵀ (ŷ − y) or oᵀ ô (linear)."""
    if cell.loss == "mse":
        r = plus(prediction, Neg(target))
        return times(sp.Rational(1, 2), Tr(r), r)
    if cell.loss == "linear":
        return times(Tr(target), prediction)
    return Neg(times(Tr(target), Fn("log", prediction)))


def _the_cell(w: _Writing) -> None:
    """Phase 1: the cell's equations at one step t, the loss term E_t and E = Σ_t E_t."""
    cell, show, S = w.cell, w.show, w.steps
    S.section = "The cell (one time step t)"
    for a, node in zip(w.program.forward, cell.nodes):
        if node.auto and node.fn:
            continue
        S.add("definition", (show.quantity(node.name, t_), show.convert(a.expr, t_)),
              f"{cell.path}, line {node.line}" + (" (pre-activation named by the engine)" if node.auto else ""))
    prediction, target = show.quantity(cell.softmax, t_), Q(cell.target.name, t_)
    why = {"linear": Prose(target, " is the gradient arriving from outside the cell (an output layer it feeds)"),
           "mse": Prose("squared error of the prediction, halved so that its gradient is the residual; "
                        "a masked (NaN) target entry contributes no term")}.get(
        cell.loss, Prose("cross-entropy of the prediction with the one-hot target"))
    S.add("definition", (Q("E", t_), _loss_term(cell, prediction, target)), why)
    S.add("sum over time", (Q("E"), TSum(Q("E", t_), t_, 1, T_)), "the loss of a sequence is the sum of its terms")


def _output_layer(w: _Writing) -> None:
    """Phase 2: ∂E_t/∂z_t (or ∂E_t/∂ŷ_t), as SymPy derived it on explicit components (derive.output)."""
    cell, show, S = w.cell, w.show, w.steps
    S.section = "Output layer"
    prediction, target = show.quantity(cell.softmax, t_), Q(cell.target.name, t_)
    z = show.quantity(cell.logits, t_)
    Et = Q("E", t_)
    residual = show.convert(MatAdd(w.program.symbols[cell.softmax], -w.program.symbols[cell.target.name]), t_)
    one, k = sp.Integer(1), k_
    if cell.loss == "linear":
        S.add("upstream gradient", (Partial(Et, prediction), target), "E_t is linear in the prediction")
    elif cell.loss == "mse":
        yhat, y = Q(show.name(cell.softmax), one), Q(cell.target.name, one)
        residual_k = plus(Q(show.name(cell.softmax), k), Neg(Q(cell.target.name, k)))
        half_squares = times(sp.Rational(1, 2), SumOver(Sq(residual_k), k))
        S.add("mean squared error", (Partial(Et, prediction), residual),
              Prose("SymPy: ", PartialOp(yhat), " of ", half_squares, " is ", plus(yhat, Neg(y))))
    else:
        o_k, ohat_1, o_1 = Q(cell.target.name, k), Q(show.name(cell.softmax), one), Q(cell.target.name, one)
        entropy = Neg(SumOver(times(o_k, Fn("log", Fn("softmax", Q(cell.logits), k))), k))
        S.add("softmax + cross-entropy", (Partial(Et, z), times(Partial(Et, prediction), Partial(prediction, z)),
                                          residual),
              Prose("SymPy: ", PartialOp(Q(cell.logits, one)), " of ", entropy, " is ", plus(ohat_1, Neg(o_1)),
                    " once ", Equals(SumOver(o_k, k), one), f" ({cell.target.name} is one-hot)"))


def _local_derivatives(w: _Writing) -> None:
    """Phase 4: every edge's local derivative (SymPy), then each state's total derivative ∂s_t/∂s_{t−1}."""
    cell, show, S = w.cell, w.show, w.steps
    S.section = "Local derivatives (SymPy, in the cell's own quantities)"
    order = {n.name: i for i, n in enumerate(cell.nodes)}
    for node in cell.nodes:
        if node.fn == "softmax":
            continue
        # inputs in the order the cell computes them; parameters, inputs and previous states (computed before
        # the step) by name, so the order does not depend on the string hash seed
        for inp in sorted(names_in(node.expr), key=lambda n: (order.get(n, -1), n)):
            if inp in cell.param_names or inp == cell.input.name:
                continue
            loc = local(w.builder, node, inp, w.program.symbols[naming.adjoint(node.name)])
            if loc.identity:
                jac = sp.Integer(1)
            elif loc.jacobian is not None:
                jac = show.convert(loc.jacobian, t_)
            else:
                continue
            rule, why = loc.rule, _local_why(loc.rule)
            if naming.is_previous(inp) and naming.current(inp) == node.name and rule == "product rule":
                rule = "cell-state carry"
                why = "SymPy differentiates the product with the gates held fixed: the memory is carried by this factor"
            S.add(rule, (Partial(show.quantity(node.name, t_), show.quantity(inp, t_)), jac), why)
            if rule == "cell-state carry":
                _carry_through_time(w, node.name, show.convert(loc.jacobian, j_))
    for s in cell.states:
        _state_jacobian(w, s.name)


def _local_why(rule: str) -> str:
    """The justification of a local derivative: the function's registry entry, the product rule or linearity."""
    if rule.startswith("derivative of ") and rule[len("derivative of "):] in REGISTRY:
        return REGISTRY[rule[len("derivative of "):]].why
    if rule == "product rule":
        return "SymPy differentiates the elementwise product: the other factor remains"
    return "the equation is linear in this input: its matrix remains (the identity when none)"


def _state_jacobian(w: _Writing, state: str) -> None:
    """∂s_t/∂s_{t−1} along every path through the step (skipped when long or the same as a one-edge step)."""
    cell, show, S = w.cell, w.show, w.steps
    J = _total_jacobian(cell, w.builder, state, naming.previous(state))
    if J is None:
        return
    disp = show.convert(J, t_)
    lhs = Partial(show.quantity(state, t_), show.quantity(naming.previous(state), t_))
    if len(unicode(disp)) > 150 or S.has((lhs, disp)):
        return  # too long to read, or the same as the one-edge step above (LSTM's diag(f_t))
    others = [show.quantity(naming.previous(o.name), t_) for o in cell.states if o.name != state]
    why = Prose("every path through the step's equations")
    if others:
        why += Prose(", ", *_listed(others), " held fixed")
    gated = any(n.fn == "sigmoid" for n in cell.nodes)
    if gated and S.has_lhs(lhs):
        why += " (the local step above holds the gates fixed)"
    S.add("total derivative" if gated else "chain rule", (lhs, disp), why)


def _listed(items) -> list:
    """a, b, c as Prose parts."""
    parts = []
    for i, item in enumerate(items):
        parts += [", "] if i else []
        parts.append(item)
    return parts


def _delta_recursion(w: _Writing) -> None:
    """Phase 5: each adjoint at a general t from its uses at t and what is carried from t + 1; δ_{T+1} = 0."""
    cell, show, S = w.cell, w.show, w.steps
    S.section = "Back through time: the δ recursion (general t)"
    carries = {s: w.backward[w.program.carries[s].name] for s in cell.state_names}
    from_next = {naming.incoming(s): show.convert(carries[s].expr, t_ + 1) for s in cell.state_names}
    for a in w.program.backward:
        name = a.target.name
        if naming.is_previous(name) or name == naming.adjoint(cell.input.name):
            continue
        primal = naming.primal(name)
        users = [show.quantity(n.name, t_) for n in cell.nodes if primal in names_in(n.expr) and n.fn != "softmax"]
        why = _why_backward(w, a.rule, users)
        below = cell.layers > 1 and primal in cell.state_names and any(
            primal in names_in(n.expr) and n.name != cell.logits for n in cell.nodes)
        if below:  # a stacked cell: this state is the input of the layer above
            why += Prose("; δ comes down from the layer above (", *_listed(users), ") as well as back in time")
        S.add(a.rule.split(", ")[0] if a.rule else "chain rule",
              (show.symbol(name, t_, {}), show.convert(a.expr, t_, from_next)), why)
    carried = [show.adjoint(naming.primal(n.name), T_ + 1) for n in _adjoints_in(carries)]
    if carried:
        S.add("boundary", (*carried, sp.Integer(0)),
              "nothing arrives from step T + 1: the terms carried from t + 1 vanish at t = T")


def _why_backward(w: _Writing, rule: str, users: list) -> Prose:
    """One line: where the adjoint comes from (its consumers) and which local rule applies."""
    parts = rule.split(", ") if rule else []
    prediction, target = Q(w.show.name(w.cell.softmax)), Q(w.cell.target.name)
    if "upstream gradient" in parts:
        return Prose("the gradient arriving from outside"
                     + ("; plus what flows back from step t + 1" if len(parts) > 1 else ""))
    if "mean squared error" in parts:
        text = Prose("the output layer gives ", plus(prediction, Neg(target)))
    elif "softmax + cross-entropy" in parts:
        text = Prose("the output layer gives ", plus(prediction, Neg(target)))
        if len(parts) > 1:
            text += Prose("; ", prediction, " fed back adds its softmax Jacobian")
    elif len(users) == 1 and parts and parts[0].startswith("derivative of"):
        text = Prose(f"{parts[0]} (in terms of its own value), times the adjoint of ", users[0])
    elif users:
        text = Prose("Σ over its uses (", *_listed(users), ") of (local derivative)ᵀ × adjoint")
    else:
        text = Prose("chain rule")
    if "carry from step t+1" in parts:
        text += ("; " if users else ": ") + "plus what flows back from step t + 1"
    return text


def _gradients(w: _Writing) -> None:
    """Phase 6: each parameter's gradient as the sum over time of its local term."""
    S = w.steps
    S.section = "Gradients: sum over time"
    for p in w.wrt:
        g = w.program.grads[p]
        S.add("sum over time", (Partial(Q("E"), Q(p)), TSum(w.show.convert(g.expr, t_), t_, 1, T_)),
              Prose(Q(p), " is shared by every step: its gradient sums the local terms"
                    + (" (summed over the batch)" if g.batch_sum else "")))


def _truncated_gradients(w: _Writing) -> None:
    """Phase 7 (truncated BPTT only): each E_t's gradient reaches back at most k steps."""
    cell, S, k = w.cell, w.steps, w.truncate
    S.section = f"Truncated BPTT (k = {k})"
    for p in w.wrt:
        g = w.program.grads[p]
        if _output_only(cell, g):
            continue  # E_t reaches z_t only: nothing to truncate
        per_loss = {n: w.show.adjoint(naming.primal(n), k_, t_) for n in _adjoint_names(g)}
        term = w.show.convert(g.expr, k_, per_loss)
        lo = sp.Max(1, t_ - k + 1)
        S.add("truncated BPTT", (Partial(Q("E"), Q(p)), TSum(TSum(term, k_, lo, t_), t_, 1, T_)),
              Prose("each ", Q("E", t_), f" sends its gradient back at most {k} steps (docs/models.md); "
                    "the superscript (t) marks the recursion started by ", Q("E", t_), " alone"))


def _unrolled(w: _Writing) -> None:
    """Phase 8: each gradient's sum over time written out for t = T … 1 (and k within the truncation)."""
    cell, S, k = w.cell, w.steps, w.truncate
    S.section = f"Unrolled for T = {w.T}" + (f", truncated to k = {k}" if k else "")
    for p in w.wrt:
        g = w.program.grads[p]
        terms = []
        for t in range(w.T, 0, -1):
            if k is None or _output_only(cell, g):
                terms.append(w.show.convert(g.expr, sp.Integer(t)))
                continue
            for step in range(t, max(1, t - k + 1) - 1, -1):
                per_loss = {n: w.show.adjoint(naming.primal(n), sp.Integer(step), sp.Integer(t))
                            for n in _adjoint_names(g)}
                terms.append(w.show.convert(g.expr, sp.Integer(step), per_loss))
        uses_init = any(naming.is_previous(s.name) for s in g.expr.free_symbols if isinstance(s, MatrixSymbol))
        S.add("sum over time", (Partial(Q("E"), Q(p)), plus(*terms)),
              "the sum written out, t = T … 1" + ("; the t = 1 term uses the initial state" if uses_init else ""))


def _adjoint_names(g: Assign) -> set[str]:
    """The adjoints (d… symbols) a gradient's local term uses."""
    return {s.name for s in g.expr.free_symbols if isinstance(s, MatrixSymbol) and naming.is_adjoint(s.name)}


def _output_only(cell: Cell, g: Assign) -> bool:
    """True when a gradient uses only the output layer's adjoint ∂E_t/∂z_t (truncation cannot reach it)."""
    return _adjoint_names(g) == {naming.adjoint(cell.logits)} and cell.softmax not in cell.state_names


def _adjoints_in(carries):
    """The adjoints (d… symbols of step t+1) that the carried terms are made of, in a stable order."""
    seen = {}
    for a in carries.values():
        for sym in sorted(a.expr.free_symbols, key=lambda x: str(x)):
            if isinstance(sym, MatrixSymbol) and naming.is_adjoint(sym.name) and not naming.is_incoming(sym.name):
                seen.setdefault(sym.name, sym)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# The course's example: E_T of a single-state cell s_t = f(a_t)


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
    users = [n.name for n in cell.nodes if naming.previous(s) in names_in(n.expr)]
    if users != [a]:
        return None
    return s, a


@dataclass(frozen=True)
class _Example:
    """The displays of the course's example E_T, shared by its parts.

    Attributes:
        state, pre: The state s and its pre-activation a (identifiers).
        T: T as a SymPy integer.
        E_T: The loss term E_T.
        s_T, prediction_T, z_T: s_T, ô_T and z_T.
        dz_T: ∂E_T/∂z_T (ô_T − o_T).
        ds_T: ∂E_T/∂s_T.
        jacobian: ∂s_t/∂s_{t−1} through the step, as a MatrixExpr.
        output_params: The parameters of the output layer among those derived.
    """

    state: str
    pre: str
    T: sp.Integer
    E_T: Q
    s_T: object
    prediction_T: object
    z_T: object
    dz_T: object
    ds_T: object
    jacobian: object
    output_params: tuple


def _course_example(w: _Writing, state: str, pre: str) -> None:
    """Phase 3 (single-state cells): the course's E_T example — chain rule through the unrolled network,
    Σ_k, ∂h_T/∂h_k, its norm bound, δ_k^{(T)} — then back to the full loss."""
    cell, show, S = w.cell, w.show, w.steps
    Tn = sp.Integer(w.T)
    S.section = f"The course's example: {unicode(Q('E', Tn))}, the loss of step T = {w.T}"
    dz_T = show.convert(w.backward[naming.adjoint(cell.logits)].expr, Tn, {})
    ds_T = show.convert(w.backward[naming.adjoint(state)].expr, Tn,
                        {naming.adjoint(cell.logits): dz_T, naming.incoming(state): sp.Integer(0)})
    ex = _Example(state, pre, Tn, Q("E", Tn), show.quantity(state, Tn), show.quantity(cell.softmax, Tn),
                  show.quantity(cell.logits, Tn), dz_T, ds_T,
                  _total_jacobian(cell, w.builder, state, naming.previous(state)),
                  tuple(p for p in w.wrt if p in names_in(cell.node(cell.logits).expr)))
    S.add("definition", (ex.E_T, _loss_term(cell, ex.prediction_T, Q(cell.target.name, Tn))),
          f"the loss term of step {w.T}")
    _course_output_layer(w, ex)
    _course_through_time(w, ex)
    recurrent = [p for p in w.wrt if p not in ex.output_params]
    if recurrent:
        _course_deltas(w, ex, recurrent)
    S.add("sum over time", (Partial(Q("E"), Q("θ")), TSum(Partial(Q("E", t_), Q("θ")), t_, 1, T_)),
          Prose("the full loss: the same for every ", Q("E", t_), "; the δ's of all loss terms add up, ",
                Equals(show.delta(pre, k_), SumOver(show.delta(pre, k_, t_), t_ >= k_)),
                ", which is the recursion below"))


def _course_output_layer(w: _Writing, ex: _Example) -> None:
    """∂E_T/∂W (only the last step's output layer) and ∂E_T/∂s_T."""
    cell, show, S = w.cell, w.show, w.steps
    for p in ex.output_params:
        value = outer(show.convert(w.program.grads[p].expr, ex.T, {naming.adjoint(cell.logits): ex.dz_T}))
        chain = times(Partial(ex.E_T, ex.prediction_T),
                      *([] if ex.z_T == ex.prediction_T else [Partial(ex.prediction_T, ex.z_T)]),
                      Partial(ex.z_T, Q(p)))
        why = Prose("only the last step's output layer")
        if isinstance(value, Outer):
            why += Prose("; ", Equals(Outer(Q("u"), Q("v")), times(Q("u"), Tr(Q("v")))))
        S.add("chain rule", (Partial(ex.E_T, Q(p)), chain, value), why)
    logits = w.program.forward[[n.name for n in cell.nodes].index(cell.logits)].expr
    S.add("chain rule", (Partial(ex.E_T, ex.s_T), times(Partial(ex.E_T, ex.prediction_T),
                                                         Partial(ex.prediction_T, ex.s_T)), ex.ds_T),
          Prose(ex.E_T, " depends on ", ex.s_T, " only through ", Equals(ex.z_T, show.convert(logits, ex.T))))


def _course_through_time(w: _Writing, ex: _Example) -> None:
    """∂s_j/∂s_{j−1}, ∂s_T/∂s_k as their product, its norm bound, and Σ_k over the paths of each parameter."""
    cell, show, S = w.cell, w.show, w.steps
    s_j, s_j1, a_j = show.quantity(ex.state, j_), show.quantity(ex.state, j_ - 1), show.quantity(ex.pre, j_)
    step_jacobian = show.convert(ex.jacobian, j_)
    S.add("chain rule", (Partial(s_j, s_j1), times(Partial(s_j, a_j), Partial(a_j, s_j1)), step_jacobian),
          f"derivative of {cell.node(ex.state).fn} (SymPy) times the recurrent matrix")
    s_k = show.quantity(ex.state, k_)
    S.add("chain rule through time", (Partial(ex.s_T, s_k), TProd(Partial(s_j, s_j1), j_, k_ + 1, ex.T),
                                       TProd(step_jacobian, j_, k_ + 1, ex.T)),
          "the Jacobians of the steps between k and T multiply (later steps on the left)")
    _norm_bound(w, ex.state, step_jacobian, ex.T)
    for p in w.wrt:
        if p in ex.output_params:
            continue
        path = times(Partial(ex.E_T, ex.prediction_T), Partial(ex.prediction_T, ex.s_T), Partial(ex.s_T, s_k),
                     Partial(s_k, Q(p)))
        S.add("sum over paths", (Partial(ex.E_T, Q(p)), TSum(path, k_, 0, ex.T)),
              Prose(Q(p), " acts at every step k; ", Partial(s_k, Q(p)), " is the immediate derivative with ",
                    show.quantity(ex.state, k_ - 1), " held fixed"))


def _course_deltas(w: _Writing, ex: _Example, recurrent: list[str]) -> None:
    """h_0 is given; δ_k^{(T)} defined and computed back from k = T; the recurrent gradients as Σ_k δ_k^{(T)} …."""
    cell, show, S, k = w.cell, w.show, w.steps, w.truncate
    first = 1 if k is None else max(1, w.T - k + 1)
    s_0 = show.quantity(ex.state, sp.Integer(0))
    S.add("initial state", (Partial(s_0, Q("θ")), sp.Integer(0)),
          Prose(s_0, " is given (not computed from any parameter), so the ", Equals(k_, 0),
                " term vanishes and the sum starts at ", Equals(k_, 1)))
    if k is not None:
        S.add("truncated BPTT", (Geq(k_, first),),
              Prose(f"with truncation {k}, ", ex.E_T, " reaches back only to ",
                    Equals(k_, first, plus(T_, Neg(sp.Integer(k)), 1))))
    a_k = show.quantity(ex.pre, k_)
    delta_k = show.delta(ex.pre, k_, ex.T)
    S.add("definition of δ", (delta_k, Partial(ex.E_T, a_k)),
          Prose("the error at the pre-activation of step k caused by ", ex.E_T, " alone"))
    fn = cell.node(ex.state).fn
    deltas = {}
    for step in range(w.T, first - 1, -1):
        at = sp.Integer(step)
        if step == w.T:
            ds = ex.ds_T
        else:
            ds = show.convert(w.backward[naming.carried(ex.state)].expr, at + 1,
                              {naming.adjoint(ex.pre): deltas[step + 1]})
        deltas[step] = show.delta(ex.pre, at, ex.T)
        value = show.convert(w.backward[naming.adjoint(ex.pre)].expr, at, {naming.adjoint(ex.state): ds})
        if step == w.T:
            S.add(f"derivative of {fn}", (deltas[step], value), "start at the output of step T")
        else:
            back = Tr(Paren(Partial(show.quantity(ex.pre, at + 1), show.quantity(ex.state, at))))
            S.add("δ recursion", (deltas[step], value),
                  Prose("back one step: ", back, f", then the derivative of {fn}"))
    for p in recurrent:
        g = w.program.grads[p]
        general = show.convert(g.expr, k_, {naming.adjoint(ex.pre): delta_k})
        terms = [show.convert(g.expr, sp.Integer(step), {naming.adjoint(ex.pre): deltas[step]})
                 for step in range(w.T, first - 1, -1)]
        uses_prev = any(naming.is_previous(n.name) for n in g.expr.free_symbols if isinstance(n, MatrixSymbol))
        why = Prose(Equals(Partial(ex.E_T, a_k), delta_k), ", times the local factor ", Partial(a_k, Q(p)))
        if uses_prev and first == 1:
            why += Prose("; with ", Equals(show.quantity(ex.state, sp.Integer(0)), 0), " (the default) the ",
                         Equals(k_, 1), " term is zero too")
        S.add("sum over time", (Partial(ex.E_T, Q(p)), TSum(general, k_, first, ex.T), plus(*terms)), why)


def _norm_bound(w: _Writing, state: str, step_jacobian, Tn) -> None:
    """‖∂s_T/∂s_k‖₂ ≤ Π ‖diag(φ′)‖₂ ‖V‖₂ ≤ (γ‖V‖₂)^{T−k} for s_t = φ(… + V s_{t−1}) (Pascanu et al. 2013)."""
    fn = w.cell.node(state).fn
    gamma = REGISTRY[fn].gamma if fn in REGISTRY else None
    if gamma is None or not isinstance(step_jacobian, Times) or len(step_jacobian.args) != 2:
        return
    diag, V = step_jacobian.args
    base = Norm(V) if gamma == 1 else times(gamma, Norm(V))
    lhs = Norm(Partial(w.show.quantity(state, Tn), w.show.quantity(state, k_)))
    A, B, g = Q("A"), Q("B"), Q("gamma")
    w.steps.add("norm bound", (Leq(lhs, TProd(times(Norm(diag), Norm(V)), j_, k_ + 1, Tn), Power(base, Tn - k_)),),
                Prose(Leq(Norm(times(A, B)), times(Norm(A), Norm(B))), ", and ",
                      Leq(AbsVal(Prime(fn)), Equals(g, gamma)),
                      ": the far terms (small k) vanish geometrically when ", times(g, Norm(V)),
                      " is below 1; they can explode only if it is above 1 (Pascanu, Mikolov & Bengio 2013). "
                      "bptt flow measures both sides"))


def _carry_through_time(w: _Writing, state: str, local_j) -> None:
    """∂c_T/∂c_k along the memory alone: a product of diagonal matrices (the LSTM's forget gates)."""
    lhs = Partial(w.show.quantity(state, T_), w.show.quantity(state, k_))
    w.steps.add("carry through time", (lhs, TProd(local_j, j_, k_ + 1, T_)),
                "along the memory path alone (gates held fixed): diagonal factors, no matrix power — the product "
                "of the gates stays near 1 while they stay near 1, so the memory neither vanishes nor explodes. "
                "bptt flow measures it")
