# Sequence Models W1A1 -- weights used split into their a_prev and xt columns, dict caches
import numpy as np

np.random.seed(1)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    z = z - z.max(axis=0)
    return np.exp(z) / np.exp(z).sum(axis=0)


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya, ba, by = (parameters[k] for k in ("Wax", "Waa", "Wya", "ba", "by"))
    a_next = np.tanh(Wax.dot(xt) + Waa.dot(a_prev) + ba)
    yt_pred = softmax(Wya.dot(a_next) + by)
    return a_next, yt_pred, {"a_next": a_next, "a_prev": a_prev, "xt": xt, "parameters": parameters}


def rnn_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a, y_pred = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
    caches = []
    a_t = a0
    for t in range(T_x):
        a_t, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_t, parameters)
        a[:, :, t] = a_t
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next, cache):
    p = cache["parameters"]
    dz = da_next * (1 - cache["a_next"] * cache["a_next"])
    return {"dxt": p["Wax"].T.dot(dz), "da_prev": p["Waa"].T.dot(dz), "dWax": dz.dot(cache["xt"].T),
            "dWaa": dz.dot(cache["a_prev"].T), "dba": dz.sum(axis=1, keepdims=True)}


def rnn_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape
    p = caches[0]["parameters"]
    # written out without rnn_cell_backward
    dx = np.zeros(x.shape)
    dWax, dWaa, dba = np.zeros_like(p["Wax"]), np.zeros_like(p["Waa"]), np.zeros_like(p["ba"])
    da_prevt = np.zeros((n_a, m))
    for t in range(T_x - 1, -1, -1):
        c = caches[t]
        dz = (da[:, :, t] + da_prevt) * (1 - c["a_next"] ** 2)
        dx[:, :, t] = p["Wax"].T.dot(dz)
        dWax += dz.dot(c["xt"].T)
        dWaa += dz.dot(c["a_prev"].T)
        dba += dz.sum(axis=1, keepdims=True)
        da_prevt = p["Waa"].T.dot(dz)
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    n_a = a_prev.shape[0]
    gate = {}
    for name, act in (("f", sigmoid), ("i", sigmoid), ("c", np.tanh), ("o", sigmoid)):
        W, b = parameters["W" + name], parameters["b" + name]
        gate[name] = act(W[:, :n_a].dot(a_prev) + W[:, n_a:].dot(xt) + b)
    c_next = gate["f"] * c_prev + gate["i"] * gate["c"]
    a_next = gate["o"] * np.tanh(c_next)
    yt_pred = softmax(parameters["Wy"].dot(a_next) + parameters["by"])
    cache = {"a_next": a_next, "c_next": c_next, "a_prev": a_prev, "c_prev": c_prev, "xt": xt,
             "gate": gate, "parameters": parameters}
    return a_next, c_next, yt_pred, cache


def lstm_cell_backward(da_next, dc_next, cache):
    g, p = cache["gate"], cache["parameters"]
    n_a = da_next.shape[0]
    tanh_c = np.tanh(cache["c_next"])
    dc = dc_next + da_next * g["o"] * (1 - tanh_c ** 2)
    dz = {"o": da_next * tanh_c * g["o"] * (1 - g["o"]),
          "c": dc * g["i"] * (1 - g["c"] ** 2),
          "i": dc * g["c"] * g["i"] * (1 - g["i"]),
          "f": dc * cache["c_prev"] * g["f"] * (1 - g["f"])}
    grads = {"da_prev": 0, "dxt": 0, "dc_prev": dc}
    for name, d in dz.items():
        W = p["W" + name]
        grads["dW" + name] = np.hstack([d.dot(cache["a_prev"].T), d.dot(cache["xt"].T)])
        grads["db" + name] = d.sum(axis=1, keepdims=True)
        grads["da_prev"] = grads["da_prev"] + W[:, :n_a].T.dot(d)
        grads["dxt"] = grads["dxt"] + W[:, n_a:].T.dot(d)
    return grads


def lstm_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a, c, y = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
    caches = []
    a_t, c_t = a0, np.zeros((n_a, m))
    for t in range(T_x):
        a_t, c_t, y[:, :, t], cache = lstm_cell_forward(x[:, :, t], a_t, c_t, parameters)
        a[:, :, t], c[:, :, t] = a_t, c_t
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape
    dx = np.zeros(x.shape)
    totals = {}
    da_prevt, dc_prevt = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        grads = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])
        da_prevt, dc_prevt = grads["da_prev"], grads["dc_prev"]
        dx[:, :, t] = grads["dxt"]
        for k in ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"):
            totals[k] = totals.get(k, 0) + grads[k]
    return {"dx": dx, "da0": da_prevt, **totals}
