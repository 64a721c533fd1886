"""The Jordan network: the previous *output* ô_{t−1} is fed back instead of h_{t−1}.

a_t = U x_t + V ô_{t−1} + b, h_t = tanh(a_t), z_t = W h_t + c, ô_t = softmax(z_t); V is (H, K).
"""

from __future__ import annotations

import numpy as np

from numeric.activations import softmax
from numeric.models.base import RecurrentModel, StepStore, Tape, accumulate, bias_grad


class Jordan(RecurrentModel):
    name = "jordan"
    states = ("ohat",)
    separable_output = False  # the recurrence runs through the output layer

    def _cell_param_shapes(self, D, H, K):
        return {"U": (H, D), "V": (H, K), "b": (H, 1)}

    def _forward(self, params, xs, state0, keep=None):
        U, V, W = params["U"], params["V"], params["W"]
        a_in = U @ xs
        if self.bias:
            a_in = a_in + params["b"]
        ohat = state0["ohat0"]
        store = StepStore(xs.shape[0], keep)
        for t in range(xs.shape[0]):
            h = np.tanh(a_in[t] + V @ ohat)  # h_t = tanh(U x_t + V ô_{t−1} + b)
            z = W @ h + params["c"] if self.bias else W @ h
            ohat = softmax(z)  # ô_t, fed back at t+1
            store.put(t, h=h, ohat=ohat)
        return Tape(xs, state0, store.arrays)

    def _step_backward(self, params, tape, t, carried, entering):
        ohat, h = tape.steps["ohat"][t], tape.hs[t]
        dohat = carried["ohat"]  # ∂E/∂ô_t through step t+1
        # ∂E/∂z_t = (ô_t − o_t) from E_t, plus softmax's Jacobian applied to ∂E/∂ô_t
        dz = entering["z"] + ohat * (dohat - (ohat * dohat).sum(axis=0, keepdims=True))
        delta = (params["W"].T @ dz) * (1 - h * h)  # δ_t = Wᵀ dz_t ⊙ (1 − h_t²)
        return {"ohat": params["V"].T @ delta}, {"z": dz, "a": delta}

    def _param_grads(self, params, tape, per_step):
        dz, delta = per_step["z"], per_step["a"]
        grads = {
            "U": accumulate(delta, tape.xs),
            "V": accumulate(delta, tape.previous("ohat")),  # Σ_t δ_t ô_{t−1}ᵀ
            "W": accumulate(dz, tape.hs),
            "xs": params["U"].T @ delta,
        }
        if self.bias:
            grads["b"] = bias_grad(delta)
            grads["c"] = bias_grad(dz)
        return grads
