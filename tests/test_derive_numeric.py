"""The derived adjoint program, run in NumPy, against the hand-written models of numeric.models.

Two independent derivations of the same gradients (DESIGN.md §5): SymPy's program evaluated
here with a 40-line NumPy interpreter, and numeric's hand-written BPTT. Also checks the batch
semantics of ``Assign.batch_sum`` and the truncated-BPTT definition of docs/models.md.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from sympy import HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import adjoint_program, load_cell
from derive.program import NEXT, Softmax

models = pytest.importorskip("numeric.models", reason="numeric.models not available")

CELLS = ("rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after")
_FN = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.maximum(v, 0),
       "exp": np.exp, "Heaviside": lambda v: (v > 0).astype(float)}


def evaluate(e, env, dims):
    """A MatrixExpr of the program on NumPy arrays (batch along the columns)."""
    ev = functools.partial(evaluate, env=env, dims=dims)
    if isinstance(e, MatrixSymbol):
        return env[e.name]
    if e.is_Number:
        return float(e)
    if isinstance(e, (OneMatrix, ZeroMatrix)):
        shape = tuple(int(sp.sympify(s).subs(dims)) for s in e.shape)
        return np.ones(shape) if isinstance(e, OneMatrix) else np.zeros(shape)
    if isinstance(e, MatAdd):
        return sum(ev(a) for a in e.args)
    if isinstance(e, MatMul):
        vals = [ev(a) for a in e.args]
        return functools.reduce(lambda a, b: a * b if np.isscalar(a) or np.isscalar(b) else a @ b, vals)
    if isinstance(e, Transpose):
        return ev(e.arg).T
    if isinstance(e, HadamardProduct):
        return functools.reduce(np.multiply, [ev(a) for a in e.args])
    if isinstance(e, HadamardPower):
        return ev(e.base) ** int(e.exp)
    if isinstance(e, ElementwiseApplyFunction):
        return _FN[type(e.function.expr).__name__](ev(e.expr))
    if isinstance(e, Softmax):
        z = ev(e.arg)
        ez = np.exp(z - z.max(axis=0))
        return ez / ez.sum(axis=0)
    raise TypeError(type(e).__name__)


def run_program(cell, params, xs, targets, state0, truncate=None):
    """E and gradients from the adjoint program: forward, then t = T … 1 (or per loss term)."""
    prog = adjoint_program(cell)
    T, _, B = xs.shape
    K = params["W"].shape[0]
    dims = {sp.Symbol(d, integer=True, positive=True): 0 for d in cell.dims}
    dims = {s: {"D": xs.shape[1], "H": params["W"].shape[1], "K": K}[s.name] for s in dims}
    envs, prev, E = [], {s.name: state0[s.init] for s in cell.states}, 0.0
    for t in range(T):
        env = dict(params, **{cell.input.name: xs[t]})
        env[cell.target.name] = np.eye(K)[:, targets[t]]
        env.update({s + "_prev": v for s, v in prev.items()})
        for a in prog.forward:
            env[a.target.name] = evaluate(a.expr, env, dims)
        E -= np.log(env[cell.softmax][targets[t], np.arange(B)]).sum()
        prev = {s.name: env[s.name] for s in cell.states}
        envs.append(env)
    grads = {p: np.zeros_like(v) for p, v in params.items()}
    grads["xs"] = np.zeros_like(xs)

    def backward(t_from, t_to, only_loss=None):
        carry = {s.name: np.zeros_like(state0[s.init]) for s in cell.states}
        for t in range(t_from, t_to - 1, -1):
            env = dict(envs[t])
            if only_loss is not None and t != only_loss:
                env[cell.target.name] = env[cell.softmax]  # ô − o = 0: only E_{only_loss} sends a gradient
            env.update({f"d{s}{NEXT}": v for s, v in carry.items()})
            for a in prog.backward:
                env[a.target.name] = evaluate(a.expr, env, dims)
            for p, a in prog.grads.items():
                g = evaluate(a.expr, env, dims)
                grads[p] += g.sum(axis=1, keepdims=True) if a.batch_sum else g
            grads["xs"][t] += env["d" + cell.input.name]
            carry = {s: env[prog.carries[s].name] for s in carry}
        return carry

    if truncate is None:
        carry = backward(T - 1, 0)
        grads.update({s.init: carry[s.name] for s in cell.states})
    else:
        for t in range(T):
            backward(t, max(0, t - truncate + 1), only_loss=t)
    return E, grads


def _case(name, bias, D, H, K, B, T, seed):
    m = models.get(name, bias=bias)
    cell = load_cell(name, bias=bias)
    rng = np.random.default_rng(seed)
    params = m.init_params(D, H, K, rng=rng)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()}
    xs = rng.standard_normal((T, D, B))
    targets = rng.integers(0, K, (T, B))
    state0 = {k: 0.5 * rng.standard_normal(s) for k, s in m.initial_state_shapes(H=H, K=K, B=B).items()}
    return m, cell, params, xs, targets, state0


def _close(a, b):
    return np.allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", CELLS)
def test_program_matches_numeric_models(name, bias):
    m, cell, params, xs, targets, state0 = _case(name, bias, D=3, H=4, K=5, B=2, T=4, seed=1)
    assert list(cell.param_names) == list(m.param_shapes(3, 4, 5))  # same names, same order
    E_ref, g_ref = m.loss_and_grads(params, xs, targets, **state0)
    E, g = run_program(cell, params, xs, targets, state0)
    assert np.isclose(E, E_ref, rtol=1e-12)
    for key in g_ref:
        assert _close(g[key], g_ref[key]), key


@pytest.mark.parametrize("truncate", [1, 2])
@pytest.mark.parametrize("name", ["rnn", "jordan", "lstm", "gru-reset-after"])
def test_truncation_matches_numeric_definition(name, truncate):
    m, cell, params, xs, targets, state0 = _case(name, True, D=2, H=3, K=3, B=2, T=4, seed=2)
    _, g_ref = m.loss_and_grads(params, xs, targets, truncate=truncate, **state0)
    _, g = run_program(cell, params, xs, targets, state0, truncate=truncate)
    for key in cell.param_names:
        assert _close(g[key], g_ref[key]), key


@given(name=st.sampled_from(["rnn", "gru", "lstm-peephole"]), D=st.integers(1, 3), H=st.integers(1, 3),
       K=st.integers(2, 4), B=st.integers(1, 3), T=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_program_matches_numeric_any_size(name, D, H, K, B, T, seed):
    m, cell, params, xs, targets, state0 = _case(name, True, D, H, K, B, T, seed)
    _, g_ref = m.loss_and_grads(params, xs, targets, **state0)
    _, g = run_program(cell, params, xs, targets, state0)
    for key in g_ref:
        assert _close(g[key], g_ref[key]), key
