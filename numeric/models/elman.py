"""The Elman RNN — the course's cell: a_t = U x_t + V h_{t−1} + b, h_t = tanh(a_t)."""

from __future__ import annotations

import numpy as np

from numeric.models.base import RecurrentModel, StepStore, Tape, accumulate, bias_grad


class Elman(RecurrentModel):
    name = "rnn"

    def _cell_param_shapes(self, D, H, K):
        return {"U": (H, D), "V": (H, H), "b": (H, 1)}

    def _forward(self, params, xs, state0, keep=None):
        U, V = params["U"], params["V"]
        a_in = U @ xs  # U x_t for every t at once, (T, H, B)
        if self.bias:
            a_in = a_in + params["b"]
        h = state0["h0"]
        store = StepStore(xs.shape[0], keep)
        for t in range(xs.shape[0]):
            h = np.tanh(a_in[t] + V @ h)  # h_t = tanh(U x_t + V h_{t−1} + b)
            store.put(t, h=h)
        return Tape(xs, state0, store.arrays)

    def _step_backward(self, params, tape, t, carried, entering):
        dh = carried["h"] + entering["h"]  # ∂E/∂h_t: from the output at t and from step t+1
        h = tape.hs[t]
        delta = dh * (1 - h * h)  # δ_t = ∂E/∂a_t = ∂E/∂h_t ⊙ tanh'(a_t), tanh' = 1 − h_t²
        return {"h": params["V"].T @ delta}, {"a": delta}  # ∂E/∂h_{t−1} = Vᵀ δ_t

    def _param_grads(self, params, tape, per_step):
        delta = per_step["a"]
        grads = {
            "U": accumulate(delta, tape.xs),  # Σ_t δ_t x_tᵀ
            "V": accumulate(delta, tape.previous("h")),  # Σ_t δ_t h_{t−1}ᵀ
            "xs": params["U"].T @ delta,
        }
        if self.bias:
            grads["b"] = bias_grad(delta)
        return grads
