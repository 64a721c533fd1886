"""A second correct deeplearning.ai solution in another style: dict caches, the four LSTM gates as one
stacked matrix, sequence backwards that do not call the cell backwards, bias gradients without keepdims
(shape (n_a,): the same numbers as the assignment's (n_a, 1))."""
import numpy as np


def _softmax(z):
    z = np.exp(z - z.max(axis=0))
    return z / z.sum(axis=0)


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def rnn_cell_forward(xt, a_prev, parameters):
    p = parameters
    a_next = np.tanh(np.dot(p["Wax"], xt) + np.dot(p["Waa"], a_prev) + p["ba"])
    return a_next, _softmax(np.dot(p["Wya"], a_next) + p["by"]), {"a": a_next, "a_prev": a_prev, "x": xt, "p": p}


def rnn_cell_backward(da_next, cache):
    g = (1.0 - cache["a"] * cache["a"]) * da_next
    p = cache["p"]
    return dict(dxt=np.dot(p["Wax"].T, g), da_prev=np.dot(p["Waa"].T, g), dWax=np.dot(g, cache["x"].T),
                dWaa=np.dot(g, cache["a_prev"].T), dba=g.sum(axis=1))


def rnn_forward(x, a0, parameters):
    p = parameters
    states = [a0]
    for t in range(x.shape[2]):
        states.append(np.tanh(np.dot(p["Wax"], x[:, :, t]) + np.dot(p["Waa"], states[-1]) + p["ba"]))
    a = np.stack(states[1:], axis=2)
    y_pred = _softmax(np.einsum("ya,amt->ymt", p["Wya"], a) + p["by"][:, :, None])
    return a, y_pred, {"x": x, "a": np.stack(states, axis=2), "p": p}


def rnn_backward(da, caches):
    x, a_all, p = caches["x"], caches["a"], caches["p"]
    T_x = x.shape[2]
    dz = np.zeros_like(da)
    carry = np.zeros(da.shape[:2])
    for t in range(T_x - 1, -1, -1):
        dz[:, :, t] = (da[:, :, t] + carry) * (1.0 - a_all[:, :, t + 1] ** 2)
        carry = np.dot(p["Waa"].T, dz[:, :, t])
    return {"dx": np.einsum("ax,amt->xmt", p["Wax"], dz),
            "da0": carry,
            "dWax": np.einsum("amt,xmt->ax", dz, x),
            "dWaa": np.einsum("amt,bmt->ab", dz, a_all[:, :, :-1]),
            "dba": dz.sum(axis=(1, 2))}


def _stack(p):
    return np.vstack([p["Wf"], p["Wi"], p["Wc"], p["Wo"]]), np.vstack([p["bf"], p["bi"], p["bc"], p["bo"]])


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    W, b = _stack(parameters)
    n = a_prev.shape[0]
    z = np.dot(W, np.vstack([a_prev, xt])) + b
    f, i, o = _sigmoid(z[:n]), _sigmoid(z[n:2 * n]), _sigmoid(z[3 * n:])
    cc = np.tanh(z[2 * n:3 * n])
    c_next = f * c_prev + i * cc
    a_next = o * np.tanh(c_next)
    y = _softmax(np.dot(parameters["Wy"], a_next) + parameters["by"])
    cache = {"gates": (f, i, cc, o), "c": c_next, "c_prev": c_prev, "v": np.vstack([a_prev, xt]), "p": parameters}
    return a_next, c_next, y, cache


def lstm_forward(x, a0, parameters):
    n_a, m = a0.shape
    a, c, y, cell = [], [], [], []
    h, s = a0, np.zeros((n_a, m))
    for t in range(x.shape[2]):
        h, s, yt, k = lstm_cell_forward(x[:, :, t], h, s, parameters)
        a.append(h)
        c.append(s)
        y.append(yt)
        cell.append(k)
    return np.stack(a, -1), np.stack(y, -1), np.stack(c, -1), cell


def _cell_back(da_next, dc_next, k):
    f, i, cc, o = k["gates"]
    n = f.shape[0]
    tc = np.tanh(k["c"])
    dc = dc_next + da_next * o * (1.0 - tc * tc)
    dz = np.vstack([dc * k["c_prev"] * f * (1 - f), dc * cc * i * (1 - i), dc * i * (1 - cc * cc),
                    da_next * tc * o * (1 - o)])
    W, _ = _stack(k["p"])
    dv = np.dot(W.T, dz)
    return dz, dv[:n], dv[n:], dc * f


def _split(dzv, n):
    names = ("f", "i", "c", "o")
    out = {}
    for j, g in enumerate(names):
        out["dW" + g] = dzv[0][j * n:(j + 1) * n]
        out["db" + g] = dzv[1][j * n:(j + 1) * n]
    return out


def lstm_cell_backward(da_next, dc_next, cache):
    dz, da_prev, dxt, dc_prev = _cell_back(da_next, dc_next, cache)
    n = da_prev.shape[0]
    out = _split((np.dot(dz, cache["v"].T), dz.sum(axis=1)), n)
    out.update(dxt=dxt, da_prev=da_prev, dc_prev=dc_prev)
    return out


def lstm_backward(da, caches):
    n_a, m, T_x = da.shape
    dW = db = 0.0
    dx = []
    da_n, dc_n = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in range(T_x - 1, -1, -1):
        dz, da_n, dxt, dc_n = _cell_back(da[:, :, t] + da_n, dc_n, caches[t])
        dW = dW + np.dot(dz, caches[t]["v"].T)
        db = db + dz.sum(axis=1)
        dx.append(dxt)
    out = _split((dW, db), n_a)
    out.update(dx=np.stack(dx[::-1], axis=2), da0=da_n)
    return out
