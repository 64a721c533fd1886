"""LSTM (Hochreiter & Schmidhuber 1997, forget gate Gers et al. 2000), optionally with peepholes.

f_t = σ(U_f x_t + V_f h_{t−1} [+ p_f ⊙ c_{t−1}] + b_f)      forget gate
i_t = σ(U_i x_t + V_i h_{t−1} [+ p_i ⊙ c_{t−1}] + b_i)      input gate
g_t = tanh(U_g x_t + V_g h_{t−1} + b_g)                     candidate c̃_t
c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
q_t = σ(U_q x_t + V_q h_{t−1} [+ p_q ⊙ c_t] + b_q)          output gate (q: o is the target)
h_t = q_t ⊙ tanh(c_t)

The bracketed peephole terms (Gers, Schraudolph & Schmidhuber 2002) are the course's description.
Gate blocks are stacked f, i, g, q so that each step does one matrix product for all four.
"""

from __future__ import annotations

import numpy as np

from numeric.activations import sigmoid
from numeric.models.base import RecurrentModel, StepStore, Tape, accumulate, bias_grad

GATES = ("f", "i", "g", "q")


class LSTM(RecurrentModel):
    states = ("h", "c")

    def __init__(self, bias: bool = True, peephole: bool = False):
        super().__init__(bias)
        self.peephole = peephole
        self.name = "lstm-peephole" if peephole else "lstm"

    def __repr__(self) -> str:
        return f"models.get({self.name!r}, bias={self.bias})"

    def _cell_param_shapes(self, D, H, K):
        shapes = {}
        for gate in GATES:
            shapes.update({f"U_{gate}": (H, D), f"V_{gate}": (H, H), f"b_{gate}": (H, 1)})
            if self.peephole and gate != "g":
                shapes[f"p_{gate}"] = (H, 1)
        return shapes

    def _forward(self, params, xs, state0, keep=None):
        U = np.vstack([params[f"U_{g}"] for g in GATES])
        V = np.vstack([params[f"V_{g}"] for g in GATES])
        pre_in = U @ xs  # input projections of every gate and step at once, (T, 4H, B)
        if self.bias:
            pre_in = pre_in + np.vstack([params[f"b_{g}"] for g in GATES])
        h, c = state0["h0"], state0["c0"]
        H = h.shape[0]
        store = StepStore(xs.shape[0], keep)
        for t in range(xs.shape[0]):
            pre = pre_in[t] + V @ h  # pre-activations of f, i, g, q stacked, (4H, B)
            if self.peephole:  # forget and input valves look at the old memory c_{t−1}
                pre = np.concatenate([pre[:H] + params["p_f"] * c, pre[H:2 * H] + params["p_i"] * c, pre[2 * H:]])
            # one σ over the stacked gates: tanh(a) = 2σ(2a) − 1, so g's rows go in doubled
            pre[2 * H:3 * H] *= 2
            gates = sigmoid(pre[:3 * H] if self.peephole else pre)
            f, i, g = gates[:H], gates[H:2 * H], 2 * gates[2 * H:3 * H] - 1
            c = f * c + i * g  # c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
            if self.peephole:  # the output valve looks at the new memory c_t
                q = sigmoid(pre[3 * H:] + params["p_q"] * c)
            else:
                q = gates[3 * H:]
            tanh_c = np.tanh(c)
            h = q * tanh_c  # h_t = q_t ⊙ tanh(c_t)
            store.put(t, f=f, i=i, g=g, q=q, c=c, tanh_c=tanh_c, h=h)
        return Tape(xs, state0, store.arrays, {"U": U, "V": V})

    def _step_backward(self, params, tape, t, carried, entering):
        s = tape.steps
        f, i, g, q, tanh_c = s["f"][t], s["i"][t], s["g"][t], s["q"][t], s["tanh_c"][t]
        c_prev = s["c"][t - 1] if t > 0 else tape.state0["c0"]
        dh = carried["h"] + entering["h"]
        delta_q = dh * tanh_c * q * (1 - q)  # ∂E/∂(q pre-activation), σ' = q(1 − q)
        dc = carried["c"] + dh * q * (1 - tanh_c * tanh_c)  # ∂E/∂c_t: carried + through h_t = q ⊙ tanh(c_t)
        if self.peephole:
            dc = dc + params["p_q"] * delta_q  # c_t also feeds q_t through p_q
        delta_f = dc * c_prev * f * (1 - f)
        delta_i = dc * g * i * (1 - i)
        delta_g = dc * i * (1 - g * g)
        dc_prev = dc * f  # ∂c_t/∂c_{t−1} = f_t
        if self.peephole:
            dc_prev = dc_prev + params["p_f"] * delta_f + params["p_i"] * delta_i
        delta = np.concatenate([delta_f, delta_i, delta_g, delta_q])
        return {"h": tape.weights["V"].T @ delta, "c": dc_prev}, {"a": delta}

    def _param_grads(self, params, tape, per_step):
        delta = per_step["a"]  # (T, 4H, B), gate blocks f, i, g, q
        H = delta.shape[1] // 4
        blocks = {gate: delta[:, k * H:(k + 1) * H] for k, gate in enumerate(GATES)}
        dU = accumulate(delta, tape.xs)
        dV = accumulate(delta, tape.previous("h"))
        grads = {"xs": tape.weights["U"].T @ delta}
        for k, gate in enumerate(GATES):
            rows = slice(k * H, (k + 1) * H)
            grads[f"U_{gate}"], grads[f"V_{gate}"] = dU[rows], dV[rows]
            if self.bias:
                grads[f"b_{gate}"] = bias_grad(blocks[gate])
        if self.peephole:
            c_prev, c = tape.previous("c"), tape.cs
            grads["p_f"] = bias_grad(blocks["f"] * c_prev)
            grads["p_i"] = bias_grad(blocks["i"] * c_prev)
            grads["p_q"] = bias_grad(blocks["q"] * c)
        return grads
