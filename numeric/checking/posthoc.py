"""Mistakes recognised as a transformation of the right answer in the student's own numbers.

Each matcher is the ``posthoc`` of one entry in numeric/checking/mistakes.py and has the signature
``(case, probes, students, refs, wrong, tol) -> (explained, labels)``: ``wrong`` is the set of
(probe index, output name) the student got wrong, ``explained`` the subset this transformation
reproduces, ``labels`` how (for the evidence line). Parameters the student chose (a clipping threshold, an
averaging factor, a gate permutation) are read from the numbers.
"""

from __future__ import annotations

import itertools

import numpy as np

from numeric.checking.compare import close

ROUND = (0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 100.0)


def as_array(value):
    return value if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" else None


def _kinds(case):
    return {o.name: o.kind for o in case.outputs}


def _scaled(stu, ref, tol):
    """The factor when stu = factor · ref (same shape, ref not all zero), else None."""
    if stu is None or stu.shape != ref.shape or not np.any(ref):
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # hostile outputs (1e308) overflow: no factor then
        factor = float(np.vdot(stu, ref) / np.vdot(ref, ref))
        if not np.isfinite(factor):
            return None
        return factor if close(stu, factor * ref, tol) else None


def transposed(case, probes, students, refs, wrong, tol):
    found, labels = set(), set()
    kinds = _kinds(case)
    for p, name in wrong:
        stu, ref = as_array(students[p].get(name)), refs[p][name]
        if kinds.get(name) == "gradient" and stu is not None and stu.ndim == 2 and stu.shape == ref.T.shape \
                and close(stu, ref.T, tol):
            found.add((p, name))
            labels.add(f"{name} returned transposed")
    return found, labels


def mean(case, probes, students, refs, wrong, tol):
    found, labels = set(), set()
    kinds = _kinds(case)
    for p, name in wrong:
        if kinds.get(name) not in ("gradient", "forward"):
            continue
        factor = _scaled(as_array(students[p].get(name)), refs[p][name], tol)
        if factor is None or not 0 < factor < 1:
            continue
        s = probes[p].sizes
        for n, what in ((s["T"], "T"), (s["B"], "the batch size"), (s["T"] * s["B"], "T × batch")):
            if n > 1 and abs(factor * n - 1) < 1e-6:
                found.add((p, name))
                labels.add(f"{name} = reference / {what} ({n})")
                break
    return found, labels


def sign_flipped(case, probes, students, refs, wrong, tol):
    found, labels = set(), set()
    kinds = _kinds(case)
    for p, name in wrong:
        if kinds.get(name) != "gradient":
            continue
        factor = _scaled(as_array(students[p].get(name)), refs[p][name], tol)
        if factor is not None and abs(factor + 1) < 1e-6:
            found.add((p, name))
            labels.add(f"{name} = −reference")
    return found, labels


def clipped(case, probes, students, refs, wrong, tol):
    """Elementwise clipping at the student's largest entry, rescaling one array to a round norm, or all
    gradients rescaled jointly to a round norm."""
    found, labels = set(), set()
    kinds = _kinds(case)
    for p, name in wrong:
        if kinds.get(name) not in ("gradient", "forward"):
            continue
        stu, ref = as_array(students[p].get(name)), refs[p][name]
        if stu is None or stu.shape != ref.shape or not np.any(ref):
            continue
        factor = _scaled(stu, ref, tol)
        if factor is not None:
            norm = float(np.linalg.norm(stu))
            if 0 < factor < 1 and any(abs(norm - r) < 1e-6 * r for r in ROUND) and not _is_mean(factor, probes[p]):
                found.add((p, name))
                labels.add(f"{name} rescaled to norm {norm:g}")
            continue
        tau = float(np.max(np.abs(stu)))
        if tau > 0 and np.max(np.abs(ref)) > tau and close(stu, np.clip(ref, -tau, tau), tol):
            found.add((p, name))
            labels.add(f"{name} = clip(reference, ±{tau:g})")
    _global_norm(case, students, refs, wrong, tol, found, labels)
    return found, labels


def _is_mean(factor, probe) -> bool:
    s = probe.sizes
    return any(n > 1 and abs(factor * n - 1) < 1e-6 for n in (s["T"], s["B"], s["T"] * s["B"]))


def _global_norm(case, students, refs, wrong, tol, found, labels):
    kinds = _kinds(case)
    for p in {p for p, _n in wrong}:
        grads = [n for n, k in kinds.items() if k == "gradient" and n in refs[p]]
        arrays = [(as_array(students[p].get(n)), refs[p][n]) for n in grads]
        if not arrays or any(s is None or s.shape != r.shape for s, r in arrays):
            continue
        total = float(np.sqrt(sum(np.vdot(r, r) for _s, r in arrays)))
        stu_total = float(np.sqrt(sum(np.vdot(s, s) for s, _r in arrays)))
        if not total or stu_total >= total:
            continue
        factor = stu_total / total
        if all(close(s, factor * r, tol) for s, r in arrays) and any(abs(stu_total - t) < 1e-6 * t for t in ROUND):
            for n in grads:
                if (p, n) in wrong:
                    found.add((p, n))
            labels.add(f"all gradients rescaled to a joint norm of {stu_total:g}")


def gate_swaps(case, probes, students, refs, wrong, tol):
    """Gate blocks (cs231n's packed i, f, o, g) or per-gate outputs (course's dU_f, dU_i, …) returned in
    another gate's place."""
    found, labels = set(), set()
    names = [o.name for o in case.outputs]
    for p, name in wrong:
        stu, ref = as_array(students[p].get(name)), refs[p][name]
        output = next(o for o in case.outputs if o.name == name)
        if stu is not None and output.axes.gates and stu.shape == ref.shape:
            axis, gates = output.axes.gates
            s_blocks = np.split(stu, len(gates), axis=axis)
            r_blocks = np.split(ref, len(gates), axis=axis)
            for perm in itertools.permutations(range(len(gates))):
                if perm != tuple(range(len(gates))) and all(close(s_blocks[k], r_blocks[perm[k]], tol)
                                                           for k in range(len(gates))):
                    found.add((p, name))
                    labels.add(f"{name} blocks in order {','.join(gates[k] for k in perm)}")
                    break
        gate = name.rsplit("_", 1)
        if stu is not None and len(gate) == 2 and len(gate[1]) == 1:
            for other in names:
                if other != name and other.rsplit("_", 1)[0] == gate[0] and other in refs[p] \
                        and close(stu, refs[p][other], tol):
                    found.add((p, name))
                    labels.add(f"{name} holds the gradient of {other[1:]}")
                    break
    return found, labels
