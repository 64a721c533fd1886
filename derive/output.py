"""The output layer's local derivatives, derived by SymPy on explicit components.

softmax followed by cross-entropy: SymPy differentiates E = −Σ_k o_k log softmax_k(z) with respect
to z_1 for K = 2 explicit components, names the softmax value ô back in, and uses Σ_k o_k = 1 (o is
one-hot): the result is ô_1 − o_1, i.e. ∂E/∂z = ô − o. The softmax Jacobian likewise comes out as
ô_i(1 − ô_i) on the diagonal and −ô_i ô_j off it, i.e. diag(ô) − ô ôᵀ. Both are checked to have
exactly that form, so the engine's rules are derived, not typed in.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp


def _components(K=2):
    z = sp.symbols(f"z1:{K + 1}")
    o = sp.symbols(f"o1:{K + 1}")
    ohat = sp.symbols(f"ohat1:{K + 1}")
    total = sum(sp.exp(v) for v in z)
    return z, o, ohat, total, sp.Symbol("S")


@lru_cache(maxsize=None)
def cross_entropy_gradient() -> tuple[sp.Expr, sp.Expr]:
    """∂E/∂z_1 of E = −Σ o_k log softmax_k(z), in terms of ô: returns ``(derived, ô_1 − o_1)``.

    Raises:
        AssertionError: if SymPy's result is not ô_1 − o_1 (it is, for every SymPy we support).
    """
    z, o, ohat, total, S = _components()
    E = -sum(ok * sp.log(sp.exp(zk) / total) for ok, zk in zip(o, z))
    d = sp.diff(E, z[0]).subs(total, S).subs(sp.exp(z[0]), ohat[0] * S)
    d = sp.expand(d.subs(o[-1], 1 - sum(o[:-1])))  # o is one-hot: Σ_k o_k = 1
    expected = ohat[0] - o[0]
    assert sp.expand(d - expected) == 0, d
    return d, expected


@lru_cache(maxsize=None)
def softmax_jacobian() -> tuple[sp.Expr, sp.Expr]:
    """∂ô_1/∂z_1 and ∂ô_1/∂z_2 as SymPy derives them: ``(ô_1 − ô_1², −ô_1 ô_2)``."""
    z, _, ohat, total, S = _components()
    soft = sp.exp(z[0]) / total
    back = {sp.exp(z[0]): ohat[0] * S, sp.exp(z[1]): ohat[1] * S}
    diag = sp.expand(sp.diff(soft, z[0]).subs(total, S).subs(back))
    off = sp.expand(sp.diff(soft, z[1]).subs(total, S).subs(back))
    assert sp.expand(diag - ohat[0] * (1 - ohat[0])) == 0 and sp.expand(off + ohat[0] * ohat[1]) == 0
    return diag, off


@lru_cache(maxsize=None)
def mse_gradient() -> tuple[sp.Expr, sp.Expr]:
    """∂E/∂ŷ_1 of E = ½ Σ_k (ŷ_k − y_k)² (K = 2 explicit components): returns ``(derived, ŷ_1 − y_1)``.

    The ½ makes the gradient the residual ŷ − y, with no factor 2 (docs/cells.md, "Losses").
    """
    yhat, y = sp.symbols("yhat1:3"), sp.symbols("y1:3")
    E = sp.Rational(1, 2) * sum((a - b) ** 2 for a, b in zip(yhat, y))
    d = sp.expand(sp.diff(E, yhat[0]))
    expected = yhat[0] - y[0]
    assert sp.expand(d - expected) == 0, d
    return d, expected
