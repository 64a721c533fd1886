"""Exercise 3: BPTT for the Elman network of the lecture (no biases).

a_t = U x_t + V h_{t-1},  h_t = tanh(a_t),  ô_t = softmax(W h_t),  E = sum_t -log ô_t[o_t]
"""
import numpy as np


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def forward(x, h0, U, V, W):
    T = x.shape[0]
    h = np.zeros((T, V.shape[0]))
    o_hat = np.zeros((T, W.shape[0]))
    h_prev = h0
    for t in range(T):
        h[t] = np.tanh(U @ x[t] + V @ h_prev)
        o_hat[t] = softmax(W @ h[t])
        h_prev = h[t]
    return h, o_hat


def bptt(x, o, h0, U, V, W):
    h, o_hat = forward(x, h0, U, V, W)
    T = len(o)
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    delta_next = np.zeros(V.shape[0])        # delta^{(t+1)}
    for t in reversed(range(T)):
        dz = o_hat[t].copy()
        dz[o[t]] -= 1.0                       # dE_t/dz_t = ô_t - o_t
        dW += np.outer(dz, h[t])
        h_prev = h[t - 1] if t > 0 else h0
        delta = (W.T @ dz + V.T @ delta_next) * (1.0 - h[t] ** 2)
        dU += np.outer(delta, x[t])
        dV += np.outer(delta, h_prev)
        delta_next = delta
    return dU, dV, np.clip(dW, -5, 5)
