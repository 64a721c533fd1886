"""The public contract of numeric.models (docs/models.md): names, shapes, keys, dtypes."""

import doctest

import numpy as np
import pytest

import numeric.models
from numeric import models

# model → (parameter names in order with bias, the subset that are biases)
EXPECTED_PARAMS = {
    "rnn": (["U", "V", "b", "W", "c"], {"b", "c"}),
    "jordan": (["U", "V", "b", "W", "c"], {"b", "c"}),
    "lstm": ([f"{w}_{g}" for g in "figq" for w in "UVb"] + ["W", "c"], {"b_f", "b_i", "b_g", "b_q", "c"}),
    "lstm-peephole": (["U_f", "V_f", "b_f", "p_f", "U_i", "V_i", "b_i", "p_i", "U_g", "V_g", "b_g",
                       "U_q", "V_q", "b_q", "p_q", "W", "c"], {"b_f", "b_i", "b_g", "b_q", "c"}),
    "gru": ([f"{w}_{g}" for g in "rug" for w in "UVb"] + ["W", "c"], {"b_r", "b_u", "b_g", "c"}),
    "gru-reset-after": (["U_r", "V_r", "b_r", "U_u", "V_u", "b_u", "U_g", "V_g", "b_g", "b_gh", "W", "c"],
                        {"b_r", "b_u", "b_g", "b_gh", "c"}),
}
STATES = {"rnn": ["h0"], "jordan": ["ohat0"], "lstm": ["h0", "c0"], "lstm-peephole": ["h0", "c0"],
          "gru": ["h0"], "gru-reset-after": ["h0"]}
D, H, K, T, B = 3, 4, 5, 6, 2


def expected_shape(model: str, name: str) -> tuple[int, int]:
    if name == "W":
        return (K, H)
    if name == "c":
        return (K, 1)
    if name.startswith(("b", "p_")):
        return (H, 1)
    if name.startswith("U"):
        return (H, D)
    return (H, K) if model == "jordan" else (H, H)


def test_names_are_the_six_built_in_models():
    assert models.names() == tuple(EXPECTED_PARAMS)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'lstn'.*rnn, jordan, lstm, lstm-peephole, gru, gru-reset-after"):
        models.get("lstn")


@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("bias", [True, False])
def test_param_shapes_follow_the_documented_table(name, bias):
    order, biases = EXPECTED_PARAMS[name]
    want = [k for k in order if bias or k not in biases]
    shapes = models.get(name, bias=bias).param_shapes(D=D, H=H, K=K)
    assert list(shapes) == want
    assert shapes == {k: expected_shape(name, k) for k in want}


@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grads_have_every_parameter_xs_and_initial_state(name, dtype):
    m = models.get(name)
    rng = np.random.default_rng(0)
    params = m.init_params(D, H, K, rng=rng, dtype=dtype)
    assert all(p.dtype == dtype for p in params.values())
    xs = rng.standard_normal((T, D, B)).astype(dtype)
    targets = rng.integers(0, K, (T, B))
    E, grads = m.loss_and_grads(params, xs, targets)
    assert list(grads) == [*params, "xs", *STATES[name]]
    for key, g in grads.items():
        want = params[key].shape if key in params else xs.shape if key == "xs" else m.initial_state_shapes(H, K, B)[key]
        assert g.shape == want, key
        assert g.dtype == dtype, key
    assert E.dtype == dtype
    np.testing.assert_allclose(E, m.loss(params, xs, targets), rtol=1e-6)


@pytest.mark.parametrize("name", models.names())
def test_loss_is_the_summed_cross_entropy_of_the_softmax(name):
    """E = Σ_t Σ_b −log ô_t[o_t], with ô from the model's own logits: for a batch of one column per
    target class, E must equal the sum of the per-column losses computed separately."""
    m = models.get(name)
    rng = np.random.default_rng(1)
    params = m.init_params(D, H, K, rng=rng)
    xs = rng.standard_normal((T, D, B))
    targets = rng.integers(0, K, (T, B))
    whole = m.loss(params, xs, targets)
    parts = sum(m.loss(params, xs[:, :, [b]], targets[:, [b]]) for b in range(B))
    np.testing.assert_allclose(whole, parts, rtol=1e-13)
    # and E > 0 with E/T·B not above log K by far at init (a sanity bound, derived: ô is near uniform)
    assert 0 < whole / (T * B) < 2 * np.log(K)


def test_bias_free_rnn_is_the_course_equation():
    """h_t = tanh(U x_t + V h_{t−1}), ô_t = softmax(W h_t), computed here step by step with NumPy."""
    m = models.get("rnn", bias=False)
    rng = np.random.default_rng(2)
    p = m.init_params(D, H, K, rng=rng)
    xs = rng.standard_normal((T, D, 1))
    targets = rng.integers(0, K, (T, 1))
    h, E = np.zeros((H, 1)), 0.0
    for t in range(T):
        h = np.tanh(p["U"] @ xs[t] + p["V"] @ h)
        z = p["W"] @ h
        E -= z[targets[t, 0], 0] - np.log(np.exp(z).sum())
    np.testing.assert_allclose(m.loss(p, xs, targets), E, rtol=1e-13)


def test_forward_and_backward_expose_the_cell_alone():
    m = models.get("lstm")
    rng = np.random.default_rng(3)
    p = m.init_params(D, H, K, rng=rng)
    cell = {k: v for k, v in p.items() if k not in ("W", "c")}
    xs = rng.standard_normal((T, D, B))
    tape = m.forward(cell, xs)
    assert tape.hs.shape == (T, H, B) and tape.cs.shape == (T, H, B)
    # the built-in loss is the special case dhs = Wᵀ(ô − o)
    targets = rng.integers(0, K, (T, B))
    _, grads = m.loss_and_grads(p, xs, targets)
    z = p["W"] @ tape.hs + p["c"]
    ohat = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ohat[np.arange(T)[:, None], targets, np.arange(B)] -= 1
    cell_grads = m.backward(cell, tape, p["W"].T @ ohat)
    for k, g in cell_grads.items():
        np.testing.assert_allclose(g, grads[k], rtol=1e-12, atol=1e-14)


def test_jordan_has_no_separate_cell():
    m = models.get("jordan")
    p = m.init_params(D, H, K)
    with pytest.raises(ValueError, match="reads the output"):
        m.forward(p, np.zeros((T, D, B)))


def test_module_doctests():
    assert doctest.testmod(numeric.models).failed == 0
