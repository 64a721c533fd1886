"""One plain reference backward pass per model, written as named chain-rule steps that a mistake hooks into.

Every step computes its correct value and hands it to ``at(step, value, **context)``; a mistake
(numeric/checking/mistakes.py) is a set of hooks ``step → fn(value, context) → value`` that replace the
value with the mistaken one. Without hooks ``run`` is the correct gradient (tests/test_check_mistakes.py
checks it against ``numeric.models`` for every model). Layout: column vectors, batch last (docs/models.md).

The named steps (the context each hook receives is listed in ``STEPS``) follow the maths of DESIGN.md §2:
the output error ô − o, ∂L/∂h_t = upstream + carried, the activation derivatives, the recurrent product
Vᵀδ, the cell-state gradient and its forget factor, the h_{t−1} (c_{t−1}) that multiplies a weight
gradient, the sum over time, the carried gradient between steps, the schedule of the backward loop, and
the returned gradients. Adding a model is one ``Cell`` subclass here; adding a mistake is one entry there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from numeric.activations import sigmoid

STEPS = {  # step → what its value is, and the context a hook receives
    "loss terms": "dz (T, K, B) = ô − o, or the upstream dhs (T, H, B); ctx: -",
    "dh": "∂L/∂h_t = upstream_t + dh_next; ctx: up, dh_next, t, T",
    "tanh'": "1 − y² for y = tanh(x); ctx: site ('h' Elman, 'c' cell state, 'g' candidate), y, x, h (h_t), "
             "h_prev, x_nobias (pre-activation without b)",
    "σ'": "s(1 − s); ctx: gate, s, x (pre-activation)",
    "Vᵀδ": "Σ_k V_kᵀ δ_k, the gradient reaching h_{t−1} through the recurrent weights; ctx: V (list), d (list)",
    "dc": "∂L/∂c_t = dc_next + from_h + peep; ctx: dc_next, from_h (through h_t = q ⊙ tanh c_t), peep (the "
          "peephole p_q ⊙ δq, 0 without), t, T",
    "dc_prev": "∂L/∂c_{t−1} = dc ⊙ f (+ peepholes); ctx: dc, f, rest (the peephole terms)",
    "dc read": "the ∂L/∂c_t a gate's delta reads (i, f, g), dc; ctx: gate, dc, f",
    "h_prev": "the h_{t−1} multiplying a recurrent weight gradient; ctx: t, hs, h0",
    "c_prev": "the c_{t−1} in ∂L/∂f = dc ⊙ c_{t−1}; ctx: t, c (c_t)",
    "gate blocks": "the stacked blocks gates i, f, q, g are read from in the forward, (0, 1, 2, 3); ctx: gates",
    "pack": "the blocks the gate deltas are stored in, in the backward (default: as read); ctx: gates",
    "carry-in": "(dh_next, dc_next) entering step t; ctx: t, T",
    "carry-out": "dh_next leaving step t; ctx: t",
    "schedule": "the backward sweeps [Sweep]; ctx: T",
    "summed steps": "the steps summed into the parameter gradients, range(T); ctx: T",
    "outputs": "the returned gradients by name; ctx: -",
    "inputs after": "(dhs, dc_last) as the caller sees them after the call (unchanged copies); ctx: up, dh "
                    "(∂L/∂h_t of each step), hs, caches, model",
}


class Hooks:
    """``at(step, value, **context)``: the value, or what the variant's hook for that step makes of it."""

    def __init__(self, hooks=()):
        self.hooks: dict[str, Callable] = {}
        for step, fn in hooks:
            if step not in STEPS:
                raise KeyError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
            self.hooks[step] = fn

    def __call__(self, step: str, value, **context):
        fn = self.hooks.get(step)
        return value if fn is None else fn(value, context)


@dataclass(frozen=True)
class Sweep:
    """One backward loop: the steps it visits (descending), the one upstream term it carries (None: all of
    them, added at every step), and whether its final carried gradient is the returned ∂L/∂h_0."""

    steps: tuple[int, ...]
    term: int | None = None
    to_h0: bool = True


# ------------------------------------------------------------------------------------------ cells

class Cell:
    """A model's forward step and local backward step. ``states``: ("h",) or ("h", "c")."""

    states = ("h",)
    stacked: tuple[str, ...] = ()  # gate blocks whose U, V, b are stacked (their order in the stack)

    def __init__(self, params: dict, H: int, at: Hooks):
        self.p, self.H, self.at = params, H, at
        self.bias = any(k.startswith("b") for k in params)

    def zeros(self, B):
        return np.zeros((self.H, B))


class Elman(Cell):
    """h_t = tanh(U x_t + V h_{t−1} + b)."""

    def forward(self, x, h, c):
        b = self.p.get("b", 0.0)
        a = self.p["U"] @ x + self.p["V"] @ h + b
        h_new = np.tanh(a)
        return h_new, None, dict(x=x, a=a, h=h_new, h_prev=h, b=b)

    def backward(self, k, t, dh, dc, h_w, c_w):
        at = self.at
        deriv = at("tanh'", 1 - k["h"] ** 2, site="h", y=k["h"], x=k["a"], h=k["h"], h_prev=k["h_prev"],
                   x_nobias=k["a"] - k["b"])
        da = dh * deriv
        dh_prev = at("Vᵀδ", self.p["V"].T @ da, V=[self.p["V"]], d=[da])
        grads = {"U": da @ k["x"].T, "V": da @ h_w.T}
        if "b" in self.p:
            grads["b"] = da.sum(axis=1, keepdims=True)
        return grads, self.p["U"].T @ da, dh_prev, None


class LSTM(Cell):
    """Gates i, f, q (output), g stacked in that order; with ``peephole``: p_f, p_i on c_{t−1}, p_q on c_t.
    A ``pack`` hook with a permutation reads gate k from another gate's block (gate-order mistakes)."""

    states = ("h", "c")
    stacked = ("i", "f", "q", "g")
    peephole = False

    def __init__(self, params, H, at):
        super().__init__(params, H, at)
        names = self.stacked
        self.Ux = np.concatenate([params[f"U_{g}"] for g in names])
        self.Vh = np.concatenate([params[f"V_{g}"] for g in names])
        self.bb = np.concatenate([params[f"b_{g}"] for g in names]) if "b_i" in params else np.zeros((4 * H, 1))
        self.perm = at("gate blocks", (0, 1, 2, 3), gates=names)

    def _block(self, a, k):
        p = self.perm[k]
        return a[p * self.H:(p + 1) * self.H]

    def forward(self, x, h, c):
        a = self.Ux @ x + self.Vh @ h + self.bb
        pre = {name: self._block(a, k) for k, name in enumerate(self.stacked)}
        if self.peephole:
            pre["i"] = pre["i"] + self.p["p_i"] * c
            pre["f"] = pre["f"] + self.p["p_f"] * c
        i, f, g = sigmoid(pre["i"]), sigmoid(pre["f"]), np.tanh(pre["g"])
        c_new = f * c + i * g
        if self.peephole:
            pre["q"] = pre["q"] + self.p["p_q"] * c_new
        q = sigmoid(pre["q"])
        h_new = q * np.tanh(c_new)
        return h_new, c_new, dict(x=x, pre=pre, i=i, f=f, q=q, g=g, c=c_new, c_prev=c, h=h_new)

    def backward(self, k, t, dh, dc_next, h_w, c_w):
        at, H = self.at, self.H
        i, f, q, g, c = k["i"], k["f"], k["q"], k["g"], k["c"]
        tc = np.tanh(c)

        def sig(name, s):
            return at("σ'", s * (1 - s), gate=name, s=s, x=k["pre"][name])

        d_q = dh * tc * sig("q", q)
        from_h = dh * q * at("tanh'", 1 - tc ** 2, site="c", y=tc, x=c, h=k["h"], h_prev=None, x_nobias=c)
        peep = self.p["p_q"] * d_q if self.peephole else 0.0  # c_t also feeds q_t through p_q
        dc = at("dc", from_h + peep + dc_next, dc_next=dc_next, from_h=from_h, peep=peep, t=t, T=self.T)
        c_before = at("c_prev", k["c_prev"], t=t, c=c)

        def dc_of(name):  # what gate `name` reads as ∂L/∂c_t (an aliased array may have changed by then)
            return at("dc read", dc, gate=name, dc=dc, f=f)

        deltas = {"i": dc_of("i") * g * sig("i", i), "f": dc_of("f") * c_before * sig("f", f), "q": d_q,
                  "g": dc_of("g") * i * at("tanh'", 1 - g ** 2, site="g", y=g, x=k["pre"]["g"], h=k["h"],
                                           h_prev=None, x_nobias=k["pre"]["g"])}
        # gate k's delta belongs to the parameter block it was read from
        back = at("pack", self.perm, gates=self.stacked)
        da = np.zeros((4 * H, dh.shape[1]))
        for kk, name in enumerate(self.stacked):
            da[back[kk] * H:(back[kk] + 1) * H] = deltas[name]
        rest = 0.0
        if self.peephole:
            rest = self.p["p_f"] * deltas["f"] + self.p["p_i"] * deltas["i"]
        dc_prev = at("dc_prev", dc * f + rest, dc=dc, f=f, rest=rest)
        blocks = [self.p[f"V_{n}"] for n in self.stacked]
        dh_prev = at("Vᵀδ", self.Vh.T @ da, V=blocks, d=[da[j * H:(j + 1) * H] for j in range(4)])
        dU, dV = da @ k["x"].T, da @ h_w.T
        grads = {}
        for j, name in enumerate(self.stacked):
            rows = slice(j * H, (j + 1) * H)
            grads[f"U_{name}"], grads[f"V_{name}"] = dU[rows], dV[rows]
            if "b_i" in self.p:
                grads[f"b_{name}"] = da[rows].sum(axis=1, keepdims=True)
        if self.peephole:
            grads["p_f"] = (deltas["f"] * c_w).sum(axis=1, keepdims=True)
            grads["p_i"] = (deltas["i"] * c_w).sum(axis=1, keepdims=True)
            grads["p_q"] = (deltas["q"] * c).sum(axis=1, keepdims=True)
        return grads, self.Ux.T @ da, dh_prev, dc_prev


class PeepholeLSTM(LSTM):
    peephole = True


class GRU(Cell):
    """Reset r, update u, candidate g; Cho et al. (r ⊙ h_{t−1} before V_g) or reset-after
    (r ⊙ (V_g h_{t−1} + b_gh)); h_t = u ⊙ h_{t−1} + (1 − u) ⊙ g."""

    reset_after = False

    def _b(self, name):
        return self.p.get(f"b_{name}", 0.0)

    def forward(self, x, h, c):
        p = self.p
        pre = {"r": p["U_r"] @ x + p["V_r"] @ h + self._b("r"), "u": p["U_u"] @ x + p["V_u"] @ h + self._b("u")}
        r, u = sigmoid(pre["r"]), sigmoid(pre["u"])
        if self.reset_after:
            n = p["V_g"] @ h + self._b("gh")
            x_g = p["U_g"] @ x + self._b("g") + r * n
        else:
            n = r * h
            x_g = p["U_g"] @ x + p["V_g"] @ n + self._b("g")
        g = np.tanh(x_g)
        h_new = u * h + (1 - u) * g
        return h_new, None, dict(x=x, r=r, u=u, g=g, n=n, x_g=x_g, h=h_new, h_prev=h, pre=pre)

    def backward(self, k, t, dh, dc, h_w, c_w):
        at, p = self.at, self.p
        r, u, g, n, h_prev = k["r"], k["u"], k["g"], k["n"], k["h_prev"]

        def sig(name, s):
            return at("σ'", s * (1 - s), gate=name, s=s, x=k["pre"][name])

        d_u = dh * (h_prev - g) * sig("u", u)
        d_g = dh * (1 - u) * at("tanh'", 1 - g ** 2, site="g", y=g, x=k["x_g"], h=k["h"], h_prev=h_prev,
                                x_nobias=k["x_g"] - self._b("g"))
        if self.reset_after:
            dn = d_g * r
            d_r = d_g * n * sig("r", r)
            rec = at("Vᵀδ", p["V_r"].T @ d_r + p["V_u"].T @ d_u + p["V_g"].T @ dn,
                     V=[p["V_r"], p["V_u"], p["V_g"]], d=[d_r, d_u, dn])
            dh_prev = dh * u + rec
            grads = {"V_g": dn @ h_w.T}
            if "b_gh" in p:
                grads["b_gh"] = dn.sum(axis=1, keepdims=True)
        else:
            d_rh = at("Vᵀδ", p["V_g"].T @ d_g, V=[p["V_g"]], d=[d_g])
            d_r = d_rh * h_prev * sig("r", r)
            rec = at("Vᵀδ", p["V_r"].T @ d_r + p["V_u"].T @ d_u, V=[p["V_r"], p["V_u"]], d=[d_r, d_u])
            dh_prev = dh * u + d_rh * r + rec
            grads = {"V_g": d_g @ (r * h_w).T}
        deltas = {"r": d_r, "u": d_u, "g": d_g}
        dx = 0.0
        for name, d in deltas.items():
            grads[f"U_{name}"] = d @ k["x"].T
            dx = dx + p[f"U_{name}"].T @ d
            if f"b_{name}" in p:
                grads[f"b_{name}"] = d.sum(axis=1, keepdims=True)
        grads["V_r"], grads["V_u"] = d_r @ h_w.T, d_u @ h_w.T
        return grads, dx, dh_prev, None


class GRUResetAfter(GRU):
    reset_after = True


CELLS: dict[str, type[Cell]] = {"rnn": Elman, "lstm": LSTM, "lstm-peephole": PeepholeLSTM, "gru": GRU,
                                "gru-reset-after": GRUResetAfter}


# ------------------------------------------------------------------------------------------ the pass

def run(model: str, params: dict, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None,
        targets: np.ndarray | None = None, dhs: np.ndarray | None = None, dc_last: np.ndarray | None = None,
        variant=None) -> dict:
    """Forward and backward of ``model`` with the variant's hooks (None: the correct gradient).

    Args:
        model: a key of ``CELLS``.
        params: reference names and shapes (docs/models.md); biases and W, c may be absent.
        xs: (T, D, B); h0, c0: (H, B).
        targets: (T, B) class ids: the loss E = Σ −log ô_t[o_t] is the upstream (needs W).
        dhs: (T, H, B) upstream ∂L/∂h_t instead of a loss; dc_last (H, B): ∂L/∂c_T.
        variant: anything with ``hooks`` ((step, fn) pairs), e.g. ``mistakes.Variant``.

    Returns:
        "hs" (T, H, B), "cs" (cell-state models), "E" (with targets), every parameter gradient under its
        own name, "xs", "h0", "c0", and "dhs_after"/"dc_last_after": the upstream arrays after the call.
    """
    at = Hooks(variant.hooks if variant is not None else ())
    T, _D, B = xs.shape
    H = h0.shape[0]
    cell = CELLS[model](params, H, at)
    cell.T = T
    has_c = "c" in cell.states
    c_start = (c0 if c0 is not None else cell.zeros(B)) if has_c else None

    # ---- forward
    hs, cs, caches = np.zeros((T, H, B)), np.zeros((T, H, B)), []
    h, c = h0, c_start
    for t in range(T):
        h, c, cache = cell.forward(xs[t], h, c)
        hs[t] = h
        if has_c:
            cs[t] = c
        caches.append(cache)
    out = {"hs": hs}
    if has_c:
        out["cs"] = cs

    # ---- output layer, or the given upstream
    out_grads = {}
    if targets is not None:
        W, cc = params["W"], params.get("c", np.zeros((params["W"].shape[0], 1)))
        z = W @ hs + cc
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        onehot = np.zeros_like(z)
        np.put_along_axis(onehot, targets[:, None, :], 1.0, axis=1)
        out["E"] = np.array(-(logp * onehot).sum())
        dz = at("loss terms", np.exp(logp) - onehot)
        out_grads = {t: {"W": dz[t] @ hs[t].T} for t in range(T)}
        if "c" in params:
            for t in range(T):
                out_grads[t]["c"] = dz[t].sum(axis=1, keepdims=True)
        up = np.einsum("kh,tkb->thb", W, dz)
    else:
        up = at("loss terms", dhs.copy() if dhs is not None else np.zeros((T, H, B)))
    dlast = dc_last.copy() if dc_last is not None else cell.zeros(B)
    hprev = [h0] + [hs[t] for t in range(T - 1)]
    cprev = [c_start] + [cs[t] for t in range(T - 1)] if has_c else [None] * T

    # ---- backward: sweeps of local steps; per-step parameter gradients summed afterwards
    per_step = [dict() for _ in range(T)]
    dh_seen = [None] * T  # ∂L/∂h_t as the main sweep formed it (what an in-place mistake writes back)
    dx = np.zeros_like(xs)
    dh0, dc0 = cell.zeros(B), cell.zeros(B)

    def local(t, dh, dc):
        h_w = at("h_prev", hprev[t], t=t, hs=hs, h0=h0)
        grads, dx_t, dh_prev, dc_prev = cell.backward(caches[t], t, dh, dc, h_w, cprev[t])
        mine = per_step[t]
        for name, g in grads.items():
            mine[name] = mine[name] + g if name in mine else g
        dx[t] += dx_t
        return dh_prev, dc_prev

    for sweep in at("schedule", [Sweep(tuple(range(T - 1, -1, -1)))], T=T):
        if sweep.term is not None:  # one loss term carried back alone (truncated BPTT)
            dh, dc = up[sweep.term], (dlast if sweep.term == T - 1 else cell.zeros(B))
            for t in sweep.steps:
                dh, dc = local(t, dh, dc if has_c else None)
            if sweep.to_h0:
                dh0 += dh
                if has_c:
                    dc0 += dc
            continue
        dh_next, dc_next = cell.zeros(B), dlast
        for t in sweep.steps:
            dh_next, dc_next = at("carry-in", (dh_next, dc_next), t=t, T=T)
            dh = at("dh", up[t] + dh_next, up=up[t], dh_next=dh_next, t=t, T=T)
            dh_seen[t] = dh
            dh_next, dc_next = local(t, dh, dc_next if has_c else None)
            dh_next = at("carry-out", dh_next, t=t)
        if sweep.to_h0:
            dh0 = dh_next
            if has_c:
                dc0 = dc_next

    # ---- parameter gradients: Σ over the summed steps
    grads = {}
    for t in at("summed steps", range(T), T=T):
        for part in (per_step[t], out_grads.get(t, {})):
            for name, g in part.items():
                grads[name] = grads[name] + g if name in grads else g
    grads["xs"], grads["h0"] = dx, dh0
    if has_c:
        grads["c0"] = dc0
    out.update(at("outputs", grads))
    after = (None if dhs is None else dhs.copy(), None if dc_last is None else dc_last.copy())
    after = at("inputs after", after, up=up, dh=dh_seen, hs=hs, caches=caches, model=model)
    if dhs is not None:
        out["dhs_after"] = after[0]
    if dc_last is not None:
        out["dc_last_after"] = after[1]
    return out
