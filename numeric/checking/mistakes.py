"""Known BPTT mistakes, reproduced as mutations of one plain reference backward pass.

Each mistake identifier (``MISTAKES``) has one or more *variants*: the concrete ways students write it
(the tanh derivative taken of the pre-activation, or of h itself; weight gradients keeping only the first
or only the last step, ...). ``run`` is an Elman/LSTM forward + backward in the reference layout
(column vectors, docs/models.md) whose every chain-rule step can be swapped for its mistaken form; with
no variant it is the correct gradient, and the tests check it against ``numeric.models``.

Variants that are a transformation of the *correct* outputs (mean instead of sum, clipping, transposed
weight gradients) live in ``posthoc`` and apply to any model, GRU included; the others need the inside of
the backward pass and exist for ``rnn`` and ``lstm``.

Gate blocks are stacked i, f, q, g inside (cs231n's i, f, o, g), so a ``gate-order`` variant is a
permutation of these blocks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from numeric.activations import sigmoid

MISTAKES = {
    "dh-next-not-added": "the gradient arriving from step t+1 (dh_next) is not added to ∂L/∂h_t",
    "weight-grads-not-summed": "weight gradients are assigned at each step instead of summed over time",
    "tanh-derivative-of-wrong-quantity": "tanh' evaluated on the wrong quantity (1 − a² or 1 − h² of "
                                         "the wrong variable instead of 1 − tanh²(a))",
    "sigmoid-derivative-of-wrong-quantity": "σ' evaluated on the wrong quantity (a(1 − a) of the "
                                            "pre-activation, or 1 − σ²) in a gate",
    "transposed-weight-gradient": "a weight gradient is the transpose of the right one (δ hᵀ vs h δᵀ)",
    "recurrent-weight-not-transposed": "∂L/∂h_{t−1} computed with V δ instead of Vᵀ δ",
    "gate-order": "the LSTM gate blocks are taken in another order than i, f, o(q), g",
    "dc-not-carried": "the cell-state gradient from step t+1 (dc_next) is not carried into step t",
    "dc-missing-forget-factor": "dc_{t−1} = dc_t instead of dc_t ⊙ f_t",
    "dh-to-dc-path-missing": "the path h_t → c_t (dh ⊙ q ⊙ (1 − tanh² c)) is missing from dc_t",
    "truncated-bptt": "gradients are propagated back only a few steps (truncated BPTT)",
    "mean-instead-of-sum": "the loss or a gradient is averaged (over time or batch) instead of summed",
    "off-by-one-h-prev": "h_t (or the wrong step's state) used where h_{t−1} belongs",
    "mutates-upstream-gradient": "the upstream gradient passed in is modified in place",
    "mutates-input": "an input array (x, h0, a weight) is modified in place",
    "clipping-in-backward": "gradients are clipped inside the backward pass",
}


@dataclass(frozen=True)
class Variant:
    """One concrete form of a mistake.

    Attributes:
        mistake: the identifier (a key of MISTAKES).
        label: how this form reads in code, for the evidence line.
        opts: the switches ``run`` understands (see the module's code for the keys).
    """

    mistake: str
    label: str
    opts: tuple = field(default=())

    def get(self, key, default=None):
        return dict(self.opts).get(key, default)


def _v(mistake, label, **opts):
    return Variant(mistake, label, tuple(sorted(opts.items())))


# ------------------------------------------------------------------------------------------ variants

def engine_variants(model: str, T: int, upstream: bool) -> list[Variant]:
    """Every engine variant for ``model`` ("rnn" or "lstm") on sequences of length T.

    Args:
        upstream: the test passes an upstream gradient dhs in (cs231n backward); adds the in-place variants.
    """
    out = [
        _v("dh-next-not-added", "dh = dh_up[t]  (dh_next dropped)", dhnext="drop"),
        _v("dh-next-not-added", "dh = dh_next  (replaces instead of adding)", dhnext="replace"),
        _v("weight-grads-not-summed", "dW = …  at each step: the first step t = 1 remains", notsum="first"),
        _v("weight-grads-not-summed", "dW = …  at each step: the last step t = T remains", notsum="last"),
        _v("weight-grads-not-summed", "only ∂E_T/∂θ: the sum over the loss terms forgotten", terms="last"),
        _v("off-by-one-h-prev", "dV += da h_tᵀ  (h_t instead of h_{t−1})", hprev="current"),
        _v("off-by-one-h-prev", "h_{t−1} from a list indexed hs[t−1]: at t = 1 it wraps to h_T", hprev="wrap"),
        _v("off-by-one-h-prev", "h_{t−1} = h_{t−2}  (one step too far back)", hprev="two"),
    ]
    if model == "rnn":
        out += [
            _v("recurrent-weight-not-transposed", "dh_prev = V @ da", vnot_t=True),
            _v("tanh-derivative-of-wrong-quantity", "1 − a²  (pre-activation)", tanh="a"),
            _v("tanh-derivative-of-wrong-quantity", "1 − tanh(h)²  (tanh applied twice)", tanh="tanh_h"),
            _v("tanh-derivative-of-wrong-quantity", "1 − h  (square missing)", tanh="1-h"),
            _v("tanh-derivative-of-wrong-quantity", "1 − h_{t−1}²  (previous state)", tanh="h_prev"),
            _v("tanh-derivative-of-wrong-quantity", "h(1 − h)  (the sigmoid's formula)", tanh="sigform"),
            _v("tanh-derivative-of-wrong-quantity", "1 − tanh²(a − b)  (pre-activation recomputed without b)",
               tanh="nobias"),
        ]
    if model == "lstm":
        for site in ("c", "g", "all"):
            for form, label in (("pre", "1 − x² of the pre-activation / of c itself"),
                                ("h", "1 − h² (h instead of tanh c)"),
                                ("twice", "1 − tanh(tanh x)²"), ("nosq", "1 − tanh x (square missing)"),
                                ("sigform", "y(1 − y) (the sigmoid's formula)")):
                if form == "h" and site == "g":
                    continue
                out.append(_v("tanh-derivative-of-wrong-quantity", f"{label} at {site}", tanh_site=site,
                              tanh=form))
        for gate in ("i", "f", "q", "all"):
            for form, label in (("pre", "s(1 − s) of the pre-activation"), ("tanh", "1 − σ²"),
                                ("twice", "σ(σ)(1 − σ(σ))"), ("none", "σ' left out"),
                                ("1-s", "(1 − σ) only"), ("s", "σ only")):
                out.append(_v("sigmoid-derivative-of-wrong-quantity", f"{label} in gate {gate}", sig_gate=gate,
                              sig=form))
        out += [
            _v("dc-not-carried", "dc = dh ⊙ q ⊙ (1 − tanh² c)  (dc_next dropped)", dc="not_carried"),
            _v("dc-not-carried", "dc_next dropped, dc_last kept at the last step", dc="not_carried_keep_last"),
            _v("dc-missing-forget-factor", "dc_prev = dc", dc="no_f"),
            _v("dh-to-dc-path-missing", "dc = dc_next", dc="no_h_path"),
            _v("off-by-one-h-prev", "df = dc ⊙ c_t  (c_t instead of c_{t−1})", cprev="current"),
        ]
        names = ("i", "f", "q", "g")
        for perm in itertools.permutations(range(4)):
            if perm == (0, 1, 2, 3):
                continue
            order = ",".join(names[p] for p in perm)
            out.append(_v("gate-order", f"gates read as {order} in forward and backward", perm=perm))
            out.append(_v("gate-order", f"gradient blocks packed {order} in backward only", perm_back=perm))
    for tau in (0.5, 1.0, 2.0, 5.0, 10.0):
        out.append(_v("clipping-in-backward", f"dh_next clipped to ±{tau:g} at every step", clip_next=tau))
    for k in range(2, T):
        out.append(_v("truncated-bptt", f"each loss term goes back at most {k} steps", trunc=k))
        out.append(_v("truncated-bptt", f"backward loop over the last {k} steps only", window=k))
        out.append(_v("truncated-bptt", f"dh_next reset every {k} steps", block=k))
    if upstream:
        out += [
            _v("mutates-upstream-gradient", "dh[t] += dh_next  on the caller's array", mut="add"),
        ]
        if model == "rnn":
            out.append(_v("mutates-upstream-gradient", "dh[t] *= tanh'  on the caller's array", mut="mul"))
            out.append(_v("mutates-upstream-gradient", "dh[t] += dh_next; dh[t] *= tanh'  on the caller's array",
                          mut="addmul"))
        if model == "lstm":
            out.append(_v("mutates-upstream-gradient", "dnext_c += …  on the caller's array", mut="dc"))
    return out


# ------------------------------------------------------------------------------------------ engine

def run(model: str, params: dict, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None,
        targets: np.ndarray | None = None, dhs: np.ndarray | None = None, dc_last: np.ndarray | None = None,
        variant: Variant | None = None) -> dict:
    """Forward and backward of the Elman RNN or the LSTM, with an optional mistake.

    Args:
        model: "rnn" or "lstm".
        params: reference names and shapes (docs/models.md); biases and W, c may be absent.
        xs: (T, D, B); h0, c0: (H, B).
        targets: (T, B) class ids: the loss E = Σ −log ô_t[o_t] is the upstream (needs W).
        dhs: (T, H, B) upstream ∂L/∂h_t instead of a loss; dc_last (H, B): ∂L/∂c_T.
        variant: the mistake to make (None: correct).

    Returns:
        "hs" (T, H, B), "cs" (LSTM), "E" (with targets), every parameter gradient under its own name,
        "xs", "h0", "c0" (LSTM), and "dhs_after"/"dc_last_after": the upstream arrays after the call.
    """
    opts = dict(variant.opts) if variant else {}
    T, D, B = xs.shape
    H = h0.shape[0]
    lstm = model == "lstm"
    names = ("i", "f", "q", "g")
    if lstm:
        Ux = np.concatenate([params[f"U_{g}"] for g in names])
        Vh = np.concatenate([params[f"V_{g}"] for g in names])
        bb = np.concatenate([params[f"b_{g}"] for g in names]) if "b_i" in params else np.zeros((4 * H, 1))
    else:
        Ux, Vh = params["U"], params["V"]
        bb = params.get("b", np.zeros((H, 1)))
    perm = opts.get("perm", (0, 1, 2, 3))
    blocks = [slice(p * H, (p + 1) * H) for p in perm]  # block of gate k (i, f, q, g) in the stacked rows

    # ---- forward
    hs, cs, A, G = np.zeros((T, H, B)), np.zeros((T, H, B)), [], []
    h, c = h0, (c0 if c0 is not None else np.zeros((H, B)))
    for t in range(T):
        a = Ux @ xs[t] + Vh @ h + bb
        A.append(a)
        if lstm:
            i, f, q = (sigmoid(a[blocks[k]]) for k in range(3))
            g = np.tanh(a[blocks[3]])
            G.append((i, f, q, g))
            c = f * c + i * g
            h = q * np.tanh(c)
            cs[t] = c
        else:
            h = np.tanh(a)
        hs[t] = h
    out = {"hs": hs}
    if lstm:
        out["cs"] = cs
    dhs_in = None if dhs is None else dhs.copy()
    if targets is not None:
        W, cc = params["W"], params.get("c", np.zeros((params["W"].shape[0], 1)))
        z = W @ hs + cc  # (T, K, B)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        onehot = np.zeros_like(z)
        np.put_along_axis(onehot, targets[:, None, :], 1.0, axis=1)
        out["E"] = np.array(-(logp * onehot).sum())
        dz = np.exp(logp) - onehot
        if opts.get("terms") == "last":  # only ∂E_T/∂θ: the sum over the loss terms forgotten
            dz[:-1] = 0.0
        out["W"] = np.einsum("tkb,thb->kh", dz, hs)
        if "c" in params:
            out["c"] = dz.sum(axis=(0, 2))[:, None]
        up = np.einsum("kh,tkb->thb", W, dz)
    else:
        up = dhs.copy() if dhs is not None else np.zeros((T, H, B))
        if opts.get("terms") == "last":
            up[:-1] = 0.0
    dlast = dc_last.copy() if dc_last is not None else np.zeros((H, B))
    hprev = [h0] + [hs[t] for t in range(T - 1)]
    cprev = [c0 if c0 is not None else np.zeros((H, B))] + [cs[t] for t in range(T - 1)]

    def h_before(t):
        kind = opts.get("hprev")
        if kind == "current":
            return hs[t]
        if kind == "wrap" and t == 0:
            return hs[T - 1]
        if kind == "two":
            return hprev[t - 1] if t >= 1 else h0
        return hprev[t]

    def step(t, dh, dc):
        """One step back: (∂L/∂a_t stacked, ∂L/∂h_{t−1}, ∂L/∂c_{t−1})."""
        if not lstm:
            form = opts.get("tanh")
            h_t = hs[t]
            deriv = {"a": 1 - A[t] ** 2, "tanh_h": 1 - np.tanh(h_t) ** 2, "1-h": 1 - h_t,
                     "h_prev": 1 - hprev[t] ** 2, "sigform": h_t * (1 - h_t),
                     "nobias": 1 - np.tanh(A[t] - bb) ** 2}.get(form, 1 - h_t ** 2)
            da = dh * deriv
            dprev = (Vh @ da) if opts.get("vnot_t") else Vh.T @ da
            return da, dprev, None
        i, f, q, g = G[t]
        a = A[t]
        tc = np.tanh(cs[t])
        site, form = opts.get("tanh_site"), opts.get("tanh")

        def tanh_deriv(y, x, here):  # y = tanh(x)
            if site not in (here, "all"):
                return 1 - y ** 2
            return {"pre": 1 - x ** 2, "h": 1 - hs[t] ** 2, "twice": 1 - np.tanh(y) ** 2,
                    "nosq": 1 - y, "sigform": y * (1 - y)}.get(form, 1 - y ** 2)

        mode = opts.get("dc")
        from_h = dh * q * tanh_deriv(tc, cs[t], "c")
        if mode == "no_h_path":
            dct = dc
        elif mode == "not_carried":
            dct = from_h
        elif mode == "not_carried_keep_last":
            dct = from_h + (dc if t == T - 1 else 0)
        else:
            dct = from_h + dc
        c_before = cs[t] if opts.get("cprev") == "current" else cprev[t]
        d_gate = {"i": dct * g, "f": dct * c_before, "q": dh * tc, "g": dct * i}
        sg, sform = opts.get("sig_gate"), opts.get("sig")

        def sig_deriv(s, x, name):
            if sg not in (name, "all"):
                return s * (1 - s)
            return {"pre": x * (1 - x), "tanh": 1 - s ** 2, "twice": sigmoid(s) * (1 - sigmoid(s)),
                    "none": np.ones_like(s), "1-s": 1 - s, "s": s}.get(sform, s * (1 - s))

        # a student who packs the gradient blocks in another order uses that packing everywhere after
        da = np.zeros((4 * H, B))
        back = opts.get("perm_back", perm)
        back_blocks = [slice(p * H, (p + 1) * H) for p in back]
        for k, (name, s) in enumerate(zip(("i", "f", "q"), (i, f, q))):
            da[back_blocks[k]] = d_gate[name] * sig_deriv(s, a[blocks[k]], name)
        da[back_blocks[3]] = d_gate["g"] * tanh_deriv(g, a[blocks[3]], "g")
        dprev = Vh.T @ da
        dc_prev = dct if mode == "no_f" else dct * f
        return da, dprev, dc_prev

    # ---- backward
    das = [np.zeros((Ux.shape[0], B)) for _ in range(T)]
    dx = np.zeros_like(xs)
    dh0, dc0 = np.zeros((H, B)), np.zeros((H, B))
    trunc, window, block = opts.get("trunc"), opts.get("window"), opts.get("block")
    if trunc:
        for t_in in range(T):  # each E_t (or upstream dh_t) travels back at most `trunc` steps
            dh, dc = up[t_in], (dlast if t_in == T - 1 else np.zeros((H, B)))
            for t in range(t_in, max(t_in - trunc, -1), -1):
                da, dh, dc = step(t, dh, dc if lstm else None)
                das[t] = das[t] + da
            if t_in - trunc < 0:
                dh0 += dh
                if lstm:
                    dc0 += dc
    else:
        dh_next, dc_next = np.zeros((H, B)), dlast
        first = max(T - window, 0) if window else 0
        for t in range(T - 1, first - 1, -1):
            if block and (T - 1 - t) % block == 0 and t != T - 1:
                dh_next = np.zeros((H, B))
                dc_next = np.zeros((H, B))
            mode = opts.get("dhnext")
            if mode == "drop":
                dh = up[t]
            elif mode == "replace":
                dh = up[t] if t == T - 1 else dh_next
            else:
                dh = up[t] + dh_next
            mut = opts.get("mut")
            if dhs_in is not None and mut in ("add", "mul", "addmul"):
                deriv = 1 - hs[t] ** 2 if not lstm else 1.0
                dhs_in[t] = {"add": up[t] + dh_next, "mul": up[t] * deriv,
                             "addmul": (up[t] + dh_next) * deriv}[mut]
            da, dh_next, dc_next = step(t, dh, dc_next if lstm else None)
            if opts.get("clip_next"):
                dh_next = np.clip(dh_next, -opts["clip_next"], opts["clip_next"])
            das[t] = da
        dh0 = dh_next
        if lstm:
            dc0 = dc_next
    if opts.get("mut") == "dc" and dc_last is not None and lstm:
        from_h = (up[T - 1] + 0) * G[T - 1][2] * (1 - np.tanh(cs[T - 1]) ** 2)
        out["dc_last_after"] = dc_last + from_h
    for t in range(T):
        dx[t] = Ux.T @ das[t]

    # ---- parameter gradients: Σ_t (or one step only)
    notsum = opts.get("notsum")
    steps = {"first": [0], "last": [T - 1]}.get(notsum, range(T))
    dU = sum(das[t] @ xs[t].T for t in steps)
    dV = sum(das[t] @ h_before(t).T for t in steps)
    db = sum(das[t].sum(axis=1, keepdims=True) for t in steps)
    if notsum == "first" and "W" in out:
        out["W"] = dz[0] @ hs[0].T
        if "c" in out:
            out["c"] = dz[0].sum(axis=1, keepdims=True)
    elif notsum == "last" and "W" in out:
        out["W"] = dz[T - 1] @ hs[T - 1].T
        if "c" in out:
            out["c"] = dz[T - 1].sum(axis=1, keepdims=True)
    if lstm:
        for k, name in enumerate(names):
            rows = slice(k * H, (k + 1) * H)
            out[f"U_{name}"], out[f"V_{name}"] = dU[rows], dV[rows]
            if "b_i" in params:
                out[f"b_{name}"] = db[rows]
        out["c0"] = dc0
    else:
        out["U"], out["V"] = dU, dV
        if "b" in params:
            out["b"] = db
    out["xs"], out["h0"] = dx, dh0
    if dhs is not None:
        out["dhs_after"] = dhs_in
    if dc_last is not None and "dc_last_after" not in out:
        out["dc_last_after"] = dc_last.copy()
    return out
