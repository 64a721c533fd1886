"""The cell's forward program evaluated numerically, straight from its SymPy expressions.

An interpreter over the matrix-expression tree of :func:`derive.program.adjoint_program`'s forward
statements, one step at a time, with no code generation and no printer: the independent evaluation the
generated forward is compared with (docs/codegen.md, "Verification"). Elementwise functions are the
registry's SymPy functions turned into NumPy by ``sympy.lambdify`` (SymPy's own printer, not the
project's), so a mistake in the generated module's runtime or printer cannot hide here.

>>> import numpy as np
>>> from derive import load_cell
>>> ev = Evaluator(load_cell("rnn"))
>>> rng = np.random.default_rng(0)
>>> params = {p.name: rng.uniform(-.5, .5, ev.shape(p.name, D=2, H=3, K=2)) for p in ev.cell.params}
>>> out = ev.forward(params, rng.normal(size=(4, 2, 1)))
>>> out["h"].shape, out["ohat"].shape
((4, 3, 1), (4, 2, 1))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp
from sympy import (HadamardPower, HadamardProduct, MatAdd, MatMul, MatPow, MatrixSymbol, OneMatrix, Transpose,
                   ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.cellfile import Cell
from derive.functions import REGISTRY
from derive.naming import previous
from derive.program import Softmax, adjoint_program

# the registry's NumPy forms for lambdify (independent of the generated runtime), by SymPy class name;
# tanh and exp: SymPy's own
_NUMPY = {name: entry.evaluate for name, entry in REGISTRY.items() if entry.callable and entry.evaluate is not None}


class Evaluator:
    """Evaluate one cell's forward program at given parameters, inputs and initial states.

    Args:
        cell: a parsed :class:`~derive.cellfile.Cell`.
    """

    def __init__(self, cell: Cell):
        self.cell = cell
        self.program = adjoint_program(cell)
        self._fns: dict = {}

    def shape(self, name: str, **sizes: int) -> tuple[int, int]:
        """The numeric shape of a parameter or state for the given dimension sizes."""
        return tuple(sizes.get(d, 1) if d != "1" else 1 for d in self.cell.shape(name))

    def forward(self, params: Mapping[str, np.ndarray], xs: np.ndarray,
                state0: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Every quantity of every step.

        Args:
            params: each parameter, (rows, cols); xs: (T, D, B); state0: initial states by their init
                name (``h0``, ``c0``; zeros where missing).

        Returns:
            name → (T, rows, B) for every state and named quantity (``h``, ``a``, ``ohat``, …).
        """
        cell = self.cell
        T, _, B = xs.shape
        sizes = self._sizes(params, xs)
        prev = {}
        for s in cell.states:
            rows = sizes[s.shape[0]]
            given = (state0 or {}).get(s.init)
            prev[previous(s.name)] = np.zeros((rows, B), xs.dtype) if given is None else given
        out: dict[str, list] = {a.target.name: [] for a in self.program.forward}
        for t in range(T):
            env = {**params, **prev, cell.input.name: xs[t]}
            for a in self.program.forward:
                value = self._eval(a.expr, env, sizes, B)  # a quantity of parameters alone: one column
                env[a.target.name] = np.broadcast_to(value, (value.shape[0], B)).copy()
                out[a.target.name].append(env[a.target.name])
            prev = {previous(s): env[s] for s in cell.state_names}
        return {k: np.stack(v) for k, v in out.items()}

    def loss(self, params, xs, targets, state0=None) -> float:
        """E = Σ_t Σ_b −log ô_t[o_t] (mse: Σ_t Σ_b ½‖ŷ_t − y_t‖²), from the evaluated logits z_t (log-softmax, no log of a rounded ô)."""
        if self.cell.loss == "linear":
            return np.sum(self.forward(params, xs, state0)[self.cell.softmax] * targets)
        if self.cell.loss == "mse":  # E = Σ ½‖ŷ_t − y_t‖², NaN targets contributing nothing
            r = self.forward(params, xs, state0)[self.cell.softmax] - targets
            return 0.5 * np.sum(np.where(np.isnan(targets), 0, r) ** 2)
        zs = self.forward(params, xs, state0)[self.cell.logits]
        shifted = zs - zs.real.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        T, _, B = xs.shape
        return -logp[np.arange(T)[:, None], targets, np.arange(B)[None, :]].sum()

    # ---- the interpreter ------------------------------------------------------------------------------

    def _sizes(self, params, xs) -> dict[str, int]:
        sizes = {self.cell.input.shape[0]: xs.shape[1]}
        for p in self.cell.params:
            for d, n in zip(p.shape, params[p.name].shape):
                sizes[d] = n
        return sizes

    def _eval(self, e, env, sizes, B):
        if isinstance(e, MatrixSymbol):
            return env[e.name]
        if isinstance(e, MatAdd):
            return sum(self._eval(a, env, sizes, B) for a in e.args)
        if isinstance(e, MatMul):
            coeff, mats = e.as_coeff_matrices()
            value = self._eval(mats[0], env, sizes, B)
            for m in mats[1:]:
                value = value @ self._eval(m, env, sizes, B)
            return complex(coeff) * value if not coeff.is_real else float(coeff) * value
        if isinstance(e, HadamardProduct):
            value = self._eval(e.args[0], env, sizes, B)
            for a in e.args[1:]:
                value = value * self._eval(a, env, sizes, B)
            return value
        if isinstance(e, HadamardPower):
            return self._eval(e.base, env, sizes, B) ** float(e.exp)
        if isinstance(e, Transpose):
            return self._eval(e.arg, env, sizes, B).T
        if isinstance(e, MatPow):
            return np.linalg.matrix_power(self._eval(e.base, env, sizes, B), int(e.exp))
        if isinstance(e, (OneMatrix, ZeroMatrix)):
            rows, cols = (int(sp.sympify(n).subs({d: sizes[d.name] for d in sp.sympify(n).free_symbols}))
                          for n in e.shape)
            return (np.ones if isinstance(e, OneMatrix) else np.zeros)((rows, cols))
        if isinstance(e, ElementwiseApplyFunction):
            return self._function(e.function)(self._eval(e.expr, env, sizes, B))
        if isinstance(e, Softmax):
            z = self._eval(e.arg, env, sizes, B)
            w = np.exp(z - z.real.max(axis=0, keepdims=True))
            return w / w.sum(axis=0, keepdims=True)
        if e.is_number:
            return complex(e) if not e.is_real else float(e)
        raise TypeError(f"cannot evaluate {type(e).__name__} in a forward program: {e}")

    def _function(self, lam: sp.Lambda):
        if lam not in self._fns:
            modules = [_NUMPY, "numpy"]
            self._fns[lam] = sp.lambdify(lam.variables, lam.expr, modules=modules)
        return self._fns[lam]
