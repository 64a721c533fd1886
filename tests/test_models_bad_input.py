"""Bad input to the models: a ValueError naming the argument, what was expected and what came."""

import numpy as np
import pytest

from numeric import models

D, H, K, T, B = 3, 4, 5, 3, 2


def point(name="lstm", dtype=np.float64):
    m = models.get(name)
    rng = np.random.default_rng(0)
    return m, m.init_params(D, H, K, rng=rng, dtype=dtype), rng.standard_normal((T, D, B)).astype(dtype), \
        rng.integers(0, K, (T, B))


def with_param(params, key, value):
    return {**params, key: value}


def nan_at(a, index):
    a = a.copy()
    a[index] = np.nan
    return a


BAD_PARAMS = [
    # (description, mutate(params) -> params, expected message)
    ("wrong shape", lambda p: with_param(p, "V_f", np.zeros((H, H + 1))), r"V_f: expected shape \(4, 4\), got \(4, 5\)"),
    ("transposed", lambda p: with_param(p, "U_i", p["U_i"].T.copy()), r"U_i: expected shape \(4, 3\), got \(3, 4\)"),
    ("bias as 1-d", lambda p: with_param(p, "b_g", np.zeros(H)), r"b_g: expected shape \(4, 1\), got \(4,\)"),
    ("integer dtype", lambda p: with_param(p, "V_q", np.zeros((H, H), int)), r"V_q: expected a floating-point array.*int64"),
    ("list, not array", lambda p: with_param(p, "U_f", p["U_f"].tolist()), r"U_f: expected a NumPy array .*got list"),
    ("NaN", lambda p: with_param(p, "V_g", nan_at(p["V_g"], (1, 2))), r"V_g: expected finite values, got nan at index \(1, 2\)"),
    ("inf", lambda p: with_param(p, "W", p["W"] + np.inf), r"W: expected finite values, got inf at index \(0, 0\)"),
    ("missing", lambda p: {k: v for k, v in p.items() if k != "b_f"}, r"missing \['b_f'\]"),
    ("missing W", lambda p: {k: v for k, v in p.items() if k != "W"}, r"W: expected a NumPy array of shape \(K, H\) in the lstm params, got it is missing"),
    ("extra", lambda p: with_param(p, "p_f", np.zeros((H, 1))), r"unexpected \['p_f'\]"),
    ("mixed precision", lambda p: with_param(p, "W", p["W"].astype(np.float32)), r"one precision"),
    ("not a dict", lambda p: list(p.values()), r"params: expected a dict of arrays, got list"),
]


@pytest.mark.parametrize("desc, mutate, message", BAD_PARAMS, ids=[c[0] for c in BAD_PARAMS])
@pytest.mark.parametrize("call", ["loss", "loss_and_grads"])
def test_bad_params(desc, mutate, message, call):
    m, p, xs, o = point()
    with pytest.raises(ValueError, match=message):
        getattr(m, call)(mutate(p), xs, o)


BAD_DATA = [
    ("xs 2-d", dict(xs=np.zeros((T, D))), r"xs: expected a NumPy array of shape \(T, D=3, B\), got \(3, 3\)"),
    ("xs wrong D", dict(xs=np.zeros((T, D + 1, B))), r"xs: expected shape \(T, D=3, B\), got \(3, 4, 2\)"),
    ("xs NaN", dict(xs=nan_at(np.zeros((T, D, B)), (2, 0, 1))), r"xs: expected finite values, got nan at index \(2, 0, 1\)"),
    ("xs ints", dict(xs=np.zeros((T, D, B), int)), r"xs: expected a floating-point array"),
    ("targets float", dict(targets=np.zeros((T, B))), r"targets: expected integer class ids.*float64"),
    ("targets shape", dict(targets=np.zeros((T, B + 1), int)), r"targets: expected shape \(T=3, B=2\), got \(3, 3\)"),
    ("targets range", dict(targets=np.full((T, B), K)), r"targets: expected class ids in \[0, K=5\) or −1 \(no loss term\), got 5 at index \(0, 0\)"),
    ("targets negative", dict(targets=np.full((T, B), -2)), r"got -2 at index"),  # −1 is the mask
    ("h0 shape", dict(h0=np.zeros((H, B + 1))), r"h0: expected shape \(4, 2\), got \(4, 3\)"),
    ("c0 NaN", dict(c0=np.full((H, B), np.nan)), r"c0: expected finite values"),
    ("xs float32 with float64 params", dict(xs=np.zeros((T, D, B), np.float32)),
     r"xs: expected the parameters' precision \(float64\), got dtype float32"),
    ("h0 float32 with float64 params", dict(h0=np.zeros((H, B), np.float32)),
     r"h0: expected the parameters' precision \(float64\), got dtype float32"),
    ("unknown state", dict(ohat0=np.zeros((K, B))), r"lstm has initial states \['h0', 'c0'\], got unexpected \['ohat0'\]"),
]


@pytest.mark.parametrize("desc, change, message", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data(desc, change, message):
    m, p, xs, o = point()
    args = {"xs": xs, "targets": o, **change}
    with pytest.raises(ValueError, match=message):
        m.loss_and_grads(p, args.pop("xs"), args.pop("targets"), **args)


@pytest.mark.parametrize("truncate", [0, -1, 1.5, True, "2"])
def test_bad_truncate(truncate):
    m, p, xs, o = point("rnn")
    with pytest.raises(ValueError, match=r"truncate: expected None or an integer ≥ 1"):
        m.loss_and_grads(p, xs, o, truncate=truncate)


@pytest.mark.parametrize("size", [0, -2, 2.5, None])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match=r"H: expected a positive integer"):
        models.get("gru").param_shapes(D=2, H=size, K=2)


def test_bad_init_dtype():
    with pytest.raises(ValueError, match=r"dtype: expected float32 or float64, got int64"):
        models.get("rnn").init_params(2, 2, 2, dtype=np.int64)


def test_c0_for_a_model_without_cell_state():
    m, p, xs, o = point("gru")
    with pytest.raises(ValueError, match=r"gru has initial states \['h0'\], got unexpected \['c0'\]"):
        m.loss(p, xs, o, c0=np.zeros((H, B)))


def test_backward_checks_upstream_shape():
    m, p, xs, _ = point("rnn")
    tape = m.forward(p, xs)
    with pytest.raises(ValueError, match=r"dhs: expected shape \(3, 4, 2\), got \(3, 4\)"):
        m.backward(p, tape, np.zeros((T, H)))
    with pytest.raises(ValueError, match=r"dc_last: rnn has no cell state"):
        m.backward(p, tape, np.zeros((T, H, B)), dc_last=np.zeros((H, B)))


def test_inputs_are_not_modified():
    m, p, xs, o = point("lstm-peephole")
    copies = {k: v.copy() for k, v in p.items()}, xs.copy(), o.copy()
    m.loss_and_grads(p, xs, o, truncate=2)
    for k in p:
        np.testing.assert_array_equal(p[k], copies[0][k])
    np.testing.assert_array_equal(xs, copies[1])
    np.testing.assert_array_equal(o, copies[2])
