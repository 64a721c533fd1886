"""The deeplearning.ai Sequence Models convention (course 5, week 1, "Building your Recurrent Neural
Network — Step by Step"): column-major (n, m) batches, parameter dicts, gradients in dicts, opaque caches.

    rnn_cell_forward(xt (n_x, m), a_prev (n_a, m), parameters) -> a_next (n_a, m), yt_pred (n_y, m), cache
    rnn_forward(x (n_x, m, T_x), a0 (n_a, m), parameters) -> a (n_a, m, T_x), y_pred (n_y, m, T_x), caches
    rnn_cell_backward(da_next (n_a, m), cache) -> {dxt, da_prev, dWax, dWaa, dba}
    rnn_backward(da (n_a, m, T_x), caches) -> {dx, da0, dWax, dWaa, dba}
        parameters: Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)
    lstm_cell_forward(xt, a_prev, c_prev, parameters) -> a_next, c_next, yt_pred, cache
    lstm_forward(x, a0, parameters) -> a, y, c (n_a, m, T_x), caches                  (c⟨0⟩ = 0)
    lstm_cell_backward(da_next, dc_next, cache) -> {dxt, da_prev, dc_prev, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo}
    lstm_backward(da, caches) -> {dx, da0, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo}
        parameters: Wf, Wi, Wc, Wo (n_a, n_a + n_x) acting on concat = [a_prev; xt]; bf, bi, bc, bo (n_a, 1);
        Wy (n_y, n_a), by (n_y, 1)

Reference layout (docs/models.md): Wax = U, Waa = V, ba = b, Wya = Wy = W, by = c; the LSTM's gates
f, i (update), c (candidate c̃), o are our f, i, g, q, and W_G = [V_G | U_G] (a_prev columns first).
y = softmax over axis 0 (the classes). Each backward is called with the cache of the student's own forward
at the same inputs. The gradients are of L = Σ_t ⟨da⟨t⟩, a⟨t⟩⟩ (+ ⟨dc_next, c_next⟩ for the LSTM cell):
``da`` is the gradient arriving from the outputs only, so a correct ``rnn_backward``/``lstm_backward``
adds the recurrent da_prev to da[:, :, t] itself; ``lstm_backward`` has no dc input (the loss does not
read c), so the cell gradient starts at zero at T_x.
"""

from __future__ import annotations

import numpy as np

from numeric.checking.case import Case, Observation, Output, unpack
from numeric.checking.compare import Axes
from numeric.checking.conventions.cs231n import _extra_localisation as path_localisation
from numeric.checking.reference import Probe, make_probe

# the course's gate letter → ours (docs/models.md), in the order the assignment lists them
GATES = {"f": "f", "i": "i", "c": "g", "o": "q"}
GATE_NAMES = {"f": "forget", "i": "update", "c": "candidate c̃", "o": "output"}
FUNCTIONS = {"rnn": ("rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward"),
             "lstm": ("lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_backward")}
STACKED = Axes(stacked=(1, ("a_prev columns", "xt columns")))  # W_G acts on concat = [a_prev; xt]
# keys students use besides the assignment's own (the update gate as u; dx for dxt in the docstring)
ALIASES = {"dWi": ("dWu", "dW_u", "dW_i"), "dbi": ("dbu", "db_u", "db_i"), "dxt": ("dx",), "da0": ("da_0",)}


def _cols(a: np.ndarray) -> np.ndarray:
    """Reference (T, n, m) → the course's (n, m, T)."""
    return np.ascontiguousarray(a.transpose(1, 2, 0))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def parameters(model: str, params: dict) -> dict:
    """The assignment's ``parameters`` dict for reference parameters (copies)."""
    out = {}
    if model == "lstm":
        for course, ours in GATES.items():
            out[f"W{course}"] = np.hstack([params[f"V_{ours}"], params[f"U_{ours}"]])
            out[f"b{course}"] = params[f"b_{ours}"].copy()
        out["Wy"], out["by"] = params["W"].copy(), params["c"].copy()
    else:
        out = {"Wax": params["U"].copy(), "Waa": params["V"].copy(), "Wya": params["W"].copy(),
               "ba": params["b"].copy(), "by": params["c"].copy()}
    return out


def _probes(model: str, cell: bool) -> list[Probe]:
    """Three probes: two ordinary (n_x ≠ n_a ≠ n_y so that transposes show as shapes), one with larger
    weights and upstream gradients well above 5 (saturation and clipping show) and T_x = 12 (truncation
    every k ≤ 10 steps shows)."""
    T = (lambda t: 1 if cell else t)
    kw = dict(upstream=True, dc_last=cell and model == "lstm", zero_c0=not cell)
    return [make_probe(model, True, 51, T=T(4), D=3, H=5, K=2, B=4, **kw),
            make_probe(model, True, 52, T=T(6), D=4, H=3, K=5, B=2, **kw),
            make_probe(model, True, 53, T=T(12), D=3, H=4, K=3, B=3, scale=2.0, upstream_scale=8.0, **kw)]


def cases(models: tuple[str, ...] = ("rnn", "lstm")) -> list[Case]:
    """One test per function: cell forward, cell backward, forward, backward for each model."""
    out = []
    for model in models:
        out += [_forward_case(model, True), _backward_case(model, True),
                _forward_case(model, False), _backward_case(model, False)]
    return out


# ------------------------------------------------------------------------------------------ forward

def _forward_outputs(model: str, cell: bool) -> list[Output]:
    lstm = model == "lstm"
    if cell:
        outs = [Output("a_next", "forward", "a⟨t⟩, (n_a, m)")]
        if lstm:
            outs.append(Output("c_next", "forward", "c⟨t⟩, (n_a, m)"))
        Wy = "Wy" if lstm else "Wya"
        return outs + [Output("yt_pred", "forward", f"softmax({Wy} a_next + by) over axis 0, (n_y, m)")]
    time = Axes(time=2)
    outs = [Output("a", "forward", "a⟨1⟩..a⟨T_x⟩, (n_a, m, T_x)", time)]
    outs.append(Output("y" if lstm else "y_pred", "forward", "ŷ⟨1⟩..ŷ⟨T_x⟩, (n_y, m, T_x)", time))
    if lstm:
        outs.append(Output("c", "forward", "c⟨1⟩..c⟨T_x⟩, (n_a, m, T_x)", time))
    return outs


def forward_args(model: str, cell: bool, probe: Probe) -> tuple[list, list[str]]:
    """The forward's arguments for ``probe`` in the assignment's layout, and their names.

    Cell: xt (n_x, m), a_prev (n_a, m), [c_prev (n_a, m),] parameters. Sequence: x (n_x, m, T_x), a0, parameters.
    """
    p = parameters(model, probe.params)
    if cell:
        args, names = [probe.xs[0].copy(), probe.h0.copy()], ["xt", "a_prev"]
        if model == "lstm":
            args.append(probe.c0.copy())
            names.append("c_prev")
        return args + [p], names + ["parameters"]
    return [_cols(probe.xs), probe.h0.copy(), p], ["x", "a0", "parameters"]


def _convert_forward(model: str, cell: bool, ref: dict, probe: Probe) -> dict:
    if "hs" not in ref:
        return {}
    hs = ref["hs"]
    ys = np.stack([_softmax(probe.params["W"] @ h + probe.params["c"]) for h in hs])  # (T, n_y, m)
    if cell:
        out = {"a_next": hs[0].copy(), "yt_pred": ys[0]}
        if model == "lstm":
            out["c_next"] = ref["cs"][0].copy()
        return out
    out = {"a": _cols(hs), "y" if model == "lstm" else "y_pred": _cols(ys)}
    if model == "lstm":
        out["c"] = _cols(ref["cs"])
    return out


def _forward_case(model: str, cell: bool) -> Case:
    fn = FUNCTIONS[model][0 if cell else 2]
    outputs = _forward_outputs(model, cell)
    names = [o.name for o in outputs]  # LSTM: a, y, c, caches as the assignment returns them

    def call(sandbox, probe: Probe) -> Observation:
        args, arg_names = forward_args(model, cell, probe)
        outcome = sandbox.call(fn, args, keep=len(names))
        return unpack(outcome, names + ["cache" if cell else "caches"], fn, arg_names)

    return Case(fn, model, outputs, _probes(model, cell), call,
                lambda ref, probe: _convert_forward(model, cell, ref, probe))


# ------------------------------------------------------------------------------------------ backward

def _gradient_outputs(model: str, cell: bool) -> list[Output]:
    """The compared gradients under the assignment's keys, with the reference names they come from."""
    time = Axes() if cell else Axes(time=2)
    x_shape = "(n_x, m)" if cell else "(n_x, m, T_x)"
    outs = [Output("dxt" if cell else "dx", "gradient", f"∂L/∂{'xt' if cell else 'x'}, {x_shape}", time, ("xs",)),
            Output("da_prev" if cell else "da0", "gradient",
                   f"∂L/∂{'a_prev' if cell else 'a0'}, (n_a, m)", Axes(), ("h0",))]
    if model == "lstm":
        if cell:
            outs.append(Output("dc_prev", "gradient", "∂L/∂c_prev, (n_a, m)", Axes(), ("c0",)))
        for g, ours in GATES.items():
            outs.append(Output(f"dW{g}", "gradient", f"∂L/∂W{g}, {GATE_NAMES[g]} gate, (n_a, n_a + n_x)", STACKED,
                               (f"V_{ours}", f"U_{ours}")))
            outs.append(Output(f"db{g}", "gradient", f"∂L/∂b{g}, {GATE_NAMES[g]} gate, (n_a, 1)", Axes(),
                               (f"b_{ours}",)))
    else:
        outs += [Output("dWax", "gradient", "∂L/∂Wax, (n_a, n_x)", Axes(), ("U",)),
                 Output("dWaa", "gradient", "∂L/∂Waa, (n_a, n_a)", Axes(), ("V",)),
                 Output("dba", "gradient", "∂L/∂ba, (n_a, 1)", Axes(), ("b",))]
    return outs


def _convert_grads(model: str, cell: bool, ref: dict) -> dict:
    out = {}
    if "xs" in ref:
        out["dxt" if cell else "dx"] = ref["xs"][0].copy() if cell else _cols(ref["xs"])
    if "h0" in ref:
        out["da_prev" if cell else "da0"] = ref["h0"].copy()
    if model == "lstm":
        if cell and "c0" in ref:
            out["dc_prev"] = ref["c0"].copy()
        for g, ours in GATES.items():
            if f"U_{ours}" in ref and f"V_{ours}" in ref:
                out[f"dW{g}"] = np.hstack([ref[f"V_{ours}"], ref[f"U_{ours}"]])
            if f"b_{ours}" in ref:
                out[f"db{g}"] = ref[f"b_{ours}"].copy()
    else:
        for name, key in (("dWax", "U"), ("dWaa", "V"), ("dba", "b")):
            if key in ref:
                out[name] = ref[key].copy()
    return out


def read_gradients(grads, names: list[str], fn: str) -> tuple[dict, list[str]]:
    """The entries ``names`` of a returned gradients dict (aliases accepted), and what is missing.

    A bias gradient of shape (n_a,) is read as (n_a, 1): the assignment's shapes say (n_a, 1), its
    reference solutions use keepdims, and public solutions without it compute the same numbers.
    """
    if not isinstance(grads, dict):
        return {}, [f"{fn}: returned {type(grads).__name__}; expected a dict of gradients with keys "
                    f"{', '.join(names)}"]
    values, errors = {}, []
    for name in names:
        key = next((k for k in (name,) + ALIASES.get(name, ()) if k in grads), None)
        if key is None:
            errors.append(f"{fn}: the returned dict has no {name!r} (keys: {', '.join(sorted(grads)) or 'none'})")
            continue
        value = grads[key]
        if name.startswith("db") and isinstance(value, np.ndarray) and value.ndim == 1:
            value = value.reshape(-1, 1)
        values[name] = value
    return values, errors


def _backward_case(model: str, cell: bool) -> Case:
    fwd, fn = FUNCTIONS[model][0 if cell else 2], FUNCTIONS[model][1 if cell else 3]
    lstm = model == "lstm"
    grads = _gradient_outputs(model, cell)
    up_names = (["da_next", "dc_next"] if lstm else ["da_next"]) if cell else ["da"]
    inputs = [Output(f"{n} (after the call)", "input", "the upstream gradient must not change",
                     Axes() if cell else Axes(time=2)) for n in up_names]
    grad_names = [o.name for o in grads]
    n_fwd = 4 if lstm else 3  # values the forward returns, the cache last

    def upstream(probe: Probe) -> list[np.ndarray]:
        if not cell:
            return [_cols(probe.dhs)]
        return [probe.dhs[0].copy()] + ([probe.dc_last.copy()] if lstm else [])

    def call(sandbox, probe: Probe) -> Observation:
        args, arg_names = forward_args(model, cell, probe)
        first = sandbox.call(fwd, args, keep=n_fwd - 1)
        got = unpack(first, [f"out{i}" for i in range(n_fwd)], fwd, arg_names)
        if got.errors:
            return Observation(errors=[f"{fn}: not run, its forward failed: " + got.errors[0]], fatal=True)
        up = upstream(probe)
        outcome = sandbox.call(fn, up + [got.values[f"out{n_fwd - 1}"]])
        obs = unpack(outcome, ["gradients"], fn, up_names + ["cache" if cell else "caches"])
        if obs.errors:
            return obs
        mutated = obs.values.pop("__mutated__", {})
        values, errors = read_gradients(obs.values.pop("gradients"), grad_names, fn)
        if errors:
            return Observation(errors=errors, fatal=True)
        obs.values.update(values)
        for k, name in enumerate(up_names):
            obs.values[f"{name} (after the call)"] = mutated.get(k, up[k])
        obs.mutated_inputs = [n for n in obs.mutated_inputs if n not in up_names]
        return obs

    def convert(ref: dict, probe: Probe) -> dict:
        out = _convert_grads(model, cell, ref)
        if "dhs_after" in ref:
            out[f"{up_names[0]} (after the call)"] = ref["dhs_after"][0].copy() if cell else _cols(ref["dhs_after"])
        if cell and lstm and "dc_last_after" in ref:
            out["dc_next (after the call)"] = ref["dc_last_after"].copy()
        return out

    return Case(fn, model, grads + inputs, _probes(model, cell), call, convert, upstream=True,
                extra=path_localisation(model, cell, "da_next", "dc_next"), depends_on=fwd)
