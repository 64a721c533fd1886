import numpy as np
from my_layer_utils import *


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.matmul(x, Wx) + np.matmul(prev_h, Wh) + b)
    return next_h, [x, prev_h, Wx, Wh, next_h]


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    g = dnext_h * dtanh_from_output(next_h)
    return (np.matmul(g, Wx.T), np.matmul(g, Wh.T), np.matmul(x.T, g),
            np.matmul(prev_h.T, g), g.sum(axis=0))


def rnn_forward(x, h0, Wx, Wh, b):
    x_tnd = x.transpose(1, 0, 2)          # time first is easier to loop over
    states, caches = [h0], []
    for xt in x_tnd:
        nh, c = rnn_step_forward(xt, states[-1], Wx, Wh, b)
        states.append(nh)
        caches.append(c)
    return np.array(states[1:]).transpose(1, 0, 2), caches


def rnn_backward(dh, cache):
    dh_tnh = dh.transpose(1, 0, 2)
    T = len(cache)
    dx_list = []
    dWx = dWh = db = 0.0
    dprev = np.zeros_like(dh_tnh[0])
    for t in range(T)[::-1]:
        dxt, dprev, a, bq, cq = rnn_step_backward(dh_tnh[t] + np.clip(dprev, -5, 5), cache[t])
        dx_list.insert(0, dxt)
        dWx = dWx + a
        dWh = dWh + bq
        db = db + cq
    return np.array(dx_list).transpose(1, 0, 2), dprev, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = np.matmul(x, Wx) + np.matmul(prev_h, Wh) + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o = sigmoid(ai), sigmoid(af), sigmoid(ao)
    g = np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, [x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c]


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    t_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * dtanh_from_output(t_c)
    d_i = dc * g * dsigmoid_from_output(i)
    d_f = dc * prev_c * dsigmoid_from_output(f)
    d_o = dnext_h * t_c * dsigmoid_from_output(o)
    d_g = dc * i * dtanh_from_output(g)
    da = np.hstack([d_i, d_f, d_o, d_g])
    return (np.matmul(da, Wx.T), np.matmul(da, Wh.T), dc * f,
            np.matmul(x.T, da), np.matmul(prev_h.T, da), da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    states, caches = [], []
    h_t, c_t = h0, np.zeros(h0.shape)
    for t in range(x.shape[1]):
        h_t, c_t, cache_t = lstm_step_forward(x[:, t, :], h_t, c_t, Wx, Wh, b)
        states.append(h_t)
        caches.append(cache_t)
    return np.stack(states, 1), caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dxs = []
    dWx = np.zeros_like(cache[0][3])
    dWh = np.zeros_like(cache[0][4])
    db = np.zeros(4 * H)
    dh_prev = np.zeros((N, H))
    dc_prev = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dxt, dh_prev, dc_prev, a, bq, cq = lstm_step_backward(dh[:, t, :] + dh_prev, dc_prev, cache[t])
        dxs.append(dxt)
        dWx += a
        dWh += bq
        db += cq
    return np.stack(dxs[::-1], 1), dh_prev, dWx, dWh, db
