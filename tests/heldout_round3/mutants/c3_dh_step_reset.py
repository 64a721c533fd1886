# Assignment 3 -- RNN captioning layers.  Caches are small objects.
import numpy as np
import matplotlib.pyplot as plt   # used by the experiments at the bottom

class StepCache(object):
    def __init__(self, **kw):
        self.__dict__.update(kw)

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    pre = x @ Wx + prev_h @ Wh + b[None, :]
    h = np.tanh(pre)
    return h, StepCache(x=x, h_prev=prev_h, Wx=Wx, Wh=Wh, h=h)

def rnn_step_backward(dnext_h, cache):
    dpre = dnext_h * (1 - cache.h * cache.h)
    return (dpre @ cache.Wx.T, dpre @ cache.Wh.T, cache.x.T @ dpre,
            cache.h_prev.T @ dpre, dpre.sum(axis=0))

def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    hs, caches = [], []
    h = h0
    for t in range(T):
        h, c = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches

def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dxs = [None] * T
    dWx = np.zeros_like(cache[0].Wx)
    dWh = np.zeros_like(cache[0].Wh)
    db = np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dxs[t], dh_next, a, bb, c = rnn_step_backward(dh[:, t, :], cache[t])
        dWx, dWh, db = dWx + a, dWh + bb, db + c
    return np.stack(dxs, axis=1), dh_next, dWx, dWh, db

def sigm(v):
    return 1.0 / (1.0 + np.exp(-v))

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = Wh.shape[0]
    A = x @ Wx + prev_h @ Wh + b
    ai, af, ao, ag = A[:, :H], A[:, H:2*H], A[:, 2*H:3*H], A[:, 3*H:]
    i, f, o, g = sigm(ai), sigm(af), sigm(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = StepCache(x=x, h_prev=prev_h, c_prev=prev_c, Wx=Wx, Wh=Wh,
                      i=i, f=f, o=o, g=g, c=next_c)
    return next_h, next_c, cache

def lstm_step_backward(dnext_h, dnext_c, cache):
    k = cache
    tanhc = np.tanh(k.c)
    dc = dnext_c + dnext_h * k.o * (1.0 - tanhc ** 2)
    dai = dc * k.g * k.i * (1.0 - k.i)
    daf = dc * k.c_prev * k.f * (1.0 - k.f)
    dao = dnext_h * tanhc * k.o * (1.0 - k.o)
    dag = dc * k.i * (1.0 - k.g ** 2)
    dA = np.concatenate((dai, daf, dao, dag), axis=1)
    dx = dA @ k.Wx.T
    dprev_h = dA @ k.Wh.T
    dprev_c = dc * k.f
    dWx = k.x.T @ dA
    dWh = k.h_prev.T @ dA
    db = dA.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db

def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    caches = []
    hp, cp = h0, np.zeros((N, H))
    for t in range(T):
        hp, cp, ct = lstm_step_forward(x[:, t, :], hp, cp, Wx, Wh, b)
        h[:, t, :] = hp
        caches.append(ct)
    return h, caches

def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0].x.shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4*H)), np.zeros((H, 4*H)), np.zeros(4*H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dh_next, dc_next, gWx, gWh, gb = lstm_step_backward(
            dh[:, t, :] + dh_next, dc_next, cache[t])
        dWx += gWx; dWh += gWh; db += gb
    return dx, dh_next, dWx, dWh, db

# ---- experiments (run as a script in the notebook export) ----
data = np.load('coco_captioning/train_captions.npy')
losses = []
Wx = np.random.randn(data.shape[1], 32) * 0.01
for epoch in range(100):
    h, cache = rnn_forward(data[None], np.zeros((1, 32)), Wx, np.eye(32), np.zeros(32))
    losses.append(float((h ** 2).sum()))
plt.plot(losses)
plt.show()
