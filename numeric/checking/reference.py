"""Probe inputs and the verified reference outputs for them (``numeric.models``, float64).

A probe is one set of inputs in the reference layout (docs/models.md: column vectors, batch last):
parameters, ``xs`` (T, D, B), ``h0``/``c0`` (H, B), and either ``targets`` (T, B) — the loss
E = Σ_t Σ_b −log ô_t[o_t] drives the gradient — or an upstream ``dhs`` (T, H, B) (+ ``dc_last`` (H, B)).
Conventions convert probes to their own layout and the reference outputs back.

Reference outputs use the keys of ``mistakes.run`` so that the reference and every mistaken variant are
read by one converter: "hs", "cs", "E", each parameter name, "xs", "h0", "c0", "dhs_after",
"dc_last_after".
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from dataclasses import dataclass, field

import numpy as np

from numeric import models
from numeric.gradcheck import LoopObjective, numerical_gradient


# The secret per-run seed mixed into every probe (None: the probe's fixed index alone, as in unit tests).
_RUN_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar("bptt_probe_run_seed", default=None)


def new_run_seed() -> int:
    """A fresh secret seed for one run (63 bits from ``secrets``: not guessable from earlier runs)."""
    return secrets.randbits(63)


@contextlib.contextmanager
def run_seed(seed: int | None):
    """Within the block every ``make_probe`` draws from (seed, probe index): the probes of a run are new
    and secret, and the same ``seed`` gives the same probes again (``bptt check --seed``)."""
    token = _RUN_SEED.set(seed)
    try:
        yield seed
    finally:
        _RUN_SEED.reset(token)


@dataclass
class Probe:
    """One input set. ``sizes`` = dict(T, D, H, K, B); ``seed`` is the probe's index within its convention
    (the run's secret seed is mixed in when drawing, see ``run_seed``)."""

    model: str
    bias: bool
    seed: int
    sizes: dict
    params: dict
    xs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None = None
    targets: np.ndarray | None = None
    dhs: np.ndarray | None = None
    dc_last: np.ndarray | None = None
    extra: dict = field(default_factory=dict)  # convention data (min-char-rnn's integer inputs)

    def label(self) -> str:
        s = self.sizes
        role = f" ({self.extra['role']})" if self.extra.get("role") else ""
        return f"T={s['T']} D={s['D']} H={s['H']} B={s['B']}{role}"


def make_probe(model: str, bias: bool, seed: int, T: int, D: int, H: int, K: int, B: int,
               upstream: bool = False, dc_last: bool = False, zero_c0: bool = False,
               scale: float = 1.0, one_hot: bool = False, targets_const: bool = False,
               upstream_scale: float = 1.0, out_scale: float = 1.0, role: str = "",
               replicate_batch: bool = False) -> Probe:
    """Random inputs drawn from ``seed`` (the probe's fixed index) mixed with the run's secret seed.

    Args:
        upstream: draw dhs (T, H, B) instead of targets.
        dc_last: also draw ∂L/∂c_T (LSTM step backward).
        zero_c0: c0 = 0 (cs231n's lstm_forward starts from zero).
        scale: multiplies the parameters (``init_params`` draws ±1/√H); > 1 saturates and enlarges gradients.
        one_hot: inputs are one-hot columns (min-char-rnn); ``extra["inputs"]`` holds the class ids (T,).
        targets_const: every target is class 0: gradients grow with T (exercises clipping).
        upstream_scale: multiplies dhs and dc_last. Above 1 (the large-gradient probe) they are scaled
            further where needed, so that every gradient has an entry of magnitude ≥ ``CLIP_PROOF``:
            clipping at the usual ±5 then changes every output (the backward is linear in the upstream
            gradients, so this is exact).
        out_scale: further multiplies the output layer W, c: large ∂E/∂h_t without saturating the cell
            (gradients that grow backwards through time, as clipping is meant for).
        replicate_batch: (loss-driven, batched APIs) repeat the drawn batch until every gradient reaches
            ``CLIP_PROOF`` (E sums over the batch, so k copies multiply every gradient by exactly k).
        role: "" (an ordinary probe: part of the verdict and the diagnosis), "large" (too large for a
            numerical gradient inside the backward to finish in time: verdict only, no diagnosis) or
            "clip" (large gradients in a convention whose template clips them: clipping there is a
            warning, see runner.py).
    """
    run = _RUN_SEED.get()
    rng = np.random.default_rng(seed if run is None else [run, seed])
    m = models.get(model, bias=bias)
    params = {k: v * scale * (out_scale if k in ("W", "c") else 1.0)
              for k, v in m.init_params(D, H, K, rng=rng).items()}
    extra = {"role": role} if role else {}
    if one_hot:
        ids = rng.integers(0, D, size=(T,))
        xs = np.zeros((T, D, B))
        xs[np.arange(T), ids, 0] = 1.0
        extra["inputs"] = ids
    else:
        xs = rng.standard_normal((T, D, B))
    h0 = rng.uniform(-0.5, 0.5, (H, B))
    c0 = None
    if "c0" in m.initial_state_shapes(H, K, B):
        c0 = np.zeros((H, B)) if zero_c0 else rng.uniform(-0.5, 0.5, (H, B))
    targets = dhs = dcl = None
    if upstream:
        dhs = rng.standard_normal((T, H, B)) * upstream_scale
        if dc_last:
            dcl = rng.standard_normal((H, B)) * upstream_scale
    else:
        targets = np.zeros((T, B), dtype=np.int64) if targets_const else rng.integers(0, K, size=(T, B))
    probe = Probe(model, bias, seed, dict(T=T, D=D, H=H, K=K, B=B), params, xs, h0, c0, targets, dhs, dcl,
                  extra)
    if upstream and upstream_scale > 1:
        _reach_clip_proof(probe)
    if replicate_batch and targets is not None:
        _replicate_to_clip_proof(probe)
    return probe


def _replicate_to_clip_proof(probe: Probe, most: int = 256) -> None:
    """A loss-driven probe cannot be scaled like an upstream gradient, but E sums over the batch: B identical
    copies of the sequence multiply every gradient by exactly B. Copies are added until every gradient has
    an entry of magnitude ≥ ``CLIP_PROOF`` (at most ``most`` copies)."""
    ref = reference_outputs(probe)
    sizes = [float(np.max(np.abs(v))) for k, v in ref.items()
             if k not in ("hs", "cs", "E", "xs", "h0", "c0") and np.size(v)]
    smallest = min(sizes, default=0.0)
    if not 0 < smallest < CLIP_PROOF:
        return
    n = min(int(np.ceil(CLIP_PROOF * 1.01 / smallest)), most)
    probe.xs = np.repeat(probe.xs, n, axis=2)
    probe.h0 = np.repeat(probe.h0, n, axis=1)
    if probe.c0 is not None:
        probe.c0 = np.repeat(probe.c0, n, axis=1)
    probe.targets = np.repeat(probe.targets, n, axis=1)
    probe.sizes = dict(probe.sizes, B=probe.sizes["B"] * n)


CLIP_PROOF = 12.0  # every gradient of a large-gradient probe reaches this: clipping at ±1, ±5, ±10 shows


def _reach_clip_proof(probe: Probe, most: float = 1000.0) -> None:
    ref = reference_outputs(probe)
    sizes = [float(np.max(np.abs(v))) for k, v in ref.items()
             if k not in ("hs", "cs", "E", "dhs_after", "dc_last_after") and np.size(v)]
    smallest = min(sizes, default=0.0)
    if 0 < smallest < CLIP_PROOF:
        factor = min(CLIP_PROOF / smallest * 1.01, most)
        probe.dhs = probe.dhs * factor
        if probe.dc_last is not None:
            probe.dc_last = probe.dc_last * factor


# the input weights that saturate hidden unit 1 when fed a constant 1 (a bias, or a constant input): h_t ≈ 1
_SATURATE = {"rnn": {"U": 3.0}, "lstm": {"U_i": 3.0, "U_f": 3.0, "U_g": 3.0, "U_q": 3.0},
             "lstm-peephole": {"U_i": 3.0, "U_f": 3.0, "U_g": 3.0, "U_q": 3.0},
             "gru": {"U_u": -3.0, "U_g": 3.0}, "gru-reset-after": {"U_u": -3.0, "U_g": 3.0}}
_LOGIT_BOUND = 30.0  # largest |z| of a clip-proof probe: a naive softmax (np.exp(z) / sum) stays finite


def loss_clip_probe(model: str, bias: bool, seed: int, T: int, D: int, H: int, K: int, one_hot: bool = False,
                    role: str = "", attempts: int = 20) -> Probe:
    """A loss-driven probe (one sequence, B = 1) on which every parameter gradient has an entry ≥
    ``CLIP_PROOF``, so that clipping any one of them at ±1, ±5 or ±10 shows.

    A loss cannot be scaled like an upstream gradient and one sequence cannot be repeated like a batch, so
    the probe is built for it: hidden unit 1 is saturated (h_t ≈ 1 at every step: a bias, or a constant
    input standing for one), so Σ_t terms of the recurrent and output weights add up instead of cancelling;
    every target is the class the output layer predicts least (ô − o ≈ −1 there at every step), with the
    output layer as large as a naive softmax allows (|z| ≤ 30), which makes every ∂L/∂h_t large; and for
    real-valued inputs x → 4x with U → U/4 (the same forward, ∂L/∂U × 4 exactly). Draws are repeated
    (``attempts``, each from its own index) until every gradient reaches ``CLIP_PROOF``; if none does, the
    draw whose smallest gradient is largest is used.
    """
    best, best_size = None, -1.0
    for attempt in range(attempts):
        probe = make_probe(model, bias, seed + 1000 * attempt, T=T, D=D, H=H, K=K, B=1, one_hot=one_hot,
                           targets_const=True, role=role)
        params = probe.params
        for name, value in _SATURATE[model].items():
            if bias and "b" + name[1:] in params:
                params["b" + name[1:]][0, 0] = value
            elif not one_hot:
                probe.xs[:, 0, :] = 1.0
                params[name][0, 0] = value
        if not one_hot:
            probe.xs[:, 1:, :] *= 3.0  # inputs that keep the state moving (a GRU settles otherwise)
        hs = reference_outputs(probe)["hs"]
        z = np.einsum("kh,thb->tkb", params["W"], hs) + (params["c"] if "c" in params else 0.0)
        factor = _LOGIT_BOUND / max(float(np.abs(z).max()), 1e-12)
        params["W"] = params["W"] * factor
        if "c" in params:
            params["c"] = params["c"] * factor
        probe.targets[:] = int(np.argmin((z * factor).mean(axis=(0, 2))))
        if not one_hot:
            probe.xs = probe.xs * 4.0
            for name in params:
                if name.startswith("U"):
                    params[name] = params[name] / 4.0
        ref = reference_outputs(probe)
        size = min(float(np.max(np.abs(ref[name]))) for name in params)
        if size >= CLIP_PROOF:
            return probe
        if size > best_size:
            best, best_size = probe, size
    return best


def reference_outputs(probe: Probe) -> dict:
    """The verified outputs for ``probe`` under the keys of ``mistakes.run`` (see module doc)."""
    m = models.get(probe.model, bias=probe.bias)
    states = {"c0": probe.c0} if probe.c0 is not None else {}
    tape = m.forward(probe.params, probe.xs, h0=probe.h0, **states)
    out = {"hs": np.asarray(tape.hs)}
    if probe.c0 is not None:
        out["cs"] = np.asarray(tape.cs)
    if probe.targets is not None:
        E, grads = m.loss_and_grads(probe.params, probe.xs, probe.targets, h0=probe.h0, **states)
        out["E"] = np.asarray(E, dtype=np.float64)
    else:
        grads = m.backward(probe.params, tape, probe.dhs, dc_last=probe.dc_last)
        out["dhs_after"] = probe.dhs.copy()
        if probe.dc_last is not None:
            out["dc_last_after"] = probe.dc_last.copy()
    out.update({k: np.asarray(v) for k, v in grads.items()})
    return out


def scalar_objective(probe: Probe, params: dict) -> float:
    """The scalar whose gradient the probe asks for: E, or ⟨dhs, hs⟩ + ⟨dc_last, c_T⟩ for upstream probes."""
    m = models.get(probe.model, bias=probe.bias)
    states = {"c0": probe.c0} if probe.c0 is not None else {}
    if probe.targets is not None:
        return float(m.loss(params, probe.xs, probe.targets, h0=probe.h0, **states))
    tape = m.forward(params, probe.xs, h0=probe.h0, **states)
    value = float(np.sum(probe.dhs * tape.hs))
    if probe.dc_last is not None:
        value += float(np.sum(probe.dc_last * tape.cs[-1]))
    return value


def numerical_grads(probe: Probe, names: list[str], eps: float = 1e-6) -> dict:
    """Central differences of ``scalar_objective`` for the parameters in ``names`` (reference layout),
    one entry at a time through the toolkit's own oracle (numeric.gradcheck)."""
    loss = lambda params, xs, targets, **state0: scalar_objective(probe, params)  # noqa: E731
    objective = LoopObjective(loss, probe.params, probe.xs, probe.targets, {})
    return {name: numerical_gradient(objective, name, "central", h=eps) for name in names if name in probe.params}
