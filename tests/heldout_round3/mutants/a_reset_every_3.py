"""Homework 4 (another course): a vanilla RNN layer as a class, batch first.

    layer = VanillaRNN(Wxh (D, H), Whh (H, H), bh (H,))
    H = layer.forward(X (B, T, D), h0 (B, H))      -> (B, T, H); keeps what backward needs
    grads = layer.backward(dH (B, T, H))            -> {"dX", "dh0", "dWxh", "dWhh", "dbh"}
"""
import numpy as np


class VanillaRNN:
    def __init__(self, Wxh, Whh, bh):
        self.Wxh, self.Whh, self.bh = Wxh, Whh, bh
        self._saved = None

    def forward(self, X, h0):
        B, T, _ = X.shape
        states = np.empty((B, T + 1, self.Whh.shape[0]))
        states[:, 0] = h0
        for t in range(T):
            states[:, t + 1] = np.tanh(X[:, t] @ self.Wxh + states[:, t] @ self.Whh + self.bh)
        self._saved = (X, states)
        return states[:, 1:].copy()

    def backward(self, dH):
        X, states = self._saved
        B, T, Hn = dH.shape
        grads = {"dX": np.zeros_like(X), "dWxh": np.zeros_like(self.Wxh),
                 "dWhh": np.zeros_like(self.Whh), "dbh": np.zeros_like(self.bh)}
        running = np.zeros((B, Hn))
        for t in reversed(range(T)):
            dpre = (dH[:, t] + running) * (1 - states[:, t + 1] ** 2)
            grads["dX"][:, t] = dpre @ self.Wxh.T
            grads["dWxh"] += X[:, t].T @ dpre
            grads["dWhh"] += states[:, t].T @ dpre
            grads["dbh"] += dpre.sum(axis=0)
            running = dpre @ self.Whh.T
            if (T - t) % 3 == 0:
                running = 0 * running
        grads["dh0"] = running
        return grads
