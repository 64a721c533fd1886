# char-rnn in numpy, my own port: a small class keeps what the forward pass saw
import numpy as np
import sys

try:
    xrange
except NameError:
    xrange = range

text = open(sys.argv[1]).read()
vocab = sorted(set(text))
vocab_size = len(vocab)
hidden_size = 64
seq_length = 16
Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
Whh = np.random.randn(hidden_size, hidden_size) * 0.01
Why = np.random.randn(vocab_size, hidden_size) * 0.01
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


class Tape:
    """What one step of the forward pass needs to remember."""

    def __init__(self, x, h_prev, h, p):
        self.x, self.h_prev, self.h, self.p = x, h_prev, h, p


def step(ix, h_prev):
    x = np.zeros((vocab_size, 1))
    x[ix, 0] = 1.0
    h = np.tanh(Wxh @ x + Whh @ h_prev + bh)
    logits = Why @ h + by
    logits = logits - logits.max()
    p = np.exp(logits) / np.exp(logits).sum()
    return Tape(x, h_prev, h, p)


def lossFun(inputs, targets, hprev):
    tapes = []
    h = hprev
    loss = 0.0
    for ix, target in zip(inputs, targets):
        tape = step(ix, h)
        tapes.append(tape)
        h = tape.h
        loss -= np.log(tape.p[target, 0])
    grads = [np.zeros_like(w) for w in (Wxh, Whh, Why, bh, by)]
    dWxh, dWhh, dWhy, dbh, dby = grads
    dh_from_future = np.zeros((hidden_size, 1))
    for tape, target in zip(reversed(tapes), reversed(targets)):
        dlogits = tape.p.copy()
        dlogits[target, 0] -= 1.0
        dWhy += dlogits @ tape.h.T
        dby -= dlogits
        dh = Why.T @ dlogits + dh_from_future
        dpre = dh * (1.0 - tape.h ** 2)
        dWxh += dpre @ tape.x.T
        dWhh += dpre @ tape.h_prev.T
        dbh += dpre
        dh_from_future = Whh.T @ dpre
    dWxh, dWhh, dWhy, dbh, dby = [np.maximum(np.minimum(g, 5), -5) for g in grads]
    return loss, dWxh, dWhh, dWhy, dbh, dby, h


if __name__ == '__main__':
    hprev = np.zeros((hidden_size, 1))
    for it in xrange(1000):
        start = (it * seq_length) % (len(text) - seq_length - 1)
        inputs = [vocab.index(ch) for ch in text[start:start + seq_length]]
        targets = [vocab.index(ch) for ch in text[start + 1:start + seq_length + 1]]
        loss, *grads, hprev = lossFun(inputs, targets, hprev)
        for w, g in zip((Wxh, Whh, Why, bh, by), grads):
            w -= 0.1 * g
