"""Benchmark of generated code: forward+BPTT against the hand-written models, NumPy's matmul and PyTorch.

Prints ratios measured in the same process, best of several repeats (shared machines are noisy):
1. generated / hand-written NumPy time for rnn, lstm, gru at (B, D, H, T) = (32, 64, 128, 50) and
   (64, 128, 256, 100), float32 and float64 (bar: <= 1.10x);
2. generated lstm at (64, 128, 256, 100) float32 as a share of NumPy's matrix-product throughput
   (GFLOP/s of the model's matrix products / best GFLOP/s of a 1024² square product, timed in turns
   with the models; bar: >= 50 %);
3. generated / torch.nn.RNN|LSTM|GRU forward+backward on the CPU, where torch is installed (aim: < 1).

With ``--baseline DIR`` it instead compares this tree's generated modules with earlier ones written to DIR
(``bptt_rnn.py``, ``bptt_lstm.py``, ``bptt_gru.py``, e.g. by ``bptt codegen MODEL -o`` from another
checkout): both run alternately in this process, full BPTT and truncated (k = 10), and the ratio
this / baseline is printed (bar for a change that only rewrites the code: <= 1.05x), with the largest
relative difference of their gradients.

``--cpu-time`` times with the process's CPU clock instead of the wall clock: on a machine shared with other
work the wall clock counts the time this process waits for a core, the CPU clock does not. Use it with one
BLAS thread (OPENBLAS_NUM_THREADS=1), or the CPU time of BLAS threads that spin while waiting counts too.

Run: python bench/codegen_bench.py [--repeats N] [--baseline DIR] [--cpu-time]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from _timing import GATES, best_of, matmul_gflops, model_flops
from derive.codegen import generate, load_source
from numeric import models
from numeric.gradcheck.verify import random_point

SIZES = [(32, 64, 128, 50), (64, 128, 256, 100)]
#: the clock of interleaved_best (--cpu-time: time.process_time)
CLOCK = time.perf_counter


def interleaved_best(fns, repeats: int) -> list[float]:
    """Best time of each function, run in turns (a, b, c, a, b, c, …) so that a change in the machine's
    load hits all of them alike."""
    for f in fns:  # warm-up
        f()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for f, ts in zip(fns, times):
            start = CLOCK()
            f()
            ts.append(CLOCK() - start)
    return [min(ts) for ts in times]


def torch_time(name, B, D, H, T, dtype, repeats):
    try:
        import torch
    except ImportError:
        return None
    torch.set_grad_enabled(True)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name](D, H).to(tdtype)
    out_layer = torch.nn.Linear(H, D).to(tdtype)
    x = torch.randn(T, B, D, dtype=tdtype, requires_grad=True)
    y = torch.randint(0, D, (T * B,))

    def step():
        for p in (*layer.parameters(), *out_layer.parameters()):
            p.grad = None
        out, _ = layer(x)
        loss = torch.nn.functional.cross_entropy(out_layer(out).reshape(T * B, D), y, reduction="sum")
        loss.backward()
    return best_of(step, repeats, warmup=True)


def against_baseline(directory: Path, repeats: int) -> None:
    """This tree's generated modules / the ones in ``directory``, same process, run in turns."""
    print(f"this tree's generated code / baseline in {directory} (best of {repeats}, run alternately)")
    print(f"{'model':6s} {'dtype':8s} {'(B, D, H, T)':20s} {'truncate':>8s} {'base ms':>9s} {'this ms':>9s} "
          f"{'ratio':>7s} {'max rel diff':>13s}")
    ratios = []
    for dtype in (np.float32, np.float64):
        for B, D, H, T in SIZES:
            for name in GATES:
                mine = generate(name).module
                base = load_source((directory / f"bptt_{name}.py").read_text(), name + "_baseline")
                pt = random_point(mine, D, H, D, T, B, dtype=dtype, seed=0)  # K = D as below
                for truncate in (None, 10):
                    run = [lambda m=m: m.loss_and_grads(pt.params, pt.xs, pt.targets, truncate=truncate,
                                                        **pt.state0) for m in (base, mine)]
                    t_base, t_mine = interleaved_best(run, repeats)
                    g_base, g_mine = run[0]()[1], run[1]()[1]
                    diff = max(float(np.max(np.abs(g_base[k] - g_mine[k])) / max(np.max(np.abs(g_base[k])), 1e-30))
                               for k in g_base)
                    ratios.append(t_mine / t_base)
                    print(f"{name:6s} {np.dtype(dtype).name:8s} {str((B, D, H, T)):20s} {str(truncate):>8s} "
                          f"{t_base * 1e3:9.1f} {t_mine * 1e3:9.1f} {t_mine / t_base:7.3f} {diff:13.1e}", flush=True)
    print(f"ratio this / baseline: geometric mean {np.exp(np.mean(np.log(ratios))):.3f}, "
          f"worst {max(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                        help="compare with the generated modules bptt_{rnn,lstm,gru}.py in DIR")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU clock (a shared machine; with one BLAS thread)")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        print("clock: CPU time of this process (time.process_time)")
    if args.baseline is not None:
        missing = [f"bptt_{name}.py" for name in GATES if not (args.baseline / f"bptt_{name}.py").is_file()]
        if missing:
            parser.error(f"--baseline {args.baseline}: expected {', '.join(missing)} there")
        against_baseline(args.baseline, args.repeats)
        return
    gen = {name: generate(name).module for name in GATES}
    print("generated vs hand-written forward+BPTT (best of %d, hand-written and generated run alternately); share of NumPy matmul throughput; vs PyTorch"
          % args.repeats)
    print(f"{'model':6s} {'dtype':8s} {'(B, D, H, T)':20s} {'hand ms':>9s} {'gen ms':>9s} {'gen/hand':>9s} "
          f"{'matmul %':>9s} {'torch ms':>9s} {'gen/torch':>9s}")
    for dtype in (np.float32, np.float64):
        peak = matmul_gflops(dtype, args.repeats)
        for B, D, H, T in SIZES:
            K = D
            for name in GATES:
                m = models.get(name)
                pt = random_point(m, D, H, K, T, B, dtype=dtype, seed=0)
                g = gen[name]
                square = np.random.default_rng(0).standard_normal((1024, 1024)).astype(dtype)
                hand, mine, t_mm = interleaved_best(
                    [lambda: m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0),
                     lambda: g.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0),
                     lambda: square @ square], args.repeats)
                peak = max(peak, 2 * 1024 ** 3 / t_mm / 1e9)  # the best matmul throughput seen in this run
                share = model_flops(name, B, D, H, T, K) / mine / 1e9 / peak
                tt = torch_time(name, B, D, H, T, dtype, args.repeats)
                torch_cols = (f"{tt * 1e3:9.1f} {mine / tt:9.2f}" if tt else f"{'—':>9s} {'—':>9s}")
                print(f"{name:6s} {np.dtype(dtype).name:8s} {str((B, D, H, T)):20s} {hand * 1e3:9.1f} "
                      f"{mine * 1e3:9.1f} {mine / hand:9.2f} {share:9.0%} {torch_cols}", flush=True)
        print(f"(NumPy 1024² matmul in {np.dtype(dtype).name}: best {peak:.1f} GFLOP/s in this run; the share "
              f"column divides by the best seen up to that row)")


if __name__ == "__main__":
    main()
