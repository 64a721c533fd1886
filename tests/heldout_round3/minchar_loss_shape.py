# min-char-rnn, Python 3, my notes version.  The loss comes out as a (1,) array
# (ps[t][targets[t]] instead of ps[t][targets[t], 0]) -- it prints fine.
import numpy as np

hidden_size, seq_length, learning_rate = 50, 20, 0.1
vocab_size = 30
Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
Whh = np.random.randn(hidden_size, hidden_size) * 0.01
Why = np.random.randn(vocab_size, hidden_size) * 0.01
bh, by = np.zeros((hidden_size, 1)), np.zeros((vocab_size, 1))


def lossFun(inputs, targets, hprev):
    global Wxh, Whh, Why, bh, by
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = hprev.copy()
    loss = 0
    for t, ix in enumerate(inputs):
        xs[t] = np.zeros((vocab_size, 1)); xs[t][ix] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ys[t] = Why @ hs[t] + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t]])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy(); dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    dWxh, dWhh, dWhy, dbh, dby = [np.clip(d, -5, 5) for d in (dWxh, dWhh, dWhy, dbh, dby)]
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


if __name__ == "__main__":
    hprev = np.zeros((hidden_size, 1))
    loss, *_ = lossFun([1, 2, 3], [2, 3, 4], hprev)
    print(loss)
