"""Print a :class:`~derive.codegen.lower.Lowering` as the three functions of the generated module.

``_forward`` (states, gates and the loss over all steps), the full-BPTT and truncated backward loops of
``loss_and_grads``, and the weight gradients as one product over all steps. Every statement is printed
by :class:`~derive.codegen.printer.NumPyCodePrinter` from the derivation's expressions, with the
equation it implements above it (:class:`~derive.codegen.notation.Notation`).
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import sympy as sp
from sympy import HadamardProduct, MatMul, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.cellfile import PREV
from derive.codegen.lower import Group, Lowering, _dim, plural, slice_code, sum_of, symbols_in, terms_of
from derive.codegen.printer import FUNCTIONS, NumPyCodePrinter
from derive.program import Softmax

#: the longest line of a generated module
WIDTH = 100
#: the remark after an equation computed for all steps at once, kept on one line when comments wrap
_EVERY_T = "(every t at once"


class Lines:
    """Source lines with indentation and equation comments."""

    def __init__(self):
        self.out: list[str] = []
        self.depth = 1

    def comment(self, *texts):
        """Comment lines of at most WIDTH characters; a long one continues indented under its start."""
        indent = "    " * self.depth
        for text in texts:
            if text:
                text = text.replace(_EVERY_T, _EVERY_T.replace(" ", "\0"))  # a remark is not broken inside
                self.out.extend(line.replace("\0", " ") for line in textwrap.wrap(
                    text, WIDTH, initial_indent=indent + "# ", subsequent_indent=indent + "#     ",
                    break_long_words=False, break_on_hyphens=False))

    def line(self, text: str, *comments):
        self.comment(*comments)
        self.out.extend(_wrapped_code("    " * self.depth, text))

    def blank(self):
        self.out.append("")


def _wrapped_code(indent: str, text: str) -> list[str]:
    """One statement in lines of at most WIDTH characters: a long assignment's right-hand side is put in
    parentheses, a long call's arguments continue on indented lines; both break at spaces only (the
    printed expressions hold no strings)."""
    if len(indent + text) <= WIDTH or '"' in text or "'" in text:
        return [indent + text]
    for op in (" = ", " += "):
        lhs, found, rhs = text.partition(op)
        if found and "(" not in lhs:
            if _is_call(rhs):
                return _wrapped_call(indent, lhs + op, rhs)
            body = textwrap.wrap(rhs, WIDTH - 1, initial_indent=indent + lhs + op + "(",
                                 subsequent_indent=indent + "    ", break_long_words=False,
                                 break_on_hyphens=False)
            return body[:-1] + [body[-1] + ")"]
    if _is_call(text):
        return _wrapped_call(indent, "", text)
    return [indent + text]


def _is_call(text: str) -> bool:
    """``name(…)`` whose first parenthesis closes at the very end."""
    head, paren, _ = text.partition("(")
    if not paren or not head.replace(".", "").replace("_", "").isalnum() or not text.endswith(")"):
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0 and ch in ")]}":
            return i == len(text) - 1
    return False


def _wrapped_call(indent: str, lhs: str, call: str) -> list[str]:
    """``lhs name(arg, arg, …)`` with the arguments packed on lines indented under ``lhs``."""
    head, _, args = call.partition("(")
    body = textwrap.wrap(args, WIDTH, initial_indent=indent + "    ", subsequent_indent=indent + "    ",
                         break_long_words=False, break_on_hyphens=False)
    return [indent + lhs + head + "(", *body]


@dataclass
class Run:
    """Members of the input group whose loop statement is just (hoisted part + stacked recurrent product):
    one line ``a = a_in[t] + V @ h_prevs[t]`` computes all their pre-activations.

    Attributes:
        group: the recurrent group whose product they read; nodes: the pre-activations, in stacking order.
        lo, hi: their rows in the input group; hlo, hhi: their rows in the recurrent group.
        local: the code name of the run's pre-activations in the loop ("a"); inline: the recurrent product
            is written inside the line (no other statement reads it).
    """

    group: Group
    nodes: list[str]
    lo: object
    hi: object
    hlo: object
    hhi: object
    local: str = ""
    inline: bool = False


@dataclass
class GateBlock:
    """Adjacent members of a run with an elementwise function each (the gates f, i, g, q): their values
    live in one array, in stacking order, computed by one call per stretch of the same function.

    Attributes:
        run: the run they belong to; nodes: the pre-activations (a_f, …); outs: the gates (f, …).
        segments: (function, pre-activations) of each stretch with one function.
        name: the array's code name ("figq"; stored over all steps as "figqs"); keep: stored per step
            (the backward pass reads a gate); slice: the rows of the run's pre-activations it reads.
    """

    run: Run
    nodes: list[str]
    outs: list[str]
    segments: list[tuple[str, list[str]]]
    name: str = ""
    keep: bool = False
    slice: str = ":"
    rows: object = None


class Emitter:
    """Names of every quantity in each context, and the printed statements."""

    def __init__(self, low: Lowering):
        self.low, self.show = low, low.show
        self.cell = low.cell
        self.loop: dict[str, str] = {}  # symbol → code inside the time loop
        self.vec: dict[str, str] = {}  # symbol → code of the all-steps array
        self.views: dict[str, str] = {}  # a gate of a block → its slice of the stored array
        self.stored: set[str] = set()  # loop quantities kept for all steps
        self.runs: list[Run] = []
        self.run_of: dict[str, Run] = {}  # pre-activation → its run
        self.block_of: dict[str, GateBlock] = {}  # gate → its block
        self._names()
        self._runs()
        self._gate_blocks()

    # ---- names ------------------------------------------------------------------------------------------

    def _names(self):
        """Code names in the loop and over all steps; which loop quantities are stored per step."""
        low, cell = self.low, self.cell
        self.loop[low.x], self.vec[low.x] = "xs[t]", "xs"
        for s in low.states:
            for name in (s, s + PREV):
                self.loop[name], self.vec[name] = f"{plural(name)}[t]", plural(name)
        self.vec[low.o] = "o"
        for name, (loop_code, vec_code) in low.extra.items():
            if loop_code:
                self.loop[name] = loop_code
            if vec_code:
                self.vec[name] = vec_code
        # which loop quantities the backward pass, later statements or the loss read
        outside = set()
        for a in (*low.bwd, *low.prog.grads.values()):
            outside |= symbols_in(a.expr)
        for n in low.f_post:
            outside |= low.fdeps[n]
        outside.add(cell.logits)
        self.stored = {n for n in low.f_loop if n in outside} | set(low.states)
        for n in low.nodes:
            if n in low.states:
                continue
            if n in low.f_loop and n not in self.stored:
                self.loop[n] = n
            else:
                self.loop[n], self.vec[n] = f"{plural(n)}[t]", plural(n)

    def _runs(self):
        """Members of the input group whose loop equation is just (hoisted part + stacked product)."""
        low, grp = self.low, self.low.x_group
        if grp is None:
            return
        current = None
        for n, (lo, hi) in zip(grp.nodes, grp.rows):
            ts = terms_of(low.loop_expr[n])
            mm = [t for t in ts if isinstance(t, MatrixSymbol) and t.name in low.mm_group]
            pure = (len(ts) == 2 and len(mm) == 1 and any(t.name == f"__in_{n}" for t in ts
                                                            if isinstance(t, MatrixSymbol))
                    and n not in self.stored)
            if not pure:
                current = None
                continue
            h_grp = low.mm_group[mm[0].name]
            hlo, hhi = h_grp.rows_of(low.mm_param[mm[0].name])
            if current and current.group is h_grp and sp.simplify(current.hhi - hlo) == 0:
                current.nodes.append(n)
                current.hi, current.hhi = hi, hhi
            else:
                current = Run(h_grp, [n], lo, hi, hlo, hhi)
                self.runs.append(current)
        for run in self.runs:
            self._name_run(run)

    def _name_run(self, run: Run):
        low, grp = self.low, self.low.x_group
        for n in run.nodes:
            self.run_of[n] = run
        whole = sp.simplify(run.lo) == 0 and sp.simplify(run.hi - grp.total) == 0
        if len(run.nodes) == 1:
            run.local = run.nodes[0]
        else:
            run.local = low.pre_name if whole else low.fresh(_joined(run.nodes))
        # the product may be written inline only when no other loop statement reads it (V h_{t−1} both in
        # a_g and as a term of h_t needs its name)
        others = [m for m in low.f_loop if m not in run.nodes and m in low.loop_expr and any(
            low.mm_group.get(s.name) is run.group for s in low.loop_expr[m].atoms(MatrixSymbol))]
        run.inline = (sp.simplify(run.hlo) == 0 and sp.simplify(run.hhi - run.group.total) == 0
                      and not others)
        for n in run.nodes:
            lo, hi = self._rows(n)
            self.loop[n] = (run.local if len(run.nodes) == 1 else
                            f"{run.local}[{slice_code(lo - run.lo, hi - run.lo, run.hi - run.lo)}]")

    def _rows(self, n):
        """The rows of pre-activation ``n`` in the input group."""
        grp = self.low.x_group
        return grp.rows_of(grp.params[grp.nodes.index(n)])

    def _gate_blocks(self):
        """Adjacent run members with an elementwise function each become one block (stored gates: one
        array, in stacking order, named views); unstored ones share a call only with the same function."""
        low = self.low
        for run in self.runs:
            stretch: list[str] = []
            for n in [*run.nodes, None]:
                if n is not None and low.fn_of(n) is not None:
                    stretch.append(n)
                    continue
                if len(stretch) >= 2:
                    self._block(run, stretch)
                stretch = []

    def _block(self, run: Run, nodes: list[str]):
        low = self.low
        segments: list[tuple[str, list[str]]] = []
        for n in nodes:
            fn = low.fn_of(n)
            if segments and segments[-1][0] == fn:
                segments[-1][1].append(n)
            else:
                segments.append((fn, [n]))
        outs = [low.consumers[n][0] for n in nodes]
        if not any(o in self.stored for o in outs):  # computed per step only: one call per function
            for fn, members in segments:
                if len(members) >= 2:
                    self._add_block(GateBlock(run, members, [low.consumers[n][0] for n in members],
                                              [(fn, members)]))
            return
        self._add_block(GateBlock(run, nodes, outs, segments, keep=True))

    def _add_block(self, block: GateBlock):
        low = self.low
        block.name = low.fresh(_joined(block.outs))
        lo0, hi0 = self._rows(block.nodes[0])[0], self._rows(block.nodes[-1])[1]
        run = block.run
        block.slice = slice_code(lo0 - run.lo, hi0 - run.lo, run.hi - run.lo)
        block.rows = hi0 - lo0
        for n, o in zip(block.nodes, block.outs):
            lo, hi = self._rows(n)
            sl = slice_code(lo - lo0, hi - lo0, hi0 - lo0)
            if block.keep:
                self.loop[o], self.vec[o] = f"{plural(block.name)}[t, {sl}]", f"{plural(block.name)}[:, {sl}]"
                self.views[o] = self.loop[o]
                self.stored.add(o)
            else:
                self.loop[o] = f"{block.name}[{sl}]"
            self.block_of[o] = block

    def _kept_blocks(self) -> list[GateBlock]:
        return list({id(b): b for b in self.block_of.values() if b.keep}.values())

    def _gate_views(self, block: GateBlock) -> tuple[str, str]:
        """``f, i, g, q = figqs[t, :H], …``: the gates of one block by name, in the cell's order (views of
        the stored array, no copies)."""
        outs = sorted(block.outs, key=self.low.nodes.index)
        return (", ".join(outs) + " = " + ", ".join(self.views[o] for o in outs),
                "the gates by name: views of " + plural(block.name) + "[t], no copies")

    def into(self, target: str, expr, names) -> str:
        """``target[...] = expr`` written in place: the last function or product writes into ``target``
        (``np.tanh(c, out=…)``, ``np.multiply(…, out=…)``), saving a temporary per step."""
        if isinstance(expr, ElementwiseApplyFunction):
            fn = FUNCTIONS[type(expr.function.expr).__name__]
            return f"{fn}({self.code(expr.expr, names)}, out={target})"
        if isinstance(expr, HadamardProduct) and not any(isinstance(a, OneMatrix) for a in expr.args):
            left = expr.args[0] if len(expr.args) == 2 else HadamardProduct(*expr.args[:-1])
            return f"np.multiply({self.code(left, names)}, {self.code(expr.args[-1], names)}, out={target})"
        if "[" not in target:
            target += "[:]"
        return f"{target} = {self.code(expr, names)}"

    def code(self, expr, names) -> str:
        return NumPyCodePrinter(names, steps=names is self.vec).doprint(expr)

    # ---- forward ------------------------------------------------------------------------------------------

    def forward(self) -> tuple[list[str], list[str]]:
        """The body of ``_forward`` and the names of the arrays it returns (the tape)."""
        out, tape = Lines(), []
        self._stacked_parameters(out, tape)
        self._before_loop(out, tape)
        self._allocations(out, tape)
        out.line("for t in range(T):")
        out.depth += 1
        self._loop_body(out)
        out.depth -= 1
        self._after_loop(out, tape)
        self._loss(out)
        return out.out, list(dict.fromkeys(tape))

    def _stacked_parameters(self, out: Lines, tape: list[str]):
        for name, members in self.low.stacks:
            out.line(f"{name} = np.concatenate([{', '.join(members)}])",
                     f"{name} = [{'; '.join(members)}]: the blocks stacked by rows, one product for all")
            tape.append(name)

    def _before_loop(self, out: Lines, tape: list[str]):
        """Quantities of parameters and inputs alone, then the hoisted input products, for all steps."""
        low, show = self.low, self.show
        # quantities of parameters and inputs alone first: hoisted terms may read them (− tanh(v) in a sum)
        for n in sorted(low.f_pre, key=low.nodes.index):
            text = self.code(low.f_expr[n], self.vec)
            if not any(s.name in self.vec for s in low.f_expr[n].atoms(MatrixSymbol)):
                # parameters alone (a constant gate σ(b_f)): the same value at every step and column
                text = f"np.broadcast_to({text}, (T, {_dim(low.rows(n))}, B))"
            out.line(f"{plural(n)} = {text}", show.equation_text(n, low.f_expr[n]) + "   (every t at once)")
            tape.append(plural(n))
        for st in low.pre_stmts:
            eq = [f"{e}   (every t at once: hoisted out of the loop)" if i == 0 else e
                  for i, e in enumerate(st.comment)]
            out.line(f"{st.target} {st.op} {self.code(st.expr, self.vec)}", *eq)
            if st.op == "=":
                tape.append(st.target)

    def _allocations(self, out: Lines, tape: list[str]):
        """Every state over t = 0 … T, and the per-step arrays the backward pass reads."""
        low, show = self.low, self.show
        for s in low.states:
            decl = next(d for d in self.cell.states if d.name == s)
            rows = _dim(low.rows(s))
            out.line(f"{s}_all = np.empty((T + 1, {rows}, B), dtype)",
                     f"{s}_all[t] is {show.value(s)} for t = 0 … T (row 0 is {decl.init})")
            out.line(f"{s}_all[0] = state0[{decl.init!r}]")
            out.line(f"{plural(s)}, {plural(s + PREV)} = {s}_all[1:], {s}_all[:-1]",
                     f"{plural(s)}: rows 1 … T; {plural(s + PREV)}: rows 0 … T−1")
            tape += [plural(s), plural(s + PREV)]
        arrays = [n for n in low.nodes if n in low.f_loop and n in self.stored and n not in low.states
                  and n not in self.block_of]
        allocs = [(plural(n), _dim(low.rows(n))) for n in arrays] + \
                 [(plural(b.name), _dim(b.rows)) for b in self._kept_blocks()] + \
                 [(plural(grp.product), _dim(grp.total)) for grp in low.groups if grp.keep]
        for name, rows in allocs:
            out.line(f"{name} = np.empty((T, {rows}, B), dtype)")
            tape.append(name)

    def _loop_body(self, out: Lines):
        """One forward step: runs of pre-activations, gate blocks, then the other statements in order."""
        low, show = self.low, self.show
        done, products = set(), set()
        for a in low.fwd:
            n = a.target.name
            if n not in low.f_loop or n in done:
                continue
            if n in self.run_of:
                self._run_stmt(out, self.run_of[n], done, products)
            elif n in self.block_of:
                self._block_stmt(out, self.block_of[n], done)
            else:
                expr = low.loop_expr[n]
                self._products(out, expr, products)
                line = (self.into(self.loop[n], expr, self.loop) if n in self.stored
                        else f"{n} = {self.code(expr, self.loop)}")
                out.line(line, show.equation_text(n, low.f_expr[n]))
                done.add(n)

    def _block_stmt(self, out: Lines, block: GateBlock, done: set[str]):
        """The gates of a block: one call per function stretch, then their names."""
        low, show = self.low, self.show
        src = block.run.local
        lo0 = self._rows(block.nodes[0])[0]
        whole = block.segments[0][1] == block.nodes
        for fn, members in block.segments:
            lo, hi = self._rows(members[0])[0], self._rows(members[-1])[1]
            rows = slice_code(lo - block.run.lo, hi - block.run.lo, block.run.hi - block.run.lo)
            arg = src if rows == ":" else f"{src}[{rows}]"
            outs = [low.consumers[n][0] for n in members]
            comments = [show.equation_text(o, low.f_expr[o]) for o in outs]
            if not block.keep:
                out.line(f"{block.name} = {FUNCTIONS[fn]}({arg})", *comments)
                continue
            own = slice_code(lo - lo0, hi - lo0, block.rows)
            target = f"{plural(block.name)}[t]" if whole else f"{plural(block.name)}[t, {own}]"
            out.line(f"{FUNCTIONS[fn]}({arg}, out={target})", *comments)
        done.update(block.outs)
        if block.keep:
            out.line(*self._gate_views(block))
            self.loop.update({o: o for o in block.outs})

    def _after_loop(self, out: Lines, tape: list[str]):
        """Statements that read the loop's results only (z_t, ô_t), for all steps at once."""
        low, show = self.low, self.show
        for n in sorted(low.f_post, key=low.nodes.index):
            e = low.f_expr[n]
            if isinstance(e, Softmax):
                z = plural(e.arg.name)
                out.line(f"log_{plural(n)} = _log_softmax({z})", f"log {show.value(n)} = log softmax(z_t), every t")
                out.line(f"{plural(n)} = np.exp(log_{plural(n)})", show.equation_text(n, e))
            else:
                out.line(f"{plural(n)} = {self.code(e, self.vec)}", show.equation_text(n, e) + "   (every t at once)")
            tape.append(plural(n))

    def _loss(self, out: Lines):
        prediction = plural(self.cell.softmax)
        if self.cell.loss == "linear":  # o holds the upstream gradients g_t: E = Σ_t g_tᵀ ŷ_t
            out.line(f"E = np.sum(o * {prediction})", "E = Σ_t g_tᵀ ŷ_t  (upstream gradients g_t)")
        elif self.cell.loss == "mse":  # o holds the real targets y_t; a NaN entry is no term (masked)
            r = f"np.where(np.isnan(o), 0, {prediction} - o)"
            out.line(f"E = 0.5 * np.sum({r} ** 2)",
                     "E = Σ_t E_t,  E_t = ½‖ŷ_t − y_t‖²  (summed over the batch; NaN targets masked)")
        else:
            logp = (f"log_{prediction}" if self.cell.softmax in self.low.f_post
                    else f"_log_softmax({plural(self.cell.logits)})")
            out.line(f"E = -np.sum(o * {logp})", "E = Σ_t E_t,  E_t = −o_t · log ô_t  (summed over the batch)")

    def _products(self, out, expr, products):
        for s in expr.atoms(MatrixSymbol):
            grp = self.low.mm_group.get(s.name)
            if grp is not None and grp.product not in products:
                self._product(out, grp)
                products.add(grp.product)

    def _product(self, out, grp):
        """The stacked recurrent product of one step (kept for the backward pass when it needs it)."""
        what = f"{grp.stack} {self.show.value(grp.operand)} for {', '.join(grp.params)} at once"
        if grp.keep:
            out.line(f"np.matmul({grp.stack}, {self.loop[grp.operand]}, out={plural(grp.product)}[t])",
                     what + " (kept: the backward pass reads it)")
        else:
            out.line(f"{grp.product} = {grp.stack} @ {self.loop[grp.operand]}", what)

    def _run_stmt(self, out, run: Run, done, products):
        low, grp, h_grp = self.low, self.low.x_group, run.group
        xs_slice = slice_code(run.lo, run.hi, grp.total)
        left = f"{low.in_name}[t]" if xs_slice == ":" else f"{low.in_name}[t, {xs_slice}]"
        if run.inline and not h_grp.keep:
            right = f"{h_grp.stack} @ {self.loop[h_grp.operand]}"
            products.add(h_grp.product)
        else:
            if h_grp.product not in products:
                self._product(out, h_grp)
                products.add(h_grp.product)
            prod = f"{plural(h_grp.product)}[t]" if h_grp.keep else h_grp.product
            sl = slice_code(run.hlo, run.hhi, h_grp.total)
            right = prod if sl == ":" else (f"{plural(h_grp.product)}[t, {sl}]" if h_grp.keep else f"{prod}[{sl}]")
        out.line(f"{run.local} = {left} + {right}",
                 *[self.show.equation_text(n, low.f_expr[n]) for n in run.nodes])
        done.update(run.nodes)


def adjoint_primal(adjoint: str, symbols) -> str | None:
    """The quantity whose adjoint ``adjoint`` is (the program's naming: ∂E/∂n is ``d<n>``), or None."""
    primal = adjoint[1:]
    return primal if adjoint.startswith("d") and primal in symbols else None


def _ranges(lines: list[int]) -> str:
    """[26, 27, 28, 29, 32] → "26-29,32"."""
    out, start = [], None
    for i, n in enumerate(lines):
        start = n if start is None else start
        if i + 1 == len(lines) or lines[i + 1] != n + 1:
            out.append(str(n) if n == start else f"{start}-{n}")
            start = None
    return ",".join(out)


def _joined(names: list[str]) -> str:
    """f, i, q → "fiq"; a_r, a_u → "a_ru"; f_1, i_1 → "fi_1": the name of a stack of quantities."""
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]
    if suffix.startswith("_") and all(len(n) == len(suffix) + 1 for n in names):  # f_1, i_1 → fi_1
        return "".join(n[0] for n in names) + suffix
    prefix = os.path.commonprefix(names)
    if "_" in prefix:
        prefix = prefix[:prefix.rindex("_") + 1]
        suffixes = [n[len(prefix):] for n in names]
        if all(suffixes):
            return prefix + "".join(suffixes)
    if all(len(n) == 1 for n in names):
        return "".join(names)
    return "_".join(names)


class BackwardEmitter(Emitter):
    """The backward pass: hoisted loss terms, the δ recursion (one step function, called by the full and
    the truncated loop), then the gradients. :meth:`backward` sets the names below before printing."""

    hoisted_name: dict[str, str]  #: loop adjoint → the all-steps array of its part from E_t ("dh_in")
    b_stored: set[str]  #: loop adjoints kept for all steps outside a stacked buffer (Jordan: ∂E/∂z_t)
    loop_stmts: list[list]  #: the step's statements: [target, expression, Assign or None (a shared product)]
    post_expr: dict[str, object]  #: statements after the loop, with stacked Pᵀ e terms replaced
    grad_code: dict[str, str]  #: parameter → the code of its gradient in the grads dict

    def backward(self) -> list[str]:
        """The body of ``loss_and_grads`` after the forward pass: E_t's own terms for all steps, the
        step function, the full and truncated loops that call it, then ∂E/∂x_t and the gradients."""
        low, out, show = self.low, Lines(), self.show
        self._backward_names()
        for n in [a.target.name for a in low.bwd if a.target.name in low.b_pre]:
            e = low.b_expr[n]
            text = self.code(e, self.vec)
            if isinstance(e, ZeroMatrix):  # contributions cancel (v − v): a zero for every step
                text = f"np.zeros((T, {_dim(low.sym[n].shape[0])}, B), dtype)"
            out.line(f"{plural(n)} = {text}", self._cited(n, show.equation(_A(n, e))) + "   (every t at once)")
        for n, ts in low.b_hoisted.items():
            name = self.hoisted_name[n]
            out.line(f"{name} = {self.code(sum_of(ts), self.vec)}",
                     f"{show.expr(sum_of(ts))}: the part of {show.name(n)} from E_t itself, every t at once")
        out.blank()
        self._step_function(out)
        out.blank()
        out.line("if truncate is None or truncate >= T:")
        out.depth += 1
        self._full(out)
        out.depth -= 1
        out.line("else:")
        out.depth += 1
        self._truncated(out)
        out.depth -= 1
        for n in [a.target.name for a in low.bwd if a.target.name in low.b_post]:
            e = self.post_expr[n]
            text = self.code(e, self.vec)
            if isinstance(e, ZeroMatrix):  # x's contributions cancel (v − v): a zero for every step
                text = f"np.zeros((T, {_dim(low.sym[n].shape[0])}, B), dtype)"
            out.line(f"{plural(n)} = {text}",
                     self._cited(n, show.equation(_A(n, low.b_expr[n]))) + "   (every t at once)")
        self._grads(out)
        return out.out

    def _cited(self, adjoint: str, text: str) -> str:
        """``lstm.cell:31  text``: an adjoint's equation under the cell-file lines that read its quantity
        (∂E/∂q_t comes from h = q * tanh(C)); ``text`` alone when no line of the file does."""
        return self._at_lines([adjoint_primal(adjoint, self.low.sym)], text)

    def _at_lines(self, quantities, text: str) -> str:
        """``text`` after the cell-file lines of the statements that read any of ``quantities``."""
        low = self.low
        readers = [m for m in low.nodes if low.fdeps[m] & {q for q in quantities if q}]
        lines = low.cell_lines(readers)
        return f"{Path(self.cell.path).name}:{_ranges(lines)}  {text}" if lines else text

    # ---- names ----------------------------------------------------------------------------------------

    def _backward_names(self):
        low = self.low
        self.hoisted_name = {n: low.fresh(n + "_in") for n in low.b_hoisted}
        # adjoints the gradients or the post-loop statements read: kept for all steps
        outside = set()
        for a in low.prog.grads.values():
            outside |= symbols_in(a.expr)
        for n in low.b_post:
            outside |= symbols_in(low.b_expr[n])
        for grp in low.bw_groups:
            for e in grp.adjoints:
                outside -= symbols_in(e) & set(low.home)
        self.b_stored = {n for n in low.b_loop if n in outside and n not in low.home and n not in low.carry_out}
        for n in self.b_stored:
            self.vec[n] = plural(n)
        for n in low.b_pre:
            self.loop[n], self.vec[n] = f"{plural(n)}[t]", plural(n)
        for n in low.b_post:
            self.vec[n] = plural(n)
        for n, (buf, lo, hi) in low.home.items():
            total = dict(low.buffers)[buf]
            sl = slice_code(lo, hi, total)
            self.loop[n] = buf if sl == ":" else f"{buf}[{sl}]"
            self.vec[n] = plural(buf) if sl == ":" else f"{plural(buf)}[:, {sl}]"
        # the loop statements, rewritten: hoisted terms, stacked Vᵀ[δ…] products, repeated products named
        self.loop_stmts = []
        kept = {k: v for k, v in low.mm.items() if low.mm_group[v.name].keep}
        for a in low.bwd:
            n = a.target.name
            if n not in low.b_loop:
                continue
            e = a.expr.xreplace(kept)
            ts = terms_of(e)
            if n in low.b_hoisted:
                ts = [t for t in ts if t not in low.b_hoisted[n]] + [MatrixSymbol(f"__bin_{n}", *a.target.shape)]
            for grp in low.bw_groups:
                if n == "d" + grp.operand:  # the group's terms as they read after the kept products' renaming
                    gterms = [t.xreplace(kept) for t in grp.terms]
                    ts = [t for t in ts if t not in gterms] + [MatrixSymbol(f"__bw_{grp.operand}", *a.target.shape)]
            self.loop_stmts.append([n, sum_of(ts), a])
        self.post_expr = {}
        for n in low.b_post:
            ts = terms_of(low.b_expr[n])
            for grp in low.bw_groups:
                if n == "d" + grp.operand:
                    ts = [t for t in ts if t not in grp.terms] + [MatrixSymbol(f"__bw_{grp.operand}", 1, 1)]
            self.post_expr[n] = sum_of(ts)
        for grp in low.bw_groups:
            total = dict(low.buffers)[grp.buffer]
            sl = slice_code(grp.buffer_rows[0], grp.buffer_rows[1], total)
            self.loop[f"__bw_{grp.operand}"] = f"{grp.stack}.T @ {grp.buffer if sl == ':' else f'{grp.buffer}[{sl}]'}"
            rows = plural(grp.buffer) if sl == ":" else f"{plural(grp.buffer)}[:, {sl}]"
            self.vec[f"__bw_{grp.operand}"] = f"_each_step({grp.stack}.T, {rows})"
        self._cse()

    def _cse(self):
        """A product that two loop statements share (GRU: V_gᵀ δ_g,t) is computed once."""
        counts: dict = {}
        for n, e, _ in self.loop_stmts:
            for sub in sp.preorder_traversal(e):
                if isinstance(sub, MatMul) and len(sub.as_coeff_matrices()[1]) >= 2 \
                        and not any(isinstance(m, OneMatrix) for m in sub.args):
                    counts[sub] = counts.get(sub, 0) + 1
        for sub, k in counts.items():
            if k < 2:
                continue
            first = next((i for i, (_, e, _) in enumerate(self.loop_stmts) if e.has(sub)), None)
            if first is None:  # inside a larger shared product already named
                continue
            mats = sub.as_coeff_matrices()[1]
            label = "".join(m.arg.name + "T" if isinstance(m, Transpose) else getattr(m, "name", "m")
                            for m in mats[:1]) + "_" + "_".join(getattr(m, "name", "y") for m in mats[1:])
            name = self.low.fresh(label)
            sym = MatrixSymbol(name, *sub.shape)
            self.loop[name] = name
            for item in self.loop_stmts:
                item[1] = item[1].xreplace({sub: sym})
            self.loop_stmts.insert(first, [name, sub, None])

    # ---- the loop ---------------------------------------------------------------------------------------

    # ---- the step and the loops that call it ------------------------------------------------------------

    def _carries(self) -> list[tuple[str, str, str]]:
        """(∂E/∂s_t|t+1, ∂E/∂s_{t−1}, s) of every state."""
        prog = self.low.prog
        return [(prog.incoming[s].name, prog.carries[s].name, s) for s in self.low.states]

    def _step_parameters(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """The step function's arguments: (carried in, E_t's own parts, buffers, stored adjoints)."""
        carried = [c for c, _, _ in self._carries()]
        own = [self.hoisted_name[n] + "_t" for n in self.hoisted_name]
        buffers = [buf for buf, _ in self.low.buffers]
        return carried, own, buffers, sorted(self.b_stored)

    def _step_function(self, out: Lines):
        """``def backward_step(t, …)``: one step of the δ recursion, the one body both loops call."""
        low, show = self.low, self.show
        carried, own, buffers, stored = self._step_parameters()
        carries = self._carries()
        out.line(f"def backward_step({', '.join(['t', *carried, *own, *buffers, *stored])}):")
        out.depth += 1
        into = [*buffers, *stored]
        doc = (f'"""One step back through the cell at step t: from {", ".join(show.name(c) for c in carried)}'
               + (f" and E_t's own part{'s' if len(own) > 1 else ''} {', '.join(own)} (0 where E_t is"
                  " not counted)" if own else "")
               + (f", the step's adjoints into {', '.join(into)}" if into else "")
               + f"; returns {', '.join(show.name(c) for _, c, _ in carries)}.")
        out.out.extend(textwrap.wrap(doc, WIDTH, initial_indent="    " * out.depth,
                                     subsequent_indent="    " * out.depth, break_long_words=False,
                                     break_on_hyphens=False))
        out.out[-1] += '"""'
        names = dict(self.loop)
        for n, param in zip(self.hoisted_name, own):
            names[f"__bin_{n}"] = param
        for n in stored:
            names[n] = n
        read = set().union(*(symbols_in(e) for _, e, _ in self.loop_stmts)) if self.loop_stmts else set()
        for block in self._kept_blocks():
            if read & set(block.outs):
                out.line(*self._gate_views(block))
                names.update({o: o for o in block.outs})
        fills = list(low.fills)
        for n, e, a in self.loop_stmts:
            if a is not None and n in low.carry_out:
                self._fills(out, fills, names)
            if a is None:
                out.line(f"{n} = {self.code(e, names)}", f"{show.expr(e)}, used twice below")
                continue
            if isinstance(e, ZeroMatrix):
                line = f"{n} = np.zeros_like({carries[0][0]})"
            elif n in low.home or n in self.b_stored:
                line = self.into(names[n], e, names)  # straight into the caller's array, no temporary
            else:
                line = f"{n} = {self.code(e, names)}"
            out.line(line, self._cited(n, show.equation(a)))
        self._fills(out, fills, names)
        out.line(f"return {', '.join(c for _, c, _ in carries)}")
        out.depth -= 1

    def _call(self, own_args: list[str], into_args: list[str]) -> str:
        """``dh_next, dC_next = backward_step(t, dh_next, dC_next, …)``."""
        carried, _, _, _ = self._step_parameters()
        return (f"{', '.join(carried)} = backward_step({', '.join(['t', *carried, *own_args, *into_args])})")

    def _zero_carries(self, out: Lines, after: str):
        low, show = self.low, self.show
        carries = self._carries()
        for cin, _, s in carries:
            out.line(f"{cin} = np.zeros(({_dim(low.rows(s))}, B), dtype)",
                     f"{show.name(cin)}: nothing comes from after step {after}" if cin == carries[0][0] else "")

    def _allocate(self, out: Lines, alloc: str):
        low = self.low
        for i, (buf, rows) in enumerate(low.buffers):
            # laid out (rows, T, B) in memory: the sums over all steps below read it without a copy
            out.line(f"{plural(buf)} = {alloc}(({_dim(rows)}, T, B), dtype).transpose(1, 0, 2)",
                     "" if i or alloc != "np.empty" else "laid out (rows, T, B): the sums over all steps "
                                                         "read them without a copy")
        for n in sorted(self.b_stored):
            out.line(f"{plural(n)} = {alloc}((T, {self._stored_rows(n)}, B), dtype)")

    def _stored_rows(self, n: str) -> str:
        low = self.low
        primal = adjoint_primal(n, low.sym)
        return _dim(low.rows(primal) if primal else low.sym[n].shape[0])

    def _full(self, out: Lines):
        """Full BPTT: one pass from step T back to step 1; every E_t enters at its own step."""
        init = {s.name: s.init for s in self.cell.states}
        carries = self._carries()
        self._allocate(out, "np.empty")
        self._zero_carries(out, "T")
        out.line("for t in reversed(range(T)):")
        own = [f"{self.hoisted_name[n]}[t]" for n in self.hoisted_name]
        into = [f"{plural(name)}[t]" for name in [*(buf for buf, _ in self.low.buffers), *sorted(self.b_stored)]]
        out.depth += 1
        out.line(self._call(own, into))
        out.depth -= 1
        out.line(f"{', '.join('d' + init[s] for _, _, s in carries)} = {', '.join(c for c, _, _ in carries)}",
                 "∂E/∂(initial states)")

    def _truncated(self, out: Lines):
        """Truncated BPTT: one window per E_t, back over k steps at most, the same step function."""
        low = self.low
        init = {s.name: s.init for s in self.cell.states}
        carries = self._carries()
        out.comment("truncated BPTT: E_t (step t_in) reaches back to step t_in − k + 1 only (docs/models.md)")
        self._allocate(out, "np.zeros")
        for _, _, s in carries:
            out.line(f"d{init[s]} = np.zeros(({_dim(low.rows(s))}, B), dtype)")
        out.line("for t_in in range(T):")
        out.depth += 1
        self._zero_carries(out, "t_in")
        out.line("for t in range(t_in, max(t_in - truncate, -1), -1):")
        out.depth += 1
        for buf, rows in low.buffers:
            out.line(f"{buf} = np.empty(({_dim(rows)}, B), dtype)")
        for n in sorted(self.b_stored):
            out.line(f"{n} = np.empty(({self._stored_rows(n)}, B), dtype)")
        own = [self.hoisted_name[n] + "_t" for n in self.hoisted_name]
        for name, param in zip(self.hoisted_name.values(), own):
            out.line(f"{param} = {name}[t] if t == t_in else 0", "E_t enters at its own step t_in only"
                     if param == own[0] else "")
        into = [buf for buf, _ in low.buffers] + sorted(self.b_stored)
        out.line(self._call(own, into))
        for name in into:
            out.line(f"{plural(name)}[t] += {name}")
        out.depth -= 1
        out.line("if t_in < truncate:", "the window reached step 1: what is carried is ∂E/∂(initial state)")
        for cin, _, s in carries:
            out.line(f"    d{init[s]} = d{init[s]} + {cin}")
        out.depth -= 1

    def _fills(self, out, fills, names):
        for buf, sl, e, src in list(fills):
            value = self.code(e, names) if e is not None else names.get(src, src)
            shown = self.show.expr(e) if e is not None else self.show.name(src)
            out.line(f"{buf}[{sl}] = {value}", f"{shown} into the stacked rows of {buf}")
            fills.remove((buf, sl, e, src))

    # ---- gradients ------------------------------------------------------------------------------------

    def _grads(self, out: Lines):
        low, show = self.low, self.show
        stacked = {}
        for grp in low.bw_groups:
            total = dict(low.buffers)[grp.buffer]
            sl = slice_code(grp.buffer_rows[0], grp.buffer_rows[1], total)
            e = plural(grp.buffer) if sl == ":" else f"{plural(grp.buffer)}[:, {sl}]"
            name = "d" + grp.stack
            if name in stacked.values():  # the same matrix in two groups (M0 s1_{t−1} and M0 s2_{t−1})
                name = low.fresh(f"{name}_{grp.operand.replace(PREV, '')}")
            out.line(f"{name} = _accumulate({e}, {self.vec[grp.operand]})",
                     self._at_lines(grp.params, f"∂E/∂{grp.stack} = Σ_t [{'; '.join(show.expr(a) for a in grp.adjoints)}] "
                                       f"{show.value(grp.operand)}ᵀ: one product over all steps"))
            for p, (lo, hi), adj in zip(grp.params, grp.rows, grp.adjoints):
                sl = slice_code(lo, hi, grp.total)
                stacked[(p, grp.operand, adj)] = name if sl == ":" else f"{name}[{sl}]"
        self.grad_code = {}
        for p, a in low.prog.grads.items():
            if isinstance(a.expr, ZeroMatrix):  # its contributions cancel in the cell's equations
                out.line(f"d{p} = np.zeros_like({p})", f"∂E/∂{p} = 0: {p} does not affect E")
                self.grad_code[p] = f"d{p}"
                continue
            parts = []
            for t in terms_of(a.expr):
                if isinstance(t, MatMul) and len(t.args) == 2 and isinstance(t.args[1], Transpose):
                    left, right = t.args[0], t.args[1].arg
                    key = (p, getattr(right, "name", None), left)
                    if key in stacked:
                        parts.append(stacked[key])
                    elif not any(a.name in self.vec for a in right.atoms(MatrixSymbol)):
                        # y of parameters alone (M @ v): Σ_t Σ_b e_t yᵀ = (Σ_t Σ_b e_t) yᵀ
                        parts.append(f"_sum_steps({self.code(left, self.vec)}) @ "
                                     f"{self.code(Transpose(right), self.vec)}")
                    else:
                        parts.append(f"_accumulate({self.code(left, self.vec)}, {self.code(right, self.vec)})")
                else:
                    parts.append(f"_sum_steps({self.code(t, self.vec)})")
            code = " + ".join(parts)
            if len(parts) > 1 or parts[0] not in stacked.values():
                out.line(f"d{p} = {code}", self._at_lines([p], show.equation(a)))
                self.grad_code[p] = f"d{p}"
            else:
                self.grad_code[p] = code


class _A:
    """A stand-in Assign for display."""

    def __init__(self, name, expr, op="=", batch_sum=False):
        self.target, self.expr, self.op, self.batch_sum = MatrixSymbol(name, 1, 1), expr, op, batch_sum
