"""Independent check of the CORRECT fixtures: their gradients vs central differences of their own forward.

Run from the repository root:  python3 tests/heldout_round3/verify_correct.py
Written for this set (does not use the checker). Prints the worst norm-wise relative error per function.
"""
import ast
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load_defs(path):
    """Imports, defs, classes and assignments that do not fail; notebooks: code cells without magics."""
    if path.endswith(".ipynb"):
        nb = json.load(open(path, encoding="utf-8-sig"))
        lines = []
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            if src.startswith("%%"):
                continue
            lines += [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")) and "= !" not in ln]
        source = "\n".join(lines)
    else:
        source = open(path, encoding="utf-8-sig").read()
        if source.lstrip().startswith("{"):
            return load_defs(path + ".ipynb") if os.path.exists(path + ".ipynb") else load_notebook_text(source, path)
    ns = {"__name__": "fixture"}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.Try)):
            try:
                exec(compile(ast.Module([node], []), path, "exec"), ns)
            except Exception:
                pass
    return ns


def load_notebook_text(text, path):
    tmp = path + ".tmp.ipynb"
    with open(tmp, "w") as fh:
        fh.write(text)
    try:
        return load_defs(tmp)
    finally:
        os.remove(tmp)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float).reshape(np.shape(a))
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def numgrad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + eps
        fp = f()
        x[ix] = old - eps
        fm = f()
        x[ix] = old
        g[ix] = (fp - fm) / (2 * eps)
    return g


def check_cs231n(ns, rng, numgrad=numgrad):
    N, T, D, H = 3, 4, 5, 6
    out = {}
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)) * .5, rng.normal(size=(H, H)) * .5, rng.normal(size=H) * .5
    dh = rng.normal(size=(N, T, H))
    L = lambda: np.sum(dh * ns["rnn_forward"](x, h0, Wx, Wh, b)[0])
    grads = ns["rnn_backward"](dh.copy(), ns["rnn_forward"](x, h0, Wx, Wh, b)[1])
    out["rnn_backward"] = max(rel(g, numgrad(L, v)) for g, v in zip(grads, (x, h0, Wx, Wh, b)))
    dn, x0 = dh[:, 0], x[:, 0].copy()
    L = lambda: np.sum(dn * ns["rnn_step_forward"](x0, h0, Wx, Wh, b)[0])
    grads = ns["rnn_step_backward"](dn.copy(), ns["rnn_step_forward"](x0, h0, Wx, Wh, b)[1])
    out["rnn_step_backward"] = max(rel(g, numgrad(L, v)) for g, v in zip(grads, (x0, h0, Wx, Wh, b)))
    Wx, Wh, b = rng.normal(size=(D, 4 * H)) * .5, rng.normal(size=(H, 4 * H)) * .5, rng.normal(size=4 * H) * .5
    L = lambda: np.sum(dh * ns["lstm_forward"](x, h0, Wx, Wh, b)[0])
    grads = ns["lstm_backward"](dh.copy(), ns["lstm_forward"](x, h0, Wx, Wh, b)[1])
    out["lstm_backward"] = max(rel(g, numgrad(L, v)) for g, v in zip(grads, (x, h0, Wx, Wh, b)))
    xt, c0, dc = x[:, 0].copy(), rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def Ls():
        nh, nc, _ = ns["lstm_step_forward"](xt, h0, c0, Wx, Wh, b)
        return np.sum(dn * nh) + np.sum(dc * nc)
    grads = ns["lstm_step_backward"](dn.copy(), dc.copy(), ns["lstm_step_forward"](xt, h0, c0, Wx, Wh, b)[2])
    out["lstm_step_backward"] = max(rel(g, numgrad(Ls, v)) for g, v in zip(grads, (xt, h0, c0, Wx, Wh, b)))
    return out


def check_dlai(ns, rng):
    n_x, n_a, n_y, m, T = 3, 5, 2, 4, 6
    out = {}
    x, a0 = rng.normal(size=(n_x, m, T)), rng.normal(size=(n_a, m))
    p = {"Wax": rng.normal(size=(n_a, n_x)), "Waa": rng.normal(size=(n_a, n_a)) * .5, "Wya": rng.normal(size=(n_y, n_a)),
         "ba": rng.normal(size=(n_a, 1)), "by": rng.normal(size=(n_y, 1))}
    da = rng.normal(size=(n_a, m, T))
    L = lambda: np.sum(da * ns["rnn_forward"](x, a0, p)[0])
    g = ns["rnn_backward"](da.copy(), ns["rnn_forward"](x, a0, p)[2])
    out["rnn_backward"] = max(rel(g[k], numgrad(L, v)) for k, v in
                              (("dx", x), ("da0", a0), ("dWax", p["Wax"]), ("dWaa", p["Waa"]), ("dba", p["ba"])))
    xt = x[:, :, 0].copy()
    L = lambda: np.sum(da[:, :, 0] * ns["rnn_cell_forward"](xt, a0, p)[0])
    g = ns["rnn_cell_backward"](da[:, :, 0].copy(), ns["rnn_cell_forward"](xt, a0, p)[2])
    out["rnn_cell_backward"] = max(rel(g[k], numgrad(L, v)) for k, v in
                                   (("dxt", xt), ("da_prev", a0), ("dWax", p["Wax"]), ("dWaa", p["Waa"]), ("dba", p["ba"])))
    p = {}
    for gname in "fico":
        p["W" + gname] = rng.normal(size=(n_a, n_a + n_x)) * .5
        p["b" + gname] = rng.normal(size=(n_a, 1)) * .5
    p["Wy"], p["by"] = rng.normal(size=(n_y, n_a)), rng.normal(size=(n_y, 1))
    keys = [("dx", x), ("da0", a0)] + [("d" + k, p[k]) for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")]
    L = lambda: np.sum(da * ns["lstm_forward"](x, a0, p)[0])
    g = ns["lstm_backward"](da.copy(), ns["lstm_forward"](x, a0, p)[3])
    out["lstm_backward"] = max(rel(g[k], numgrad(L, v)) for k, v in keys)
    c0, dc = rng.normal(size=(n_a, m)), rng.normal(size=(n_a, m))

    def Lc():
        an, cn, _, _ = ns["lstm_cell_forward"](xt, a0, c0, p)
        return np.sum(da[:, :, 0] * an) + np.sum(dc * cn)
    keys = [("dxt", xt), ("da_prev", a0), ("dc_prev", c0)] + keys[2:]
    g = ns["lstm_cell_backward"](da[:, :, 0].copy(), dc.copy(), ns["lstm_cell_forward"](xt, a0, c0, p)[3])
    out["lstm_cell_backward"] = max(rel(g[k], numgrad(Lc, v)) for k, v in keys)
    return out


def check_minchar(ns, rng):
    H, V, T = 7, 5, 6
    ns.update(hidden_size=H, vocab_size=V, seq_length=T)
    params = {"Wxh": rng.normal(size=(H, V)) * .3, "Whh": rng.normal(size=(H, H)) * .3,
              "Why": rng.normal(size=(V, H)) * .3, "bh": rng.normal(size=(H, 1)) * .1, "by": rng.normal(size=(V, 1)) * .1}
    ns.update(params)
    inputs, targets = list(rng.integers(V, size=T)), list(rng.integers(V, size=T))
    hprev = rng.normal(size=(H, 1)) * .5
    res = ns["lossFun"](inputs, targets, hprev)
    L = lambda: float(np.sum(ns["lossFun"](inputs, targets, hprev)[0]))  # a (1,) loss counts too
    assert max(np.abs(r).max() for r in res[1:6]) < 4.9, "probe reached the clip"
    return {"lossFun": max(rel(g, numgrad(L, params[k])) for g, k in zip(res[1:6], ("Wxh", "Whh", "Why", "bh", "by")))}


def check_course(ns, rng):
    T, D, H, K = 6, 3, 4, 5
    x, o, h0 = rng.normal(size=(T, D)), rng.integers(K, size=T), rng.normal(size=H) * .5
    U, V, W = rng.normal(size=(H, D)), rng.normal(size=(H, H)) * .5, rng.normal(size=(K, H))

    def L():
        h = h0
        E = 0.0
        for t in range(T):
            h = np.tanh(U @ x[t] + V @ h)
            z = W @ h
            E -= z[o[t]] - np.log(np.exp(z).sum())
        return E
    grads = ns["bptt"](x, o, h0, U, V, W)
    return {"bptt": max(rel(g, numgrad(L, v)) for g, v in zip(grads, (U, V, W)))}


def check_cs231n_float32(ns, rng):
    """A float32 file: its forward against a float64 file's on the same probes (the objective values L),
    and its gradients against differences of its own forward with ε = 1e-2 (float32 cannot resolve 1e-6)."""
    ref = load_defs(os.path.join(HERE, "cs231n_loops.py"))
    got, exp = _objectives(ns), _objectives(ref)
    out = {"forward L vs float64": max(abs(g - e) / (abs(e) + 1e-12) for g, e in zip(got, exp))}
    out.update(check_cs231n(ns, rng, numgrad=lambda f, x: numgrad(f, x, eps=1e-2)))
    return out


def _objectives(module):
    """The values of the objectives check_cs231n differences, at its unperturbed inputs (seeded probe)."""
    seen = []
    check_cs231n(module, np.random.default_rng(0), numgrad=lambda f, x: (seen.append(f()), np.zeros_like(x))[1])
    return seen


def check_course_lstm(ns, rng):
    T, D, H, K = 5, 3, 4, 6
    x, o = rng.normal(size=(T, D)), rng.integers(K, size=T)
    h0, c0 = rng.normal(size=H) * .5, rng.normal(size=H) * .5
    params = {f"{m}_{g}": rng.normal(size=(H, D if m == "U" else H)) * .6 for m in "UV" for g in "figq"}
    params["W"] = rng.normal(size=(K, H))
    sig = lambda z: 1 / (1 + np.exp(-z))

    def L():
        h, c, E = h0, c0, 0.0
        for t in range(T):
            pre = {g: params["U_" + g] @ x[t] + params["V_" + g] @ h for g in "figq"}
            c = sig(pre["f"]) * c + sig(pre["i"]) * np.tanh(pre["g"])
            h = sig(pre["q"]) * np.tanh(c)
            z = params["W"] @ h
            E -= z[o[t]] - np.log(np.exp(z).sum())
        return E
    grads = ns["bptt"](x, o, h0, c0, params)
    return {"bptt": max(rel(grads[k], numgrad(L, params[k])) for k in params)}


def check_adapter(ns, rng):
    """adapter_student_rnn.py: the VanillaRNN class, batch first."""
    B, T, D, H = 3, 5, 4, 6
    X, h0, dH = rng.normal(size=(B, T, D)), rng.normal(size=(B, H)), rng.normal(size=(B, T, H))
    Wxh, Whh, bh = rng.normal(size=(D, H)) * .5, rng.normal(size=(H, H)) * .5, rng.normal(size=H) * .5
    layer = lambda: ns["VanillaRNN"](Wxh, Whh, bh)
    L = lambda: np.sum(dH * layer().forward(X, h0))
    net = layer()
    net.forward(X, h0)
    g = net.backward(dH)
    return {"VanillaRNN.backward": max(rel(g[k], numgrad(L, v)) for k, v in
                                       (("dX", X), ("dh0", h0), ("dWxh", Wxh), ("dWhh", Whh), ("dbh", bh)))}


CHECKS = {"adapter": check_adapter, "cs231n": check_cs231n, "deeplearning-ai": check_dlai, "min-char-rnn": check_minchar, "course": check_course}

if __name__ == "__main__":
    import tempfile
    os.chdir(tempfile.mkdtemp())   # fixtures may write files at import (cs231n_chatty.py)
    manifest = json.load(open(os.path.join(HERE, "manifest.json")))
    worst = 0.0
    for case in manifest["cases"]:
        if case["expect"] != "pass":
            continue
        with np.errstate(all="ignore"):
            check = check_cs231n_float32 if "float32" in case["file"] else CHECKS[case["convention"]]
            if case["convention"] == "course" and case["model"] == "lstm":
                check = check_course_lstm
            errs = check(load_defs(os.path.join(HERE, case["file"])), np.random.default_rng(0))
        worst = max(worst, *errs.values())
        print(f"{case['file']:34s} " + "  ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    print(f"worst {worst:.1e}")
