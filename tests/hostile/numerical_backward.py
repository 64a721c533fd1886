# No backward written at all: each backward differentiates the student's own forward numerically (central
# differences of L = <upstream, output> over every input entry). Exact to ~1e-10 on small probes, so only
# a probe large enough that this cannot finish in time tells it from an analytic backward.
import numpy as np


def _numerical(f, args, upstream, eps=1e-6):
    grads = []
    for k, a in enumerate(args):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + eps
            plus = np.sum(upstream * f(*args))
            a[i] = old - eps
            minus = np.sum(upstream * f(*args))
            a[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return tuple(grads)


def _step(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b)


def _sequence(x, h0, Wx, Wh, b):
    h, prev = [], h0
    for t in range(x.shape[1]):
        prev = _step(x[:, t], prev, Wx, Wh, b)
        h.append(prev)
    return np.stack(h, axis=1)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    return _step(x, prev_h, Wx, Wh, b), tuple(np.array(a, dtype=float) for a in (x, prev_h, Wx, Wh, b))


def rnn_step_backward(dnext_h, cache):
    return _numerical(_step, [a.copy() for a in cache], dnext_h)


def rnn_forward(x, h0, Wx, Wh, b):
    return _sequence(x, h0, Wx, Wh, b), tuple(np.array(a, dtype=float) for a in (x, h0, Wx, Wh, b))


def rnn_backward(dh, cache):
    return _numerical(_sequence, [a.copy() for a in cache], dh)
