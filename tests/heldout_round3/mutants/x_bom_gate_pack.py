# -*- coding: utf-8 -*-
# 作业3：循环神经网络 (RNN / LSTM) —— 反向传播
# Σ, ∂, δ are written out in the comments; the code is plain ASCII apart from names like α
import numpy as np

α = 1.0  # 缩放系数 (a scale the student kept at 1)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """前向一步: h_t = tanh(x Wx + h_{t-1} Wh + b)"""
    next_h = np.tanh(α * (x @ Wx + prev_h @ Wh + b))
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    δ = α * dnext_h * (1 - next_h ** 2)  # ∂L/∂a
    return δ @ Wx.T, δ @ Wh.T, x.T @ δ, prev_h.T @ δ, δ.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    缓存 = []
    prev = h0
    for t in range(T):
        prev, c = rnn_step_forward(x[:, t, :], prev, Wx, Wh, b)
        h[:, t, :] = prev
        缓存.append(c)
    return h, 缓存


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3]), np.zeros(H)
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev, gx, gh, gb = rnn_step_backward(dh[:, t, :] + dprev, cache[t])
        dWx += gx
        dWh += gh
        db += gb
    return dx, dprev, dWx, dWh, db


def σ(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o, g = σ(a[:, :H]), σ(a[:, H:2 * H]), σ(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)  # 细胞状态的梯度
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g ** 2), dnext_h * tc * o * (1 - o)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    ph, pc = h0, np.zeros_like(h0)
    for t in range(T):
        ph, pc, c = lstm_step_forward(x[:, t, :], ph, pc, Wx, Wh, b)
        h[:, t, :] = ph
        caches.append(c)
    return h, caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = 0, 0, 0
    dph, dpc = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dph, dpc, gx, gh, gb = lstm_step_backward(dh[:, t, :] + dph, dpc, cache[t])
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return dx, dph, dWx, dWh, db
