"""Name the known mistake whose numbers match the student's.

For every probe the reference is run again with each mistake variant (``mistakes.run``) and read in the
convention's layout; variants that are a transformation of the right answer (mean instead of sum,
clipping, a transposed weight gradient) are built from the reference and the student's own numbers
(the clipping threshold, the averaging factor). Matching is per output array:

- an output is *wrong* when it differs from the reference (``compare.close``);
- a variant *explains* a wrong output when the student's array equals the variant's;
- coverage = explained / wrong, over all probes; consistency = the share of the outputs the variant
  changes that the student also got wrong (a variant that would also break outputs the student got right
  is a worse explanation).

Confidence: full coverage → 0.6 + 0.35 × consistency (divided among identifiers that tie exactly);
partial coverage → 0.5 × coverage; nothing reproduced → the closest variant, at most 0.2.
"""

from __future__ import annotations

import itertools

import numpy as np

from numeric.checking import mistakes
from numeric.checking.case import Case
from numeric.checking.compare import close, rel
from numeric.checking.reference import Probe
from numeric.checking.results import Diagnosis

ENGINE_MODELS = ("rnn", "lstm")
MATCH_TOL = 1e-6
_ROUND = (0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)


def _as_array(value):
    return value if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" else None


def diagnose(case: Case, probes: list[Probe], students: list[dict], refs: list[dict],
             tol: float = MATCH_TOL) -> list[Diagnosis]:
    """Rank known mistakes by how well they reproduce the student's outputs.

    Args:
        case: the test (its outputs, converter, model).
        probes: the probes run, in order.
        students: per probe, {output name: the student's raw value} (only probes that were called).
        refs: per probe, {output name: reference array} in the convention's layout.
    """
    names = [o.name for o in case.outputs]
    kinds = {o.name: o.kind for o in case.outputs}
    wrong = set()
    for p, (stu, ref) in enumerate(zip(students, refs)):
        for name in names:
            if name in ref and name in stu and not close(_as_array(stu.get(name)), ref[name], tol):
                wrong.add((p, name))
    if not wrong:
        return []
    candidates = _engine_candidates(case, probes[:len(students)], students, refs, wrong, tol)
    candidates += _posthoc_candidates(case, probes[:len(students)], students, refs, wrong, kinds, tol)
    return _rank(candidates, wrong, students, refs, tol)


def _engine_candidates(case, probes, students, refs, wrong, tol, with_distances=False):
    """Run every variant, first on the short probes; only variants that reproduce something there (or that
    change nothing there, like a long truncation, when the short probes are right) go on to the long ones."""
    if case.model not in ENGINE_MODELS:
        return []
    T = max(p.sizes["T"] for p in probes)
    short = [p for p, probe in enumerate(probes) if probe.sizes["T"] <= 10] or [0]
    wrong_short = any(p in short for p, _n in wrong)
    out = []
    for variant in mistakes.engine_variants(case.model, T, case.upstream):
        covered, changed, dist = set(), set(), []
        for stage in (short, [p for p in range(len(probes)) if p not in short]):
            if stage is not short and not with_distances:
                if wrong_short and not covered:
                    break
                if not wrong_short and changed:
                    break
            for p in stage:
                _evaluate(case, probes[p], p, variant, students, refs, wrong, tol, with_distances,
                          covered, changed, dist)
        if changed:
            out.append((variant.mistake, variant.label, covered, changed, dist))
    if not with_distances and not any(c[2] for c in out) and out:
        return _engine_candidates(case, probes, students, refs, wrong, tol, with_distances=True)
    return out


def _evaluate(case, probe, p, variant, students, refs, wrong, tol, with_distances, covered, changed, dist):
    raw = mistakes.run(case.model, probe.params, probe.xs, probe.h0, probe.c0, targets=probe.targets,
                       dhs=probe.dhs, dc_last=probe.dc_last, variant=variant)
    for name, arr in case.convert(raw, probe).items():
        if name not in refs[p]:
            continue
        if not close(arr, refs[p][name], tol):
            changed.add((p, name))
        stu = _as_array(students[p].get(name))
        if (p, name) in wrong and stu is not None and stu.shape == arr.shape:
            if close(stu, arr, tol):
                covered.add((p, name))
            elif with_distances:
                dist.append((rel(stu, arr), rel(stu, refs[p][name])))


def _posthoc_candidates(case, probes, students, refs, wrong, kinds, tol):
    """Mean instead of sum, clipping, transposed gradients: judged array by array."""
    found = {"mean-instead-of-sum": set(), "clipping-in-backward": set(), "transposed-weight-gradient": set(),
             "gate-order": set()}
    labels = {k: set() for k in found}
    for p, name in wrong:
        if kinds.get(name) not in ("gradient", "forward"):
            continue
        stu, ref = _as_array(students[p].get(name)), refs[p][name]
        if stu is None:
            continue
        s = probes[p].sizes
        if kinds[name] == "gradient" and stu.ndim == 2 and stu.shape == ref.T.shape and close(stu, ref.T, tol):
            found["transposed-weight-gradient"].add((p, name))
            labels["transposed-weight-gradient"].add(f"{name} returned transposed")
            continue
        if stu.shape != ref.shape or not np.any(ref):
            continue
        factor = float(np.vdot(stu, ref) / np.vdot(ref, ref))
        if close(stu, factor * ref, tol) and 0 < factor < 1:
            for n, what in ((s["T"], "T"), (s["B"], "the batch size"), (s["T"] * s["B"], "T × batch")):
                if n > 1 and abs(factor * n - 1) < 1e-6:
                    found["mean-instead-of-sum"].add((p, name))
                    labels["mean-instead-of-sum"].add(f"{name} = reference / {what} ({n})")
                    break
            else:
                norm = float(np.linalg.norm(stu))
                if any(abs(norm - r) < 1e-6 * r for r in _ROUND):
                    found["clipping-in-backward"].add((p, name))
                    labels["clipping-in-backward"].add(f"{name} rescaled to norm {norm:g}")
            continue
        tau = float(np.max(np.abs(stu)))
        if tau > 0 and np.max(np.abs(ref)) > tau and close(stu, np.clip(ref, -tau, tau), tol):
            found["clipping-in-backward"].add((p, name))
            labels["clipping-in-backward"].add(f"{name} = clip(reference, ±{tau:g})")
    _global_norm_clipping(probes, students, refs, wrong, kinds, tol, found, labels)
    _gate_swaps(case, students, refs, wrong, tol, found, labels)
    return [(m, "; ".join(sorted(labels[m])[:3]), cov, set(cov), []) for m, cov in found.items() if cov]


def _global_norm_clipping(probes, students, refs, wrong, kinds, tol, found, labels):
    """All gradients rescaled by one factor so that their joint norm is a round threshold."""
    for p in {p for p, _n in wrong}:
        grads = [n for n, k in kinds.items() if k == "gradient" and n in refs[p]]
        arrays = [(_as_array(students[p].get(n)), refs[p][n]) for n in grads]
        if not arrays or any(s is None or s.shape != r.shape for s, r in arrays):
            continue
        total = float(np.sqrt(sum(np.vdot(r, r) for _s, r in arrays)))
        stu_total = float(np.sqrt(sum(np.vdot(s, s) for s, _r in arrays)))
        if not total or stu_total >= total:
            continue
        factor = stu_total / total
        if all(close(s, factor * r, tol) for s, r in arrays) and any(abs(stu_total - t) < 1e-6 * t for t in _ROUND):
            for n in grads:
                if (p, n) in wrong:
                    found["clipping-in-backward"].add((p, n))
            labels["clipping-in-backward"].add(f"all gradients rescaled to a joint norm of {stu_total:g}")


def _gate_swaps(case, students, refs, wrong, tol, found, labels):
    """Gate blocks (cs231n's packed i, f, o, g) or per-gate outputs (course's dU_f, dU_i, …) returned in
    another gate's place."""
    names = [o.name for o in case.outputs]
    for p, name in wrong:
        stu, ref = _as_array(students[p].get(name)), refs[p][name]
        output = next(o for o in case.outputs if o.name == name)
        if stu is not None and output.axes.gates and stu.shape == ref.shape:
            axis, gates = output.axes.gates
            s_blocks = np.split(stu, len(gates), axis=axis)
            r_blocks = np.split(ref, len(gates), axis=axis)
            for perm in itertools.permutations(range(len(gates))):
                if perm != tuple(range(len(gates))) and all(close(s_blocks[k], r_blocks[perm[k]], tol)
                                                           for k in range(len(gates))):
                    found["gate-order"].add((p, name))
                    labels["gate-order"].add(f"{name} blocks in order {','.join(gates[k] for k in perm)}")
                    break
        gate = name.rsplit("_", 1)
        if stu is not None and len(gate) == 2 and len(gate[1]) == 1:
            for other in names:
                if other != name and other.rsplit("_", 1)[0] == gate[0] and other in refs[p] \
                        and close(stu, refs[p][other], tol):
                    found["gate-order"].add((p, name))
                    labels["gate-order"].add(f"{name} holds the gradient of {other[1:]}")
                    break


def _rank(candidates, wrong, students, refs, tol) -> list[Diagnosis]:
    best: dict[str, tuple] = {}
    for mistake, label, covered, changed, dist in candidates:
        coverage = len(covered) / len(wrong)
        consistency = len(covered & changed) / len(changed) if changed else 0.0
        if coverage == 0:
            ratios = [a / b for a, b in dist if b > 0]
            closeness = 1 - min(1.0, float(np.median(ratios))) if ratios else 0.0
            key = (0.0, 0.0, closeness)
        else:
            key = (coverage, consistency, 1.0)
        if mistake not in best or key > best[mistake][0]:
            best[mistake] = (key, label, covered, changed)
    if not best:
        return []
    full = [m for m, (key, *_r) in best.items() if key[0] == 1.0 and key[1] == 1.0]
    out = []
    for mistake, (key, label, covered, changed) in best.items():
        coverage, consistency, closeness = key
        if coverage == 1.0:
            conf = 0.6 + 0.35 * consistency
            if mistake in full and len(full) > 1:
                conf /= len(full)
        elif coverage > 0:
            conf = 0.5 * coverage
        else:
            conf = 0.2 * closeness
        if conf < 0.02:
            continue
        out.append(Diagnosis(mistake, round(conf, 3), _evidence(mistake, label, covered, changed, wrong,
                                                                  coverage)))
    out.sort(key=lambda d: -d.confidence)
    # weak secondary candidates are noise next to a strong one
    return [d for i, d in enumerate(out[:3]) if i == 0 or d.confidence >= 0.1]


def _evidence(mistake, label, covered, changed, wrong, coverage) -> str:
    outputs = sorted({n for _p, n in covered})
    probes = sorted({p + 1 for p, _n in covered})
    text = f"{mistakes.MISTAKES.get(mistake, mistake)}. "
    if coverage > 0:
        text += (f"Reproduced: {', '.join(outputs)} on probe{'s' if len(probes) > 1 else ''} "
                 f"{', '.join(map(str, probes))} ({label}).")
        missed = sorted({n for _p, n in wrong - covered})
        if missed:
            text += f" Not explained: {', '.join(missed)}."
        spurious = sorted({n for _p, n in changed - wrong})
        if spurious:
            text += f" This form would also change {', '.join(spurious)}, which the submission gets right."
    else:
        text += f"No exact reproduction; the closest form is: {label}."
    return text
