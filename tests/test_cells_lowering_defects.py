"""Issue 10's lowering defects, one cell each: the generated module against a referee written here by hand.

The referee is a per-cell NumPy step function (written from the cell's equations, sharing no code with
derive/), differentiated by the complex step entry by entry; the truncated objective is built from the
same step function with the state k steps back held at its real value. These cells were written from the
issue's descriptions before the lowering code was read (blind).
"""

import numpy as np
import pytest

from derive.codegen import generate

SIZES = dict(D=2, H=3, S=2, K=3)
T, B = 3, 2


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _log_softmax(z):
    m = z.real.max(axis=0, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=0, keepdims=True))


def _loss_terms(step, p, xs, targets, s0, truncate=None, s_real=None):
    """Σ_t E_t; with ``truncate`` each E_t restarts from the real state at t − k (held constant)."""
    cols = np.arange(xs.shape[-1])
    E = 0
    if truncate is None:
        s = dict(s0)
        for t in range(len(xs)):
            s, z = step(p, xs[t], s)
            E = E - _log_softmax(z)[targets[t], cols].sum()
        return E
    for t in range(len(xs)):
        start = max(0, t - truncate + 1)
        s = dict(s0) if start == 0 else dict(s_real[start - 1])
        for u in range(start, t + 1):
            s, z = step(p, xs[u], s)
        E = E - _log_softmax(z)[targets[t], cols].sum()
    return E


def referee(step, p, xs, targets, s0, truncate=None):
    """(E, gradients of every parameter, ``xs`` and initial state) by the complex step of ``step``."""
    s_real, s = [], dict(s0)
    for t in range(len(xs)):
        s, _ = step(p, xs[t], s)
        s_real.append(s)
    args = {**p, "xs": xs, **{f"{k}0": v for k, v in s0.items()}}
    state_key = {f"{k}0": k for k in s0}

    def E_of(a):
        return _loss_terms(step, {k: a[k] for k in p}, a["xs"], targets,
                           {state_key[k]: a[k] for k in state_key}, truncate, s_real)

    grads, h = {}, 1e-30
    for name, value in args.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            pert = {k: v.astype(complex) for k, v in args.items()}
            pert[name][idx] += 1j * h
            g[idx] = E_of(pert).imag / h
        grads[name] = g
    return float(E_of(args).real), grads


# Each case: cell text, parameter shapes (in dims), state shapes, the hand-written step.
CASES = {
    # Control: the course's Elman cell (generated correctly before this issue); validates the referee.
    "elman-control": ("""
cell elman
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param W : K x H
param c : K bias
state h : H
h = tanh(U @ x + V @ h_prev + b)
z = W @ h + c
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "b": "H1", "W": "KH", "c": "K1"}, {"h": "H"},
        lambda p, x, s: _elman(p, x, s)),
    # U @ x in both gates: f must not lend its pre-activation to g.
    "shared-input": ("""
cell shared_input
dims D H K
input x : D
target o : K
param U : H x D
param V_f : H x H
param V_g : H x H
param W : K x H
state h : H
f = sigmoid(U @ x + V_f @ h_prev)
g = tanh(U @ x + V_g @ h_prev)
h = f * h_prev + (1 - f) * g
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V_f": "HH", "V_g": "HH", "W": "KH"}, {"h": "H"},
        lambda p, x, s: _gate_h(p, x, s)),
    # U, V, b in both gates, with different right operands for V: no [U; U] stack.
    "param-two-equations": ("""
cell param_twice
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param b : H bias
param W : K x H
param c : K bias
state h : H
f = sigmoid(U @ x + V @ h_prev + b)
g = tanh(U @ x + V @ (f * h_prev) + b)
h = (1 - f) * h_prev + f * g
z = W @ h + c
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "b": "H1", "W": "KH", "c": "K1"}, {"h": "H"},
        lambda p, x, s: _param_twice(p, x, s)),
    # s never reads s_prev; h reads s_prev: s must be stored per step.
    "state-skips-own-past": ("""
cell skip_state
dims D H K
input x : D
target o : K
param U_s : H x D
param U : H x D
param V : H x H
param W : K x H
state h : H
state s : H
s = tanh(U_s @ x)
a = U @ x + V @ h_prev + s_prev
h = tanh(a)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U_s": "HD", "U": "HD", "V": "HH", "W": "KH"}, {"h": "H", "s": "H"},
        lambda p, x, s: _skip(p, x, s)),
    # V @ h_prev alone (f's whole pre-activation) and inside g's sum.
    "product-alone-and-in-sum": ("""
cell product_twice
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param W : K x H
state h : H
f = sigmoid(V @ h_prev)
g = tanh(U @ x + V @ h_prev)
h = f * g
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "W": "KH"}, {"h": "H"},
        lambda p, x, s: _product_twice(p, x, s)),
    # V @ h_prev as a bare term of h and inside g's sum (NameError on an undefined temporary).
    "product-term-and-in-sum": ("""
cell product_term
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param W : K x H
state h : H
g = tanh(U @ x + V @ h_prev)
h = g + 0.5 * (V @ h_prev)
z = W @ h
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "W": "KH"}, {"h": "H"},
        lambda p, x, s: _product_term(p, x, s)),
    # Four dimension names and a bottleneck before the output layer.
    "dims-bottleneck": ("""
cell bottleneck
dims D H S K
input x : D
target o : K
param U : H x D
param V : H x H
param P : S x H
param W : K x S
state h : H
h = tanh(U @ x + V @ h_prev)
s = tanh(P @ h)
z = W @ s
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "P": "SH", "W": "KS"}, {"h": "H"},
        lambda p, x, s: _bottleneck(p, x, s)),
    # A skip connection from the input to the output.
    "skip-connection": ("""
cell skipout
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param W : K x H
param R : K x D
state h : H
h = tanh(U @ x + V @ h_prev)
z = W @ h + R @ x
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "W": "KH", "R": "KD"}, {"h": "H"},
        lambda p, x, s: _skipout(p, x, s)),
    # No output weight: the hidden state is the output pre-activation (dims D K, no H).
    "no-output-weight": ("""
cell noout
dims D K
input x : D
target o : K
param U : K x D
param V : K x K
state h : K
h = tanh(U @ x + V @ h_prev)
ohat = softmax(h)
loss cross_entropy(ohat, o)
""", {"U": "KD", "V": "KK"}, {"h": "K"},
        lambda p, x, s: _noout(p, x, s)),
    # Constants and nesting.
    "constants-nesting": ("""
cell nest
dims D H K
input x : D
target o : K
param U : H x D
param V : H x H
param W : K x H
state h : H
h = 1 - tanh(sigmoid(U @ x) * (2 - V @ h_prev))
z = W @ tanh(h)
ohat = softmax(z)
loss cross_entropy(ohat, o)
""", {"U": "HD", "V": "HH", "W": "KH"}, {"h": "H"},
        lambda p, x, s: _nest(p, x, s)),
}


def _elman(p, x, s):
    h = np.tanh(p["U"] @ x + p["V"] @ s["h"] + p["b"])
    return {"h": h}, p["W"] @ h + p["c"]


def _gate_h(p, x, s):
    hp = s["h"]
    f = sig(p["U"] @ x + p["V_f"] @ hp)
    g = np.tanh(p["U"] @ x + p["V_g"] @ hp)
    h = f * hp + (1 - f) * g
    return {"h": h}, p["W"] @ h


def _param_twice(p, x, s):
    hp = s["h"]
    f = sig(p["U"] @ x + p["V"] @ hp + p["b"])
    g = np.tanh(p["U"] @ x + p["V"] @ (f * hp) + p["b"])
    h = (1 - f) * hp + f * g
    return {"h": h}, p["W"] @ h + p["c"]


def _skip(p, x, s):
    new_s = np.tanh(p["U_s"] @ x)
    h = np.tanh(p["U"] @ x + p["V"] @ s["h"] + s["s"])
    return {"h": h, "s": new_s}, p["W"] @ h


def _product_twice(p, x, s):
    hp = s["h"]
    h = sig(p["V"] @ hp) * np.tanh(p["U"] @ x + p["V"] @ hp)
    return {"h": h}, p["W"] @ h


def _product_term(p, x, s):
    vh = p["V"] @ s["h"]
    h = np.tanh(p["U"] @ x + vh) + 0.5 * vh
    return {"h": h}, p["W"] @ h


def _bottleneck(p, x, s):
    h = np.tanh(p["U"] @ x + p["V"] @ s["h"])
    return {"h": h}, p["W"] @ np.tanh(p["P"] @ h)


def _skipout(p, x, s):
    h = np.tanh(p["U"] @ x + p["V"] @ s["h"])
    return {"h": h}, p["W"] @ h + p["R"] @ x


def _noout(p, x, s):
    h = np.tanh(p["U"] @ x + p["V"] @ s["h"])
    return {"h": h}, h


def _nest(p, x, s):
    h = 1 - np.tanh(sig(p["U"] @ x) * (2 - p["V"] @ s["h"]))
    return {"h": h}, p["W"] @ np.tanh(h)


def _dim(ch):
    return 1 if ch == "1" else SIZES[ch]


def point(case, seed=0):
    _, pshapes, sshapes, _ = CASES[case]
    rng = np.random.default_rng(seed)
    p = {k: rng.uniform(-0.8, 0.8, (_dim(a), _dim(b))) for k, (a, b) in pshapes.items()}
    xs = rng.normal(size=(T, SIZES["D"], B))
    targets = rng.integers(0, SIZES["K"], size=(T, B))
    s0 = {k: rng.uniform(-0.5, 0.5, (_dim(d), B)) for k, d in sshapes.items()}
    return p, xs, targets, s0


def _generated(case, tmp_path):
    path = tmp_path / f"{case}.cell"
    path.write_text(CASES[case][0])
    return generate(str(path)).module


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_generated_gradients_match_hand_written_referee(case, truncate, tmp_path):
    mod = _generated(case, tmp_path)
    p, xs, targets, s0 = point(case)
    E_ref, g_ref = referee(CASES[case][3], p, xs, targets, s0, truncate)
    kw = {f"{k}0": v for k, v in s0.items()}
    E, grads = mod.loss_and_grads(p, xs, targets, truncate=truncate, **kw)
    assert float(mod.loss(p, xs, targets, **kw)) == pytest.approx(E_ref, rel=1e-13)
    assert float(E) == pytest.approx(E_ref, rel=1e-13)
    assert set(grads) == set(g_ref)
    for k in g_ref:
        assert grads[k].shape == g_ref[k].shape, k
        assert rel(grads[k], g_ref[k]) <= 1e-12, (k, rel(grads[k], g_ref[k]))


def test_skipping_state_has_no_input_gradient_at_T1(tmp_path):
    """At T = 1 the loss does not depend on U_s (s_1 is never read): its gradient is exactly 0."""
    mod = _generated("state-skips-own-past", tmp_path)
    p, xs, targets, s0 = point("state-skips-own-past")
    _, grads = mod.loss_and_grads(p, xs[:1], targets[:1], h0=s0["h"], s0=s0["s"])
    assert not grads["U_s"].any()
