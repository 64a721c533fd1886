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
    adjoints: list = field(default_factory=list)  # backward: the e_k of Pᵀ e_k, or empty if not stackable
    buffer: str = ""  # backward: all-steps array holding [e_1; e_2; …]
    buffer_rows: tuple = ()  # (lo, hi) inside the buffer (a view when the buffer is shared)

    def rows_of(self, param: str):
        return self.rows[self.params.index(param)]


class Lowering:
    """Regions, hoisted terms, stacked groups and name maps for one cell's adjoint program."""

    def __init__(self, prog: AdjointProgram):
        self.prog, cell = prog, prog.cell
        self.cell, self.show = cell, Notation(cell)
        self.params = list(cell.param_names)
        self.x, self.o = cell.input.name, cell.target.name
        self.states = list(cell.state_names)
        self.prevs = {s + PREV: s for s in self.states}
        self.sym = dict(prog.symbols)
        self.taken = set(self.sym) | {"np", "params", "xs", "targets", "t", "t_in", "T", "B", "E", "dtype",
                                      "truncate", "o", "grads"} | set(cell.dims)
        self.extra: dict[str, tuple] = {}  # invented symbols → (loop code, vector code)
        self.kinks = {n.fn for n in cell.nodes if n.fn in NON_ANALYTIC}  # relu: differences must avoid kinks
        self._forward()
        self._backward()

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

    # ---- forward --------------------------------------------------------------------------------------

    def _forward(self):
        fwd = list(self.prog.forward)
        self.fwd = fwd
        nodes = [a.target.name for a in fwd]
        self.nodes = nodes
        deps = {a.target.name: symbols_in(a.expr) for a in fwd}
        self.fdeps = deps
        need = set(self.states)
        for a in reversed(fwd):
            if a.target.name in need:
                need |= deps[a.target.name] & set(nodes)
        dep_prev = {}
        for a in fwd:
            n = a.target.name
            dep_prev[n] = any(d in self.prevs or dep_prev.get(d, False) for d in deps[n])
        loop = {n for n in nodes if (dep_prev[n] and n in need) or n in self.states}
        late = {}
        for a in fwd:
            n = a.target.name
            late[n] = n in loop or any(d in self.prevs or late.get(d, False) for d in deps[n])
        self.f_loop = loop
        self.f_pre = {n for n in nodes if not late[n]}
        self.f_post = {n for n in nodes if late[n] and n not in loop}
        self.consumers = {n: [m for m in nodes if n in deps[m]] for n in nodes}

        # hoisted terms of loop statements
        self.hoisted: dict[str, list] = {}
        inside = set(self.prevs) | loop
        for a in fwd:
            n = a.target.name
            if n not in loop:
                continue
            ts = terms_of(a.expr)
            out = [t for t in ts if not (symbols_in(t) & inside)]
            # worth hoisting only when it does work per step: a product with the input
            if out and len(out) < len(ts) and any(self.x in symbols_in(t) for t in out):
                self.hoisted[n] = out

        # the input group: one product P x per hoisted statement
        def x_product(n):
            prods = [t for t in self.hoisted.get(n, []) if isinstance(t, MatMul) and len(t.args) == 2
                     and t.args[1] == self.sym[self.x] and t.args[0].name in self.params]
            return prods[0] if len(prods) == 1 else None

        # groups of products on previous states (anywhere inside loop statements)
        by_operand: dict[str, list[tuple[str, str]]] = {}
        for a in fwd:
            n = a.target.name
            if n not in loop:
                continue
            for sub in sp.preorder_traversal(a.expr):
                if (isinstance(sub, MatMul) and len(sub.args) == 2 and isinstance(sub.args[0], MatrixSymbol)
                        and sub.args[0].name in self.params and isinstance(sub.args[1], MatrixSymbol)
                        and sub.args[1].name in self.prevs):
                    pairs = by_operand.setdefault(sub.args[1].name, [])
                    if sub.args[0].name not in [p for p, _ in pairs]:
                        pairs.append((sub.args[0].name, n))
        in_h = {n for pairs in by_operand.values() for _, n in pairs}

        def fn_of(n):
            cons = self.consumers[n]
            if len(cons) == 1:
                e = self.expr_of(cons[0])
                if isinstance(e, ElementwiseApplyFunction) and e.expr == self.sym[n]:
                    return type(e.function.expr).__name__
            return None

        members = []
        for n in nodes:  # one member per matrix: a matrix shared by two gates (U x in f and g) is one block
            if n in loop and x_product(n) is not None and all(x_product(m).args[0] != x_product(n).args[0]
                                                              for m in members):
                members.append(n)
        members.sort(key=lambda n: (n not in in_h, fn_of(n) or "~", nodes.index(n)))
        self.fn_of = fn_of
        self.groups: list[Group] = []
        self.x_group = None
        if members:
            params = [x_product(n).args[0].name for n in members]
            self.x_group = self._group(self.x, params, members)
        for operand, pairs in by_operand.items():
            order = {n: i for i, n in enumerate(members)}
            pairs.sort(key=lambda pn: (order.get(pn[1], len(order)), nodes.index(pn[1])))
            self.groups.append(self._group(operand, [p for p, _ in pairs], [n for _, n in pairs]))
        self._loop_forward(x_product)

    def _group(self, operand, params, nodes) -> Group:
        rows, lo = [], sp.Integer(0)
        for p in params:
            hi = lo + self.sym[p].shape[0]
            rows.append((lo, hi))
            lo = hi
        return Group(operand, params, nodes, rows, lo, self.stack_name(params))

    def expr_of(self, n):
        return next(a.expr for a in self.fwd if a.target.name == n)

    def _loop_forward(self, x_product):
        """Rewrite loop statements over hoisted arrays and stacked products; plan runs and fused calls."""
        g = self.x_group
        self.pre_stmts: list[Stmt] = []
        self.stacks: list[tuple[str, list[str]]] = []  # stacked parameters to build: (name, members)
        self.f_expr = {a.target.name: a.expr for a in self.fwd}
        sub = {}
        # hoisted input products: one stacked array a_in over all steps
        if g is not None:
            pre_name = self.stack_name(g.nodes)
            self.pre_name = pre_name
            in_name = self.fresh(pre_name + "_in")
            self.in_name = in_name
            if len(g.params) > 1:
                self.stacks.append((g.stack, g.params))
            leftovers = [[t for t in self.hoisted[n] if t != x_product(n)] for n in g.nodes]
            biases = [lo[0].name if len(lo) == 1 and isinstance(lo[0], MatrixSymbol) and lo[0].name in self.params
                      and self.sym[lo[0].name].shape[1] == 1 else None for lo in leftovers]
            comment = [self.show.equation_text(n, sum_of(self.hoisted[n])) for n in g.nodes]
            X = self.sym[self.x]
            P = MatrixSymbol(g.stack, g.total, X.shape[0])
            if all(biases):
                bname = self.stack_name(biases)
                if len(biases) > 1:
                    self.stacks.append((bname, biases))
                self.pre_stmts.append(Stmt(in_name, P * X + MatrixSymbol(bname, g.total, 1), comment))
            else:
                self.pre_stmts.append(Stmt(in_name, P * X, comment))
                for n, left, (lo, hi) in zip(g.nodes, leftovers, g.rows):
                    if left:
                        self.pre_stmts.append(Stmt(f"{in_name}[:, {slice_code(lo, hi, g.total)}]", sum_of(left),
                                                   [], "+="))
            for n, (lo, hi) in zip(g.nodes, g.rows):
                s = self.new_symbol(f"__in_{n}", hi - lo, indexed(in_name, slice_code(lo, hi, g.total), "t"), None)
                sub[n] = (sum_of(self.hoisted[n]), s)
        for n, ts in self.hoisted.items():
            if n in sub:
                continue
            name = self.fresh(n + "_in")
            self.pre_stmts.append(Stmt(name, sum_of(ts), [self.show.equation_text(n, sum_of(ts))]))
            sub[n] = (sum_of(ts), self.new_symbol(f"__in_{n}", self.rows(n), f"{name}[t]", name))
        # stacked recurrent products
        mm = {}
        self.mm_group: dict[str, Group] = {}
        self.mm_param: dict[str, str] = {}  # product symbol → its matrix
        for grp in self.groups:
            if len(grp.params) > 1:
                self.stacks.append((grp.stack, grp.params))
            prod = self.fresh(grp.stack + grp.operand.replace(PREV, "").replace("_", ""))
            grp.product = prod
            for p, n, (lo, hi) in zip(grp.params, grp.nodes, grp.rows):
                key = self.sym[p] * self.sym[grp.operand]
                # one symbol per (matrix, operand): M0 h_{t−1} and M0 s_{t−1} are different products
                sym = f"__mm_{p}__{grp.operand}"
                mm[key] = self.new_symbol(sym, hi - lo, indexed(prod, slice_code(lo, hi, grp.total)), None)
                self.mm_group[sym] = grp
                self.mm_param[sym] = p
        self.mm = mm
        self.loop_expr = {}
        for a in self.fwd:
            n = a.target.name
            if n not in self.f_loop:
                continue
            e = a.expr
            if n in sub:
                old, s = sub[n]
                rest = [t for t in terms_of(e) if t not in terms_of(old)]
                e = sum_of([s] + rest)
            self.loop_expr[n] = e.xreplace(mm)

    # ---- backward -------------------------------------------------------------------------------------

    def _backward(self):
        prog = self.prog
        bwd = list(prog.backward)
        self.bwd = bwd
        carry_in = {s.name for s in prog.incoming.values()}
        carry_out = {s.name for s in prog.carries.values()}
        self.carry_in, self.carry_out = carry_in, carry_out
        targets = [a.target.name for a in bwd]
        deps = {a.target.name: symbols_in(a.expr) for a in bwd}
        dep_in = {}
        for a in bwd:
            n = a.target.name
            dep_in[n] = any(d in carry_in or dep_in.get(d, False) for d in deps[n])
        need = set(carry_out)
        for a in reversed(bwd):
            if a.target.name in need:
                need |= deps[a.target.name] & set(targets)
        # a statement reading an incoming carry itself runs per step even off the path to a carry: the carry
        # is not kept per step (∂E/∂s_t of a state that never reads s_{t−1} is ∂E/∂s_t|t+1 alone)
        loop = {n for n in targets if (dep_in[n] and n in need) or n in carry_out or deps[n] & carry_in}
        late = {}
        for a in bwd:
            n = a.target.name
            late[n] = n in loop or any(d in carry_in or late.get(d, False) for d in deps[n])
        self.b_loop = loop
        self.b_pre = {n for n in targets if not late[n]}
        self.b_post = {n for n in targets if late[n] and n not in loop}
        inside = carry_in | loop
        self.b_expr = {a.target.name: a.expr for a in bwd}
        self.b_rule = {a.target.name: a.rule for a in bwd}
        self.b_hoisted = {}
        for a in bwd:
            n = a.target.name
            if n not in loop:
                continue
            ts = terms_of(a.expr)
            out = [t for t in ts if not (symbols_in(t) & inside)]
            if out and len(out) < len(ts):
                self.b_hoisted[n] = out
        # a recurrent product the backward pass needs again (reset-after: V_g h_{t−1}) is kept per step
        for grp in self.groups:
            grp.keep = False
        for a in bwd:
            if a.target.name in loop:
                for key, sym in self.mm.items():
                    if a.expr.has(key):
                        self.mm_group[sym.name].keep = True
        for grp in self.groups:
            if grp.keep:
                for p, (lo, hi) in zip(grp.params, grp.rows):
                    self.extra[f"__mm_{p}__{grp.operand}"] = (indexed(plural(grp.product), slice_code(lo, hi, grp.total), "t"),
                                               None)
        self._backward_groups()

    def _backward_groups(self):
        """Find Pᵀ e_k terms of each forward group in ∂E/∂(operand); give them a stacked buffer."""
        home: dict[str, tuple[str, object, object]] = {}  # adjoint symbol → (buffer, lo, hi)
        self.buffers: list[tuple[str, object]] = []  # (all-steps name, rows)
        # rows to fill in the loop: (buffer, slice, expression or None, source adjoint's name or None)
        self.fills: list[tuple[str, str, object, str | None]] = []
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
        self.bw_groups = [g for g in groups if g.adjoints]
