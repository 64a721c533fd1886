"""rnn_layers.py -- my solution.  Usage: python rnn_layers.py [seed]"""
import enum
import sys
from typing import Dict, Tuple, TypeVar

import numpy as np
from scipy.special import expit

Array = TypeVar("Array", bound=np.ndarray)
Gate = enum.Enum("Gate", "i f g o")          # column blocks of Wx, Wh, b in this order
SEED = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 231


def block(a: Array, gate: Gate) -> Array:
    H = a.shape[-1] // 4
    k = gate.value - 1
    return a[..., k * H:(k + 1) * H]


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    return np.tanh(a), (x, prev_h, Wx, Wh, a)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, a = cache
    da = dnext_h * (1.0 - np.tanh(a) ** 2)       # tanh' from the stored pre-activation
    return np.dot(da, Wx.T), np.dot(da, Wh.T), np.dot(x.T, da), np.dot(prev_h.T, da), da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    for t in range(T):
        h[:, t], c = rnn_step_forward(x[:, t], h0 if t == 0 else h[:, t - 1], Wx, Wh, b)
        caches.append(c)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = 0, 0, 0
    for t in range(T - 1, -1, -1):
        dx[:, t], dprev, gWx, gWh, gb = rnn_step_backward(dh[:, t], cache[t])
        if t > 0:
            dh[:, t - 1] += dprev                  # fold the carried gradient into the caller's dh
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dprev, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = (expit(block(a, g)) for g in (Gate.i, Gate.f, Gate.o))
    g = np.tanh(block(a, Gate.g))
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache: Dict[str, np.ndarray] = dict(x=x, h=prev_h, c=prev_c, Wx=Wx, Wh=Wh, i=i, f=f, o=o, g=g, nc=next_c)
    return next_h, next_c, cache


def _lstm_local(dnext_h, dnext_c, k) -> Tuple[np.ndarray, np.ndarray]:
    tc = np.tanh(k["nc"])
    dc = dnext_c + dnext_h * k["o"] * (1 - tc ** 2)
    da = np.empty((dc.shape[0], 4 * dc.shape[1]))
    block(da, Gate.i)[...] = dc * k["g"] * k["i"] * (1 - k["i"])
    block(da, Gate.f)[...] = dc * k["c"] * k["f"] * (1 - k["f"])
    block(da, Gate.o)[...] = dnext_h * tc * k["o"] * (1 - k["o"])
    block(da, Gate.g)[...] = dc * k["i"] * (1 - k["g"] ** 2)
    return da, dc * k["f"]


def lstm_step_backward(dnext_h, dnext_c, cache):
    da, dprev_c = _lstm_local(dnext_h, dnext_c, cache)
    return (da @ cache["Wx"].T, da @ cache["Wh"].T, dprev_c,
            cache["x"].T @ da, cache["h"].T @ da, da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    hs, caches = [], []
    h, c = h0, np.zeros_like(h0)
    for t in range(T):
        h, c, k = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(k)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    # local gate gradients step by step, the parameter gradients in one product at the end
    das = [None] * T
    dh_t, dc_t = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        das[t], dc_t = _lstm_local(dh[:, t] + dh_t, dc_t, cache[t])
        dh_t = das[t] @ cache[t]["Wh"].T
    DA = np.stack(das, axis=1)                          # (N, T, 4H)
    X = np.stack([k["x"] for k in cache], axis=1)       # (N, T, D)
    Hp = np.stack([k["h"] for k in cache], axis=1)      # (N, T, H): h_{t-1}
    dx = DA @ cache[0]["Wx"].T
    dWx = np.tensordot(X, DA, axes=([0, 1], [0, 1]))
    dWh = np.tensordot(Hp, DA, axes=([0, 1], [0, 1]))
    db = DA.sum(axis=(0, 1))
    return dx, dh_t, dWx, dWh, db


if __name__ == "__main__":
    np.random.seed(SEED)
    h, cache = lstm_forward(np.random.randn(2, 3, 4), np.random.randn(2, 5), np.random.randn(4, 20),
                            np.random.randn(5, 20), np.random.randn(20))
    print([g.shape for g in lstm_backward(np.random.randn(*h.shape), cache)])
