"""A student who runs everything in float32 "to be fast", with 1/cosh^2 for tanh'."""
import numpy as np

DT = np.float32


def sigmoid(x):
    return (1 / (1 + np.exp(-x))).astype(DT)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = (x.astype(DT) @ Wx.astype(DT) + prev_h.astype(DT) @ Wh.astype(DT) + b.astype(DT))
    next_h = np.tanh(a)
    return next_h, (x.astype(DT), prev_h.astype(DT), Wx.astype(DT), Wh.astype(DT), a)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, a = cache
    with np.errstate(over="ignore"):
        da = dnext_h.astype(DT) / np.cosh(a) ** 2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=DT)
    cache = []
    hp = h0
    for t in range(T):
        hp, c = rnn_step_forward(x[:, t], hp, Wx, Wh, b)
        h[:, t] = hp
        cache.append(c)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D), DT)
    dWx = np.zeros((D, H), DT)
    dWh = np.zeros((H, H), DT)
    db = np.zeros(H, DT)
    dn = np.zeros((N, H), DT)
    for t in reversed(range(T)):
        dx[:, t], dn, a, bb, c = rnn_step_backward(dh[:, t] + dn, cache[t])
        dWx += a
        dWh += bb
        db += c
    return dx, dn, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    x, prev_h, prev_c, Wx, Wh, b = (v.astype(DT) for v in (x, prev_h, prev_c, Wx, Wh, b))
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H]); f = sigmoid(a[:, H:2 * H]); o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    dnext_h = dnext_h.astype(DT)
    tc = np.tanh(next_c)
    dc = dnext_c.astype(DT) + dnext_h * o * (1 - tc * tc)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dnext_h * tc * o * (1 - o), dc * i * (1 - g * g)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc, x.T @ da, prev_h.T @ da, da.sum(0)


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), DT)
    hp, cp = h0, np.zeros((N, H), DT)
    cache = []
    for t in range(T):
        hp, cp, c = lstm_step_forward(x[:, t], hp, cp, Wx, Wh, b)
        h[:, t] = hp
        cache.append(c)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D), DT)
    dWx = np.zeros((D, 4 * H), DT); dWh = np.zeros((H, 4 * H), DT); db = np.zeros(4 * H, DT)
    dhn = np.zeros((N, H), DT); dcn = np.zeros((N, H), DT)
    for t in reversed(range(T)):
        dx[:, t], dhn, dcn, a, bb, c = lstm_step_backward(dh[:, t] + dhn, dcn, cache[t])
        dWx += a; dWh += bb; db += c
    return dx, dhn, dWx, dWh, db
