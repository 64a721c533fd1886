"""Verification of a bidirectional network's generated module (derive/bidirectional.py), for
`bptt verify|codegen MODEL --bidirectional`.

The direction cell is verified as any generated cell (reports/codegen_verify.py: oracles, SymPy program).
The network is then checked as a whole: its gradients against the complex step and central differences of
its own ``loss`` — or, with ``truncate=k``, of the truncated objective built here from the one-direction
forward alone: E_t from h→_t recomputed over x_{t−k+1..t} from h→_{t−k} frozen, and h←_t recomputed over
x_{t+k−1..t} from h←_{t+k} frozen (the variable initial states where a window reaches them).
"""

from __future__ import annotations

import numpy as np

from numeric.gradcheck import LoopObjective, numerical_gradients
from numeric.gradcheck.verify import Verification, compare_to_estimates, directional_comparison


def random_bidirectional_point(module, D, H, K, T, B, seed=0, dtype=np.float64):
    """Parameters, xs ~ N(0, 1), targets (class ids or N(0, 1) reals) and initial states ~ N(0, 0.5²)."""
    rng = np.random.default_rng(seed)
    sizes = dict(zip(module.NET_DIMS, [{"D": D, "H": H, "K": K}.get(d, H + 1) for d in module.NET_DIMS]))
    params = module.init_params(*sizes.values(), rng=rng, dtype=dtype)
    K_ = sizes.get(module.OUT_DIM, K)
    xs = rng.standard_normal((T, sizes.get(module.INPUT_DIM, D), B)).astype(dtype)
    targets = (rng.standard_normal((T, K_, B)).astype(dtype) if module.OUTPUT_LOSS == "mse"
               else rng.integers(0, K_, size=(T, B)))
    rows = sizes.get(module.HIDDEN_DIM, H)
    state0 = {k: (0.5 * rng.standard_normal(s)).astype(dtype)
              for k, s in module.initial_state_shapes(rows, B).items()}
    return params, xs, targets, state0, sizes


class TruncatedBidirectionalLoss:
    """Σ_t E_t with each direction's state k steps away frozen at its value at the point."""

    def __init__(self, module, params, xs, state0, k):
        self.m, self.k = module, k
        cell, s0 = module._split(params, state0)
        T = xs.shape[0]
        fw = self._states(cell["fw"], xs, s0["fw"])
        bw = self._states(cell["bw"], xs[::-1], s0["bw"])
        self.frozen_fw = fw  # fw[i][t]: state i after step t + 1
        self.frozen_bw = {i: v[::-1] for i, v in bw.items()}  # bw[i][t]: h← at step t + 1
        self.T = T

    def _states(self, params, xs, s0):
        m = self.m
        sizes, dtype, full = m._checked(params, xs, None, dict(s0), need_targets=False)
        o = np.zeros((xs.shape[0], sizes[m.CLASS_DIM], xs.shape[2]), dtype)
        _, tape = m._forward(params, xs, o, full, sizes, dtype)
        arrays = dict(zip(m.TAPE, tape))
        return {init: arrays[name] for init, name in m.STATES.items()}

    def __call__(self, params, xs, targets, **state0):
        m, k, T = self.m, self.k, self.T
        cell, s0 = m._split(params, state0)
        h_fw, h_bw = [], []
        for t in range(T):
            lo = max(0, t - k + 1)
            start = s0["fw"] if lo == 0 else {i: v[lo - 1] for i, v in self.frozen_fw.items()}
            h_fw.append(m._cell_forward(cell["fw"], xs[lo:t + 1], **start)[m.OUT_STATE][-1])
            hi = min(T, t + k)
            start = s0["bw"] if hi == T else {i: v[hi] for i, v in self.frozen_bw.items()}
            h_bw.append(m._cell_forward(cell["bw"], xs[t:hi][::-1], **start)[m.OUT_STATE][-1])
        z = m._logits(params, np.stack(h_fw), np.stack(h_bw))
        return m._output_loss(z, targets, z.dtype)[0]


def verify_bidirectional(gen, D=3, H=4, K=3, T=4, B=2, truncate=None, seed=0,
                         oracles=("complex-step", "central")) -> Verification:
    """The network's gradients at one random point (float64) against the oracles and the directional test."""
    m = gen.module
    params, xs, targets, state0, sizes = random_bidirectional_point(m, D, H, K, T, B, seed)
    E, grads = m.loss_and_grads(params, xs, targets, truncate=truncate, **state0)
    result = Verification(gen.name, "float64", {**sizes, "T": T, "B": B}, seed, truncate, True, float(E))
    loss = m.loss
    if truncate is not None and truncate < T:
        loss = TruncatedBidirectionalLoss(m, params, xs, state0, truncate)
    objective = LoopObjective(loss, params, xs, targets, state0)
    estimates = {o: numerical_gradients(objective, list(grads), o) for o in oracles}
    result.comparisons += compare_to_estimates(grads, estimates, "float64", float(E))
    result.comparisons.append(directional_comparison(objective, grads, 3, "float64", seed))
    return result
