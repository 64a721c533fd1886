"""The adapter convention: an instructor's small Python file maps their assignment's API onto ours.

The adapter runs inside the sandbox next to the submission and receives it as its first argument.
It declares the model and implements, in the reference layout (docs/models.md):

    MODEL = "rnn"        # any built-in model but jordan
    BIAS = True          # whether the parameters include biases (b…, c)

    def loss_and_grads(student, params, xs, targets, h0, c0=None):
        '''params: reference names and shapes; xs (T, D, B); targets (T, B); h0, c0 (H, B).
        Returns (E, grads): E = Σ_t Σ_b −log ô_t[o_t]; grads a dict with every parameter name
        (and optionally "xs", "h0", "c0").'''

    def forward(student, params, xs, h0, c0=None):      # optional
        '''Returns hs (T, H, B): h_1..h_T.'''
"""

from __future__ import annotations

import numpy as np

from numeric import models as ref_models
from numeric.checking.case import Case, Observation, Output, unpack
from numeric.checking.compare import Axes
from numeric.checking.reference import Probe, make_probe


def _probes(model: str, bias: bool) -> list[Probe]:
    return [make_probe(model, bias, 41, T=5, D=3, H=4, K=3, B=2),
            make_probe(model, bias, 42, T=7, D=4, H=5, K=6, B=3),
            make_probe(model, bias, 43, T=20, D=3, H=8, K=3, B=1, scale=1.5, out_scale=10.0, targets_const=True)]


def cases(adapter: str) -> list[Case]:
    from numeric.checking.api import adapter_bias, adapter_model
    model, bias = adapter_model(adapter), adapter_bias(adapter)
    names = list(ref_models.get(model, bias=bias).param_shapes(1, 1, 1))
    probes = _probes(model, bias)
    has_c = model.startswith("lstm")

    def args_for(probe):
        args = ["<student>", dict(probe.params), probe.xs.copy()]
        return args

    def fwd_call(sandbox, probe):
        args = args_for(probe) + [probe.h0.copy()] + ([probe.c0.copy()] if has_c else [])
        return unpack(sandbox.call("forward", args, target="adapter"), ["h"], "adapter.forward",
                      ["student", "params", "xs", "h0", "c0"])

    def lg_call(sandbox, probe):
        args = args_for(probe) + [probe.targets.copy(), probe.h0.copy()] + ([probe.c0.copy()] if has_c else [])
        obs = unpack(sandbox.call("loss_and_grads", args, target="adapter"), ["E", "grads"],
                     "adapter.loss_and_grads", ["student", "params", "xs", "targets", "h0", "c0"])
        if obs.errors:
            return obs
        grads = obs.values.pop("grads")
        if not isinstance(grads, dict):
            return Observation(errors=["adapter.loss_and_grads: the second value must be a dict of gradients"],
                               fatal=True)
        for n in names + ["xs", "h0", "c0"]:
            if n in grads:
                obs.values[f"d{n}"] = grads[n]
            elif n in names:
                obs.errors.append(f"adapter.loss_and_grads: no gradient for {n}")
        return obs

    fwd = Case("forward", model, [Output("h", "forward", "h_1..h_T, (T, H, B)", Axes(time=0))], probes,
               fwd_call, lambda ref, p: {"h": ref["hs"]} if "hs" in ref else {}, optional=True)
    outs = [Output("E", "forward", "Σ_t Σ_b −log ô_t[o_t]")]
    outs += [Output(f"d{n}", "gradient", f"∂E/∂{n}", Axes(time=0) if n == "xs" else Axes(), (n,))
             for n in names + ["xs", "h0"] + (["c0"] if has_c else [])]

    def convert(ref, probe):
        out = {f"d{n}": ref[n] for n in names + ["xs", "h0", "c0"] if n in ref}
        if "E" in ref:
            out["E"] = np.asarray(ref["E"], dtype=np.float64).reshape(())
        return out

    # dxs, dh0, dc0 are optional: an output the adapter does not return is not in obs.values, and the
    # runner compares only what is there (no sentinel value crosses the sandbox boundary)
    case = Case("loss_and_grads", model, outs, probes, lg_call, convert)
    return [fwd, case]

