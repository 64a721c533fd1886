"""Independent cross-check against PyTorch's recurrent layers on the same weights (skipped without torch).

PyTorch is row-major with packed gates: RNN weight_ih = U, weight_hh = V, bias_ih + bias_hh = b;
LSTM packs i, f, g, o (our i, f, g, q); GRU packs r, z, n (our r, u, g), with n = tanh(W_in x + b_in +
r ⊙ (W_hn h + b_hn)) — the reset-after form — and h' = (1 − z) ⊙ n + z ⊙ h (z is our u).
"""

import numpy as np
import pytest

from numeric import models
from numeric.gradcheck.verify import random_point

torch = pytest.importorskip("torch")

D, H, K, T, B = 3, 5, 4, 6, 3


def packed(params, order, prefix):
    return np.concatenate([params[f"{prefix}_{g}"] for g in order])


def to_torch(name, p):
    """Our parameters → (torch layer, its parameter tensors in our names' order of use)."""
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    if name == "rnn":
        layer = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
        weights = {"weight_ih_l0": p["U"], "weight_hh_l0": p["V"], "bias_ih_l0": p["b"][:, 0], "bias_hh_l0": np.zeros(H)}
    elif name == "lstm":
        order = "ifgq"
        layer = torch.nn.LSTM(D, H, dtype=torch.float64)
        weights = {"weight_ih_l0": packed(p, order, "U"), "weight_hh_l0": packed(p, order, "V"),
                   "bias_ih_l0": packed(p, order, "b")[:, 0], "bias_hh_l0": np.zeros(4 * H)}
    else:  # gru-reset-after
        order = "rug"
        layer = torch.nn.GRU(D, H, dtype=torch.float64)
        weights = {"weight_ih_l0": packed(p, order, "U"), "weight_hh_l0": packed(p, order, "V"),
                   "bias_ih_l0": packed(p, order, "b")[:, 0],
                   "bias_hh_l0": np.concatenate([np.zeros(2 * H), p["b_gh"][:, 0]])}
    with torch.no_grad():
        for key, value in weights.items():
            getattr(layer, key).copy_(t(value))
    return layer


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru-reset-after"])
def test_gradients_equal_torch(name):
    m = models.get(name)
    pt = random_point(m, D, H, K, T, B, seed=21)
    p = pt.params
    E, grads = m.loss_and_grads(p, pt.xs, pt.targets, **pt.state0)

    layer = to_torch(name, p)
    xs = torch.tensor(pt.xs.transpose(0, 2, 1), requires_grad=True)  # (T, B, D)
    h0 = torch.tensor(pt.state0["h0"].T[None].copy(), requires_grad=True)  # (1, B, H)
    W = torch.tensor(p["W"], requires_grad=True)
    c = torch.tensor(p["c"][:, 0], requires_grad=True)
    if name == "lstm":
        c0 = torch.tensor(pt.state0["c0"].T[None].copy(), requires_grad=True)
        hs, _ = layer(xs, (h0, c0))
    else:
        hs, _ = layer(xs, h0)
    logits = hs @ W.T + c  # (T, B, K)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, K), torch.tensor(pt.targets.reshape(-1)),
                                             reduction="sum")
    loss.backward()

    assert float(loss.detach()) == pytest.approx(float(E), rel=1e-13)
    np.testing.assert_allclose(grads["W"], W.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(grads["xs"], xs.grad.numpy().transpose(0, 2, 1), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(grads["h0"], h0.grad.numpy()[0].T, rtol=1e-11, atol=1e-13)
    if name == "lstm":
        np.testing.assert_allclose(grads["c0"], c0.grad.numpy()[0].T, rtol=1e-11, atol=1e-13)
    g_ih, g_hh = layer.weight_ih_l0.grad.numpy(), layer.weight_hh_l0.grad.numpy()
    if name == "rnn":
        np.testing.assert_allclose(grads["U"], g_ih, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(grads["V"], g_hh, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(grads["b"][:, 0], layer.bias_ih_l0.grad.numpy(), rtol=1e-11, atol=1e-13)
        return
    order = "ifgq" if name == "lstm" else "rug"
    for k, gate in enumerate(order):
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(grads[f"U_{gate}"], g_ih[rows], rtol=1e-11, atol=1e-13, err_msg=gate)
        np.testing.assert_allclose(grads[f"V_{gate}"], g_hh[rows], rtol=1e-11, atol=1e-13, err_msg=gate)
        np.testing.assert_allclose(grads[f"b_{gate}"][:, 0], layer.bias_ih_l0.grad.numpy()[rows], rtol=1e-11,
                                   atol=1e-13, err_msg=gate)
    if name == "gru-reset-after":
        np.testing.assert_allclose(grads["b_gh"][:, 0], layer.bias_hh_l0.grad.numpy()[2 * H:], rtol=1e-11, atol=1e-13)
