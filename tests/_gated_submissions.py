"""Correct course-convention submissions for the GRU (both forms) and the peephole LSTM, written for the
diagnosis tests (tests/test_check_mistakes.py plants one mistake at a time by editing this text).

Course convention (docs/checking.md): one sequence, no batch, no biases; x (T, D), o (T,), h0/c0 (H,);
params a dict in the reference names; ``bptt`` returns a dict of gradients keyed like params.
"""

GRU_CHO = '''
import numpy as np


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(x, h0, params):
    P = params
    hs, probs, h = [], [], h0
    for t in range(len(x)):
        r = sig(P["U_r"] @ x[t] + P["V_r"] @ h)
        u = sig(P["U_u"] @ x[t] + P["V_u"] @ h)
        g = np.tanh(P["U_g"] @ x[t] + P["V_g"] @ (r * h))
        h = u * h + (1 - u) * g
        z = P["W"] @ h
        e = np.exp(z - z.max())
        hs.append(h)
        probs.append(e / e.sum())
    return np.array(hs), np.array(probs)


def bptt(x, o, h0, params):
    P = params
    T = len(x)
    hs, probs = forward(x, h0, P)
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        hp = hs[t - 1] if t > 0 else h0
        r = sig(P["U_r"] @ x[t] + P["V_r"] @ hp)
        u = sig(P["U_u"] @ x[t] + P["V_u"] @ hp)
        g = np.tanh(P["U_g"] @ x[t] + P["V_g"] @ (r * hp))
        dz = probs[t].copy()
        dz[o[t]] -= 1
        grads["W"] += np.outer(dz, hs[t])
        dh = P["W"].T @ dz + dh_next
        du = dh * (hp - g) * u * (1 - u)
        dg = dh * (1 - u) * (1 - g ** 2)
        drh = P["V_g"].T @ dg
        dr = drh * hp * r * (1 - r)
        grads["U_g"] += np.outer(dg, x[t])
        grads["V_g"] += np.outer(dg, r * hp)
        grads["U_r"] += np.outer(dr, x[t])
        grads["V_r"] += np.outer(dr, hp)
        grads["U_u"] += np.outer(du, x[t])
        grads["V_u"] += np.outer(du, hp)
        dh_next = dh * u + drh * r + P["V_r"].T @ dr + P["V_u"].T @ du
    return grads
'''

GRU_RESET_AFTER = '''
import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def step(x_t, h, P):
    r = sigmoid(P["U_r"] @ x_t + P["V_r"] @ h)
    u = sigmoid(P["U_u"] @ x_t + P["V_u"] @ h)
    n = P["V_g"] @ h
    g = np.tanh(P["U_g"] @ x_t + r * n)
    return r, u, n, g, u * h + (1 - u) * g


def bptt(x, o, h0, params):
    P = params
    T = x.shape[0]
    cache, h = [], h0
    for t in range(T):
        r, u, n, g, h_new = step(x[t], h, P)
        z = P["W"] @ h_new
        p = np.exp(z - np.max(z))
        cache.append((h, r, u, n, g, h_new, p / np.sum(p)))
        h = h_new
    grads = {name: np.zeros_like(value) for name, value in P.items()}
    carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        hp, r, u, n, g, h, p = cache[t]
        dz = p.copy()
        dz[o[t]] -= 1.0
        grads["W"] += np.outer(dz, h)
        dh = P["W"].T @ dz + carry
        dg = dh * (1 - u) * (1 - g * g)
        du = dh * (hp - g) * u * (1 - u)
        dn = dg * r
        dr = dg * n * r * (1 - r)
        for name, d in (("r", dr), ("u", du), ("g", dg)):
            grads["U_" + name] += np.outer(d, x[t])
        grads["V_r"] += np.outer(dr, hp)
        grads["V_u"] += np.outer(du, hp)
        grads["V_g"] += np.outer(dn, hp)
        carry = dh * u + P["V_r"].T @ dr + P["V_u"].T @ du + P["V_g"].T @ dn
    return grads
'''

LSTM_PEEPHOLE = '''
import numpy as np


def s(a):
    return 1.0 / (1.0 + np.exp(-a))


def bptt(x, o, h0, c0, params):
    P = params
    pf, pi, pq = (P[k].reshape(-1) for k in ("p_f", "p_i", "p_q"))
    T = len(x)
    H, C, G, Y = [h0], [c0], [], []
    for t in range(T):
        hp, cp = H[-1], C[-1]
        f = s(P["U_f"] @ x[t] + P["V_f"] @ hp + pf * cp)
        i = s(P["U_i"] @ x[t] + P["V_i"] @ hp + pi * cp)
        g = np.tanh(P["U_g"] @ x[t] + P["V_g"] @ hp)
        c = f * cp + i * g
        q = s(P["U_q"] @ x[t] + P["V_q"] @ hp + pq * c)
        h = q * np.tanh(c)
        z = P["W"] @ h
        y = np.exp(z - z.max())
        H.append(h)
        C.append(c)
        G.append((f, i, g, q))
        Y.append(y / y.sum())
    grads = {k: np.zeros_like(v).reshape(v.shape) for k, v in P.items()}
    dpf, dpi, dpq = np.zeros_like(pf), np.zeros_like(pi), np.zeros_like(pq)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        f, i, g, q = G[t]
        hp, cp, c, h = H[t], C[t], C[t + 1], H[t + 1]
        dz = Y[t].copy()
        dz[o[t]] -= 1
        grads["W"] += np.outer(dz, h)
        dh = P["W"].T @ dz + dh_next
        tc = np.tanh(c)
        dq = dh * tc * q * (1 - q)
        dc = dc_next + dh * q * (1 - tc ** 2) + pq * dq
        d = {"f": dc * cp * f * (1 - f), "i": dc * g * i * (1 - i), "g": dc * i * (1 - g ** 2), "q": dq}
        dh_next = np.zeros_like(h0)
        for k in "figq":
            grads["U_" + k] += np.outer(d[k], x[t])
            grads["V_" + k] += np.outer(d[k], hp)
            dh_next += P["V_" + k].T @ d[k]
        dpf += d["f"] * cp
        dpi += d["i"] * cp
        dpq += dq * c
        dc_next = dc * f + pf * d["f"] + pi * d["i"]
    grads["p_f"], grads["p_i"], grads["p_q"] = (v.reshape(-1, 1) for v in (dpf, dpi, dpq))
    return grads
'''
