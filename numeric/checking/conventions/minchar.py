"""Karpathy's min-char-rnn: ``lossFun(inputs, targets, hprev)`` reading module globals.

    lossFun(inputs: list[int] (T,), targets: list[int] (T,), hprev (H, 1))
        -> loss, dWxh (H, V), dWhh (H, H), dWhy (V, H), dbh (H, 1), dby (V, 1), h_T (H, 1)

Globals set before every call: Wxh = U, Whh = V, Why = W, bh = b, by = c (the reference's names),
hidden_size = H, vocab_size = V, seq_length = T. Inputs are one-hot columns of size V; the loss is summed
over time (Σ_t −log p_t[target_t]). The file is a script: it is loaded with ``--load defs`` — only its
imports, function/class definitions and plain assignments run (an assignment that fails, like
``data = open('input.txt').read()``, is skipped; one that calls a function of the file is skipped), so
the training loop never runs.

Class ports (``class RNN: def lossFun(self, inputs, targets, hprev)`` reading ``self.Wxh``, …): when the
file has no module-level ``lossFun``, the method is called on an instance of the file's class that
defines it — the one the file creates at module level if it does (``--load module``), else a new one made
without ``__init__`` (which may read data or train) — and the same weights and sizes are set as the
instance's attributes as well as module globals.
"""

from __future__ import annotations

import ast

import numpy as np

from numeric.checking.case import Case, Observation, Output, unpack
from numeric.checking.compare import Axes
from numeric.checking.reference import Probe, loss_clip_probe, make_probe, reference_outputs

GLOBALS = {"Wxh": "U", "Whh": "V", "Why": "W", "bh": "b", "by": "c"}
OUTPUTS = ["loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last"]


CLIP = 5.0  # the template clips every gradient to ±5 inside lossFun


def _probes() -> list[Probe]:
    """Two verdict probes on which no gradient comes near the template's ±5 clip (redrawn until every
    entry stays below 0.8 × 5), and one "clip" probe on which every gradient has an entry ≥ 12
    (``loss_clip_probe``), where clipping of any gradient at ±1, ±5 or ±10 shows: a submission that clips
    is reported (policy: clips-gradients-at τ), not failed."""
    return [_below_clip(31, T=6, D=5, H=4), _below_clip(32, T=9, D=7, H=6),
            loss_clip_probe("rnn", True, 33, T=25, D=4, H=8, K=4, one_hot=True, role="clip")]


def _below_clip(index: int, T: int, D: int, H: int) -> Probe:
    for attempt in range(50):
        probe = make_probe("rnn", True, index + 1000 * attempt, T=T, D=D, H=H, K=D, B=1, one_hot=True)
        ref = reference_outputs(probe)
        if max(float(np.max(np.abs(ref[k]))) for k in GLOBALS.values()) < 0.8 * CLIP:
            return probe
    raise RuntimeError("no min-char-rnn probe below the clipping bound")  # not reached: ~1 in 3 draws suffices


def _method_note(sandbox) -> list[str]:
    """Say so when lossFun is a method (read from the file with ast in the checker; nothing runs here)."""
    prepared = getattr(sandbox, "prepared", None)
    try:
        tree = ast.parse(prepared.files[prepared.main])
    except (AttributeError, KeyError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    owners = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and any(
        isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == "lossFun" for m in n.body)]
    if "lossFun" in functions or not owners:
        return []
    return [f"lossFun is a method of class {owners[0]}: called on the instance the file creates at module "
            "level, else on a new one made without __init__; Wxh, Whh, Why, bh, by, hidden_size, vocab_size "
            "and seq_length are set as its attributes (and as module globals)"]


def cases() -> list[Case]:
    outputs = [Output("loss", "forward", "Σ_t −log p_t[target_t], a scalar"),
               Output("h_last", "forward", "h_T, (H, 1)")]
    outputs += [Output(name, "gradient", f"∂loss/∂{name[1:]}, {shape}", Axes(), (GLOBALS[name[1:]],))
                for name, shape in (("dWxh", "(H, V)"), ("dWhh", "(H, H)"), ("dWhy", "(V, H)"),
                                    ("dbh", "(H, 1)"), ("dby", "(V, 1)"))]

    def call(sandbox, probe: Probe) -> Observation:
        s = probe.sizes
        globs = {g: probe.params[r] for g, r in GLOBALS.items()}
        globs.update(hidden_size=s["H"], vocab_size=s["D"], seq_length=s["T"])
        inputs = [int(i) for i in probe.extra["inputs"]]
        targets = [int(i) for i in probe.targets[:, 0]]
        outcome = sandbox.call("lossFun", [inputs, targets, probe.h0.copy()], set_globals=globs, find_method=True)
        obs = unpack(outcome, OUTPUTS, "lossFun", ["inputs", "targets", "hprev"])
        obs.notes.extend(_method_note(sandbox))
        return obs

    def convert(ref: dict, probe: Probe) -> dict:
        out = {}
        if "E" in ref:
            out["loss"] = np.asarray(ref["E"], dtype=np.float64).reshape(())
        if "hs" in ref:
            out["h_last"] = ref["hs"][-1].copy()
        for g, r in GLOBALS.items():
            if r in ref:
                out["d" + g] = ref[r]
        return out

    return [Case("lossFun", "rnn", outputs, _probes(), call, convert)]
