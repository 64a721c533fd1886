"""RNN / LSTM layers, written with precomputed projections and einsum.

Caches: dicts for the RNN, a namedtuple for the LSTM step.
"""
import collections

import numpy as np

LSTMCache = collections.namedtuple("LSTMCache", "x prev_h prev_c Wx Wh gates c tc")


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b)
    return next_h, {"x": x, "prev_h": prev_h, "Wx": Wx, "Wh": Wh, "next_h": next_h}


def rnn_step_backward(dnext_h, cache):
    dz = (1.0 - np.square(cache["next_h"])) * dnext_h
    dx = np.einsum("nh,dh->nd", dz, cache["Wx"])
    dprev_h = np.einsum("nh,kh->nk", dz, cache["Wh"])
    dWx = np.einsum("nd,nh->dh", cache["x"], dz)
    dWh = np.einsum("nk,nh->kh", cache["prev_h"], dz)
    db = dz.sum(0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    xw = np.einsum("ntd,dh->nth", x, Wx) + b  # all input projections at once
    hs = np.empty((N, T + 1, h0.shape[1]))
    hs[:, 0] = h0
    for t in range(T):
        hs[:, t + 1] = np.tanh(xw[:, t] + hs[:, t] @ Wh)
    h = hs[:, 1:]
    return h, {"x": x, "hs": hs, "Wx": Wx, "Wh": Wh}


def rnn_backward(dh, cache):
    x, hs, Wx, Wh = cache["x"], cache["hs"], cache["Wx"], cache["Wh"]
    N, T, H = dh.shape
    dz = np.zeros_like(dh)
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dz[:, t] = (dh[:, t] + carry) * (1.0 - hs[:, t + 1] ** 2)
        carry = dz[:, t] @ Wh.T
    dx = np.einsum("nth,dh->ntd", dz, Wx)
    dWx = np.einsum("ntd,nth->dh", x, dz)
    dWh = np.einsum("ntk,nth->kh", hs[:, :-1], dz)
    db = dz.sum(axis=(0, 1))
    return dx, carry, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    gates = np.concatenate([_sigmoid(a[:, :3 * H]), np.tanh(a[:, 3 * H:])], axis=1)
    i, f, o, g = np.split(gates, 4, axis=1)
    next_c = f * prev_c + i * g
    tc = np.tanh(next_c)
    next_h = o * tc
    return next_h, next_c, LSTMCache(x, prev_h, prev_c, Wx, Wh, gates, next_c, tc)


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g = np.split(cache.gates, 4, axis=1)
    dc = dnext_c + dnext_h * o * (1 - cache.tc ** 2)
    dgates = np.concatenate([dc * g, dc * cache.prev_c, dnext_h * cache.tc, dc * i], axis=1)
    local = np.concatenate([i * (1 - i), f * (1 - f), o * (1 - o), 1 - g * g], axis=1)
    da = dgates * local
    dx = da @ cache.Wx.T
    dprev_h = da @ cache.Wh.T
    dprev_c = dc * f
    dWx = cache.x.T @ da
    dWh = cache.prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    c = np.zeros_like(h0)
    hprev = h0
    steps = []
    for t in range(T):
        hprev, c, step = lstm_step_forward(x[:, t], hprev, c, Wx, Wh, b)
        h[:, t] = hprev
        steps.append(step)
    return h, {"steps": steps, "D": D}


def lstm_backward(dh, cache):
    steps = cache["steps"]
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache["D"]))
    grads = None
    dh_carry = np.zeros((N, H))
    dc_carry = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_carry, dc_carry, *param_grads = lstm_step_backward(dh[:, t] + dh_carry, np.zeros_like(dc_carry), steps[t])
        grads = param_grads if grads is None else [acc + new for acc, new in zip(grads, param_grads)]
    dWx, dWh, db = grads
    return dx, dh_carry, dWx, dWh, db
