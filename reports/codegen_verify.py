"""Verify a generated module with the numeric oracles before it is written (issue 4).

Lives in reports/ because derive/ must not import numeric/ and numeric/ must not import derive/: the
generated module reaches the oracles only as plain callables (``loss``, ``loss_and_grads``).

What is checked (docs/codegen.md): every gradient (parameters, xs, initial states) of the generated code
- against the hand-written model (built-in cells; "exact" row of the tolerance table),
- against the complex step and central differences of the generated ``loss`` (its forward is analytic),
- in float32 against the generated float64 run,
at several random sizes, plus the directional test at a larger size. With ``truncate=k`` the numerical
oracles differentiate the truncated objective (docs/models.md), built from the generated ``loss`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from numeric import models
from numeric.gradcheck import LoopObjective, numerical_gradients
from numeric.gradcheck.compare import Comparison, compare
from numeric.gradcheck.tolerances import step
from numeric.gradcheck.verify import (Verification, compare_to_estimates, compare_to_implementation,
                                      directional_comparison, point_sizes, random_point)

#: (dtype, (D, H, K, T, B), seed) of the per-entry checks; kept small so `bptt codegen` stays fast
RUNS = [("float64", (3, 4, 3, 4, 2), 0), ("float64", (2, 3, 4, 5, 3), 1), ("float32", (3, 4, 3, 4, 2), 2)]
#: the directional test's size: every gradient at once, along random directions
LARGE = (16, 32, 10, 20, 8)


class TruncatedLoss:
    """Σ_t E_t with the states k steps back held at their values at the point: the truncated objective.

    E_t is the loss of the window (s … t) minus that of (s … t−1), both from the frozen state at s − 1
    (or the variable initial state when s = 0), using the generated ``loss`` only.
    """

    def __init__(self, module, params, xs, targets, state0, k: int):
        self.module, self.k = module, k
        sizes, dtype, full = module._checked(params, xs, targets, dict(state0))
        o = (module._targets if hasattr(module, "_targets") else module._one_hot)(
            targets, sizes[module.CLASS_DIM], dtype)
        _, tape = module._forward(params, xs, o, full, sizes, dtype)
        arrays = dict(zip(module.TAPE, tape))
        self.frozen = {init: arrays[name] for init, name in module.STATES.items()}

    def __call__(self, params, xs, targets, h0=None, **state0):
        state0 = {"h0": h0, **state0} if h0 is not None else state0
        total = 0
        for t in range(xs.shape[0]):
            s = max(0, t - self.k + 1)
            start = state0 if s == 0 else {k: v[s - 1] for k, v in self.frozen.items()}
            total = total + self.module.loss(params, xs[s:t + 1], targets[s:t + 1], **start)
            if t > s:
                total = total - self.module.loss(params, xs[s:t], targets[s:t], **start)
        return total


@dataclass
class CodegenVerification:
    """Every run's :class:`~numeric.gradcheck.verify.Verification` of one generated module.

    ``notes`` say what was adapted to the cell (points chosen away from relu's kink, oracles left out).
    """

    cell: str
    hand_written: bool
    truncate: int | None
    bias: bool
    runs: list[Verification] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.runs)

    def worst(self) -> dict[str, float]:
        """The largest error per oracle over all runs and gradients."""
        out: dict[str, float] = {}
        for r in self.runs:
            for c in r.comparisons:
                key = f"{c.oracle} ({r.dtype})"
                out[key] = max(out.get(key, 0.0), c.error)
        return out

    def header_lines(self, version: str) -> list[str]:
        """What the generated file's header says about its verification."""
        lines = [f"bptt {version}; {'PASSED' if self.passed else 'FAILED'}; truncate={self.truncate}; "
                 f"every gradient (parameters, xs, initial states), norm-wise relative error ≤ tolerance"]
        if not self.hand_written:
            lines.append("no hand-written model exists for this cell: numerical oracles only")
        lines += self.notes
        for r in self.runs:
            sizes = " ".join(f"{k}={v}" for k, v in r.sizes.items())
            worst: dict[str, float] = {}
            for c in r.comparisons:
                worst[c.oracle] = max(worst.get(c.oracle, 0.0), c.error)
            lines.append(f"{r.dtype} {sizes} seed {r.seed}: " +
                         ", ".join(f"{o} {e:.1e}" for o, e in worst.items()))
        return lines


#: oracles that perturb by a finite step (they may step across relu's kink)
DIFFERENCES = ("central", "richardson")
#: a point is "away from the kink" when every relu argument is this many largest steps from 0
KINK_SAFETY = 20
#: how many points are tried (seed, seed + 1000, …) before the differences are left out
KINK_TRIES = 50


def _point(module, sizes, dtype, seed, dims=None):
    D, H, K, T, B = sizes
    return random_point(module, D, H, K, T, B, dtype=dtype, seed=seed, dims=dims)


def _kink_free_point(module, sizes, dtype, seed, oracles, dims):
    """(point, seed used, margin) with every relu argument ≥ KINK_SAFETY × the largest step from 0, or
    (point at ``seed``, None, margin) when no such point was found in KINK_TRIES draws."""
    need = KINK_SAFETY * max(step(dtype, o) for o in oracles if o in DIFFERENCES)
    margin = None
    for i in range(KINK_TRIES):
        pt = _point(module, sizes, dtype, seed + 1000 * i, dims)
        m = module.kink_margin(pt.params, pt.xs, **pt.state0)
        margin = m if i == 0 else margin
        if m >= need:
            return pt, seed + 1000 * i, m, need
    return _point(module, sizes, dtype, seed, dims), None, margin, need


def _run(module, name, bias, sizes, dtype, seed, truncate, hand, oracles, directions, dims=None,
         notes=None, evaluator=None) -> Verification:
    notes = [] if notes is None else notes
    kinks = getattr(module, "KINKS", ())
    used = seed
    if kinks and any(o in DIFFERENCES for o in oracles):
        point, used, margin, need = _kink_free_point(module, sizes, dtype, seed, oracles, dims)
        if used is None:
            oracles = tuple(o for o in oracles if o not in DIFFERENCES)
            notes.append(f"{dtype} seed {seed}: {', '.join(sorted(kinks))} has an argument within {need:.0e} of "
                         f"its kink at every one of {KINK_TRIES} points tried; finite differences left out "
                         f"(the complex step is exact on either side of the kink)")
            used = seed
        else:
            notes.append(f"{dtype} seed {seed}: {', '.join(sorted(kinks))} kink avoided: point seed {used}, every "
                         f"argument at least {margin:.1e} from the kink (≥ {KINK_SAFETY} × the largest step "
                         f"{need / KINK_SAFETY:.0e})")
    else:
        point = _point(module, sizes, dtype, seed, dims)
    E, grads = module.loss_and_grads(point.params, point.xs, point.targets, truncate=truncate, **point.state0)
    T, B = sizes[3], sizes[4]
    all_sizes = {**point_sizes(module, *sizes[:3], dims), "T": T, "B": B}
    result = Verification(name, dtype, all_sizes, used, truncate, bias, float(E))
    if evaluator is not None:
        result.comparisons += forward_comparisons(module, evaluator, point, dtype, float(E))
    loss = module.loss
    if truncate is not None and truncate < T:
        loss = TruncatedLoss(module, point.params, point.xs, point.targets, point.state0, truncate)
    objective = LoopObjective(loss, point.params, point.xs, point.targets, point.state0)
    estimates = {oracle: numerical_gradients(objective, list(grads), oracle) for oracle in oracles}
    result.comparisons += compare_to_estimates(grads, estimates, dtype, float(E))
    if hand is not None:
        _, g_ref = hand.loss_and_grads(point.params, point.xs, point.targets, truncate=truncate, **point.state0)
        result.comparisons += compare_to_implementation(grads, g_ref, "hand-written", dtype, float(E))
    if dtype == "float32":  # the generated code in float64 is the tighter reference for its float32 run
        p64 = point.astype(np.float64)
        g64 = module.loss_and_grads(p64.params, p64.xs, p64.targets, truncate=truncate, **p64.state0)[1]
        result.comparisons += compare_to_estimates(grads, {"float64": g64}, dtype, float(E))
    if directions:
        result.comparisons.append(directional_comparison(objective, grads, directions, dtype, seed))
    return result


def forward_comparisons(module, evaluator, point, dtype, loss: float) -> list[Comparison]:
    """The generated forward on its own: E and every step's states and prediction against the cell's
    SymPy program evaluated numerically (:class:`derive.evaluate.Evaluator`, in float64), "exact" row.

    Only ``loss`` is differentiated by the oracles, so a wrong forward with a backward consistent with it
    would pass them; this comparison catches it."""
    p64 = point.astype(np.float64)
    ref = evaluator.forward(p64.params, p64.xs, p64.state0)
    got = module.forward(point.params, point.xs, **point.state0)
    E_ref = evaluator.loss(p64.params, p64.xs, point.targets, p64.state0)
    E_got = module.loss(point.params, point.xs, point.targets, **point.state0)
    out = [compare("forward E", np.atleast_1d(np.asarray(E_got, np.float64)), np.atleast_1d(E_ref), "exact",
                   dtype, loss)]
    out += [compare(f"forward {name}", np.asarray(value, np.float64), ref[name], "exact", dtype, loss)
            for name, value in got.items()]
    return [Comparison(**{**c.as_dict(), "oracle": "SymPy program"}) for c in out]


def verify_generated(gen, truncate: int | None = None, runs=RUNS, large=LARGE,
                     oracles=("complex-step", "central"), directions: int = 3, seed: int = 0,
                     dims: dict[str, int] | None = None) -> CodegenVerification:
    """Check a :class:`derive.codegen.Generated` module at every run of ``runs`` and the directional
    test at ``large``.

    Args:
        gen: the generated module (``derive.codegen.generate``).
        truncate: None or k ≥ 1, as ``loss_and_grads`` takes it.
        runs: (dtype, (D, H, K, T, B), seed) of the per-entry checks; ``seed`` is added to each.
        large: (D, H, K, T, B) of the directional test (float64), or None to skip it.
        oracles: the per-entry numerical oracles.
        directions: random directions of the directional test.
        seed: shifts every run's seed (``bptt codegen --seed``).
        dims: sizes of dimensions other than D, H, K (``dims D H S K``), by name; others get H + 1.
    """
    from derive.evaluate import Evaluator

    name, bias = gen.name, gen.cell.bias
    hand = models.get(name, bias=bias) if name in models.names() and _is_builtin(gen) else None
    out = CodegenVerification(name, hand is not None, truncate, bias)
    evaluator = Evaluator(gen.cell)
    for dtype, sizes, run_seed in runs:
        out.runs.append(_run(gen.module, name, bias, sizes, dtype, seed + run_seed, truncate, hand, oracles, 0,
                             dims, out.notes, evaluator))
    if large is not None:
        r = _run(gen.module, name, bias, large, "float64", seed + 7, truncate, hand, (), directions, dims)
        out.runs.append(r)
    if getattr(gen.module, "KINKS", ()) and "complex-step" in oracles:
        from derive.functions import REGISTRY

        where = ", ".join(f"{name} is not analytic at {', '.join(map(str, REGISTRY[name].kinks))}"
                          for name in gen.module.KINKS)
        out.notes.append(f"{where}; the complex step is exact on either side of the kink and is used as it is")
    return out


def _is_builtin(gen) -> bool:
    return gen.origin.startswith("the built-in cell")


def demo_excerpt(model: str = "rnn", lines: int = 30):
    """For `bptt demo`: (an excerpt of the generated backward pass, its verification).

    Returns:
        (excerpt, result): the step function of the generated ``loss_and_grads`` and the full-BPTT loop that
        calls it, as source text (at most ``lines`` lines), and the
        :class:`~numeric.gradcheck.verify.Verification` of the generated code at the first float64 run
        (hand-written model, complex step, central differences, directional test).
    """
    from derive.codegen import generate

    gen = generate(model)
    src = gen.source.splitlines()
    start = next(i for i, l in enumerate(src) if l.strip().startswith("def backward_step("))
    branch = next(i for i, l in enumerate(src) if "if truncate is None or truncate >= T:" in l)
    stop = next(i for i, l in enumerate(src) if i > branch and l.startswith("    else:"))
    excerpt = "\n".join(l[4:] for l in src[start:min(stop, start + lines)])
    dtype, sizes, seed = RUNS[0]
    hand = models.get(model) if model in models.names() else None
    result = _run(gen.module, model, True, sizes, dtype, seed, None, hand, ("complex-step", "central"), 3)
    return excerpt, result
