"""One `bptt flow` measurement: a cell at one initialisation and recurrent-weight scale, one random sequence,
the Jacobian products of :mod:`numeric.flow`, and their cross-checks.

Cross-checks at a few lags (T − k for k = T − 1, T/2, 0):

- ∂h_T/∂h_k against the complex step of the generated module's forward pass over steps k+1 … T
  (forward mode, independent of the local Jacobians) — must agree to 1e-10 (norm-wise);
- ∂h_T/∂h_k against central differences of the same forward pass (reported, ~1e-7, where the norm is at
  least 1e-5: below that the differences resolve only rounding);
- ∂E_T/∂h_k against the generated module's BPTT (reverse mode): ``loss_and_grads`` over steps k+1 … T from
  the state s_k with every target but the last masked (−1), whose ∂E/∂h0 is ∂E_T/∂h_k — to 1e-10.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numeric import flow as nflow
from numeric.training.init import initialise, scale_recurrent
from reports.recurrence import Recurrence

ANALYTIC = ("rnn", "lstm", "lstm-peephole", "gru", "gru-reset-after")
CARRY_TAPE = {"lstm": "f", "lstm-peephole": "f", "gru": "u", "gru-reset-after": "u"}
TOLERANCE = 1e-10  # complex step and BPTT against the Jacobian products (norm-wise relative)
FD_RESOLUTION = 1e-5  # central differences (ε = 1e-6) resolve ‖∂h_T/∂h_k‖ only well above u/ε ≈ 1e-10


@dataclass
class FlowRun:
    """A measured cell: settings, the :class:`numeric.flow.Flow`, and the cross-check errors by lag."""

    model: str
    init: str
    scale: float
    scale_kind: str  # "factor" or "radius"
    flow: nflow.Flow
    jacobian_source: str  # "closed form (hand-written tape)" or "complex step of the generated forward"
    checks: dict[str, dict[int, float]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(err <= TOLERANCE for name in ("complex step", "BPTT") for err in self.checks[name].values())

    def as_dict(self) -> dict:
        return {"model": self.model, "init": self.init, "scale": self.scale, "scale_kind": self.scale_kind,
                "jacobians": self.jacobian_source, **self.flow.as_dict(),
                "checks": {k: {str(lag): e for lag, e in v.items()} for k, v in self.checks.items()},
                "checks_passed": self.passed}


def random_point(rec: Recurrence, D: int, H: int, K: int, init: str, rng: np.random.Generator,
                 forget_bias: float, factor: float | None = None, radius: float | None = None) -> dict:
    """Parameters drawn by ``init`` with the recurrent weights scaled (``factor``) or set to a spectral radius."""
    params = initialise(rec.param_shapes(D, H, K), init, rng, recurrent=rec.recurrent, biases=rec.biases,
                        forget_biases=rec.forget_biases, forget_bias=forget_bias)
    return scale_recurrent(params, rec.recurrent, factor=factor, radius=radius)


def measure_flow(rec: Recurrence, *, D: int, H: int, K: int, T: int, init: str, seed: int,
                 forget_bias: float = 1.0, factor: float | None = None, radius: float | None = None,
                 check_lags: tuple[int, ...] | None = None) -> FlowRun:
    """Measure ‖∂h_T/∂h_k‖, ‖∂E_T/∂h_k‖ for every lag of one random sequence and cross-check a few lags.

    The parameters and the sequence come from ``seed`` alone, so two cells measured with the same seed and
    sizes see the same inputs x_t ~ N(0, 1) and the same target at T.
    """
    if "h0" not in rec.state_names:
        raise ValueError(f"{rec.name}: bptt flow measures ∂h_T/∂h_k, but this cell's state is "
                         f"{', '.join(rec.state_names)} (Jordan feeds back ô)")
    if rec.state_names[0] != "h0" or "W" not in rec.cell.param_names:
        raise ValueError(f"{rec.name}: bptt flow expects the hidden state h declared first and the output "
                         f"layer z = W h (+ c); got states {', '.join(rec.state_names)} and parameters "
                         f"{', '.join(rec.cell.param_names)}")
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, D, 1))
    target = int(rng.integers(K))
    params = random_point(rec, D, H, K, init, np.random.default_rng([seed, 1]), forget_bias, factor, radius)
    state0 = rec.zero_states(D, H, K, B=1)
    states = rec.run(params, xs, state0)
    hand = rec.hand_written if rec.name in ANALYTIC and rec.hand_written is not None else None
    carry = None
    if hand is not None:
        tape = hand.forward(params, xs, **state0)
        jacobians = nflow.analytic_jacobians(rec.name, params, tape)
        source = "closed form (hand-written tape)"
        if rec.name in CARRY_TAPE:
            carry = tape.steps[CARRY_TAPE[rec.name]][..., 0]
    else:
        jacobians = nflow.complex_step_jacobians(rec.run, params, xs, state0)
        source = "complex step of the generated forward"
    S = jacobians.shape[1]
    dE_dhT = nflow.output_gradient(params["W"], params.get("c"), states["h0"][-1, :, 0], target)
    dE_dsT = np.concatenate([dE_dhT, np.zeros(S - H)])
    V, gamma = (params[rec.elman[0]], rec.elman[1]) if rec.elman else (None, None)
    result = nflow.measure(jacobians, dE_dsT, H, carry_gates=carry, V=V, gamma=gamma)
    run = FlowRun(rec.name, init, radius if radius is not None else (1.0 if factor is None else factor),
                  "radius" if radius is not None else "factor", result, source)
    run.checks = cross_check(rec, params, xs, state0, states, target, result,
                             check_lags or tuple(sorted({1, T // 2, T})))
    return run


def cross_check(rec: Recurrence, params, xs, state0, states, target: int, result: nflow.Flow,
                lags: tuple[int, ...]) -> dict[str, dict[int, float]]:
    """Relative errors of the products against independent computations, by lag (see the module doc)."""
    T = xs.shape[0]
    H = state0["h0"].shape[0]
    checks = {"complex step": {}, "central differences": {}, "BPTT": {}}
    for lag in lags:
        k = T - lag
        product = result.products[lag][:H, :H]
        checks["complex step"][lag] = nflow.relative_error(
            product, nflow.jacobian_over_lag(rec.run, params, xs, state0, k))
        if np.linalg.norm(product) >= FD_RESOLUTION:  # below it, differences see only rounding
            checks["central differences"][lag] = nflow.relative_error(
                product, nflow.finite_difference_over_lag(rec.run, params, xs, state0, k))
        start = state0 if k == 0 else {n: states[n][k - 1] for n in state0}
        targets = np.full((lag, 1), -1)
        targets[-1, 0] = target  # E_T alone
        _, grads, _ = rec.loss_and_grads(params, xs[k:], targets, start)
        row = (result.dE_dsT @ result.products[lag])[:H]  # ∂E_T/∂h_k from the products
        checks["BPTT"][lag] = nflow.relative_error(row, grads["h0"][:, 0])
    return checks
