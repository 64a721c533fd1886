"""Benchmark of numeric/: the vectorised per-entry gradient check and the hand-written forward+BPTT.

Prints ratios against baselines measured in the same process (shared machines are noisy):
1. A full per-entry check (central differences, then complex step) of every parameter of an `lstm` at
   (B, D, H, T) = (4, 16, 32, 10), K = 16 — 6,800 parameters — against a one-entry-at-a-time loop.
2. Hand-written forward+BPTT of rnn / lstm / gru at (B, D, H, T) = (32, 64, 128, 50) and
   (64, 128, 256, 100), float32 and float64, as a share of the matrix-product throughput NumPy reaches
   in this run (GFLOP/s of the model's matrix products ÷ GFLOP/s of a large square product).

Run: python bench/numeric_bench.py [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

from _timing import best_of, matmul_gflops, model_flops
from numeric import models
from numeric.gradcheck import LoopObjective, StackedObjective, numerical_gradient, numerical_gradients
from numeric.gradcheck.verify import random_point


def per_entry_check(quick: bool) -> None:
    B, D, H, T, K = 4, 16, 32, 10, 16
    m = models.get("lstm")
    pt = random_point(m, D, H, K, T, B, seed=0)
    n_params = sum(p.size for p in pt.params.values())
    stacked = StackedObjective(m, pt.params, pt.xs, pt.targets, pt.state0)
    loop = LoopObjective(m.loss, pt.params, pt.xs, pt.targets, pt.state0)
    print(f"1. per-entry check of every parameter: lstm, (B, D, H, T) = {(B, D, H, T)}, K = {K}, "
          f"{n_params} parameters")
    for oracle in ("central", "complex-step"):
        t_stacked = best_of(lambda: numerical_gradients(stacked, list(pt.params), oracle), 3)
        if quick:  # time the loop on one parameter and scale by entry count (documented as an estimate)
            key = "V_f"
            t_one = best_of(lambda: numerical_gradient(loop, key, oracle), 1)
            t_loop, how = t_one * n_params / pt.params[key].size, "estimated from V_f"
        else:
            t_loop, how = best_of(lambda: [numerical_gradient(loop, k, oracle) for k in pt.params], 1), "measured"
        print(f"   {oracle:13s} stacked {t_stacked:7.3f} s   one entry at a time {t_loop:7.3f} s ({how})   "
              f"speed-up {t_loop / t_stacked:6.1f}x   target: <= 1 s and >= 5x")


def forward_bptt(quick: bool) -> None:
    print("2. hand-written forward+BPTT (seconds per call, best of 3) and share of NumPy's matmul throughput")
    for dtype in (np.float32, np.float64):
        peak = matmul_gflops(dtype)
        print(f"   {np.dtype(dtype).name}: NumPy square matmul (1024) reaches {peak:.1f} GFLOP/s in this run")
        for B, D, H, T in [(32, 64, 128, 50), (64, 128, 256, 100)]:
            K = D
            for name in ("rnn", "lstm", "gru"):
                m = models.get(name)
                pt = random_point(m, D, H, K, T, B, dtype=dtype, seed=0)
                call = lambda: m.loss_and_grads(pt.params, pt.xs, pt.targets, **pt.state0)  # noqa: E731
                t = best_of(call, 1 if quick else 3)
                share = model_flops(name, B, D, H, T, K) / t / 1e9 / peak
                print(f"     {name:5s} (B, D, H, T) = {str((B, D, H, T)):18s} {t * 1e3:8.1f} ms   "
                      f"{share:5.0%} of matmul throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="estimate the slow loop baseline, one repeat")
    args = parser.parse_args()
    per_entry_check(args.quick)
    forward_bptt(args.quick)


if __name__ == "__main__":
    main()
