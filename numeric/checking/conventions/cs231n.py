"""The Stanford CS231n convention: row-major batches, packed LSTM gates, opaque caches.

    rnn_step_forward(x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,)) -> next_h (N, H), cache
    rnn_step_backward(dnext_h (N, H), cache) -> dx, dprev_h, dWx, dWh, db
    rnn_forward(x (N, T, D), h0 (N, H), Wx, Wh, b) -> h (N, T, H), cache
    rnn_backward(dh (N, T, H), cache) -> dx (N, T, D), dh0 (N, H), dWx, dWh, db
    lstm_step_forward(x, prev_h, prev_c, Wx (D, 4H), Wh (H, 4H), b (4H,)) -> next_h, next_c, cache
    lstm_step_backward(dnext_h, dnext_c, cache) -> dx, dprev_h, dprev_c, dWx, dWh, db
    lstm_forward(x (N, T, D), h0 (N, H), Wx, Wh, b) -> h (N, T, H), cache          (c0 = 0)
    lstm_backward(dh (N, T, H), cache) -> dx, dh0, dWx, dWh, db

Reference layout: Wx = Uᵀ, Wh = Vᵀ, b = b[:, 0]; LSTM column blocks i, f, o, g = our i, f, q, g.
Each backward is called with the cache of the student's own forward at the same inputs (the cache never
leaves the sandbox). The gradients are of L = Σ ⟨dh, h⟩ (+ ⟨dnext_c, next_c⟩): upstream gradients are
random, so nothing is normalised.
"""

from __future__ import annotations

import numpy as np

from numeric.checking.case import Case, Observation, Output, rows, unpack
from numeric.checking.compare import Axes
from numeric.checking.reference import Probe, make_probe

GATES = ("i", "f", "q", "g")
GATE_LABELS = ("i", "f", "o", "g")
FUNCTIONS = {"rnn": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
             "lstm": ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward")}


def _pack(ref: dict, prefix: str) -> np.ndarray | None:
    keys = [f"{prefix}_{g}" for g in GATES]
    if not all(k in ref for k in keys):
        return None
    return np.concatenate([ref[k].T for k in keys], axis=1)


def _weights(model: str, params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if model == "lstm":
        return _pack(params, "U"), _pack(params, "V"), _pack(params, "b")[0]
    return rows(params["U"]), rows(params["V"]), params["b"][:, 0].copy()


def _convert_grads(model: str, ref: dict, out: dict) -> None:
    if model == "lstm":
        for name, prefix in (("dWx", "U"), ("dWh", "V"), ("db", "b")):
            packed = _pack(ref, prefix)
            if packed is not None:
                out[name] = packed[0] if prefix == "b" else packed
    else:
        for name, key in (("dWx", "U"), ("dWh", "V")):
            if key in ref:
                out[name] = rows(ref[key])
        if "b" in ref:
            out["db"] = ref["b"][:, 0]


# sizes of the large probe: a one-sided difference of the student's own forward takes ≥ 50 s on one core
# (4·10⁴–1.5·10⁵ entries × 0.4–1.4 ms per forward, measured), the analytic pass a few milliseconds
_LARGE = {("rnn", True): dict(T=1, D=256, H=256, B=32), ("rnn", False): dict(T=24, D=96, H=96, B=16),
          ("lstm", True): dict(T=1, D=128, H=128, B=16), ("lstm", False): dict(T=16, D=64, H=64, B=8)}


def _probes(model: str, step: bool, upstream: bool) -> list[Probe]:
    """Three probes: two ordinary (different seeds and sizes, D ≠ H so transposes show as shapes), one
    with large upstream gradients and weights (entries well above 5: clipping and saturation show) and
    T = 12 (truncation every k ≤ 10 steps shows, and the diagnosis replays it); and one large probe
    (verdict only, see below)."""
    T = (lambda t: 1 if step else t)
    kw = dict(upstream=upstream, dc_last=step and model == "lstm", zero_c0=not step)
    # the fourth ("large") probe takes an analytic backward milliseconds; a numerical gradient inside the
    # backward (one forward per entry) cannot finish within the per-call limit
    large = _LARGE[model, step]
    return [make_probe(model, True, 11, T=T(5), D=4, H=5, K=2, B=3, **kw),
            make_probe(model, True, 12, T=T(7), D=3, H=4, K=2, B=2, **kw),
            make_probe(model, True, 13, T=T(12), D=3, H=5, K=2, B=4, scale=2.0, upstream_scale=8.0, **kw),
            make_probe(model, True, 14, K=2, role="large", **large, **kw)]


def cases(models: tuple[str, ...] = ("rnn", "lstm")) -> list[Case]:
    out = []
    for model in models:
        out += [_forward_case(model, True), _backward_case(model, True),
                _forward_case(model, False), _backward_case(model, False)]
    return out


def _gate_axes(model: str, axis: int) -> Axes:
    return Axes(gates=(axis, GATE_LABELS)) if model == "lstm" else Axes()


def _forward_outputs(model: str, step: bool) -> list[Output]:
    if step:
        outs = [Output("next_h", "forward", "h_t, (N, H)")]
        if model == "lstm":
            outs.append(Output("next_c", "forward", "c_t, (N, H)"))
        return outs
    return [Output("h", "forward", "h_1..h_T, (N, T, H)", Axes(time=1))]


def _forward_args(model: str, step: bool, probe: Probe) -> tuple[list, list[str]]:
    Wx, Wh, b = _weights(model, probe.params)
    if step:
        args = [rows(probe.xs[0]), rows(probe.h0)]
        names = ["x", "prev_h"]
        if model == "lstm":
            args.append(rows(probe.c0))
            names.append("prev_c")
    else:
        args, names = [np.ascontiguousarray(probe.xs.transpose(2, 0, 1)), rows(probe.h0)], ["x", "h0"]
    return args + [Wx, Wh, b], names + ["Wx", "Wh", "b"]


def _convert_forward(model: str, step: bool, ref: dict) -> dict:
    out = {}
    if "hs" in ref:
        if step:
            out["next_h"] = rows(ref["hs"][0])
            if model == "lstm":
                out["next_c"] = rows(ref["cs"][0])
        else:
            out["h"] = np.ascontiguousarray(ref["hs"].transpose(2, 0, 1))
    return out


def _forward_case(model: str, step: bool) -> Case:
    fn = FUNCTIONS[model][0 if step else 2]
    outputs = _forward_outputs(model, step)

    def call(sandbox, probe: Probe) -> Observation:
        args, names = _forward_args(model, step, probe)
        outcome = sandbox.call(fn, args, keep=len(outputs))
        obs = unpack(outcome, [o.name for o in outputs] + ["cache"], fn, names)
        return obs

    return Case(fn, model, outputs, _probes(model, step, upstream=True), call,
                lambda ref, probe: _convert_forward(model, step, ref))


def _backward_case(model: str, step: bool) -> Case:
    fwd, fn = FUNCTIONS[model][0 if step else 2], FUNCTIONS[model][1 if step else 3]
    lstm = model == "lstm"
    time = None if step else Axes(time=1)
    outputs = [Output("dx", "gradient", "∂L/∂x, " + ("(N, D)" if step else "(N, T, D)"), time or Axes(),
                      ("xs",)),
               Output("dprev_h" if step else "dh0", "gradient", f"∂L/∂{'prev_h' if step else 'h0'}, (N, H)", Axes(),
                      ("h0",))]
    if lstm and step:
        outputs.append(Output("dprev_c", "gradient", "∂L/∂prev_c, (N, H)", Axes(), ("c0",)))
    four = "4H" if lstm else "H"
    outputs += [Output("dWx", "gradient", f"∂L/∂Wx, (D, {four})", _gate_axes(model, 1), ("U",)),
                Output("dWh", "gradient", f"∂L/∂Wh, (H, {four})", _gate_axes(model, 1), ("V",)),
                Output("db", "gradient", f"∂L/∂b, ({four},)", _gate_axes(model, 0), ("b",))]
    up_name = "dnext_h" if step else "dh"
    outputs.append(Output(f"{up_name} (after the call)", "input", "the upstream gradient must not change",
                          Axes(time=None if step else 1)))
    if lstm and step:
        outputs.append(Output("dnext_c (after the call)", "input", "the upstream gradient must not change"))
    out_names = [o.name for o in outputs if o.kind == "gradient"]

    def upstream_args(probe):
        dh = rows(probe.dhs[0]) if step else np.ascontiguousarray(probe.dhs.transpose(2, 0, 1))
        args, names = [dh], [up_name]
        if lstm and step:
            args.append(rows(probe.dc_last))
            names.append("dnext_c")
        return args, names

    def call(sandbox, probe: Probe) -> Observation:
        args, names = _forward_args(model, step, probe)
        n_fwd = 3 if (lstm and step) else 2
        first = sandbox.call(fwd, args, keep=n_fwd - 1)
        got = unpack(first, [f"out{i}" for i in range(n_fwd)], fwd, names)
        if got.errors:
            return Observation(errors=[f"{fn}: not run, its forward failed: " + got.errors[0]], fatal=True)
        up, up_names = upstream_args(probe)
        outcome = sandbox.call(fn, up + [got.values[f"out{n_fwd - 1}"]])
        obs = unpack(outcome, out_names, fn, up_names + ["cache"])
        mutated = obs.values.pop("__mutated__", {})
        if not obs.errors:
            obs.values[f"{up_name} (after the call)"] = mutated.get(0, up[0])
            if lstm and step:
                obs.values["dnext_c (after the call)"] = mutated.get(1, up[1])
            obs.mutated_inputs = [n for n in obs.mutated_inputs if n not in up_names]
        return obs

    def convert(ref: dict, probe: Probe) -> dict:
        out = {}
        if "xs" in ref:
            out["dx"] = rows(ref["xs"][0]) if step else np.ascontiguousarray(ref["xs"].transpose(2, 0, 1))
        if "h0" in ref:
            out["dprev_h" if step else "dh0"] = rows(ref["h0"])
        if lstm and step and "c0" in ref:
            out["dprev_c"] = rows(ref["c0"])
        _convert_grads(model, ref, out)
        if "dhs_after" in ref:
            out[f"{up_name} (after the call)"] = (rows(ref["dhs_after"][0]) if step else
                                                  np.ascontiguousarray(ref["dhs_after"].transpose(2, 0, 1)))
        if "dc_last_after" in ref and lstm and step:
            out["dnext_c (after the call)"] = rows(ref["dc_last_after"])
        return out

    return Case(fn, model, outputs, _probes(model, step, upstream=True), call, convert, upstream=True,
                extra=_extra_localisation(model, step), depends_on=fwd)


def _extra_localisation(model: str, step: bool, h_name: str = "dnext_h", c_name: str = "dnext_c"):
    """Probes derived from the first one that separate paths: h only vs c only (LSTM step), and one
    loss term at a time (sequences); labels name the upstream gradients ``h_name``, ``c_name``."""
    def derive(probe: Probe) -> list[tuple[str, Probe]]:
        from dataclasses import replace
        out = []
        if step and model == "lstm":
            out.append((f"upstream through {h_name} only ({c_name} = 0)",
                        replace(probe, dc_last=np.zeros_like(probe.dc_last))))
            out.append((f"upstream through {c_name} only ({h_name} = 0)", replace(probe, dhs=np.zeros_like(probe.dhs))))
        elif not step:
            for t in range(probe.sizes["T"]):
                dhs = np.zeros_like(probe.dhs)
                dhs[t] = probe.dhs[t]
                out.append((f"t={t + 1}", replace(probe, dhs=dhs)))
        return out
    return derive
