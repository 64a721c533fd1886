"""A Python 3 port of min-char-rnn in another common shape (written for the tests): seeded at import,
`@` products, softmax with the max subtracted, clipping through np.clip in place inside lossFun, and the
training loop behind a __main__ guard."""
import sys

import numpy as np

np.random.seed(0)

hidden_size, seq_length, learning_rate = 64, 16, 0.1
vocab_size = 27
Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
Whh = np.random.randn(hidden_size, hidden_size) * 0.01
Why = np.random.randn(vocab_size, hidden_size) * 0.01
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


def softmax(v):
    e = np.exp(v - np.max(v))
    return e / e.sum()


def lossFun(inputs, targets, hprev):
    xs, hs, ps = {}, {-1: hprev.copy()}, {}
    loss = 0.0
    for t, ix in enumerate(inputs):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][ix, 0] = 1.0
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ps[t] = softmax(Why @ hs[t] + by)
        loss -= np.log(ps[t][targets[t], 0])
    grads = [np.zeros_like(m) for m in (Wxh, Whh, Why, bh, by)]
    dWxh, dWhh, dWhy, dbh, dby = grads
    dhnext = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t], 0] -= 1.0
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = dh * (1.0 - hs[t] ** 2)
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    for g in grads:
        np.clip(g, -5, 5, out=g)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def train(path):
    text = open(path).read()
    chars = sorted(set(text))
    ix = {c: i for i, c in enumerate(chars)}
    hprev = np.zeros((hidden_size, 1))
    mem = [np.zeros_like(m) for m in (Wxh, Whh, Why, bh, by)]
    for n in range(100000):
        p = (n * seq_length) % (len(text) - seq_length - 1)
        inputs = [ix[c] for c in text[p:p + seq_length]]
        targets = [ix[c] for c in text[p + 1:p + seq_length + 1]]
        loss, *grads, hprev = lossFun(inputs, targets, hprev)
        for param, dparam, m in zip((Wxh, Whh, Why, bh, by), grads, mem):
            m += dparam * dparam
            param -= learning_rate * dparam / np.sqrt(m + 1e-8)


if __name__ == "__main__":
    train(sys.argv[1])
