"""In-memory ``loss`` / ``loss_and_grads`` of a cell by ``sympy.lambdify``, for notebooks (no file written).

Every statement of the adjoint program (:func:`derive.program.adjoint_program`: forward, backward,
gradients) becomes one NumPy function by ``sympy.lambdify`` with the project's printer
(:class:`~derive.codegen.printer.NumPyCodePrinter`); a short driver runs them over the steps — forward for
t = 1 … T, backward for t = T … 1 — as the design card describes. The written module
(:func:`derive.codegen.generate`) is the fast path (hoisted, stacked, vectorised); this one is the plain
reading of the same program, and the two agree to rounding (tests/test_derive_lambdify.py).

>>> import numpy as np
>>> from derive import lambdify
>>> f = lambdify("rnn")
>>> rng = np.random.default_rng(0)
>>> params = {k: rng.uniform(-.5, .5, s) for k, s in f.param_shapes(D=2, H=3, K=2).items()}
>>> E, grads = f.loss_and_grads(params, rng.normal(size=(4, 2, 1)), rng.integers(0, 2, (4, 1)))
>>> sorted(grads)
['U', 'V', 'W', 'b', 'c', 'h0', 'xs']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from derive.cellfile import Cell, load
from derive.codegen.printer import NumPyCodePrinter
from derive.codegen.runtime import RUNTIME
from derive.functions import REGISTRY, helpers
from derive.naming import adjoint, carried, incoming, previous
from derive.program import adjoint_program


def _runtime() -> dict:
    """σ, relu, its step, softmax: the same helpers the written module carries (derive/codegen/runtime.py)."""
    namespace = {"np": np}
    exec(compile(RUNTIME + helpers(REGISTRY), "<bptt runtime>", "exec"), namespace)
    return {k: namespace[k] for k in ("np", "_softmax", "_log_softmax",
                                      *(e.numpy for e in REGISTRY.values() if not e.numpy.startswith("np.")))}


@dataclass
class _Statement:
    """One lambdified statement: ``target = fn(*args)``; ``fn`` None means zeros of ``rows`` rows."""

    target: str
    args: tuple[str, ...]
    fn: object
    batch_sum: bool = False
    rows: str = ""


def _lambdified(assign, modules) -> _Statement:
    if isinstance(assign.expr, sp.ZeroMatrix):  # an adjoint whose contributions cancel: zero
        return _Statement(assign.target.name, (), None, rows=str(assign.target.shape[0]))
    symbols = sorted(assign.expr.atoms(MatrixSymbol), key=lambda s: s.name)
    fn = sp.lambdify(symbols, assign.expr, modules=modules, printer=NumPyCodePrinter())
    return _Statement(assign.target.name, tuple(s.name for s in symbols), fn, assign.batch_sum)


@dataclass
class Lambdified:
    """A cell's ``loss`` and ``loss_and_grads`` built in memory (same contract as the written module)."""

    cell: Cell
    forward: list[_Statement] = field(default_factory=list)
    backward: list[_Statement] = field(default_factory=list)
    grads: dict[str, _Statement] = field(default_factory=dict)  # parameter → its gradient's statement
    runtime: dict = field(default_factory=_runtime, repr=False)

    def param_shapes(self, **sizes: int) -> dict[str, tuple[int, int]]:
        """Every parameter's shape for the given dimension sizes (``D=3, H=4, K=5``)."""
        dims = {**sizes, "1": 1}
        return {p.name: (dims[p.shape[0]], dims[p.shape[1]]) for p in self.cell.params}

    # ---- the driver ------------------------------------------------------------------------------------

    def _sizes(self, params, xs):
        sizes = {self.cell.input.shape[0]: xs.shape[1], "1": 1}
        for p in self.cell.params:
            sizes.update(zip(p.shape, params[p.name].shape))
        return sizes

    def _run(self, statements, env):
        for st in statements:
            env[st.target] = self._value(st, env)

    @staticmethod
    def _value(st, env):
        if st.fn is None:
            return np.zeros((env["__sizes"][st.rows], env["__B"]), env["__dtype"])
        return st.fn(*(env[a] for a in st.args))

    def _forward(self, params, xs, state0):
        cell = self.cell
        T, _, B = xs.shape
        sizes = self._sizes(params, xs)
        dtype = np.result_type(xs, *params.values(), *[v for v in state0.values() if v is not None])
        prev = {}
        for s in cell.states:
            given = state0.get(s.init)
            prev[s.name] = np.zeros((sizes[s.shape[0]], B), dtype) if given is None else given
        tape = []
        for t in range(T):
            env = {**params, cell.input.name: xs[t], "__sizes": {str(k): v for k, v in sizes.items()},
                   "__B": B, "__dtype": dtype}
            env.update({previous(s): v for s, v in prev.items()})
            self._run(self.forward, env)
            tape.append(env)
            prev = {s: env[s] for s in cell.state_names}
        return tape, sizes, dtype

    def loss(self, params, xs, targets, h0=None, **state0):
        """E = Σ_t Σ_b −log ô_t[o_t] (see the written module's ``loss``)."""
        tape, _, _ = self._forward(params, xs, {"h0": h0, **state0})
        B = xs.shape[2]
        return -sum(self.runtime["_log_softmax"](env[self.cell.logits])[targets[t], np.arange(B)].sum()
                    for t, env in enumerate(tape))

    def loss_and_grads(self, params, xs, targets, h0=None, truncate=None, **state0):
        """E and ∂E/∂(every parameter, xs, initial states); ``truncate=k`` as in docs/models.md.

        Truncated: each E_t's window t … t − k + 1 is a backward pass of its own, and at the window's
        other steps the target is set to the prediction, so that ô − o (E_u's own term) vanishes there.
        """
        cell = self.cell
        state0 = {"h0": h0, **state0}
        tape, sizes, dtype = self._forward(params, xs, state0)
        T, _, B = xs.shape
        K = sizes[cell.target.shape[0]]
        onehots = []
        for t in range(T):
            o = np.zeros((K, B), dtype)
            o[targets[t], np.arange(B)] = 1
            onehots.append(o)
        E = -sum(self.runtime["_log_softmax"](env[cell.logits])[targets[t], np.arange(B)].sum()
                 for t, env in enumerate(tape))
        grads = {p.name: np.zeros_like(params[p.name]) for p in cell.params}
        dxs = np.zeros_like(xs)
        d0 = {s.init: np.zeros((sizes[s.shape[0]], B), dtype) for s in cell.states}
        windows = [(T - 1, 0)] if truncate is None or truncate >= T else \
            [(t_in, max(0, t_in - truncate + 1)) for t_in in range(T)]
        for t_in, start in windows:
            carry = {s: np.zeros((sizes[d.shape[0]], B), dtype) for s, d in zip(cell.state_names, cell.states)}
            for t in range(t_in, start - 1, -1):
                env = dict(tape[t])
                loss_here = truncate is None or truncate >= T or t == t_in
                env[cell.target.name] = onehots[t] if loss_here else env[cell.softmax]
                env.update({incoming(s): v for s, v in carry.items()})
                self._run(self.backward, env)
                for p, st in self.grads.items():
                    if st.fn is not None:
                        g = st.fn(*(env[a] for a in st.args))
                        grads[p] += g.sum(axis=1, keepdims=True) if st.batch_sum else g
                dxs[t] += env[adjoint(cell.input.name)]
                carry = {s: env[carried(s)] for s in cell.state_names}
            if start == 0:
                for s in cell.states:
                    d0[s.init] += carry[s.name]
        out = dict(grads)
        out["xs"] = dxs
        out.update(d0)
        return E, out


def lambdify(spec: str | Cell, bias: bool = True) -> Lambdified:
    """``loss`` and ``loss_and_grads`` of a built-in cell, a ``.cell`` file or a parsed cell, in memory.

    Args:
        spec: "rnn", "lstm", … or a path to a ``.cell`` file, or a :class:`~derive.cellfile.Cell`.
        bias: False drops every parameter declared ``bias``.

    Returns:
        :class:`Lambdified`; its functions take the written module's arguments
        (``params, xs, targets, h0=None, truncate=None, **state0``) and return the same values.
    """
    cell = spec if isinstance(spec, Cell) else load(spec, bias=bias)
    prog = adjoint_program(cell)
    runtime = _runtime()
    modules = [runtime, "numpy"]
    return Lambdified(cell, forward=[_lambdified(a, modules) for a in prog.forward],
                      backward=[_lambdified(a, modules) for a in prog.backward],
                      grads={p: _lambdified(a, modules) for p, a in prog.grads.items()}, runtime=runtime)
