"""Timing helpers shared by the benchmark scripts (imported as `_timing` from bench/)."""

from __future__ import annotations

import time

import numpy as np

#: gate blocks per model: matrix products per step scale with them
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def best_of(fn, repeats: int, warmup: bool = False) -> float:
    """The shortest of ``repeats`` timed calls (the least disturbed by other work on the machine)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(dtype, repeats: int = 5, n: int = 1024) -> float:
    """GFLOP/s NumPy reaches on an n × n matrix product in this run: the throughput baseline."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    return 2 * n ** 3 / best_of(lambda: a @ a, repeats, warmup=True) / 1e9


def model_flops(name: str, B: int, D: int, H: int, T: int, K: int) -> float:
    """2 × multiply-adds of the matrix products of forward + BPTT (each product three times: forward,
    its input's gradient, its weight's gradient)."""
    G = GATES[name]
    return 2.0 * T * B * 3 * (G * H * D + G * H * H + K * H)
