"""An assignment with its own API (batch-first, named weights), checked through adapter_example.py."""
import numpy as np


def rnn_loss_and_grads(X, Y, h_init, weights):
    """X (B, T, D), Y (B, T) int, h_init (B, H); weights Wxh (D, H), Whh (H, H), bh (H,), Why (H, K), by (K,).
    Returns loss (summed over batch and time) and a dict of gradients with the same names."""
    Wxh, Whh, bh, Why, by = (weights[k] for k in ("Wxh", "Whh", "bh", "Why", "by"))
    B, T, _ = X.shape
    hs, ps = [h_init], []
    loss = 0.0
    for t in range(T):
        hs.append(np.tanh(X[:, t] @ Wxh + hs[-1] @ Whh + bh))
        z = hs[-1] @ Why + by
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        ps.append(p)
        loss -= np.log(p[np.arange(B), Y[:, t]]).sum()
    g = {k: np.zeros_like(v) for k, v in weights.items()}
    dnext = np.zeros_like(h_init)
    for t in reversed(range(T)):
        dz = ps[t].copy()
        dz[np.arange(B), Y[:, t]] -= 1
        g["Why"] += hs[t + 1].T @ dz
        g["by"] += dz.sum(axis=0)
        da = (dz @ Why.T + dnext) * (1 - hs[t + 1] ** 2)
        g["Wxh"] += X[:, t].T @ da
        g["Whh"] += hs[t].T @ da
        g["bh"] += da.sum(axis=0)
        dnext = da @ Whh.T
    return loss, g
