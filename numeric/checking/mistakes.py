"""The known BPTT mistakes: one declared entry each.

An entry says what the mistake is, which chain-rule step it alters, and how the toolkit reproduces it:

- **engine variants**: hooks on the named steps of the one reference backward per model
  (numeric/checking/backward.py, ``STEPS``); each variant is one concrete way students write the mistake
  (the tanh derivative of the pre-activation, or of h; weight gradients keeping the first or the last
  step, ...) and applies to every model that has the step;
- **post hoc**: a transformation of the right answer recognised in the student's numbers
  (numeric/checking/posthoc.py: averaged, clipped, transposed, gate blocks swapped, sign flipped);
- **observed**: seen by the sandbox, not reproduced (an input array changed by the call).

``MISTAKES`` (identifier → description) is what reports and the runner use; ``variants(model, T,
upstream)`` lists every engine variant for a model; ``run`` is the hooked reference backward.
Adding a mistake is one ``Mistake`` entry below; adding a model is one ``Cell`` in backward.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from numeric.activations import sigmoid
from numeric.checking import posthoc
from numeric.checking.backward import CELLS, Sweep, run  # noqa: F401 - run is part of this module's API

LSTMS = ("lstm", "lstm-peephole")
GRUS = ("gru", "gru-reset-after")
MODELS = tuple(CELLS)


@dataclass(frozen=True)
class Variant:
    """One concrete form of a mistake: hooks (step, fn(value, context) → value) on the reference backward."""

    mistake: str
    label: str
    hooks: tuple[tuple[str, Callable], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Mistake:
    """One known mistake.

    Attributes:
        id: the identifier reports use.
        description: one sentence, in the maths' words (DESIGN.md §2).
        step: the chain-rule step it alters.
        reproduced: how the toolkit reproduces it (for the docs table).
        variants: (model, T, upstream) → engine variants (None: not an engine mistake).
        posthoc: matcher on the student's numbers (numeric/checking/posthoc.py), or None.
    """

    id: str
    description: str
    step: str
    reproduced: str
    variants: Callable[[str, int, bool], list[Variant]] | None = None
    posthoc: Callable | None = None


def _v(mistake: str, label: str, step: str, hook: Callable) -> Variant:
    """A variant with one hook: ``step`` (a key of backward.STEPS) → hook(value, context)."""
    return Variant(mistake, label, ((step, hook),))


# ------------------------------------------------------------------------------------------ variant builders

def _dh_next(model, T, upstream):
    m = "dh-next-not-added"
    return [_v(m, "dh = dh_up[t]  (dh_next dropped)", "dh", lambda v, c: c["up"]),
            _v(m, "dh = dh_next  (replaces instead of adding)",
               "dh", lambda v, c: c["up"] if c["t"] == c["T"] - 1 else c["dh_next"])]


def _last_term_only(v, c):
    v = v.copy()
    v[:-1] = 0.0
    return v


def _not_summed(model, T, upstream):
    m = "weight-grads-not-summed"
    return [_v(m, "dW = …  at each step: the first step t = 1 remains", "summed steps", lambda v, c: [0]),
            _v(m, "dW = …  at each step: the last step t = T remains", "summed steps", lambda v, c: [c["T"] - 1]),
            _v(m, "only ∂E_T/∂θ: the sum over the loss terms forgotten", "loss terms", _last_term_only)]


def _off_by_one(model, T, upstream):
    m = "off-by-one-h-prev"
    out = [_v(m, "dV += da h_tᵀ  (h_t instead of h_{t−1})", "h_prev", lambda v, c: c["hs"][c["t"]]),
           _v(m, "h_{t−1} from a list indexed hs[t−1]: at t = 1 it wraps to h_T",
              "h_prev", lambda v, c: c["hs"][-1] if c["t"] == 0 else v),
           _v(m, "h_{t−1} = h_{t−2}  (one step too far back)",
              "h_prev", lambda v, c: c["hs"][c["t"] - 2] if c["t"] >= 2 else c["h0"])]
    if not upstream:  # an output layer (∂L/∂W) exists only when a loss drives the backward
        out.append(_v(m, "dW += dz_t h_{t−1}ᵀ  (the output weight gradient with h_{t−1} instead of h_t)",
                      "h_out", lambda v, c: c["hs"][c["t"] - 1] if c["t"] >= 1 else c["h0"]))
    if model in LSTMS:
        out.append(_v(m, "df = dc ⊙ c_t  (c_t instead of c_{t−1})", "c_prev", lambda v, c: c["c"]))
    return out


def _not_transposed(model, T, upstream):
    m = "recurrent-weight-not-transposed"
    out = [_v(m, "dh_prev = V @ da", "Vᵀδ", lambda v, c: sum(V @ d for V, d in zip(c["V"], c["d"])))]
    # gated cells: one gate's recurrent weight untransposed, the others right (a slip in one line)
    gates = {"lstm": 4, "lstm-peephole": 4, "gru-reset-after": 3, "gru": 2}.get(model, 0)  # blocks at one site
    for gate in range(gates):
        out.append(_v(m, f"dh_prev with the V of recurrent block {gate + 1} not transposed", "Vᵀδ",
                      lambda v, c, g=gate: v if g >= len(c["V"]) else sum(
                          (V @ d if j == g else V.T @ d) for j, (V, d) in enumerate(zip(c["V"], c["d"])))))
    return out


_TANH_FORMS = {  # form: (label, derivative from the context)
    "pre": ("1 − x² of the pre-activation / of c itself", lambda c: 1 - c["x"] ** 2),
    "h": ("1 − h² (h instead of tanh of its argument)", lambda c: 1 - c["h"] ** 2),
    "twice": ("1 − tanh(tanh x)²  (tanh applied twice)", lambda c: 1 - np.tanh(c["y"]) ** 2),
    "nosq": ("1 − tanh x  (square missing)", lambda c: 1 - c["y"]),
    "sigform": ("y(1 − y)  (the sigmoid's formula)", lambda c: c["y"] * (1 - c["y"])),
    "h_prev": ("1 − h_{t−1}²  (previous state)", lambda c: 1 - c["h_prev"] ** 2),
    "nobias": ("1 − tanh²(a − b)  (pre-activation recomputed without b)",
               lambda c: 1 - np.tanh(c["x_nobias"]) ** 2),
}


def _tanh_hook(sites, form):
    fn = _TANH_FORMS[form][1]
    return lambda v, c: fn(c) if c["site"] in sites else v


def _tanh(model, T, upstream):
    m = "tanh-derivative-of-wrong-quantity"
    if model == "rnn":
        return [_v(m, _TANH_FORMS[f][0], "tanh'", _tanh_hook(("h",), f))
                for f in ("pre", "twice", "nosq", "h_prev", "sigform", "nobias")]
    sites = {"c": ("c",), "g": ("g",), "all": ("c", "g")} if model in LSTMS else {"g": ("g",)}
    out = []
    for site, where in sites.items():
        for form in ("pre", "h", "twice", "nosq", "sigform"):
            if form == "h" and site == "g" and model in LSTMS:
                continue
            out.append(_v(m, f"{_TANH_FORMS[form][0]} at {site}", "tanh'", _tanh_hook(where, form)))
    return out


_SIGMA_FORMS = {
    "pre": ("s(1 − s) of the pre-activation", lambda c: c["x"] * (1 - c["x"])),
    "tanh": ("1 − σ²", lambda c: 1 - c["s"] ** 2),
    "twice": ("σ(σ)(1 − σ(σ))", lambda c: sigmoid(c["s"]) * (1 - sigmoid(c["s"]))),
    "none": ("σ' left out", lambda c: np.ones_like(c["s"])),
    "1-s": ("(1 − σ) only", lambda c: 1 - c["s"]),
    "s": ("σ only", lambda c: c["s"]),
}


def _sigma(model, T, upstream):
    gates = ("i", "f", "q") if model in LSTMS else ("r", "u") if model in GRUS else ()
    out = []
    for gate in gates + (("all",) if gates else ()):
        where = gates if gate == "all" else (gate,)
        for form, (label, fn) in _SIGMA_FORMS.items():
            out.append(_v("sigmoid-derivative-of-wrong-quantity", f"{label} in gate {gate}",
                          "σ'", (lambda v, c, where=where, fn=fn: fn(c) if c["gate"] in where else v)))
    return out


def _lstm_only(builder):
    return lambda model, T, upstream: builder() if model in LSTMS else []


def _dc_not_carried():
    m = "dc-not-carried"
    return [_v(m, "dc = dh ⊙ q ⊙ (1 − tanh² c)  (dc_next dropped)", "dc", lambda v, c: c["from_h"] + c["peep"]),
            _v(m, "dc_next dropped, dc_last kept at the last step",
               "dc", lambda v, c: c["from_h"] + c["peep"] + (c["dc_next"] if c["t"] == c["T"] - 1 else 0))]


def _dh_to_dc(model, T, upstream):
    if model not in LSTMS:
        return []
    m = "dh-to-dc-path-missing"
    out = [_v(m, "dc = dc_next", "dc", lambda v, c: c["dc_next"] + c["peep"])]
    if model == "lstm-peephole":
        out.append(_v(m, "dc = dc_next  (the peephole term p_q ⊙ δq dropped too)", "dc", lambda v, c: c["dc_next"]))
    return out


def _gate_order(model, T, upstream):
    if model not in LSTMS:
        return []
    names, out = ("i", "f", "q", "g"), []
    for perm in itertools.permutations(range(4)):
        if perm == (0, 1, 2, 3):
            continue
        order = ",".join(names[p] for p in perm)
        out.append(_v("gate-order", f"gates read as {order} in forward and backward",
                      "gate blocks", lambda v, c, perm=perm: perm))
        out.append(_v("gate-order", f"gradient blocks packed {order} in backward only",
                      "pack", lambda v, c, perm=perm: perm))
        out.append(_v("gate-order", f"cached gate values unpacked as {order} in backward only",
                      "cached gates", lambda v, c, perm=perm: perm))
    return out


def _clip_next(model, T, upstream):
    return [_v("clipping-in-backward", f"dh_next clipped to ±{tau:g} at every step",
               "carry-out", lambda v, c, tau=tau: np.clip(v, -tau, tau)) for tau in (0.5, 1.0, 2.0, 5.0, 10.0)] + [
        _v("clipping-in-backward", f"dc (the cell's total gradient) clipped to ±{tau:g} at every step",
           "dc", lambda v, c, tau=tau: np.clip(v, -tau, tau)) for tau in (1.0, 5.0, 10.0) if model in LSTMS]


def _truncated(model, T, upstream):
    m, out = "truncated-bptt", []
    for k in range(2, T):
        out.append(_v(m, f"each loss term goes back at most {k} steps", "schedule", lambda v, c, k=k: [
            Sweep(tuple(range(t, max(t - k, -1), -1)), term=t, to_h0=t - k < 0) for t in range(c["T"])]))
        out.append(_v(m, f"backward loop over the last {k} steps only", "schedule", lambda v, c, k=k: [
            Sweep(tuple(range(c["T"] - 1, max(c["T"] - k, 0) - 1, -1)))]))
        out.append(_v(m, f"dh_next reset every {k} steps", "carry-in", lambda v, c, k=k: (
            (np.zeros_like(v[0]), np.zeros_like(v[0])) if (c["T"] - 1 - c["t"]) % k == 0 and c["t"] != c["T"] - 1
            else v)))
    return out


def _written_back(dh_of):
    """An 'inputs after' hook writing dh_of(step t's ∂L/∂h_t, t, context) into the caller's dhs."""
    def hook(value, c):
        dhs, dcl = value
        if dhs is None:
            return value
        dhs = dhs.copy()
        for t, dh in enumerate(c["dh"]):
            if dh is not None:
                dhs[t] = dh_of(dh, t, c)
        return dhs, dcl
    return hook


def _dc_written_back(value, c):
    dhs, dcl = value
    if dcl is None:
        return value
    last = c["caches"][-1]  # dnext_c += dnext_h ⊙ q ⊙ (1 − tanh² c) at the last step
    return dhs, dcl + c["up"][-1] * last["q"] * (1 - np.tanh(last["c"]) ** 2)


def _mutates_upstream(model, T, upstream):
    if not upstream:
        return []
    m = "mutates-upstream-gradient"
    out = [_v(m, "dh[t] += dh_next  on the caller's array", "inputs after", _written_back(lambda dh, t, c: dh))]
    if model == "rnn":
        out.append(_v(m, "dh[t] *= tanh'  on the caller's array", "inputs after", _written_back(
            lambda dh, t, c: c["up"][t] * (1 - c["hs"][t] ** 2))))
        out.append(_v(m, "dh[t] += dh_next; dh[t] *= tanh'  on the caller's array", "inputs after", _written_back(
            lambda dh, t, c: dh * (1 - c["hs"][t] ** 2))))
    if model in LSTMS:
        out.append(_v(m, "dnext_c += …  on the caller's array", "inputs after", _dc_written_back))
        # dprev_c = dnext_c; dprev_c *= f: an alias, so the caller's dnext_c becomes dc ⊙ f and every gate
        # delta computed after that line reads dc ⊙ f for dc (which ones depends on the student's order)
        for gates in (("g",), ("f", "g"), ("i", "f", "g"), ("f",), ("i", "f")):
            out.append(Variant(m, f"dprev_c = dnext_c; dprev_c *= f  (an alias): then {', '.join(gates)} read dc ⊙ f",
                               (("dc read", lambda v, c, gates=gates: v * c["f"] if c["gate"] in gates else v),
                                ("inputs after", _dc_aliased))))
    return out


def _dc_aliased(value, c):
    """The caller's dnext_c after ``dnext_c += dnext_h ⊙ q ⊙ tanh'(c); dprev_c = dnext_c; dprev_c *= f``."""
    dhs, dcl = value
    if dcl is None:
        return value
    _, dc = _dc_written_back(value, c)
    return dhs, dc * c["caches"][-1]["f"]


def _sign(model, T, upstream):
    return [_v("sign-flipped", "every gradient × −1", "outputs", lambda v, c: {k: -g for k, g in v.items()})]


# ------------------------------------------------------------------------------------------ the entries

REGISTRY: dict[str, Mistake] = {m.id: m for m in [
    Mistake("dh-next-not-added", "the gradient arriving from step t+1 (dh_next) is not added to ∂L/∂h_t",
            "∂L/∂h_t = ∂E_t/∂h_t + (∂h_{t+1}/∂h_t)ᵀ ∂L/∂h_{t+1}", "engine: step 'dh' (dropped, or replaces "
            "the upstream)", _dh_next),
    Mistake("weight-grads-not-summed", "weight gradients are assigned at each step instead of summed over time",
            "∂L/∂θ = Σ_t ∂L/∂θ|_t", "engine: 'summed steps' (first or last step only), 'loss terms' (∂E_T only)",
            _not_summed),
    Mistake("tanh-derivative-of-wrong-quantity", "tanh' evaluated on the wrong quantity (1 − a² or 1 − h² of "
            "the wrong variable instead of 1 − tanh²(a))", "tanh'(x) = 1 − tanh²(x) (h_t, c_t, g_t)",
            "engine: step \"tanh'\" per site", _tanh),
    Mistake("sigmoid-derivative-of-wrong-quantity", "σ' evaluated on the wrong quantity (a(1 − a) of the "
            "pre-activation, or 1 − σ²) in a gate", "σ'(x) = σ(x)(1 − σ(x)) (gates)",
            "engine: step \"σ'\" per gate", _sigma),
    Mistake("transposed-weight-gradient", "a weight gradient is the transpose of the right one (δ hᵀ vs h δᵀ)",
            "∂L/∂V = Σ_t δ_t h_{t−1}ᵀ", "post hoc: the student's array equals the reference transposed",
            posthoc=posthoc.transposed),
    Mistake("recurrent-weight-not-transposed", "∂L/∂h_{t−1} computed with V δ instead of Vᵀ δ",
            "∂L/∂h_{t−1} = Vᵀ δ_t", "engine: step 'Vᵀδ'", _not_transposed),
    Mistake("gate-order", "the LSTM gate blocks are taken in another order than i, f, o(q), g",
            "the gate blocks of the stacked U, V, b", "engine: 'gate blocks' (forward and backward), 'pack' "
            "or 'cached gates' (backward only); post hoc: blocks or per-gate outputs swapped", _gate_order, posthoc.gate_swaps),
    Mistake("dc-not-carried", "the cell-state gradient from step t+1 (dc_next) is not carried into step t",
            "∂L/∂c_t = ∂L/∂c_{t+1} ⊙ f_{t+1} + ∂L/∂h_t ⊙ q_t ⊙ tanh'(c_t)", "engine: step 'dc'",
            _lstm_only(_dc_not_carried)),
    Mistake("dc-missing-forget-factor", "dc_{t−1} = dc_t instead of dc_t ⊙ f_t", "∂c_t/∂c_{t−1} = f_t",
            "engine: step 'dc_prev'", _lstm_only(lambda: [
                _v("dc-missing-forget-factor", "dc_prev = dc", "dc_prev", lambda v, c: c["dc"] + c["rest"])])),
    Mistake("dh-to-dc-path-missing", "the path h_t → c_t (dh ⊙ q ⊙ (1 − tanh² c)) is missing from dc_t",
            "∂L/∂c_t ∋ ∂L/∂h_t ⊙ q_t ⊙ tanh'(c_t)", "engine: step 'dc'", _dh_to_dc),
    Mistake("truncated-bptt", "gradients are propagated back only a few steps (truncated BPTT)",
            "the sum over all earlier steps k ≤ t", "engine: 'schedule' (per loss term, last k steps) or "
            "'carry-in' (reset every k steps)", _truncated),
    Mistake("mean-instead-of-sum", "the loss or a gradient is averaged (over time or batch) instead of summed",
            "E = Σ_t Σ_b E_t,b", "post hoc: the reference divided by T, B or T·B", posthoc=posthoc.mean),
    Mistake("off-by-one-h-prev", "h_t (or the wrong step's state) used where h_{t−1} belongs",
            "∂L/∂V = Σ_t δ_t h_{t−1}ᵀ (LSTM: ∂L/∂f_t = ∂L/∂c_t ⊙ c_{t−1}; ∂L/∂W = Σ_t ∂L/∂z_t h_tᵀ)",
            "engine: 'h_prev', 'c_prev', 'h_out'",
            _off_by_one),
    Mistake("mutates-upstream-gradient", "the upstream gradient passed in is modified in place (directly or "
            "through an alias such as dprev_c = dnext_c; dprev_c *= f, after which later reads get the changed "
            "values)", "the caller's ∂L/∂h (and ∂L/∂c_T)", "engine: 'inputs after' (what the caller's array "
            "holds), with 'dc read' for an alias that later gate deltas read", _mutates_upstream),
    Mistake("mutates-input", "an input array (x, a state such as c_prev, a weight) is modified in place",
            "the caller's inputs", "observed: the sandbox compares every argument before and after the call; "
            "a backward reading the cache of a forward that changed its state argument is named so when its "
            "numbers are those of an off-by-one state (policy.py)"),
    Mistake("clipping-in-backward", "gradients are clipped inside the backward pass",
            "none (clipping belongs to the update, after the gradient)", "engine: 'carry-out' (dh_next clipped "
            "at every step); post hoc: elementwise clip, rescaling to a round norm", _clip_next, posthoc.clipped),
    Mistake("numerical-gradient-in-backward", "the backward computes a numerical gradient (finite differences or "
            "complex step of the forward) instead of the chain rule", "every step: no chain rule at all",
            "observed: right on the small probes, no answer within --timeout on the large probe (policy.py)"),
    Mistake("sign-flipped", "a gradient has the opposite sign (−1 × the reference): o − ô instead of ô − o, "
            "or the descent step's minus sign folded into the gradient", "∂L/∂θ itself",
            "engine: 'outputs' (every gradient × −1); post hoc: one output × −1", _sign, posthoc.sign_flipped),
]}

MISTAKES = {m.id: m.description for m in REGISTRY.values()}


def variants(model: str, T: int, upstream: bool) -> list[Variant]:
    """Every engine variant for ``model`` on sequences of length T.

    Args:
        upstream: the test passes an upstream gradient in (adds the in-place variants).
    """
    if model not in CELLS:
        return []
    return [v for m in REGISTRY.values() if m.variants for v in m.variants(model, T, upstream)]


engine_variants = variants  # the name diagnose and older callers use
