"""The course's Elman RNN, written the way the lecture notes derive it (correct)."""
import numpy as np


def forward(x, h0, U, V, W):
    T = x.shape[0]
    h = np.zeros((T, U.shape[0]))
    o_hat = np.zeros((T, W.shape[0]))
    h_prev = h0
    for t in range(T):
        h[t] = np.tanh(U @ x[t] + V @ h_prev)
        z = W @ h[t]
        e = np.exp(z - z.max())
        o_hat[t] = e / e.sum()
        h_prev = h[t]
    return h, o_hat


def bptt(x, o, h0, U, V, W):
    h, o_hat = forward(x, h0, U, V, W)
    T = x.shape[0]
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    delta_next = np.zeros(U.shape[0])
    for t in reversed(range(T)):
        dz = o_hat[t].copy()
        dz[o[t]] -= 1.0                                     # ∂E_t/∂z_t = ô_t − o_t
        dW += np.outer(dz, h[t])
        dh = W.T @ dz + V.T @ delta_next                    # ∂E/∂h_t: from the output and from t+1
        delta = (1.0 - h[t] ** 2) * dh                      # δ_t = tanh'(a_t) ⊙ ∂E/∂h_t
        h_prev = h[t - 1] if t > 0 else h0
        dU += np.outer(delta, x[t])
        dV += np.outer(delta, h_prev)
        delta_next = delta
    return dU, dV, dW
