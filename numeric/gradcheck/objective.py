"""The loss at one point, evaluated at many one-entry perturbations of one argument.

An *argument* is a parameter ("U", "V_f", …), the inputs "xs" or an initial state ("h0", "c0", "ohat0").
``values(name, entries, steps)`` returns E with entry ``entries[p]`` of ``name`` moved by ``steps[p]``,
for every p — the building block of every numerical oracle.

:class:`StackedObjective` does all perturbations in a few forward passes, copies side by side in the
batch axis. :class:`LoopObjective` calls any ``loss`` function once per entry: it works for code that
knows nothing of stacking (generated modules, other people's code) and is the baseline the benchmark
measures the stacked version against.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from numeric.activations import cross_entropy_columns
from numeric.models.base import Tape
from numeric.perturb import Perturbed, Tiled


def _step_dtype(dtype, steps: np.ndarray) -> np.dtype:
    """Steps in the computation's precision: real for differences, complex for the complex step."""
    real = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.finfo(np.dtype(dtype)).dtype
    return np.result_type(real, np.complex64) if np.iscomplexobj(steps) else real


class StackedObjective:
    """E = Σ_t Σ_b −log ô_t[o_t] of a built-in model at one point, perturbed many ways at once.

    With ``truncate=k`` the objective is the *truncated* loss whose gradient truncated BPTT computes:
    Σ_t E_t recomputed from the states k steps back held constant at their values at the point
    (docs/models.md). That construction is independent of the backward pass it checks.

    Args:
        model: a ``numeric.models`` model.
        params: its parameters; xs (T, D, B); targets (T, B); state0: initial states by name.
        truncate: None or k ≥ 1.
        max_columns: batch columns per forward pass (memory bound; copies × B).
        workers: threads evaluating chunks side by side (NumPy releases the GIL inside its loops).
    """

    def __init__(self, model, params: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray,
                 state0: Mapping[str, np.ndarray], truncate: int | None = None, max_columns: int = 8192,
                 workers: int | None = None):
        self.model, self.targets, self.truncate = model, targets, truncate
        self.args = {**params, "xs": xs, **state0}
        self.param_names = tuple(params)
        self.state_names = tuple(state0)
        self.dtype = np.result_type(*self.args.values())
        self.B = xs.shape[2]
        self.max_copies = max(1, max_columns // self.B)
        self.workers = workers or min(os.cpu_count() or 1, 4)
        self._frozen = None
        self._hs = None  # hidden states at the point, for perturbations of the output layer
        if truncate is not None and truncate < xs.shape[0]:
            tape = model._forward(dict(params), xs, dict(state0))
            self._frozen = {s: tape.steps[s] for s in model.states}  # (T, ·, B) each

    # ---- evaluation ---------------------------------------------------------------------------------

    def _column_losses(self, params, xs, state0, targets, copies: int) -> np.ndarray:
        if self._frozen is None:
            return self.model._column_losses(params, xs, targets, state0)
        k, T = self.truncate, xs.shape[0]
        total = 0
        for t in range(T):  # E_t from the state k steps back: variable h0 if the window reaches it
            start = t - k + 1
            if start <= 0:
                start, window_state = 0, state0
            else:
                window_state = {s + "0": np.tile(v[start - 1], (1, copies)) for s, v in self._frozen.items()}
            tape = self.model._forward(params, xs[start:t + 1], window_state, keep={"h"})
            z_t = self.model._logits(params, tape)[-1:]
            total = total + cross_entropy_columns(z_t, targets[t:t + 1])
        return total

    def loss(self) -> float:
        """E at the point (the truncated objective's value equals the full loss there)."""
        a = self.args
        state0 = {k: a[k] for k in self.state_names}
        return float(self._column_losses({k: a[k] for k in self.param_names}, a["xs"], state0,
                                         self.targets, 1).sum().real)

    def values(self, name: str, entries: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """E with flat entry ``entries[p]`` of argument ``name`` moved by ``steps[p]``; returns (P,)."""
        return self.values_many([(name, entries, steps)])[0]

    def values_many(self, requests: list[tuple[str, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """:meth:`values` for several (name, entries, steps) at once, their chunks sharing one pool of
        workers — small arguments (biases) then no longer leave a core idle."""
        jobs = []  # (request index, name, entries, steps) per chunk
        for k, (name, entries, steps) in enumerate(requests):
            if name not in self.args:
                raise ValueError(f"unknown argument {name!r}; expected one of {list(self.args)}")
            steps = np.asarray(steps)
            steps = steps.astype(_step_dtype(self.dtype, steps))
            size = min(self.max_copies, max(64, -(-len(steps) // self.workers)))
            jobs += [(k, name, entries[lo:lo + size], steps[lo:lo + size]) for lo in range(0, len(steps), size)]
        run = lambda job: self._values_chunk(*job[1:])  # noqa: E731
        if len(jobs) == 1:
            results = [run(jobs[0])]
        else:
            # The chunks already keep every core busy: a multi-threaded BLAS inside each would only
            # oversubscribe the cores (measured: 2–6× slower on a loaded 2-core machine).
            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(run, jobs))
        return [np.concatenate([r for job, r in zip(jobs, results) if job[0] == k]) for k in range(len(requests))]

    def _values_chunk(self, name, entries, steps):
        P, B = len(steps), self.B
        tile = lambda a: np.tile(a, (1,) * (a.ndim - 1) + (P,))  # noqa: E731  (·, B) → (·, P·B)
        params = {k: self.args[k] for k in self.param_names}
        xs, targets = Tiled(self.args["xs"], P), tile(self.targets)
        state0 = {k: tile(self.args[k]) for k in self.state_names}
        base = self.args[name]
        index = np.unravel_index(entries, base.shape)
        if name in params:  # a weight: rank-one corrections inside the matrix products
            params[name] = Perturbed(base, index[0], index[1], steps, B)
            if name in ("W", "c") and self.model.separable_output:
                return self._output_layer_values(params, targets, P)
        else:  # xs or an initial state: perturb each copy's own columns directly
            dense = (xs.dense() if name == "xs" else state0[name]).astype(np.result_type(base, steps))
            blocks = dense.reshape(*base.shape[:-1], P, B)
            blocks[(*index[:-1], np.arange(P), index[-1])] += steps
            if name == "xs":
                xs = dense
            else:
                state0[name] = dense
        losses = self._column_losses(params, xs, state0, targets, P)
        return losses.reshape(P, B).sum(axis=1)

    def _output_layer_values(self, params, targets, copies: int) -> np.ndarray:
        """W and c sit off the recurrent path (all models but Jordan): the hidden states of every copy
        are those at the point, so only the logits are recomputed — for the full or truncated loss alike,
        since every window reproduces the same h_t."""
        if self._hs is None:
            a = self.args
            tape = self.model._forward({k: a[k] for k in self.param_names}, a["xs"],
                                       {k: a[k] for k in self.state_names}, keep={"h"})
            self._hs = tape.hs
        tape = Tape(self.args["xs"], {}, {"h": Tiled(self._hs, copies)})
        losses = cross_entropy_columns(self.model._logits(params, tape), targets)
        return losses.reshape(copies, self.B).sum(axis=1)

    def along(self, direction: Mapping[str, np.ndarray], step) -> complex | float:
        """E(θ + step·u) for a direction u over (some of) the arguments; step may be complex."""
        moved = {k: v + step * direction[k] if k in direction else v for k, v in self.args.items()}
        state0 = {k: moved[k] for k in self.state_names}
        losses = self._column_losses({k: moved[k] for k in self.param_names}, moved["xs"], state0,
                                     self.targets, 1)
        return losses.sum()


class LoopObjective:
    """The same interface for any ``loss(params, xs, targets, **state0)``: one call per perturbed entry.

    Args:
        loss: callable returning E (real or complex scalar).
        params, xs, targets, state0: the point.
    """

    def __init__(self, loss: Callable, params: Mapping[str, np.ndarray], xs: np.ndarray, targets: np.ndarray,
                 state0: Mapping[str, np.ndarray]):
        self._loss, self.targets = loss, targets
        self.args = {**params, "xs": xs, **state0}
        self.param_names = tuple(params)
        self.state_names = tuple(state0)
        self.dtype = np.result_type(*self.args.values())

    def _call(self, args) -> complex | float:
        return self._loss({k: args[k] for k in self.param_names}, args["xs"], self.targets,
                          **{k: args[k] for k in self.state_names})

    def loss(self) -> float:
        return float(np.real(self._call(self.args)))

    def values(self, name: str, entries: np.ndarray, steps: np.ndarray) -> np.ndarray:
        steps = np.asarray(steps)
        steps = steps.astype(_step_dtype(self.dtype, steps))
        args = {k: v.astype(np.result_type(v, steps)) for k, v in self.args.items()}
        out = np.empty(len(steps), steps.dtype)
        flat = args[name].reshape(-1)  # a view into the copy we own
        for p, (entry, step) in enumerate(zip(entries, steps)):
            saved = flat[entry]
            flat[entry] = saved + step
            out[p] = self._call(args)
            flat[entry] = saved
        return out

    def values_many(self, requests: list[tuple[str, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        return [self.values(*request) for request in requests]

    def along(self, direction: Mapping[str, np.ndarray], step):
        return self._call({k: v + step * direction[k] if k in direction else v for k, v in self.args.items()})
