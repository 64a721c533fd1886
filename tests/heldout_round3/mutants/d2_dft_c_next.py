"""Sequence Models W1A1, rewritten compactly: one stacked gate matrix, dict caches."""
import numpy as np
from scipy.special import expit, softmax as sp_softmax

GATES = ("f", "i", "c", "o")


def rnn_cell_forward(xt, a_prev, parameters):
    p = parameters
    a_next = np.tanh(p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
    yt_pred = sp_softmax(p["Wya"] @ a_next + p["by"], axis=0)
    return a_next, yt_pred, {"a_next": a_next, "a_prev": a_prev, "xt": xt, "p": p}


def rnn_cell_backward(da_next, cache):
    dz = da_next * (1 - cache["a_next"] ** 2)
    return {
        "dxt": cache["p"]["Wax"].T @ dz,
        "da_prev": cache["p"]["Waa"].T @ dz,
        "dWax": dz @ cache["xt"].T,
        "dWaa": dz @ cache["a_prev"].T,
        "dba": dz.sum(axis=1),
    }


def rnn_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    outs = [rnn_cell_forward(x[..., t], a, parameters) for t, a in [(0, a0)]]
    for t in range(1, T_x):
        outs.append(rnn_cell_forward(x[..., t], outs[-1][0], parameters))
    a = np.stack([o[0] for o in outs], axis=-1)
    y_pred = np.stack([o[1] for o in outs], axis=-1)
    return a, y_pred, [o[2] for o in outs]


def rnn_backward(da, caches):
    T_x = da.shape[-1]
    total = None
    carry = np.zeros_like(da[..., 0])
    dx_steps = [None] * T_x
    for t in range(T_x - 1, -1, -1):
        g = rnn_cell_backward(da[..., t] + carry, caches[t])
        carry = g["da_prev"]
        dx_steps[t] = g["dxt"]
        step = {k: g[k] for k in ("dWax", "dWaa", "dba")}
        total = step if total is None else {k: total[k] + step[k] for k in total}
    return {"dx": np.stack(dx_steps, axis=-1), "da0": carry, **total}


def _stack(parameters):
    W = np.vstack([parameters["W" + g] for g in GATES])
    b = np.vstack([parameters["b" + g] for g in GATES])
    return W, b


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    n_a = a_prev.shape[0]
    W, b = _stack(parameters)
    concat = np.vstack([a_prev, xt])
    z = W @ concat + b
    ft, it, ot = expit(z[:n_a]), expit(z[n_a:2 * n_a]), expit(z[3 * n_a:])
    cct = np.tanh(z[2 * n_a:3 * n_a])
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    yt_pred = sp_softmax(parameters["Wy"] @ a_next + parameters["by"], axis=0)
    cache = dict(concat=concat, c_prev=c_prev, c_next=c_next, ft=ft, it=it, cct=cct, ot=ot, W=W, n_a=n_a)
    return a_next, c_next, yt_pred, cache


def lstm_cell_backward(da_next, dc_next, cache):
    k = cache
    n_a = k["n_a"]
    tc = np.tanh(k["c_next"])
    dc = dc_next + da_next * k["ot"] * (1 - tc ** 2)
    dz = np.vstack([
        dc * k["c_next"] * k["ft"] * (1 - k["ft"]),
        dc * k["cct"] * k["it"] * (1 - k["it"]),
        dc * k["it"] * (1 - k["cct"] ** 2),
        da_next * tc * k["ot"] * (1 - k["ot"]),
    ])
    dW = dz @ k["concat"].T
    db = dz.sum(axis=1)
    dconcat = k["W"].T @ dz
    grads = {"da_prev": dconcat[:n_a], "dxt": dconcat[n_a:], "dc_prev": dc * k["ft"]}
    for j, g in enumerate(GATES):
        grads["dW" + g] = dW[j * n_a:(j + 1) * n_a]
        grads["db" + g] = db[j * n_a:(j + 1) * n_a]
    return grads


def lstm_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_a = a0.shape[0]
    n_y = parameters["Wy"].shape[0]
    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))
    caches = []
    a_t, c_t = a0, np.zeros((n_a, m))
    for t in range(T_x):
        a_t, c_t, y[..., t], cache = lstm_cell_forward(x[..., t], a_t, c_t, parameters)
        a[..., t], c[..., t] = a_t, c_t
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape
    dx = np.zeros_like(x)
    da_t = np.zeros((n_a, m))
    dc_t = np.zeros((n_a, m))
    acc = {}
    for t in reversed(range(T_x)):
        g = lstm_cell_backward(da[:, :, t] + da_t, dc_t, caches[t])
        da_t, dc_t, dx[:, :, t] = g.pop("da_prev"), g.pop("dc_prev"), g.pop("dxt")
        for name, val in g.items():
            acc[name] = acc.get(name, 0) + val
    return dict(dx=dx, da0=da_t, **acc)
