import numpy as np

hidden_size = 32
seq_length = 10
vocab_size = 27
np.random.seed(42)
Wxh = 0.01 * np.random.randn(hidden_size, vocab_size)
Whh = 0.01 * np.random.randn(hidden_size, hidden_size)
Why = 0.01 * np.random.randn(vocab_size, hidden_size)
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


def lossFun(inputs, targets, hprev):
    T = len(inputs)
    X = np.eye(vocab_size)[:, inputs]                 # (V, T) one-hot columns
    H = np.zeros((hidden_size, T + 1))                # column 0 is hprev
    H[:, :1] = hprev
    for t in range(T):
        H[:, t + 1] = np.tanh(Wxh @ X[:, t] + Whh @ H[:, t] + bh[:, 0])
    Y = Why @ H[:, 1:] + by                           # (V, T) logits
    Y -= Y.max(axis=0)
    P = np.exp(Y) / np.exp(Y).sum(axis=0)
    loss = -np.sum(np.log(P[targets, np.arange(T)]))
    dY = P.copy()
    dY[targets, np.arange(T)] -= 1
    dWhy = dY @ H[:, 1:].T
    dby = dY.sum(axis=1, keepdims=True)
    dA = np.zeros((hidden_size, T))
    dh_next = np.zeros(hidden_size)
    for t in range(T - 1, -1, -1):
        dA[:, t] = (Why.T @ dY[:, t] + dh_next) * (1 - H[:, t + 1] ** 2)
        dh_next = Whh.T @ dA[:, t]
    dWxh = dA @ X.T
    dWhh = H[:, :-1] @ dA.T
    dbh = dA.sum(axis=1, keepdims=True)
    grads = [np.clip(g, -5, 5) for g in (dWxh, dWhh, dWhy, dbh, dby)]
    return (loss, *grads, H[:, -1:])


def sample(h, seed_ix, n):
    out = [seed_ix]
    for _ in range(n):
        h = np.tanh(Wxh[:, [out[-1]]] + Whh @ h + bh)
        p = np.exp(Why @ h + by)
        p /= p.sum()
        out.append(int(np.random.choice(vocab_size, p=p.ravel())))
    return out


alphabet = "abcdefghijklmnopqrstuvwxyz "
h = np.zeros((hidden_size, 1))
for n in range(3):
    print("".join(alphabet[i] for i in sample(h, 0, 40)))
