"""Held-out cells for the issue-10 losses and architectures (tests/heldout_layers/ and the shipped examples),
written before these tests were run, against one-step cells written by hand in PyTorch float64: stacked
(a file's `layers 2`, `--layers 3`), bidirectional, cross-entropy and mse with masks, full and truncated.
Every gradient ≤ 1e-12 relative. Skips without torch."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive import load_cell  # noqa: E402
from derive.bidirectional import generate as generate_bidirectional  # noqa: E402
from derive.cellfile import CELLS_DIR  # noqa: E402
from derive.codegen import generate  # noqa: E402
from derive.layers import layer_name  # noqa: E402
from numeric.gradcheck.verify import random_point  # noqa: E402

HELD_OUT = Path(__file__).parent / "heldout_layers"
EXAMPLES = CELLS_DIR / "examples"
sig, tanh, relu = torch.sigmoid, torch.tanh, torch.relu
D, H, K, T, B = 3, 4, 2, 5, 3


# One layer, one step, by hand: (parameters by base name, input, states) → new states; the output state is h.
def peephole(p, x, s):
    h, C = s["h"], s["C"]
    f = sig(p["U_f"] @ x + p["V_f"] @ h + p["p_f"] * C + p["b_f"])
    i = sig(p["U_i"] @ x + p["V_i"] @ h + p["p_i"] * C + p["b_i"])
    g = tanh(p["U_g"] @ x + p["V_g"] @ h + p["b_g"])
    C = f * C + i * g
    q = sig(p["U_q"] @ x + p["V_q"] @ h + p["p_q"] * C + p["b_q"])
    return {"h": q * tanh(C), "C": C}


def gated_leaky(p, x, s):
    h = s["h"]
    r = sig(p["G"] @ h)
    return {"h": r * h + (1 - r) * tanh(p["U"] @ x + p["V"] @ h)}


def mgu(p, x, s):
    h = s["h"]
    f = sig(p["U_f"] @ x + p["V_f"] @ h + p["b_f"])
    g = tanh(p["U_g"] @ x + p["V_g"] @ (f * h) + p["b_g"])
    return {"h": (1 - f) * h + f * g}


def indrnn(p, x, s):
    return {"h": relu(p["U"] @ x + p["v"] * s["h"] + p["b"])}


def gru_cho(p, x, s):
    h = s["h"]
    r = sig(p["U_r"] @ x + p["V_r"] @ h + p["b_r"])
    u = sig(p["U_u"] @ x + p["V_u"] @ h + p["b_u"])
    g = tanh(p["U_g"] @ x + p["V_g"] @ (r * h) + p["b_g"])
    return {"h": u * h + (1 - u) * g}


INITS = {"h": "h0", "C": "c0"}
#: cell → (file, one-layer step, loss, readout bias, how it is built)
CASES = {
    "peephole-regression (file: layers 2)": (HELD_OUT / "peephole-regression.cell", peephole, "mse", True, 2),
    "mgu --layers 2": (EXAMPLES / "mgu.cell", mgu, "ce", True, 2),
    "indrnn --layers 3": (EXAMPLES / "indrnn.cell", indrnn, "ce", True, 3),
    "gated-leaky --layers 2": (HELD_OUT / "gated-leaky.cell", gated_leaky, "mse", False, 2),
    "gru (Cho) --layers 2": (CELLS_DIR / "gru.cell", gru_cho, "ce", True, 2),
    "gru (Cho) --bidirectional": (CELLS_DIR / "gru.cell", gru_cho, "ce", True, "bi"),
    "mgu --bidirectional": (EXAMPLES / "mgu.cell", mgu, "ce", True, "bi"),
    "gated-leaky --bidirectional": (HELD_OUT / "gated-leaky.cell", gated_leaky, "mse", False, "bi"),
    "indrnn --bidirectional": (EXAMPLES / "indrnn.cell", indrnn, "ce", True, "bi"),
}


def output_loss(z, targets, t, loss):
    """E_t of z (K, B) with masks: class id −1, NaN entries."""
    if loss == "ce":
        tg = torch.tensor(targets[t])
        keep = tg >= 0
        return -torch.log_softmax(z, dim=0)[tg[keep], torch.arange(B)[keep]].sum()
    y = torch.tensor(targets[t])
    r = torch.where(torch.isnan(y), torch.zeros_like(z), z - torch.nan_to_num(y))
    return 0.5 * (r ** 2).sum()


def stacked_reference(step, layers, loss, bias, params, xs, targets, state0, truncate):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    X = torch.tensor(xs, requires_grad=True)
    S0 = {k: torch.tensor(v, requires_grad=True) for k, v in state0.items()}
    names = [s for s in INITS if any(k.startswith(INITS[s]) for k in state0)]
    per = [{_base(k, l): v for k, v in P.items() if _base(k, l) != k} for l in range(1, layers + 1)]

    def run(x, S):  # one step of the whole stack
        out = {}
        for l in range(1, layers + 1):
            new = step(per[l - 1], x, {s: S[(s, l)] for s in names})
            out.update({(s, l): v for s, v in new.items()})
            x = new["h"]
        return out

    S_init = {(s, l): S0[f"{INITS[s]}_{l}"] for s in names for l in range(1, layers + 1)}
    states, S = [], S_init
    for t in range(T):
        S = run(X[t], S)
        states.append(S)
    E = 0
    for t in range(T):
        lo = 0 if truncate is None else max(0, t - truncate + 1)
        S = S_init if lo == 0 else {k: v.detach() for k, v in states[lo - 1].items()}
        for u in range(lo, t + 1):
            S = run(X[u], S)
        z = P["W"] @ S[("h", layers)] + (P["c"] if bias else 0)
        E = E + output_loss(z, targets, t, loss)
    return _grads(E, P, X, S0)


def _base(k, l):
    """The one-layer name of layer l's ``k`` (inverse of layer_name), or k itself."""
    for cand in (k[: -len(f"_{l}")], k[:-len(str(l))]):
        if cand and layer_name(cand, l) == k:
            return cand
    return k


def bidirectional_reference(step, loss, bias, params, xs, targets, state0):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    X = torch.tensor(xs, requires_grad=True)
    S0 = {k: torch.tensor(v, requires_grad=True) for k, v in state0.items()}
    names = [s for s in INITS if f"{INITS[s]}_fw" in state0]
    hs = {}
    for d, order in (("fw", range(T)), ("bw", reversed(range(T)))):
        p = {k[:-3]: v for k, v in P.items() if k.endswith(f"_{d}")}
        S = {s: S0[f"{INITS[s]}_{d}"] for s in names}
        hs[d] = [None] * T
        for t in order:
            S = step(p, X[t], S)
            hs[d][t] = S["h"]
    E = 0
    for t in range(T):
        z = P["W_fw"] @ hs["fw"][t] + P["W_bw"] @ hs["bw"][t] + (P["c"] if bias else 0)
        E = E + output_loss(z, targets, t, loss)
    return _grads(E, P, X, S0)


def _grads(E, P, X, S0):
    E.backward()
    grads = {k: v.grad.numpy() if v.grad is not None else np.zeros(v.shape) for k, v in P.items()}
    grads["xs"] = X.grad.numpy()
    grads.update({k: v.grad.numpy() for k, v in S0.items()})
    return float(E.detach()), grads


def masked_targets(rng, loss):
    if loss == "ce":
        t = rng.integers(0, K, size=(T, B))
        t[rng.random((T, B)) < 0.3] = -1
        return t
    y = rng.standard_normal((T, K, B))
    y[rng.random((T, K, B)) < 0.25] = np.nan
    return y


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


# truncated bidirectional BPTT is refereed in tests/test_layers_torch_referee.py (and by the oracles)
RUNS = [(case, k) for case in CASES for k in ([None] if CASES[case][4] == "bi" else [None, 2])]


@pytest.mark.parametrize("case,truncate", RUNS)
def test_held_out_layers_agree_with_pytorch(case, truncate):
    path, step, loss, bias, how = CASES[case]
    rng = np.random.default_rng(17)
    if how == "bi":
        m = generate_bidirectional(str(path)).module
        params = m.init_params(D, H, K, rng=rng)
        state0 = {k: 0.5 * rng.standard_normal(s) for k, s in m.initial_state_shapes(H, B).items()}
    else:
        cell = load_cell(str(path), layers=None if "file" in case else how)
        assert cell.layers == how
        m = generate(cell).module
        pt = random_point(m, D, H, K, T, B, seed=17)
        params, state0 = pt.params, pt.state0
    xs = rng.standard_normal((T, D, B))
    targets = masked_targets(rng, loss)
    E, grads = m.loss_and_grads(params, xs, targets, truncate=truncate, **state0)
    if how == "bi":
        E_ref, g_ref = bidirectional_reference(step, loss, bias, params, xs, targets, state0)
    else:
        E_ref, g_ref = stacked_reference(step, how, loss, bias, params, xs, targets, state0, truncate)
    assert abs(float(E) - E_ref) <= 1e-12 * abs(E_ref)
    assert set(grads) == set(g_ref)
    worst = {k: rel(grads[k], g_ref[k]) for k in g_ref}
    assert max(worst.values()) <= 1e-12, worst
