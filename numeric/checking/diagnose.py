"""Name the known mistake whose numbers match the student's.

The candidates are the declared mistakes (numeric/checking/mistakes.py): for every probe the reference
backward is run again with each engine variant's hooks (``mistakes.run``) and read in the convention's
layout; the post-hoc entries (mean instead of sum, clipping, a transposed weight gradient, swapped gate
blocks, a flipped sign) are recognised from the reference and the student's own numbers
(numeric/checking/posthoc.py). Matching is per output array:

- an output is *wrong* when it differs from the reference (``compare.close``);
- a variant *explains* a wrong output when the student's array equals the variant's;
- coverage = explained / wrong, over all probes; consistency = the share of the outputs the variant
  changes that the student also got wrong (a variant that would also break outputs the student got right
  is a worse explanation).

Confidence: full coverage → 0.6 + 0.35 × consistency (divided among identifiers that tie exactly);
partial coverage → 0.5 × coverage; nothing reproduced → the closest variant, at most 0.2.
"""

from __future__ import annotations

import numpy as np

from numeric.checking import mistakes
from numeric.checking.case import Case
from numeric.checking.compare import close, rel
from numeric.checking.posthoc import as_array
from numeric.checking.reference import Probe
from numeric.checking.results import Diagnosis

MATCH_TOL = 1e-6


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
    wrong = set()
    for p, (stu, ref) in enumerate(zip(students, refs)):
        for name in names:
            if name in ref and name in stu and not close(as_array(stu.get(name)), ref[name], tol):
                wrong.add((p, name))
    if not wrong:
        return []
    candidates = _engine_candidates(case, probes[:len(students)], students, refs, wrong, tol)
    candidates += _posthoc_candidates(case, probes[:len(students)], students, refs, wrong, tol)
    return _rank(candidates, wrong, students, refs, tol)


def _engine_candidates(case, probes, students, refs, wrong, tol, with_distances=False):
    """Run every variant, first on the short probes; only variants that reproduce something there (or that
    change nothing there, like a long truncation, when the short probes are right) go on to the long ones."""
    if case.model not in mistakes.MODELS:
        return []
    T = max(p.sizes["T"] for p in probes)
    short = [p for p, probe in enumerate(probes) if probe.sizes["T"] <= 10] or [0]
    wrong_short = any(p in short for p, _n in wrong)
    out = []
    for variant in mistakes.variants(case.model, T, case.upstream):
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
        stu = as_array(students[p].get(name))
        if (p, name) in wrong and stu is not None and stu.shape == arr.shape:
            if close(stu, arr, tol):
                covered.add((p, name))
            elif with_distances:
                dist.append((rel(stu, arr), rel(stu, refs[p][name])))


def _posthoc_candidates(case, probes, students, refs, wrong, tol):
    """Every registered mistake with a post-hoc matcher (numeric/checking/posthoc.py), judged on the
    student's own numbers."""
    out = []
    for mistake in mistakes.REGISTRY.values():
        if mistake.posthoc is None:
            continue
        covered, labels = mistake.posthoc(case, probes, students, refs, wrong, tol)
        if covered:
            out.append((mistake.id, "; ".join(sorted(labels)[:3]), covered, set(covered), []))
    return out


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
