"""Outside referee: held-out cell files (tests/heldout_cells/, written apart from the other tests) against
PyTorch autograd in float64, each cell written by hand in PyTorch below.

Every held-out cell derives, certifies in bounded time, generates and verifies (`bptt codegen`'s own
verification), and its generated gradients — every parameter, xs and initial state, full and truncated
BPTT — agree with autograd to ≤ 1e-12 relative (norm-wise). Skips cleanly without torch.
"""

import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive import certify, derive, load_cell  # noqa: E402
from derive.codegen import generate  # noqa: E402
from numeric.gradcheck.verify import random_point  # noqa: E402
from reports.codegen_verify import verify_generated  # noqa: E402

HELD_OUT = Path(__file__).parent / "heldout_cells"
sig, tanh, relu, exp = torch.sigmoid, torch.tanh, torch.relu, torch.exp


# One step of each cell, by hand: (parameters, x_t, previous states) → (new states, logits z_t).
def tied_gates(p, x, s):
    h = s["h"]
    r = sig(p["U"] @ x + p["V_r"] @ h + p["b"])
    u = sig(p["U"] @ x + p["V_u"] @ h + p["b"])
    g = tanh(p["U_g"] @ x + p["V_g"] @ (r * h))
    h = u * h + (1 - u) * g
    return {"h": h}, p["W"] @ h + p["c"]


def skip_memory(p, x, s):
    h = tanh(p["U"] @ x + p["V"] @ s["h"] + s["m"])
    return {"h": h, "m": tanh(p["P"] @ x)}, p["W"] @ h + p["R"] @ x


def no_readout(p, x, s):
    h = tanh(p["U"] @ x + p["V"] @ s["h"] + p["b"])
    return {"h": h}, h


def relu_exp(p, x, s):
    r = relu(p["U"] @ x + p["V"] @ s["h"] + p["b"])
    h = r * exp(-r)
    return {"h": h}, p["W"] @ h


def leaky_nested(p, x, s):
    h = s["h"]
    h = 0.5 * h + 0.5 * tanh(p["U"] @ x + p["V"] @ (2 * sig(p["G"] @ h) - 1))
    return {"h": h}, p["W"] @ h


def bottleneck(p, x, s):
    h = tanh(p["U"] @ x + p["V"] @ s["h"])
    return {"h": h}, p["W"] @ tanh(p["P"] @ h) + p["c"]


def shared_recurrent(p, x, s):
    h, C = s["h"], s["C"]
    f = sig(p["U_f"] @ x + p["V"] @ h + p["b"])
    g = tanh(p["U_g"] @ x + p["V"] @ h + p["b"])
    C = f * C + (1 - f) * g
    return {"h": tanh(C), "C": C}, p["W"] @ tanh(C)


STEPS = {"tied-gates": tied_gates, "skip-memory": skip_memory, "no-readout": no_readout, "relu-exp": relu_exp,
         "leaky-nested": leaky_nested, "bottleneck": bottleneck, "shared-recurrent": shared_recurrent}
INIT = {"h": "h0", "m": "m0", "C": "c0"}  # state → its initial value's name in the generated module


def torch_grads(step, params, xs, targets, state0, truncate=None):
    """E and autograd's gradients; with ``truncate`` = k each E_t restarts from the state k steps back,
    detached (docs/models.md)."""
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    X = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    S0 = {s: torch.tensor(state0[INIT[s]], dtype=torch.float64, requires_grad=True)
          for s in INIT if INIT[s] in state0}
    tg = torch.tensor(targets)
    T, B = targets.shape

    def E_t(z, t):
        return -torch.log_softmax(z, dim=0)[tg[t], torch.arange(B)].sum()

    states, s = [], dict(S0)
    for t in range(T):
        s, _ = step(P, X[t], s)
        states.append(s)
    E = 0
    for t in range(T):
        start = 0 if truncate is None else max(0, t - truncate + 1)
        s = dict(S0) if start == 0 else {k: v.detach() for k, v in states[start - 1].items()}
        for u in range(start, t + 1):
            s, z = step(P, X[u], s)
        E = E + E_t(z, t)
    E.backward()
    # no path from a parameter to E (truncate=1 cuts skip-memory's P off entirely): autograd leaves None
    grads = {k: v.grad.numpy() if v.grad is not None else np.zeros(v.shape) for k, v in P.items()}
    grads["xs"] = X.grad.numpy()
    for s_name, v in S0.items():
        grads[INIT[s_name]] = v.grad.numpy() if v.grad is not None else np.zeros_like(v.detach().numpy())
    return float(E.detach()), grads


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


CELLS = sorted(p.stem for p in HELD_OUT.glob("*.cell"))
_GEN: dict = {}


def gen(name):
    if name not in _GEN:
        _GEN[name] = generate(str(HELD_OUT / f"{name}.cell"))
    return _GEN[name]


def test_every_held_out_cell_has_a_torch_version():
    assert set(CELLS) == set(STEPS)


@pytest.mark.parametrize("truncate", [None, 1, 3])
@pytest.mark.parametrize("name", CELLS)
def test_generated_gradients_agree_with_pytorch(name, truncate):
    m = gen(name).module
    pt = random_point(m, 3, 4, 3, 5, 2, seed=11, dims={"S": 2})
    E, grads = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    E_ref, g_ref = torch_grads(STEPS[name], pt.params, pt.xs, pt.targets, pt.state0, truncate)
    assert abs(float(E) - E_ref) <= 1e-12 * abs(E_ref)
    assert set(grads) == set(g_ref)
    for k in g_ref:
        assert rel(grads[k], g_ref[k]) <= 1e-12, (name, truncate, k, rel(grads[k], g_ref[k]))


@pytest.mark.slow
@pytest.mark.parametrize("name", CELLS)
def test_held_out_cell_derives_certifies_and_verifies(name):
    cell = load_cell(str(HELD_OUT / f"{name}.cell"))
    assert derive(cell, steps=3).steps
    t0 = time.monotonic()
    cert = certify(cell, budget=120)
    assert cert.passed, cert.summary()
    assert time.monotonic() - t0 < 120
    for truncate in (None, 2):
        result = verify_generated(gen(name), truncate=truncate, large=None)
        assert result.passed, (name, truncate)
