# The lecture's double sum, written literally:
#   dE/dV = sum_t sum_{k<=t} delta_k^{(t)} h_{k-1}^T,
#   delta_t^{(t)} = (1 - h_t^2) * W^T (ô_t - o_t),  delta_{k-1}^{(t)} = (1 - h_{k-1}^2) * V^T delta_k^{(t)}
# O(T^2), but it is what the slides say.
import numpy as np
np.random.seed(0)


def bptt(x, o, h0, U, V, W):
    T, D = x.shape
    hs = [h0]
    probs = []
    for t in range(T):
        hs.append(np.tanh(U.dot(x[t]) + V.dot(hs[-1])))
        z = W.dot(hs[-1])
        z = np.exp(z - np.max(z))
        probs.append(z / np.sum(z))
    dU = np.zeros(U.shape)
    dV = np.zeros(V.shape)
    dW = np.zeros(W.shape)
    for t in range(1, T + 1):
        err = probs[t - 1].copy()
        err[o[t - 1]] -= 1
        dW += np.outer(err, hs[t])
        delta = (1 - hs[t] ** 2) * W.T.dot(err)
        for k in range(t, 0, -1):
            dU += np.outer(delta, x[k - 1])
            dV += np.outer(delta, hs[k - 1])
            delta = (1 - hs[k - 1] ** 2) * V.T.dot(delta)
    return np.clip(dU, -5, 5), dV, dW


if __name__ == "__main__":
    T, D, H, K = 5, 3, 4, 6
    x = np.random.randn(T, D)
    o = np.random.randint(K, size=T)
    print([g.shape for g in bptt(x, o, np.zeros(H), np.random.randn(H, D), np.random.randn(H, H), np.random.randn(K, H))])
