# Debug version: prints shapes on every call, saves a snapshot at import, functions live in a class.
import json
import numpy as np

VERBOSE = True
with open("run_log.json", "w") as fh:          # a log file written at import
    json.dump({"started": True}, fh)


def log(*args):
    if VERBOSE:
        print("[rnn]", *args)


class Layers:
    @staticmethod
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        log("rnn_step_forward", x.shape, prev_h.shape)
        next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
        return next_h, (x, prev_h, Wh, Wx, next_h)

    @staticmethod
    def rnn_step_backward(dnext_h, cache):
        x, prev_h, Wh, Wx, next_h = cache
        log("rnn_step_backward", dnext_h.shape, "max |dnext_h| =", float(np.abs(dnext_h).max()))
        d = dnext_h * (1 - next_h * next_h)
        return d.dot(Wx.T), d.dot(Wh), x.T.dot(d), prev_h.T.dot(d), d.sum(0)

    @classmethod
    def rnn_forward(cls, x, h0, Wx, Wh, b):
        hs, caches, h = [], [], h0
        for t in range(x.shape[1]):
            h, c = cls.rnn_step_forward(x[:, t], h, Wx, Wh, b)
            hs.append(h)
            caches.append(c)
        return np.stack(hs, 1), caches

    @classmethod
    def rnn_backward(cls, dh, cache):
        N, T, H = dh.shape
        out = [None] * T
        dWx = dWh = db = 0
        dn = np.zeros((N, H))
        for t in range(T - 1, -1, -1):
            out[t], dn, a, bb, c = cls.rnn_step_backward(dh[:, t] + dn, cache[t])
            dWx, dWh, db = dWx + a, dWh + bb, db + c
        log("rnn_backward done, |dWh| =", float(np.linalg.norm(dWh)))
        return np.stack(out, 1), dn, dWx, dWh, db

    @staticmethod
    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        H = prev_h.shape[1]
        a = x.dot(Wx) + prev_h.dot(Wh) + b
        s = 1 / (1 + np.exp(-a[:, :3 * H]))
        i, f, o = s[:, :H], s[:, H:2 * H], s[:, 2 * H:]
        g = np.tanh(a[:, 3 * H:])
        next_c = f * prev_c + i * g
        next_h = o * np.tanh(next_c)
        return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)

    @staticmethod
    def lstm_step_backward(dnext_h, dnext_c, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
        log("lstm_step_backward", dnext_h.shape)
        t_c = np.tanh(next_c)
        dnext_c = dnext_c + dnext_h * o * (1 - t_c ** 2)
        da = np.concatenate([dnext_c * g * i * (1 - i), dnext_c * prev_c * f * (1 - f),
                             dnext_h * t_c * o * (1 - o), dnext_c * i * (1 - g ** 2)], 1)
        return da.dot(Wx.T), da.dot(Wh.T), dnext_c * f, x.T.dot(da), prev_h.T.dot(da), da.sum(0)

    @classmethod
    def lstm_forward(cls, x, h0, Wx, Wh, b):
        hs, caches = [], []
        h, c = h0, np.zeros_like(h0)
        for t in range(x.shape[1]):
            h, c, k = cls.lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
            hs.append(h)
            caches.append(k)
        return np.stack(hs, 1), caches

    @classmethod
    def lstm_backward(cls, dh, cache):
        N, T, H = dh.shape
        out = [None] * T
        grads = [0, 0, 0]
        dn, dcn = np.zeros((N, H)), np.zeros((N, H))
        for t in range(T - 1, -1, -1):
            out[t], dn, dcn, *g = cls.lstm_step_backward(dh[:, t] + dn, dcn, cache[t])
            grads = [acc + new for acc, new in zip(grads, g)]
        return (np.stack(out, 1), dn, *grads)


rnn_step_forward = Layers.rnn_step_forward
rnn_step_backward = Layers.rnn_step_backward
rnn_forward = Layers.rnn_forward
rnn_backward = Layers.rnn_backward
lstm_step_forward = Layers.lstm_step_forward
lstm_step_backward = Layers.lstm_step_backward
lstm_forward = Layers.lstm_forward
lstm_backward = Layers.lstm_backward
log("module loaded")
