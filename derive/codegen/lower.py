"""Lowering: the adjoint program of one time step → the statements of the generated BPTT.

The program (:mod:`derive.program`) says what one step computes. Running it T times naively would be
slow; this module decides, from the program's dependency structure alone (never from cell names):

- **Regions.** A forward statement runs inside the time loop only if it lies on a path from a previous
  state to a new state; the others run *vectorised over all steps at once*, before the loop (they need
  only parameters and x_t: input projections) or after it (z_t, ô_t). The same for the backward pass:
  only adjoints on a path from ∂E/∂s_t|t+1 to ∂E/∂s_{t−1} stay in the loop; the loss's own terms
  (ô_t − o_t, Wᵀ∂E/∂z_t) are computed for all steps before it, ∂E/∂x_t and the weight gradients after it.
- **Hoisting.** Terms of a loop statement that do not depend on the loop (U x_t + b) are computed for
  all steps in one product before the loop.
- **Stacking.** Matrix products that share their right operand (U_f x_t, U_i x_t, … or V_f h_{t−1}, …)
  become one product with the matrices stacked by rows; the backward pass mirrors it: one Vᵀ·[δ_f; δ_i; …]
  per step into ∂E/∂h_{t−1}, one Σ_t [δ_f; …] h_{t−1}ᵀ for all the V's. Gates with the same function
  applied to adjacent rows share one call.

Every statement keeps the equation it implements (a :class:`Stmt` carries the display form).
"""

from __future__ import annotations

import keyword
import os
from dataclasses import dataclass, field

import sympy as sp
from sympy import MatAdd, MatMul, MatrixSymbol, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.cellfile import PREV
from derive.codegen.notation import Notation
from derive.functions import NON_ANALYTIC
from derive.program import AdjointProgram


def symbols_in(e) -> set[str]:
    return {s.name for s in e.atoms(MatrixSymbol)}


def terms_of(e) -> list:
    """The summands of a (possibly nested) MatAdd."""
    if isinstance(e, MatAdd):
        return [t for a in e.args for t in terms_of(a)]
    return [e]


def sum_of(ts):
    return ts[0] if len(ts) == 1 else MatAdd(*ts)


def plural(name: str) -> str:
    """The all-steps array of a quantity: h → hs (min-char-rnn's naming), keywords escaped (i → is_)."""
    out = name + "s"
    return out + "_" if keyword.iskeyword(out) else out


def slice_code(lo, hi, total) -> str:
    lo_s = "" if lo == 0 else _dim(lo)
    hi_s = "" if sp.simplify(hi - total) == 0 else _dim(hi)
    return f"{lo_s}:{hi_s}"


def indexed(name: str, sl: str, step: str | None = None) -> str:
    """``name[step, sl]`` without the parts that select everything."""
    parts = [p for p in (step, None if sl == ":" else sl) if p]
    return f"{name}[{', '.join(parts)}]" if parts else name


def _dim(e) -> str:
    return str(sp.expand(e)).replace(" ", "")


@dataclass
class Stmt:
    """One line of generated code and the equation(s) above it.

    ``target``/``expr`` are printed through a region's symbol map unless ``code`` is given (then the
    line is literal). ``comment`` lines are display-notation equations.
    """

    target: str
    expr: object = None
    comment: list[str] = field(default_factory=list)
    op: str = "="
    code: str | None = None


@dataclass
class Group:
    """Matrices that multiply the same operand, stacked by rows.

    Attributes:
        operand: the right operand's symbol name ("x", "h_prev").
        params: the matrices, in stacking order; rows: their (lo, hi) row ranges.
        nodes: the node whose equation holds each product.
        stack: the stacked matrix's code name (the parameter itself for one member).
    """

    operand: str
    params: list[str]
    nodes: list[str]
    rows: list[tuple]
    total: object
    stack: str
    product: str = ""  # forward: the code name of the stacked product P y of one step ("Vh")
    keep: bool = False  # forward: the product is stored per step because the backward pass reads it
    adjoints: list = field(default_factory=list)  # backward: the e_k of Pᵀ e_k, or empty if not stackable
    terms: list = field(default_factory=list)  # backward: the Pᵀ e_k terms themselves
    buffer: str = ""  # backward: all-steps array holding [e_1; e_2; …]
    buffer_rows: tuple = ()  # (lo, hi) inside the buffer (a view when the buffer is shared)

    def rows_of(self, param: str):
        return self.rows[self.params.index(param)]


@dataclass
class Regions:
    """Where each statement of one pass runs.

    Attributes:
        loop: per step, inside the time loop (on a path from what one step carries in to what it carries out).
        pre: for all steps at once before the loop (reads nothing carried between steps).
        post: for all steps at once after the loop (reads the loop's results only).
    """

    loop: set[str]
    pre: set[str]
    post: set[str]


def regions(stmts, deps: dict[str, set[str]], carried_in: set[str], carried_out: set[str],
            readers_stay: bool = False) -> Regions:
    """The regions of a pass (forward: h_{t−1} → h_t; backward: ∂E/∂s_t|t+1 → ∂E/∂s_{t−1}).

    Args:
        stmts: the pass's assignments in execution order; deps: each target's symbols.
        carried_in / carried_out: what one step receives from / hands to the neighbouring step.
        readers_stay: a statement that reads a carried-in symbol itself runs per step even off the path
            (backward: the carry is not kept per step).
    """
    names = [a.target.name for a in stmts]
    need = set(carried_out)
    for n in reversed(names):
        if n in need:
            need |= deps[n] & set(names)
    on_path: dict[str, bool] = {}
    for n in names:
        on_path[n] = any(d in carried_in or on_path.get(d, False) for d in deps[n])
    loop = {n for n in names if (on_path[n] and n in need) or n in carried_out
            or (readers_stay and deps[n] & carried_in)}
    late: dict[str, bool] = {}
    for n in names:
        late[n] = n in loop or any(d in carried_in or late.get(d, False) for d in deps[n])
    return Regions(loop, {n for n in names if not late[n]}, {n for n in names if late[n] and n not in loop})


def hoistable(expr, inside: set[str]) -> list:
    """The summands of ``expr`` that read nothing in ``inside``, when some (not all) summands do."""
    ts = terms_of(expr)
    out = [t for t in ts if not (symbols_in(t) & inside)]
    return out if out and len(out) < len(ts) else []


class Lowering:
    """Regions, hoisted terms, stacked groups and name maps for one cell's adjoint program.

    Built in named phases: :meth:`_forward_regions`, :meth:`_hoist`, :meth:`_stack_groups`,
    :meth:`_loop_forward` (forward), then :meth:`_backward` and :meth:`_backward_groups`.
    """

    # forward ---------------------------------------------------------------------------------------
    fwd: list  #: the forward assignments, in order
    nodes: list[str]  #: their targets
    fdeps: dict[str, set[str]]  #: target → the symbols its expression reads
    f_expr: dict[str, object]  #: target → its expression
    f_loop: set[str]  #: targets computed per step
    f_pre: set[str]  #: computed for all steps before the loop
    f_post: set[str]  #: computed for all steps after the loop
    consumers: dict[str, list[str]]  #: target → the forward statements that read it
    hoisted: dict[str, list]  #: loop target → its terms computed before the loop (U x_t + b)
    x_group: Group | None  #: the stacked input projections (one product over all steps), if any
    groups: list[Group]  #: stacked products with a previous state, one per operand
    pre_name: str  #: name of the stacked pre-activations of the input group ("a")
    in_name: str  #: the all-steps array of their hoisted part ("a_in")
    pre_stmts: list[Stmt]  #: statements before the loop (the hoisted products)
    stacks: list[tuple[str, list[str]]]  #: stacked parameters to build: (name, members)
    mm: dict  #: product P y of a group member → the symbol standing for its rows of the stacked product
    mm_group: dict[str, Group]  #: that symbol → its group
    mm_param: dict[str, str]  #: that symbol → its matrix
    loop_expr: dict[str, object]  #: loop target → its expression over hoisted arrays and stacked products
    # backward --------------------------------------------------------------------------------------
    bwd: list  #: the backward assignments, in order
    carry_in: set[str]  #: ∂E/∂s_t|t+1 of every state
    carry_out: set[str]  #: ∂E/∂s_{t−1} of every state
    b_loop: set[str]
    b_pre: set[str]
    b_post: set[str]
    b_expr: dict[str, object]
    b_rule: dict[str, str]
    b_hoisted: dict[str, list]  #: loop adjoint → its terms from E_t itself, computed before the loop
    buffers: list[tuple[str, object]]  #: stacked adjoint arrays over all steps: (name, rows)
    fills: list[tuple]  #: rows of a buffer filled in the loop: (buffer, slice, expression or None, source)
    home: dict[str, tuple]  #: adjoint → (buffer, lo, hi) rows it lives in
    bw_groups: list[Group]  #: groups whose Pᵀ e_k terms are one stacked product

    def __init__(self, prog: AdjointProgram):
        self.prog, cell = prog, prog.cell
        self.cell, self.show = cell, Notation(cell)
        self.params = list(cell.param_names)
        self.x, self.o = cell.input.name, cell.target.name
        self.states = list(cell.state_names)
        self.prevs = {s + PREV: s for s in self.states}
        self.sym = dict(prog.symbols)
        self.taken = set(self.sym) | {"np", "params", "xs", "targets", "t", "t_in", "T", "B", "E", "dtype",
                                      "truncate", "o", "grads", "backward_step"} | set(cell.dims)
        self.extra: dict[str, tuple] = {}  # invented symbols → (loop code, vector code)
        self.kinks = {n.fn for n in cell.nodes if n.fn in NON_ANALYTIC}  # relu: differences must avoid kinks
        self.line_of = {n.name: n.line for n in cell.nodes}  # the cell-file line each quantity comes from
        self._forward_regions()
        self._hoist()
        x_product = self._stack_groups()
        self._loop_forward(x_product)
        self._backward()
        self._backward_groups()

    # ---- helpers --------------------------------------------------------------------------------------

    def rows(self, name):
        return self.sym[name].shape[0]

    def fresh(self, base: str) -> str:
        name = base if base not in self.taken else base + "_stack"
        i = 2
        while name in self.taken:
            name, i = f"{base}{i}", i + 1
        self.taken.add(name)
        return name

    def stack_name(self, names: list[str]) -> str:
        if len(names) == 1:
            return names[0]
        prefix = os.path.commonprefix(names).rstrip("_") or "P"
        return self.fresh(prefix)

    def new_symbol(self, name, rows, loop_code, vec_code):
        s = MatrixSymbol(name, rows, 1)
        self.extra[name] = (loop_code, vec_code)
        return s

    def cell_lines(self, names) -> list[int]:
        """The cell-file lines of the forward quantities ``names`` (those the file writes), sorted."""
        return sorted({self.line_of[n] for n in names if self.line_of.get(n)})

    # ---- forward --------------------------------------------------------------------------------------

    def _forward_regions(self):
        self.fwd = list(self.prog.forward)
        self.nodes = [a.target.name for a in self.fwd]
        self.fdeps = {a.target.name: symbols_in(a.expr) for a in self.fwd}
        self.f_expr = {a.target.name: a.expr for a in self.fwd}
        where = regions(self.fwd, self.fdeps, set(self.prevs), set(self.states))
        self.f_loop, self.f_pre, self.f_post = where.loop, where.pre, where.post
        self.consumers = {n: [m for m in self.nodes if n in self.fdeps[m]] for n in self.nodes}

    def _hoist(self):
        """Terms of loop statements that need no previous state and multiply the input: before the loop."""
        self.hoisted = {}
        inside = set(self.prevs) | self.f_loop
        for a in self.fwd:
            n = a.target.name
            out = hoistable(a.expr, inside) if n in self.f_loop else []
            # worth hoisting only when it does work per step: a product with the input
            if any(self.x in symbols_in(t) for t in out):
                self.hoisted[n] = out

    def x_product(self, n):
        """The single P x_t term among the hoisted terms of ``n``, or None."""
        prods = [t for t in self.hoisted.get(n, []) if isinstance(t, MatMul) and len(t.args) == 2
                 and t.args[1] == self.sym[self.x] and t.args[0].name in self.params]
        return prods[0] if len(prods) == 1 else None

    def fn_of(self, n):
        """The elementwise function applied to ``n`` by its only consumer (σ of a_f), or None."""
        cons = self.consumers[n]
        if len(cons) == 1:
            e = self.f_expr[cons[0]]
            if isinstance(e, ElementwiseApplyFunction) and e.expr == self.sym[n]:
                return type(e.function.expr).__name__
        return None

    def _recurrent_pairs(self) -> dict[str, list[tuple[str, str]]]:
        """Previous state → the (matrix, loop statement) pairs of its products P s_{t−1}, first use first."""
        by_operand: dict[str, list[tuple[str, str]]] = {}
        for a in self.fwd:
            n = a.target.name
            if n not in self.f_loop:
                continue
            for sub in sp.preorder_traversal(a.expr):
                if (isinstance(sub, MatMul) and len(sub.args) == 2 and isinstance(sub.args[0], MatrixSymbol)
                        and sub.args[0].name in self.params and isinstance(sub.args[1], MatrixSymbol)
                        and sub.args[1].name in self.prevs):
                    pairs = by_operand.setdefault(sub.args[1].name, [])
                    if sub.args[0].name not in [p for p, _ in pairs]:
                        pairs.append((sub.args[0].name, n))
        return by_operand

    def _stack_groups(self):
        """The input group and one group per previous state, stacked in the cell's declared order.

        Members with a recurrent product come first (GRU: a_r, a_u before a_g, whose V_g multiplies
        r_t ⊙ h_{t−1}), so that the rows of both stacks line up; otherwise the order is the cell's.
        """
        x_product = self.x_product
        by_operand = self._recurrent_pairs()
        in_h = {n for pairs in by_operand.values() for _, n in pairs}
        members = []
        for n in self.nodes:  # one member per matrix: a matrix shared by two gates (U x in f and g) is one block
            if n in self.f_loop and x_product(n) is not None and all(
                    x_product(m).args[0] != x_product(n).args[0] for m in members):
                members.append(n)
        members.sort(key=lambda n: (n not in in_h, self.nodes.index(n)))
        self.groups = []
        self.x_group = None
        if members:
            self.x_group = self._group(self.x, [x_product(n).args[0].name for n in members], members)
        order = {n: i for i, n in enumerate(members)}
        for operand, pairs in by_operand.items():
            pairs.sort(key=lambda pn: (order.get(pn[1], len(order)), self.nodes.index(pn[1])))
            self.groups.append(self._group(operand, [p for p, _ in pairs], [n for _, n in pairs]))
        return x_product

    def _group(self, operand, params, nodes) -> Group:
        rows, lo = [], sp.Integer(0)
        for p in params:
            hi = lo + self.sym[p].shape[0]
            rows.append((lo, hi))
            lo = hi
        return Group(operand, params, nodes, rows, lo, self.stack_name(params))

    def _loop_forward(self, x_product):
        """Rewrite loop statements over hoisted arrays and stacked products."""
        self.pre_stmts, self.stacks = [], []
        self.pre_name = self.in_name = ""
        hoisted = self._hoisted_input_products(x_product)
        hoisted.update(self._other_hoisted_terms(hoisted))
        self._recurrent_products()
        self.loop_expr = {}
        for a in self.fwd:
            n = a.target.name
            if n not in self.f_loop:
                continue
            e = a.expr
            if n in hoisted:
                old, s = hoisted[n]
                rest = [t for t in terms_of(e) if t not in terms_of(old)]
                e = sum_of([s] + rest)
            self.loop_expr[n] = e.xreplace(self.mm)

    def _hoisted_input_products(self, x_product) -> dict:
        """One stacked array a_in = [U_f; U_i; …] x_t + [b_f; b_i; …] over all steps for the input group;
        returns loop target → (its hoisted terms, the symbol standing for its rows of a_in[t])."""
        grp, sub = self.x_group, {}
        if grp is None:
            return sub
        self.pre_name = self.stack_name(grp.nodes)
        in_name = self.in_name = self.fresh(self.pre_name + "_in")
        if len(grp.params) > 1:
            self.stacks.append((grp.stack, grp.params))
        leftovers = [[t for t in self.hoisted[n] if t != x_product(n)] for n in grp.nodes]
        biases = [lo[0].name if len(lo) == 1 and isinstance(lo[0], MatrixSymbol) and lo[0].name in self.params
                  and self.sym[lo[0].name].shape[1] == 1 else None for lo in leftovers]
        comment = [self.show.equation_text(n, sum_of(self.hoisted[n])) for n in grp.nodes]
        X = self.sym[self.x]
        P = MatrixSymbol(grp.stack, grp.total, X.shape[0])
        if all(biases):
            bname = self.stack_name(biases)
            if len(biases) > 1:
                self.stacks.append((bname, biases))
            self.pre_stmts.append(Stmt(in_name, P * X + MatrixSymbol(bname, grp.total, 1), comment))
        else:
            self.pre_stmts.append(Stmt(in_name, P * X, comment))
            for n, left, (lo, hi) in zip(grp.nodes, leftovers, grp.rows):
                if left:
                    self.pre_stmts.append(Stmt(f"{in_name}[:, {slice_code(lo, hi, grp.total)}]", sum_of(left),
                                               [], "+="))
        for n, (lo, hi) in zip(grp.nodes, grp.rows):
            s = self.new_symbol(f"__in_{n}", hi - lo, indexed(in_name, slice_code(lo, hi, grp.total), "t"), None)
            sub[n] = (sum_of(self.hoisted[n]), s)
        return sub

    def _other_hoisted_terms(self, done: dict) -> dict:
        """Hoisted terms outside the input group: an all-steps array each (``a_in`` of a lone statement)."""
        sub = {}
        for n, ts in self.hoisted.items():
            if n in done:
                continue
            name = self.fresh(n + "_in")
            self.pre_stmts.append(Stmt(name, sum_of(ts), [self.show.equation_text(n, sum_of(ts))]))
            sub[n] = (sum_of(ts), self.new_symbol(f"__in_{n}", self.rows(n), f"{name}[t]", name))
        return sub

    def _recurrent_products(self):
        """One stacked product P s_{t−1} per group; a symbol for each member's rows of it."""
        self.mm, self.mm_group, self.mm_param = {}, {}, {}
        for grp in self.groups:
            if len(grp.params) > 1:
                self.stacks.append((grp.stack, grp.params))
            grp.product = self.fresh(grp.stack + grp.operand.replace(PREV, "").replace("_", ""))
            for p, (lo, hi) in zip(grp.params, grp.rows):
                key = self.sym[p] * self.sym[grp.operand]
                # one symbol per (matrix, operand): M0 h_{t−1} and M0 s_{t−1} are different products
                sym = f"__mm_{p}__{grp.operand}"
                self.mm[key] = self.new_symbol(sym, hi - lo, indexed(grp.product, slice_code(lo, hi, grp.total)),
                                               None)
                self.mm_group[sym] = grp
                self.mm_param[sym] = p

    # ---- backward -------------------------------------------------------------------------------------

    def _backward(self):
        prog = self.prog
        self.bwd = list(prog.backward)
        self.carry_in = {s.name for s in prog.incoming.values()}
        self.carry_out = {s.name for s in prog.carries.values()}
        deps = {a.target.name: symbols_in(a.expr) for a in self.bwd}
        # a statement reading an incoming carry itself runs per step even off the path to a carry: the carry
        # is not kept per step (∂E/∂s_t of a state that never reads s_{t−1} is ∂E/∂s_t|t+1 alone)
        where = regions(self.bwd, deps, self.carry_in, self.carry_out, readers_stay=True)
        self.b_loop, self.b_pre, self.b_post = where.loop, where.pre, where.post
        self.b_expr = {a.target.name: a.expr for a in self.bwd}
        self.b_rule = {a.target.name: a.rule for a in self.bwd}
        inside = self.carry_in | self.b_loop
        self.b_hoisted = {}
        for a in self.bwd:
            out = hoistable(a.expr, inside) if a.target.name in self.b_loop else []
            if out:
                self.b_hoisted[a.target.name] = out
        # a recurrent product the backward pass needs again (reset-after: V_g h_{t−1}) is kept per step
        for a in self.bwd:
            if a.target.name in self.b_loop:
                for key, sym in self.mm.items():
                    if a.expr.has(key):
                        self.mm_group[sym.name].keep = True
        for grp in self.groups:
            if grp.keep:
                for p, (lo, hi) in zip(grp.params, grp.rows):
                    self.extra[f"__mm_{p}__{grp.operand}"] = (
                        indexed(plural(grp.product), slice_code(lo, hi, grp.total), "t"), None)

    def _backward_groups(self):
        """Find Pᵀ e_k terms of each forward group in ∂E/∂(operand); give them a stacked buffer."""
        home: dict[str, tuple[str, object, object]] = {}  # adjoint symbol → (buffer, lo, hi)
        self.buffers = []
        # rows to fill in the loop: (buffer, slice, expression or None, source adjoint's name or None)
        self.fills = []
        groups = ([self.x_group] if self.x_group else []) + self.groups
        for grp in groups:
            target = "d" + grp.operand
            e = self.b_expr.get(target)
            if e is None:
                continue
            found: dict[str, list] = {}
            for t in terms_of(e):
                if (isinstance(t, MatMul) and len(t.args) == 2 and isinstance(t.args[0], Transpose)
                        and isinstance(t.args[0].arg, MatrixSymbol) and t.args[0].arg.name in grp.params):
                    found.setdefault(t.args[0].arg.name, []).append(t)
            # stack only when each matrix meets the operand once (U in two gates: Uᵀδ_f + Uᵀδ_g stays a sum)
            if set(found) != set(grp.params) or any(len(ts) > 1 for ts in found.values()):
                continue
            found = {p: ts[0] for p, ts in found.items()}
            adj = [found[p].args[1] for p in grp.params]
            ok = all(not (symbols_in(a) & (self.b_pre | self.b_post)) for a in adj)
            if not ok:
                continue
            grp.adjoints = adj
            grp.terms = [found[p] for p in grp.params]
            # share a buffer when every row already lives, in order, in one
            names = [a.name if isinstance(a, MatrixSymbol) else None for a in adj]
            if all(names) and all(n in home for n in names):
                bufs = {home[n][0] for n in names}
                if len(bufs) == 1:
                    (buf,) = bufs
                    lo0 = home[names[0]][1]
                    if all(sp.simplify(home[n][1] - (lo0 + lo)) == 0 for n, (lo, _) in zip(names, grp.rows)):
                        grp.buffer, grp.buffer_rows = buf, (lo0, lo0 + grp.total)
                        continue
            base = "d" + (self.pre_name if grp is self.x_group else self.stack_name(grp.nodes))
            buf = base if names == [base] else self.fresh(base)
            self.buffers.append((buf, grp.total))
            grp.buffer, grp.buffer_rows = buf, (sp.Integer(0), grp.total)
            for a, n, (lo, hi) in zip(adj, names, grp.rows):
                if n is not None and n not in home and n in self.b_loop:
                    home[n] = (buf, lo, hi)
                else:
                    self.fills.append((buf, slice_code(lo, hi, grp.total), a if n is None or n not in home
                                       else None, n))
        self.home = home
        self.bw_groups = [grp for grp in groups if grp.adjoints]
