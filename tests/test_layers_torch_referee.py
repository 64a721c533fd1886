"""Outside referee for the losses and layers of issue 10: torch.nn.RNN / LSTM / GRU (num_layers = 1, 2) in
float64 with our weights copied in, a torch.nn.functional linear output layer, and masked cross-entropy or
masked mean squared error — against the generated modules (and the hand-written models where one exists:
one layer, cross-entropy).

torch.nn.GRU is the reset-after GRU, so the GRU checked here is the built-in gru-reset-after. Full BPTT and
truncated BPTT (each E_t restarts k steps back from the detached states, docs/models.md). Every gradient —
each parameter, xs and each initial state — agrees to ≤ 1e-12 relative (norm-wise). Skips without torch.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive import load_cell  # noqa: E402
from derive.cellfile import CELLS_DIR, parse  # noqa: E402
from derive.codegen import generate  # noqa: E402
from derive.layers import layer_name  # noqa: E402
from numeric import models  # noqa: E402
from numeric.gradcheck.verify import random_point  # noqa: E402

D, H, K, T, B = 3, 4, 3, 5, 3

# our gate names in torch's row order: weight_ih = [U_…; …], weight_hh = [V_…; …]
GATES = {"rnn": [""], "lstm": ["i", "f", "g", "q"], "gru-reset-after": ["r", "u", "g"]}
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru-reset-after": torch.nn.GRU}


def mse_text(kind: str) -> str:
    """The built-in cell with its softmax output replaced by a real-valued prediction z and an mse loss."""
    text = (CELLS_DIR / f"{kind}.cell").read_text()
    text = text.replace("ohat = softmax(z)\n", "").replace("loss cross_entropy(ohat, o)", "loss mse(z, o)")
    assert "loss mse(z, o)" in text
    return text


_GEN: dict = {}


def gen(kind, layers, loss):
    key = (kind, layers, loss)
    if key not in _GEN:
        cell = (load_cell(kind, layers=layers) if loss == "ce"
                else parse(mse_text(kind), f"{kind}-mse.cell", layers=layers))
        _GEN[key] = generate(cell)
    return _GEN[key]


def point(module, loss, seed):
    """A random point with masked targets: class id −1 (cross-entropy) or NaN entries (mse)."""
    pt = random_point(module, D, H, K, T, B, seed=seed)
    rng = np.random.default_rng(seed + 100)
    if loss == "ce":
        pt.targets[rng.random((T, B)) < 0.3] = -1
        pt.targets[1, 0] = -1
    else:
        pt.targets[rng.random((T, K, B)) < 0.2] = np.nan
        pt.targets[2, :, 1] = np.nan  # a whole step of one sequence masked
    return pt


def names(kind, layers):
    return (lambda base, l: base) if layers == 1 else layer_name


def torch_weights(kind, layers, P):
    """torch parameter dict (weight_ih_l0, …) assembled from our leaf tensors, so autograd reaches them."""
    name = names(kind, layers)
    out = {}
    for l in range(layers):
        sub = lambda p, g: name(f"{p}_{g}" if g else p, l + 1)  # noqa: E731
        gates = GATES[kind]
        out[f"weight_ih_l{l}"] = torch.cat([P[sub("U", g)] for g in gates])
        out[f"weight_hh_l{l}"] = torch.cat([P[sub("V", g)] for g in gates])
        out[f"bias_ih_l{l}"] = torch.cat([P[sub("b", g)][:, 0] for g in gates])
        hh = torch.zeros(len(gates) * H, dtype=torch.float64)
        if kind == "gru-reset-after":  # b_gh: the recurrent product's own bias, inside r ⊙ (…)
            hh = torch.cat([torch.zeros(2 * H, dtype=torch.float64), P[name("b_gh", l + 1)][:, 0]])
        out[f"bias_hh_l{l}"] = hh
    return out


def torch_reference(kind, layers, loss, params, xs, targets, state0, truncate=None):
    """E and autograd's gradients of E = Σ_t E_t with the masked loss; truncated: E_t restarts from the
    states k steps back, detached."""
    name = names(kind, layers)
    net = TORCH[kind](D, H, num_layers=layers, dtype=torch.float64)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    X = torch.tensor(xs.transpose(0, 2, 1).copy(), requires_grad=True)  # (T, B, D)
    inits = ["h0", "c0"] if kind == "lstm" else ["h0"]
    init = (lambda i, l: i) if layers == 1 else (lambda i, l: f"{i}_{l}")  # h0 or h0_1, h0_2, …
    S0 = {init(i, l): torch.tensor(state0[init(i, l)], requires_grad=True)
          for i in inits for l in range(1, layers + 1)}
    w = torch_weights(kind, layers, P)

    def stack0(i):  # (layers, B, H), as torch takes initial states
        return torch.stack([S0[init(i, l)].T for l in range(1, layers + 1)])

    def run(x, s0):
        hx = (s0["h0"], s0["c0"]) if kind == "lstm" else s0["h0"]
        out, hn = torch.func.functional_call(net, w, (x, hx))
        hn = {"h0": hn[0], "c0": hn[1]} if kind == "lstm" else {"h0": hn}
        return out, hn

    full0 = {i: stack0(i) for i in inits}
    states = []  # the states after each step, (layers, B, H) per initial-state name
    s = full0
    for t in range(T):
        _, s = run(X[t:t + 1], s)
        states.append(s)
    tg = torch.tensor(targets)
    E = 0
    for t in range(T):
        start = 0 if truncate is None else max(0, t - truncate + 1)
        s = full0 if start == 0 else {k: v.detach() for k, v in states[start - 1].items()}
        out, _ = run(X[start:t + 1], s)
        z = out[-1] @ P["W"].T + P["c"][:, 0]  # (B, K)
        if loss == "ce":
            keep = tg[t] >= 0
            logp = torch.log_softmax(z, dim=1)
            E = E - logp[torch.arange(B)[keep], tg[t][keep]].sum()
        else:
            y = tg[t].T  # (B, K)
            r = torch.where(torch.isnan(y), torch.zeros_like(z), z - torch.nan_to_num(y))
            E = E + 0.5 * (r ** 2).sum()
    E.backward()
    grads = {k: v.grad.numpy() if v.grad is not None else np.zeros(v.shape) for k, v in P.items()}
    grads["xs"] = X.grad.numpy().transpose(0, 2, 1)
    for k, v in S0.items():
        grads[k] = v.grad.numpy()
    return float(E.detach()), grads


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


CASES = [(kind, layers, loss) for kind in GATES for layers in (1, 2) for loss in ("ce", "mse")]


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("kind,layers,loss", CASES)
def test_generated_gradients_agree_with_pytorch(kind, layers, loss, truncate):
    m = gen(kind, layers, loss).module
    pt = point(m, loss, seed=3 + layers)
    E, grads = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    E_ref, g_ref = torch_reference(kind, layers, loss, pt.params, pt.xs, pt.targets, pt.state0, truncate)
    assert abs(float(E) - E_ref) <= 1e-12 * abs(E_ref)
    assert set(grads) == set(g_ref)
    worst = max(rel(grads[k], g_ref[k]) for k in g_ref)
    assert worst <= 1e-12, {k: rel(grads[k], g_ref[k]) for k in g_ref}


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("kind", list(GATES))
def test_hand_written_masked_cross_entropy_agrees_with_pytorch(kind, truncate):
    model = models.get(kind)
    pt = point(model, "ce", seed=7)
    E, grads = model.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate, **pt.state0)
    E_ref, g_ref = torch_reference(kind, 1, "ce", pt.params, pt.xs, pt.targets, pt.state0, truncate)
    assert abs(float(E) - E_ref) <= 1e-12 * abs(E_ref)
    assert set(grads) == set(g_ref)
    for k in g_ref:
        assert rel(grads[k], g_ref[k]) <= 1e-12, (kind, truncate, k, rel(grads[k], g_ref[k]))


def test_the_mask_changes_the_loss():
    """The referee is not blind to masks: unmasking the targets changes E in both implementations."""
    m = gen("rnn", 2, "mse").module
    pt = point(m, "mse", seed=5)
    full = np.nan_to_num(pt.targets, nan=0.25)
    E_masked = float(m.loss(pt.params, pt.xs, pt.targets, **pt.state0))
    E_full = float(m.loss(pt.params, pt.xs, full, **pt.state0))
    E_ref, _ = torch_reference("rnn", 2, "mse", pt.params, pt.xs, full, pt.state0)
    assert abs(E_full - E_ref) <= 1e-12 * E_ref and E_full > E_masked


# ---- bidirectional --------------------------------------------------------------------------------------

_BI: dict = {}


def bi_gen(kind, loss):
    from derive.bidirectional import generate as generate_bidirectional

    if (kind, loss) not in _BI:
        if loss == "ce":
            _BI[kind, loss] = generate_bidirectional(kind)
        else:
            _BI[kind, loss] = _bi_from_text(mse_text(kind), kind)
    return _BI[kind, loss]


def _bi_from_text(text, kind):
    import tempfile
    from pathlib import Path

    from derive.bidirectional import generate as generate_bidirectional

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}-mse.cell"
        path.write_text(text)
        return generate_bidirectional(str(path))


def bi_point(m, loss, seed):
    rng = np.random.default_rng(seed)
    params = m.init_params(D, H, K, rng=rng)
    xs = rng.standard_normal((T, D, B))
    state0 = {k: 0.5 * rng.standard_normal(s) for k, s in m.initial_state_shapes(H, B).items()}
    if loss == "ce":
        targets = rng.integers(0, K, size=(T, B))
        targets[rng.random((T, B)) < 0.3] = -1
    else:
        targets = rng.standard_normal((T, K, B))
        targets[rng.random((T, K, B)) < 0.2] = np.nan
    return params, xs, targets, state0


def torch_bidirectional(kind, loss, params, xs, targets, state0, truncate=None):
    """Full BPTT: one torch.nn.RNN/LSTM/GRU(bidirectional=True). Truncated: two one-direction torch modules,
    each E_t recomputing h→_t from h→_{t−k} and h←_t from h←_{t+k}, both detached."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    X = torch.tensor(xs.transpose(0, 2, 1).copy(), requires_grad=True)
    inits = ["h0", "c0"] if kind == "lstm" else ["h0"]
    S0 = {f"{i}_{d}": torch.tensor(state0[f"{i}_{d}"], requires_grad=True) for i in inits for d in ("fw", "bw")}
    direction = {d: {k: v for k, v in P.items() if k.endswith(f"_{d}") and not k.startswith("W_")}
                 for d in ("fw", "bw")}
    w = {d: torch_weights(kind, 1, {k[:-3]: v for k, v in direction[d].items()}) for d in ("fw", "bw")}

    def hx(d, src):
        s = {i: src[f"{i}_{d}"].T[None] for i in inits}
        return (s["h0"], s["c0"]) if kind == "lstm" else s["h0"]

    if truncate is None:
        net = TORCH[kind](D, H, num_layers=1, bidirectional=True, dtype=torch.float64)
        both = {**w["fw"], **{f"{k}_reverse": v for k, v in w["bw"].items()}}
        h0 = hx("fw", S0), hx("bw", S0)
        h0 = (tuple(torch.cat([a, b]) for a, b in zip(*h0)) if kind == "lstm" else torch.cat(h0))
        out, _ = torch.func.functional_call(net, both, (X, h0))
        h_fw, h_bw = out[..., :H], out[..., H:]
    else:
        net = TORCH[kind](D, H, num_layers=1, dtype=torch.float64)
        run = lambda d, x, s: torch.func.functional_call(net, w[d], (x, s))  # noqa: E731
        states = {"fw": [], "bw": [None] * T}
        s = hx("fw", S0)
        for t in range(T):
            _, s = run("fw", X[t:t + 1], s)
            states["fw"].append(s)
        s = hx("bw", S0)
        for t in reversed(range(T)):
            _, s = run("bw", X[t:t + 1], s)
            states["bw"][t] = s
        detach = lambda s: tuple(v.detach() for v in s) if kind == "lstm" else s.detach()  # noqa: E731
        h_fw, h_bw = [], []
        for t in range(T):
            lo = max(0, t - truncate + 1)
            out, _ = run("fw", X[lo:t + 1], hx("fw", S0) if lo == 0 else detach(states["fw"][lo - 1]))
            h_fw.append(out[-1])
            hi = min(T, t + truncate)
            out, _ = run("bw", X[t:hi].flip(0), hx("bw", S0) if hi == T else detach(states["bw"][hi]))
            h_bw.append(out[-1])
        h_fw, h_bw = torch.stack(h_fw), torch.stack(h_bw)
    z = h_fw @ P["W_fw"].T + h_bw @ P["W_bw"].T + P["c"][:, 0]  # (T, B, K)
    tg = torch.tensor(targets)
    if loss == "ce":
        keep = tg >= 0
        logp = torch.log_softmax(z, dim=2)
        E = -logp.gather(2, tg.clamp(min=0)[..., None])[..., 0][keep].sum()
    else:
        y = tg.permute(0, 2, 1)
        r = torch.where(torch.isnan(y), torch.zeros_like(z), z - torch.nan_to_num(y))
        E = 0.5 * (r ** 2).sum()
    E.backward()
    grads = {k: v.grad.numpy() for k, v in P.items()}
    grads["xs"] = X.grad.numpy().transpose(0, 2, 1)
    grads.update({k: v.grad.numpy() for k, v in S0.items()})
    return float(E.detach()), grads


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("kind", list(GATES))
def test_bidirectional_gradients_agree_with_pytorch(kind, loss, truncate):
    m = bi_gen(kind, loss).module
    params, xs, targets, state0 = bi_point(m, loss, seed=21)
    E, grads = m.loss_and_grads(params, xs, targets, truncate=truncate, **state0)
    E_ref, g_ref = torch_bidirectional(kind, loss, params, xs, targets, state0, truncate)
    assert abs(float(E) - E_ref) <= 1e-12 * abs(E_ref)
    assert set(grads) == set(g_ref)
    worst = {k: rel(grads[k], g_ref[k]) for k in g_ref}
    assert max(worst.values()) <= 1e-12, worst
