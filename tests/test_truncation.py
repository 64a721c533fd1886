"""Truncated BPTT (docs/models.md): each E_t sends its gradient back at most k steps."""

import numpy as np
import pytest

from numeric import models
from numeric.gradcheck.verify import random_point

D, H, K, T, B = 3, 4, 3, 6, 2


@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("k", [T, T + 3])
def test_truncate_at_least_T_is_full_bptt(name, k):
    m = models.get(name)
    pt = random_point(m, D, H, K, T, B, seed=1)
    _, full = m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)
    _, trunc = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=k, **pt.state0)
    for key in full:
        np.testing.assert_allclose(trunc[key], full[key], rtol=1e-12, atol=1e-15, err_msg=key)


def rnn_truncated_by_windows(p, xs, targets, h0, k):
    """Independent construction for the Elman RNN: for every t, rerun E_t from h_{t−k} held constant and
    backpropagate through that window only (plain loops, no shared code with the models)."""
    Tn = xs.shape[0]
    hs = [h0]
    for t in range(Tn):
        hs.append(np.tanh(p["U"] @ xs[t] + p["V"] @ hs[-1] + p["b"]))
    grads = {name: np.zeros_like(v) for name, v in p.items()}
    grads["h0"] = np.zeros_like(h0)
    for t in range(1, Tn + 1):
        z = p["W"] @ hs[t] + p["c"]
        ohat = np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)
        dz = ohat.copy()
        dz[targets[t - 1], np.arange(xs.shape[2])] -= 1
        grads["W"] += dz @ hs[t].T
        grads["c"] += dz.sum(1, keepdims=True)
        dh = p["W"].T @ dz
        for s in range(t, max(t - k, 0), -1):
            da = dh * (1 - hs[s] ** 2)
            grads["U"] += da @ xs[s - 1].T
            grads["V"] += da @ hs[s - 1].T
            grads["b"] += da.sum(1, keepdims=True)
            dh = p["V"].T @ da
        if t - k <= 0:
            grads["h0"] += dh
    return grads


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_rnn_truncation_matches_a_window_by_window_construction(k):
    m = models.get("rnn")
    pt = random_point(m, D, H, K, T, B, seed=2)
    _, grads = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=k, **pt.state0)
    want = rnn_truncated_by_windows(pt.params, pt.xs, pt.targets, pt.state0["h0"], k)
    for key, value in want.items():
        np.testing.assert_allclose(grads[key], value, rtol=1e-12, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("name", models.names())
def test_truncation_changes_the_recurrent_gradient(name):
    """A check that could not fail would pass with truncate ignored: k = 1 must differ from full BPTT."""
    m = models.get(name)
    pt = random_point(m, D, H, K, T, B, seed=3)
    _, full = m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)
    _, one = m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=1, **pt.state0)
    recurrent = [k for k in full if k.startswith("V")]
    assert any(not np.allclose(full[k], one[k], rtol=1e-6) for k in recurrent)
    if name != "jordan":  # the output layer is off the recurrent path (Jordan feeds ô back through W)
        np.testing.assert_allclose(one["W"], full["W"], rtol=1e-12)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_backward_truncates_upstream_gradients_the_same_way(name):
    """Model.backward(dhs, truncate=k) applies the same definition to an arbitrary upstream ∂L/∂h_t."""
    m = models.get(name)
    pt = random_point(m, D, H, K, T, B, seed=4)
    cell = {k: v for k, v in pt.params.items() if k not in ("W", "c")}
    tape = m.forward(cell, pt.xs, **pt.state0)
    dhs = np.zeros((T, H, B))
    dhs[T - 1] = 1.0  # only h_T is used downstream
    g1 = m.backward(cell, tape, dhs, truncate=1)
    g_full = m.backward(cell, tape, dhs)
    # with k = 1 only x_T receives gradient; full BPTT reaches x_1
    assert np.all(g1["xs"][: T - 1] == 0) and np.any(g_full["xs"][0] != 0)
    np.testing.assert_allclose(g1["xs"][T - 1], g_full["xs"][T - 1], rtol=1e-12)
