"""Exercise 5: BPTT through the LSTM of the lecture (no biases, output gate q).

f_t = σ(U_f x_t + V_f h_{t-1}), i_t = σ(U_i x_t + V_i h_{t-1}), g_t = tanh(U_g x_t + V_g h_{t-1}),
q_t = σ(U_q x_t + V_q h_{t-1}), c_t = f_t c_{t-1} + i_t g_t, h_t = q_t tanh(c_t), ô_t = softmax(W h_t)
"""
import numpy as np

GATES = "figq"


def sigma(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def forward(x, h0, c0, params):
    h, c, o_hat, _ = run(x, h0, c0, params)
    return h, c, o_hat


def run(x, h0, c0, params):
    """The forward pass, also returning every gate's values (for bptt)."""
    T = x.shape[0]
    H = h0.shape[0]
    store = {k: np.zeros((T, H)) for k in GATES + "hc"}
    o_hat = np.zeros((T, params["W"].shape[0]))
    h, c = h0, c0
    for t in range(T):
        pre = {k: params["U_" + k] @ x[t] + params["V_" + k] @ h for k in GATES}
        f, i, q = sigma(pre["f"]), sigma(pre["i"]), sigma(pre["q"])
        g = np.tanh(pre["g"])
        c = f * c + i * g
        h = q * np.tanh(c)
        z = params["W"] @ h
        o_hat[t] = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        for k, v in zip("figqhc", (f, i, g, q, h, c)):
            store[k][t] = v
    return store["h"], store["c"], o_hat, store


def bptt(x, o, h0, c0, params):
    h, c, o_hat, s = run(x, h0, c0, params)
    T = len(o)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros_like(h0)
    dc_next = np.zeros_like(c0)
    for t in range(T - 1, -1, -1):
        dz = o_hat[t].copy()
        dz[o[t]] -= 1
        grads["W"] += np.outer(dz, h[t])
        dh = params["W"].T @ dz + dh_next
        tc = np.tanh(c[t])
        dc = dc_next + dh * s["q"][t] * (1 - tc ** 2)
        c_prev = c[t - 1] if t else c0
        h_prev = h[t - 1] if t else h0
        delta = {"f": dc * c_prev * s["f"][t] * (1 - s["f"][t]),
                 "i": dc * s["g"][t] * s["i"][t] * (1 - s["i"][t]),
                 "g": dc * s["i"][t] * (1 - s["g"][t] ** 2),
                 "q": dh * tc * s["q"][t] * (1 - s["q"][t])}
        dh_next = np.zeros_like(h0)
        for k, d in delta.items():
            grads["U_" + k] += np.outer(d, x[t])
            grads["V_" + k] += np.outer(d, h_prev)
            dh_next += params["V_" + k] @ d
        dc_next = dc * s["f"][t]
    return grads
