"""GRU in its two published forms; update u_t, reset r_t, candidate g_t.

r_t = σ(U_r x_t + V_r h_{t−1} + b_r)
u_t = σ(U_u x_t + V_u h_{t−1} + b_u)
g_t = tanh(U_g x_t + V_g (r_t ⊙ h_{t−1}) + b_g)              Cho et al. 2014 (reset before V_g)
g_t = tanh(U_g x_t + b_g + r_t ⊙ (V_g h_{t−1} + b_gh))        "reset-after": cuDNN, PyTorch, Keras
h_t = u_t ⊙ h_{t−1} + (1 − u_t) ⊙ g_t
"""

from __future__ import annotations

import numpy as np

from numeric.activations import sigmoid
from numeric.models.base import RecurrentModel, StepStore, Tape, accumulate, bias_grad

GATES = ("r", "u", "g")


class GRU(RecurrentModel):
    def __init__(self, bias: bool = True, reset_after: bool = False):
        super().__init__(bias)
        self.reset_after = reset_after
        self.name = "gru-reset-after" if reset_after else "gru"

    def _cell_param_shapes(self, D, H, K):
        shapes = {}
        for gate in GATES:
            shapes.update({f"U_{gate}": (H, D), f"V_{gate}": (H, H), f"b_{gate}": (H, 1)})
        if self.reset_after:
            shapes["b_gh"] = (H, 1)
        return shapes

    def _forward(self, params, xs, state0, keep=None):
        U = np.vstack([params[f"U_{g}"] for g in GATES])
        pre_in = U @ xs  # (T, 3H, B): input projections of r, u, g for every step
        if self.bias:
            pre_in = pre_in + np.vstack([params[f"b_{g}"] for g in GATES])
        h = state0["h0"]
        H = h.shape[0]
        # reset-after multiplies all three recurrent products by h_{t−1}; Cho et al. only r and u
        V = np.vstack([params[f"V_{g}"] for g in (GATES if self.reset_after else GATES[:2])])
        store = StepStore(xs.shape[0], keep)
        for t in range(xs.shape[0]):
            rec = V @ h
            ru = sigmoid(pre_in[t, :2 * H] + rec[:2 * H])  # r_t and u_t in one σ
            r, u = ru[:H], ru[H:]
            if self.reset_after:
                n = rec[2 * H:] + params["b_gh"] if self.bias else rec[2 * H:]  # V_g h_{t−1} + b_gh
                g = np.tanh(pre_in[t, 2 * H:] + r * n)
            else:
                n = r * h  # r_t ⊙ h_{t−1}
                g = np.tanh(pre_in[t, 2 * H:] + params["V_g"] @ n)
            h = u * h + (1 - u) * g  # h_t = u_t ⊙ h_{t−1} + (1 − u_t) ⊙ g_t
            store.put(t, r=r, u=u, g=g, n=n, h=h)
        return Tape(xs, state0, store.arrays, {"U": U, "V": V})

    def _step_backward(self, params, tape, t, carried, entering):
        s = tape.steps
        r, u, g, n = s["r"][t], s["u"][t], s["g"][t], s["n"][t]
        h_prev = s["h"][t - 1] if t > 0 else tape.state0["h0"]
        dh = carried["h"] + entering["h"]
        delta_u = dh * (h_prev - g) * u * (1 - u)  # ∂h_t/∂u_t = h_{t−1} − g_t
        delta_g = dh * (1 - u) * (1 - g * g)
        dh_prev = dh * u  # the direct path h_{t−1} → h_t
        if self.reset_after:
            dn = delta_g * r  # ∂E/∂(V_g h_{t−1} + b_gh)
            delta_r = delta_g * n * r * (1 - r)
            dh_prev = dh_prev + tape.weights["V"].T @ np.concatenate([delta_r, delta_u, dn])
            return {"h": dh_prev}, {"in": np.concatenate([delta_r, delta_u, delta_g]), "n": dn}
        d_rh = params["V_g"].T @ delta_g  # ∂E/∂(r_t ⊙ h_{t−1})
        delta_r = d_rh * h_prev * r * (1 - r)
        dh_prev = dh_prev + d_rh * r + tape.weights["V"].T @ np.concatenate([delta_r, delta_u])
        return {"h": dh_prev}, {"in": np.concatenate([delta_r, delta_u, delta_g])}

    def _param_grads(self, params, tape, per_step):
        delta = per_step["in"]  # (T, 3H, B), blocks r, u, g
        H = delta.shape[1] // 3
        h_prev = tape.previous("h")
        dU = accumulate(delta, tape.xs)
        grads = {"xs": tape.weights["U"].T @ delta}
        for k, gate in enumerate(GATES):
            grads[f"U_{gate}"] = dU[k * H:(k + 1) * H]
            if self.bias:
                grads[f"b_{gate}"] = bias_grad(delta[:, k * H:(k + 1) * H])
        dV_ru = accumulate(delta[:, :2 * H], h_prev)
        grads["V_r"], grads["V_u"] = dV_ru[:H], dV_ru[H:]
        if self.reset_after:
            grads["V_g"] = accumulate(per_step["n"], h_prev)
            if self.bias:
                grads["b_gh"] = bias_grad(per_step["n"])
        else:
            grads["V_g"] = accumulate(delta[:, 2 * H:], tape.steps["n"])  # Σ_t δg_t (r_t ⊙ h_{t−1})ᵀ
        return grads
