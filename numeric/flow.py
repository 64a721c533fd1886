"""Gradient flow through time: products of local Jacobians ∂s_t/∂s_{t−1} and their norms against the lag.

The course's sum ∂E_t/∂W = Σ_k ∂E_t/∂ô_t ∂ô_t/∂h_t (Π_{j=k+1..t} ∂h_j/∂h_{j−1}) ∂h_k/∂W is dominated by the
short lags because the product of Jacobians shrinks (or grows) geometrically with t − k. This module
measures that product for one sequence (batch column 0):

- :func:`analytic_jacobians`: the local Jacobians of the built-in cells in closed form, from the tape of
  the hand-written forward pass (Elman: diag(1 − h_t²) V; LSTM: the (h, c) block matrix whose c→c block is
  diag(f_t); GRU: diag(u_t) + …).
- :func:`complex_step_jacobians`: the same local Jacobians from any forward pass, by the complex step
  (forward mode, exact to rounding): the route for cell files, and an independent check of the closed forms.
- :func:`measure`: the products ∂s_T/∂s_k for every k, the norms ‖∂h_T/∂h_k‖ (spectral, Frobenius) and
  ‖∂E_T/∂h_k‖ for the loss of the last step alone (the lecture's E_3), and the Elman bound (γ‖V‖₂)^{T−k}.
- :func:`jacobian_over_lag`, :func:`finite_difference_over_lag`: ∂h_T/∂h_k straight from a forward pass over
  steps k+1 … T (complex step, central differences), for the cross-checks.

A forward pass is given as ``run(params, xs, state0) -> {state name: (T, rows, B)}``: the states
s_1 … s_T, state names as the initial states are called ("h0", "c0"). NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from numeric.activations import softmax

Run = Callable[[Mapping[str, np.ndarray], np.ndarray, Mapping[str, np.ndarray]], dict]

#: sup |φ'| of the hidden nonlinearity: the γ in the bound ‖∂h_t/∂h_k‖ ≤ (γ‖V‖₂)^{t−k}
GAMMA = {"tanh": 1.0, "sigmoid": 0.25}


def model_runner(model) -> Run:
    """``run`` for a built-in :mod:`numeric.models` model (its hand-written forward pass)."""
    def run(params, xs, state0):
        tape = model.forward(params, xs, **state0)
        return {name: tape.steps[name[:-1]] for name in state0}
    return run


# ---- local Jacobians ----------------------------------------------------------------------------------


def _diag_left(v: np.ndarray, M: np.ndarray) -> np.ndarray:
    """diag(v) M for a column v (H,) and M (H, n): scales rows."""
    return v[:, None] * M


def analytic_jacobians(model_name: str, params: Mapping[str, np.ndarray], tape) -> np.ndarray:
    """Closed-form ∂s_t/∂s_{t−1} for t = 1 … T of batch column 0 of a hand-written model's tape.

    The state s is h (rnn, gru, gru-reset-after) or [h; c] (lstm, lstm-peephole).

    Args:
        model_name: a built-in model name (not jordan: its state is ô).
        params: the parameters the tape was computed with.
        tape: :class:`numeric.models.Tape` of the forward pass.

    Returns:
        (T, S, S) with S = H or 2H.
    """
    st = {k: v[..., 0] for k, v in tape.steps.items()}  # (T, ·) for column 0
    prev = {k: np.concatenate([tape.state0[k + "0"][None, :, 0], st[k][:-1]]) for k in ("h", "c") if k in st}
    T, H = st["h"].shape
    I = np.eye(H)
    out = []
    for t in range(T):
        if model_name == "rnn":
            out.append(_diag_left(1 - st["h"][t] ** 2, params["V"]))  # diag(1 − h_t²) V
        elif model_name in ("lstm", "lstm-peephole"):
            out.append(_lstm_jacobian(params, {k: v[t] for k, v in st.items()}, prev["c"][t],
                                      model_name == "lstm-peephole", I))
        elif model_name in ("gru", "gru-reset-after"):
            out.append(_gru_jacobian(params, {k: v[t] for k, v in st.items()}, prev["h"][t],
                                     model_name == "gru-reset-after", I))
        else:
            raise ValueError(f"analytic_jacobians: expected rnn, lstm, lstm-peephole, gru or gru-reset-after, "
                             f"got {model_name!r} (use complex_step_jacobians for other cells)")
    return np.array(out)


def _lstm_jacobian(p, s, c_prev, peephole: bool, I) -> np.ndarray:
    """[[∂h/∂h', ∂h/∂c'], [∂c/∂h', ∂c/∂c']] of one LSTM step (′: the previous step)."""
    f, i, g, q, tanh_c = s["f"], s["i"], s["g"], s["q"], s["tanh_c"]
    df, di, dq = f * (1 - f), i * (1 - i), q * (1 - q)  # σ' written in σ's own value
    dc_dh = (_diag_left(c_prev * df, p["V_f"]) + _diag_left(g * di, p["V_i"])
             + _diag_left(i * (1 - g * g), p["V_g"]))
    dc_dc = np.diag(f)  # the carry: ∂c_t/∂c_{t−1} = diag(f_t)
    if peephole:
        dc_dc = dc_dc + np.diag(c_prev * df * p["p_f"][:, 0] + g * di * p["p_i"][:, 0])
    # h = q ⊙ tanh(c), with a_q = V_q h' (+ p_q ⊙ c)
    daq_dh, daq_dc = p["V_q"], np.zeros_like(I)
    if peephole:
        daq_dh = daq_dh + _diag_left(p["p_q"][:, 0], dc_dh)
        daq_dc = _diag_left(p["p_q"][:, 0], dc_dc)
    through_c = q * (1 - tanh_c ** 2)
    dh_dh = _diag_left(tanh_c * dq, daq_dh) + _diag_left(through_c, dc_dh)
    dh_dc = _diag_left(tanh_c * dq, daq_dc) + _diag_left(through_c, dc_dc)
    return np.block([[dh_dh, dh_dc], [dc_dh, dc_dc]])


def _gru_jacobian(p, s, h_prev, reset_after: bool, I) -> np.ndarray:
    """∂h_t/∂h_{t−1} of one GRU step: h = u ⊙ h' + (1 − u) ⊙ g."""
    r, u, g = s["r"], s["u"], s["g"]
    dr = r * (1 - r)
    if reset_after:  # g = tanh(U_g x + b_g + r ⊙ n),  n = V_g h' + b_gh
        dpre = _diag_left(r, p["V_g"]) + _diag_left(s["n"] * dr, p["V_r"])
    else:  # g = tanh(U_g x + b_g + V_g (r ⊙ h'))
        dpre = p["V_g"] @ (np.diag(r) + _diag_left(h_prev * dr, p["V_r"]))
    dg = _diag_left(1 - g * g, dpre)
    return np.diag(u) + _diag_left((h_prev - g) * u * (1 - u), p["V_u"]) + _diag_left(1 - u, dg)


def _stack_state(states: Mapping[str, np.ndarray], names) -> np.ndarray:
    return np.concatenate([states[n] for n in names], axis=-2)


def _split_state(s: np.ndarray, rows: Mapping[str, int]) -> dict:
    out, at = {}, 0
    for name, n in rows.items():
        out[name] = s[..., at:at + n, :]
        at += n
    return out


def complex_step_jacobians(run: Run, params, xs: np.ndarray, state0: Mapping[str, np.ndarray],
                           h: float = 1e-30) -> np.ndarray:
    """∂s_t/∂s_{t−1} for t = 1 … T of column 0 by the complex step through ``run`` (one step at a time).

    Column j of J_t is Im run(s_{t−1} + i h e_j, x_t) / h: all S columns in one call, side by side in the
    batch axis. Needs a forward pass that is analytic (every built-in cell and tanh/σ cell files).

    Returns:
        (T, S, S), states stacked in the order of ``state0``.
    """
    rows = {k: v.shape[0] for k, v in state0.items()}
    S = sum(rows.values())
    states = run(params, xs[..., :1], {k: v[:, :1] for k, v in state0.items()})
    s_prev = _stack_state({k: v[:, :1] for k, v in state0.items()}, rows)  # (S, 1)
    out = []
    for t in range(xs.shape[0]):
        probe = s_prev + 1j * h * np.eye(S)  # (S, S): one perturbed copy per column
        nxt = run(params, np.repeat(xs[t:t + 1, :, :1], S, axis=2), _split_state(probe, rows))
        out.append(_stack_state({k: v[0] for k, v in nxt.items()}, rows).imag / h)
        s_prev = _stack_state({k: v[t] for k, v in states.items()}, rows)
    return np.array(out)


# ---- the measurement ----------------------------------------------------------------------------------


@dataclass
class Flow:
    """Gradient-flow measurements of one sequence, indexed by lag = T − k for k = T, T−1, …, 0.

    Attributes:
        lags: (T+1,) 0 … T.
        spectral, frobenius: ‖∂h_T/∂h_k‖₂ and ‖∂h_T/∂h_k‖_F (other states held fixed), (T+1,).
        dE_dh: ‖∂E_T/∂h_k‖₂ for E_T the loss of step T alone, (T+1,).
        dE_dc: ‖∂E_T/∂c_k‖₂ for cells with a memory c (else None).
        carry: ‖Π_{j=k+1..T} diag(f_j)‖₂ = max over units of the product of forget gates (LSTM; GRU: of
            update gates u_j, the direct path h_{j−1} → h_j), or None.
        bound: (γ ‖V‖₂)^{lag} for Elman-form cells h_t = φ(U x_t + V h_{t−1} + b), or None.
        gamma, norm_V, radius_V: γ, ‖V‖₂ and the spectral radius ρ(V) (Elman-form cells).
        products: the Jacobian products ∂s_T/∂s_k (T+1, S, S), kept for the cross-checks.
        dE_dsT: ∂E_T/∂s_T (S,).
    """

    lags: np.ndarray
    spectral: np.ndarray
    frobenius: np.ndarray
    dE_dh: np.ndarray
    dE_dc: np.ndarray | None = None
    carry: np.ndarray | None = None
    bound: np.ndarray | None = None
    gamma: float | None = None
    norm_V: float | None = None
    radius_V: float | None = None
    products: np.ndarray | None = field(default=None, repr=False)
    dE_dsT: np.ndarray | None = field(default=None, repr=False)

    @property
    def regime(self) -> str | None:
        """What the bound predicts (Pascanu, Mikolov & Bengio 2013), Elman-form cells only."""
        if self.gamma is None:
            return None
        if self.gamma * self.norm_V < 1:
            return "vanishing (γ‖V‖₂ < 1 is sufficient)"
        return "may explode (γ‖V‖₂ > 1 is necessary, not sufficient)"

    def as_dict(self) -> dict:
        out = {"lags": self.lags.tolist(), "spectral": self.spectral.tolist(),
               "frobenius": self.frobenius.tolist(), "dE_dh": self.dE_dh.tolist()}
        for name in ("dE_dc", "carry", "bound"):
            value = getattr(self, name)
            out[name] = None if value is None else value.tolist()
        out.update(gamma=self.gamma, norm_V=self.norm_V, radius_V=self.radius_V, regime=self.regime)
        return out


def output_gradient(W: np.ndarray, c: np.ndarray | None, h_T: np.ndarray, target: int) -> np.ndarray:
    """∂E_T/∂h_T = Wᵀ(ô_T − o_T) for E_T = −log ô_T[target], ô_T = softmax(W h_T + c); h_T (H,)."""
    z = W @ h_T + (0 if c is None else c[:, 0])
    dz = softmax(z[:, None])[:, 0]
    dz[target] -= 1
    return W.T @ dz


def measure(jacobians: np.ndarray, dE_dsT: np.ndarray, H: int, *, carry_gates: np.ndarray | None = None,
            V: np.ndarray | None = None, gamma: float | None = None) -> Flow:
    """Jacobian products ∂s_T/∂s_k = J_T J_{T−1} ⋯ J_{k+1} for every k and their norms.

    Args:
        jacobians: J_1 … J_T, (T, S, S); the first H state rows are h, the next H (if any) c.
        dE_dsT: ∂E_T/∂s_T, (S,).
        H: hidden size.
        carry_gates: the gate on the direct path of the memory at every step, (T, H) (LSTM f_t, GRU u_t).
        V, gamma: the recurrent matrix and sup|φ'| of an Elman-form cell, for the bound.

    Returns:
        :class:`Flow` (lag 0 is k = T: the identity and ∂E_T/∂h_T itself).
    """
    T, S, _ = jacobians.shape
    products = np.empty((T + 1, S, S))
    products[0] = np.eye(S)
    for lag in range(1, T + 1):  # ∂s_T/∂s_{T−lag} = ∂s_T/∂s_{T−lag+1} · J_{T−lag+1}
        products[lag] = products[lag - 1] @ jacobians[T - lag]
    hh = products[:, :H, :H]
    spectral = np.linalg.norm(hh, ord=2, axis=(1, 2))
    frobenius = np.linalg.norm(hh, axis=(1, 2))
    dE = np.einsum("s,lsk->lk", dE_dsT, products)  # row vector ∂E_T/∂s_k = ∂E_T/∂s_T ∂s_T/∂s_k
    flow = Flow(np.arange(T + 1), spectral, frobenius, np.linalg.norm(dE[:, :H], axis=1),
                np.linalg.norm(dE[:, H:], axis=1) if S > H else None, products=products, dE_dsT=dE_dsT)
    if carry_gates is not None:
        # max over units of Π_{j=k+1..T} gate_j, as a running product from the end
        running = np.cumprod(np.concatenate([np.ones((1, H)), carry_gates[::-1]]), axis=0)
        flow.carry = running.max(axis=1)
    if V is not None:
        flow.gamma = float(gamma)
        flow.norm_V = float(np.linalg.norm(V, 2))
        flow.radius_V = float(np.max(np.abs(np.linalg.eigvals(V))))
        flow.bound = (flow.gamma * flow.norm_V) ** flow.lags.astype(float)
    return flow


# ---- direct computations over a whole lag, for the cross-checks -----------------------------------------


def _from_step(states: Mapping[str, np.ndarray], state0, k: int) -> dict:
    """The states s_k (column 0) as initial states: s_0 from state0, else from the trajectory."""
    if k == 0:
        return {n: v[:, :1] for n, v in state0.items()}
    return {n: states[n][k - 1][:, :1] for n in state0}


def jacobian_over_lag(run: Run, params, xs, state0, k: int, h: float = 1e-30) -> np.ndarray:
    """∂h_T/∂h_k straight from the forward pass over steps k+1 … T, by the complex step (column 0).

    Other states at k (c_k) are held fixed, as in :func:`measure`. Returns (H, H).
    """
    states = run(params, xs[..., :1], {n: v[:, :1] for n, v in state0.items()})
    start = _from_step(states, state0, k)
    H = start["h0"].shape[0]
    probe = {n: np.repeat(v, H, axis=1).astype(complex) for n, v in start.items()}
    probe["h0"] = probe["h0"] + 1j * h * np.eye(H)
    out = run(params, np.repeat(xs[k:, :, :1], H, axis=2), probe)
    return out["h0"][-1].imag / h


def finite_difference_over_lag(run: Run, params, xs, state0, k: int, eps: float = 1e-6) -> np.ndarray:
    """∂h_T/∂h_k by central differences of the forward pass over steps k+1 … T (column 0). Returns (H, H)."""
    states = run(params, xs[..., :1], {n: v[:, :1] for n, v in state0.items()})
    start = _from_step(states, state0, k)
    H = start["h0"].shape[0]
    copies = {n: np.repeat(v, 2 * H, axis=1) for n, v in start.items()}
    copies["h0"] = copies["h0"] + eps * np.concatenate([np.eye(H), -np.eye(H)], axis=1)
    end = run(params, np.repeat(xs[k:, :, :1], 2 * H, axis=2), copies)["h0"][-1]
    return (end[:, :H] - end[:, H:]) / (2 * eps)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / max(‖a‖ + ‖b‖, tiny): norm-wise, so entries that underflow toward 0 do not dominate."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), np.finfo(float).tiny))
