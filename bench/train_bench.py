"""Training step of the generated code against the same model in PyTorch (CPU), measured in the same run.

One training step = forward, BPTT, Adam update of every parameter, on a character-level minibatch at the
`bptt train` default size (B = 32 streams, T = 50 steps, H = 128, one-hot inputs over V = 17 characters).
Both sides use one thread (NumPy via threadpoolctl, torch.set_num_threads(1)): the machine is shared, and
one-thread numbers are the comparable ones. Prints the best of several repeats, in turns, and the ratio
generated / PyTorch (< 1: the generated code is faster). Without torch, the PyTorch column is skipped.

    python3 bench/train_bench.py [--models rnn,lstm,gru] [--repeats 7] [--dtype float64|float32]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import best_of  # noqa: E402

from numeric.training.corpus import one_hot  # noqa: E402
from numeric.training.init import initialise  # noqa: E402
from numeric.training.optim import Optimizer  # noqa: E402
from reports.recurrence import load_recurrence  # noqa: E402

B, T, H, V = 32, 50, 128, 17


def generated_step(name: str, dtype):
    """A closure running one training step of the generated module (forward, BPTT, Adam)."""
    rec = load_recurrence(name)
    params = initialise(rec.param_shapes(V, H, V), "xavier", np.random.default_rng(0), recurrent=rec.recurrent,
                        biases=rec.biases, forget_biases=rec.forget_biases, dtype=dtype)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, V, (T + 1, B))
    xs, targets = one_hot(ids[:-1], V, dtype), ids[1:]
    state0 = {k: v.astype(dtype) for k, v in rec.zero_states(V, H, V, B).items()}
    opt = Optimizer("adam", 1e-3)

    def step():
        E, grads, _ = rec.loss_and_grads(params, xs, targets, state0)
        opt.step(params, {k: grads[k] for k in params})
    return step


def torch_step(name: str, dtype):
    """The same step in PyTorch: torch.nn.RNN/LSTM/GRU + Linear, summed cross-entropy, torch.optim.Adam."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name](V, H).to(tdtype)
    out_layer = torch.nn.Linear(H, V).to(tdtype)
    opt = torch.optim.Adam([*layer.parameters(), *out_layer.parameters()], lr=1e-3)
    ids = torch.randint(0, V, (T + 1, B))
    x = torch.nn.functional.one_hot(ids[:-1], V).to(tdtype)
    y = ids[1:].reshape(-1)

    def step():
        opt.zero_grad()
        out, _ = layer(x)
        loss = torch.nn.functional.cross_entropy(out_layer(out).reshape(T * B, V), y, reduction="sum")
        loss.backward()
        opt.step()
    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="rnn,lstm,gru")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = parser.parse_args(argv)
    dtype = {"float64": np.float64, "float32": np.float32}[args.dtype]
    print(f"training step (forward + BPTT + Adam), B={B} T={T} H={H} V={V}, {args.dtype}, one thread, "
          f"best of {args.repeats}")
    print(f"{'model':6s} {'generated ms':>13s} {'torch ms':>9s} {'gen/torch':>9s} {'gen tokens/s':>13s}")
    with threadpool_limits(limits=1):
        for name in args.models.split(","):
            mine_step, theirs_step = generated_step(name, dtype), torch_step(name, dtype)
            mine = theirs = float("inf")
            for _ in range(args.repeats):  # in turns, so that load on the machine hits both alike
                mine = min(mine, best_of(mine_step, 1, warmup=False))
                if theirs_step is not None:
                    theirs = min(theirs, best_of(theirs_step, 1, warmup=False))
            torch_cols = (f"{theirs * 1e3:9.1f} {mine / theirs:9.2f}" if theirs_step is not None
                          else f"{'—':>9s} {'(no torch)':>9s}")
            print(f"{name:6s} {mine * 1e3:13.1f} {torch_cols} {B * T / mine:13,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
