"""The course's own convention: the notation of DESIGN.md §2, one sequence, no batch, no biases.

Elman RNN (``--model rnn``):
    bptt(x (T, D), o (T,) int, h0 (H,), U (H, D), V (H, H), W (K, H)) -> (dU, dV, dW)
    forward(x, h0, U, V, W) -> (h (T, H) = h_1..h_T, o_hat (T, K))            optional
LSTM (``lstm``, ``lstm-peephole``), parameters in a dict named as in docs/models.md, no biases:
    bptt(x, o, h0, c0, params) -> dict of gradients, keys as params ("U_f" or "dU_f")
    forward(x, h0, c0, params) -> (h (T, H), c (T, H), o_hat (T, K))         optional
GRU (``gru``, ``gru-reset-after``):
    bptt(x, o, h0, params) -> dict;  forward(x, h0, params) -> (h, o_hat)    optional
E = Σ_t −log ô_t[o_t], summed over t (not averaged); x_t is row t of x; h_t = tanh(U x_t + V h_{t−1}).
"""

from __future__ import annotations

import numpy as np

from numeric import models as ref_models
from numeric.checking.case import Case, Observation, Output, unpack
from numeric.checking.compare import Axes
from numeric.checking.reference import Probe, loss_clip_probe, make_probe


def _probes(model: str) -> list[Probe]:
    """Two ordinary probes (D ≠ H, K ≠ H), one long sequence built so that every gradient has an entry
    ≥ 12 (``loss_clip_probe``: clipping any one gradient at ±1, ±5 or ±10 shows; T = 30 also shows
    truncation), and one large probe (verdict only)."""
    return [make_probe(model, False, 21, T=5, D=3, H=4, K=3, B=1),
            make_probe(model, False, 22, T=7, D=4, H=5, K=6, B=1),
            loss_clip_probe(model, False, 23, T=30, D=4, H=8, K=3),
            # analytic: milliseconds; a numerical gradient (≥ 5·10⁴ entries × ~1 ms forwards) cannot finish
            make_probe(model, False, 24, T=64, D=128, H=128, K=128, B=1, role="large")]


def _inputs(probe: Probe) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(probe.xs[:, :, 0]), probe.targets[:, 0].astype(np.int64).copy(),
            probe.h0[:, 0].copy())


def _softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cases(models: tuple[str, ...]) -> list[Case]:
    out = []
    for model in models:
        pair = [_forward_case(model), _bptt_case(model)]
        if len(models) > 1:  # several models: name the tests apart
            for case in pair:
                case.name = f"{case.name}[{model}]"
        out += pair
    return out


def _param_names(model: str) -> list[str]:
    return list(ref_models.get(model, bias=False).param_shapes(1, 1, 1))


def _has_c(model: str) -> bool:
    return model.startswith("lstm")


def _forward_case(model: str) -> Case:
    outs = [Output("h", "forward", "h_1..h_T, (T, H)", Axes(time=0))]
    if _has_c(model):
        outs.append(Output("c", "forward", "c_1..c_T, (T, H)", Axes(time=0)))
    outs.append(Output("o_hat", "forward", "softmax(W h_t), (T, K)", Axes(time=0)))

    def call(sandbox, probe: Probe) -> Observation:
        x, _o, h0 = _inputs(probe)
        if model == "rnn":
            p = probe.params
            args, names = [x, h0, p["U"], p["V"], p["W"]], ["x", "h0", "U", "V", "W"]
        else:
            args, names = [x, h0], ["x", "h0"]
            if _has_c(model):
                args.append(probe.c0[:, 0].copy())
                names.append("c0")
            args.append(dict(probe.params))
            names.append("params")
        return unpack(sandbox.call("forward", args), [o.name for o in outs], "forward", names)

    def convert(ref: dict, probe: Probe) -> dict:
        if "hs" not in ref:
            return {}
        out = {"h": ref["hs"][:, :, 0].copy()}
        if _has_c(model):
            out["c"] = ref["cs"][:, :, 0].copy()
        out["o_hat"] = _softmax_rows(out["h"] @ probe.params["W"].T)
        return out

    return Case("forward", model, outs, _probes(model), call, convert, optional=True)


def _bptt_case(model: str) -> Case:
    names = _param_names(model)
    outputs = [Output(f"d{n}", "gradient", f"∂E/∂{n}, {_shape_text(n)}", Axes(), (n,)) for n in names]

    def call(sandbox, probe: Probe) -> Observation:
        x, o, h0 = _inputs(probe)
        if model == "rnn":
            p = probe.params
            outcome = sandbox.call("bptt", [x, o, h0, p["U"], p["V"], p["W"]])
            return unpack(outcome, ["dU", "dV", "dW"], "bptt", ["x", "o", "h0", "U", "V", "W"])
        args, arg_names = [x, o, h0], ["x", "o", "h0"]
        if _has_c(model):
            args.append(probe.c0[:, 0].copy())
            arg_names.append("c0")
        args.append(dict(probe.params))
        arg_names.append("params")
        outcome = sandbox.call("bptt", args)
        obs = unpack(outcome, ["grads"], "bptt", arg_names)
        if obs.errors:
            return obs
        grads = obs.values.pop("grads")
        if not isinstance(grads, dict):
            return Observation(errors=[f"bptt: returned {type(grads).__name__}; expected a dict of gradients "
                                       f"with keys {', '.join(names)}"], fatal=True)
        for n in names:
            obs.values[f"d{n}"] = grads.get(n, grads.get(f"d{n}"))
            if obs.values[f"d{n}"] is None:
                obs.errors.append(f"bptt: the returned dict has no gradient for {n} (key {n!r} or 'd{n}')")
        return obs

    def convert(ref: dict, probe: Probe) -> dict:
        return {f"d{n}": ref[n] for n in names if n in ref}

    return Case("bptt", model, outputs, _probes(model), call, convert)


def _shape_text(name: str) -> str:
    if name.startswith("U"):
        return "(H, D)"
    if name.startswith("V"):
        return "(H, H)"
    if name == "W":
        return "(K, H)"
    return "(H, 1)"
