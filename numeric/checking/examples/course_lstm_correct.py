"""The course's LSTM (no biases, output gate q), parameters in a dict (correct)."""
import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward(x, h0, c0, params):
    p = params
    T, H = x.shape[0], h0.shape[0]
    h, c, o_hat = np.zeros((T, H)), np.zeros((T, H)), np.zeros((T, p["W"].shape[0]))
    hp, cp = h0, c0
    for t in range(T):
        f = _sigmoid(p["U_f"] @ x[t] + p["V_f"] @ hp)
        i = _sigmoid(p["U_i"] @ x[t] + p["V_i"] @ hp)
        g = np.tanh(p["U_g"] @ x[t] + p["V_g"] @ hp)
        q = _sigmoid(p["U_q"] @ x[t] + p["V_q"] @ hp)
        c[t] = f * cp + i * g
        h[t] = q * np.tanh(c[t])
        z = p["W"] @ h[t]
        e = np.exp(z - z.max())
        o_hat[t] = e / e.sum()
        hp, cp = h[t], c[t]
    return h, c, o_hat


def bptt(x, o, h0, c0, params):
    p = params
    h, c, o_hat = forward(x, h0, c0, p)
    T = x.shape[0]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        hp = h[t - 1] if t else h0
        cp = c[t - 1] if t else c0
        f = _sigmoid(p["U_f"] @ x[t] + p["V_f"] @ hp)
        i = _sigmoid(p["U_i"] @ x[t] + p["V_i"] @ hp)
        g = np.tanh(p["U_g"] @ x[t] + p["V_g"] @ hp)
        q = _sigmoid(p["U_q"] @ x[t] + p["V_q"] @ hp)
        dz = o_hat[t].copy()
        dz[o[t]] -= 1
        grads["W"] += np.outer(dz, h[t])
        dh = p["W"].T @ dz + dh_next
        tc = np.tanh(c[t])
        dc = dc_next + dh * q * (1 - tc ** 2)
        pre = {"f": dc * cp * f * (1 - f), "i": dc * g * i * (1 - i),
               "g": dc * i * (1 - g ** 2), "q": dh * tc * q * (1 - q)}
        dh_next = np.zeros_like(h0)
        for k, d in pre.items():
            grads["U_" + k] += np.outer(d, x[t])
            grads["V_" + k] += np.outer(d, hp)
            dh_next += p["V_" + k].T @ d
        dc_next = dc * f
    return grads
