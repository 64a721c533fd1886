"""Validate what a submission returned and compare it with the reference, with localisation.

Pass criterion: the norm-wise relative error ‖got − expected‖ / max(‖got‖ + ‖expected‖, floor) is at most
the tolerance for the returned dtype (``tolerance_for``). Norm-wise and not worst-entry, because a correct
implementation evaluates 1 − h² (or 1 − tanh²) where h ≈ ±1 with cancellation: such entries are tiny and
carry a large *relative* error whatever formula is used, while the norm-wise error stays at rounding
level. The float64 bound (1e-6, the table's "central" row) leaves ~9 digits of room for that and for
summation order; every mistake we reproduce changes gradients by far more (≥ 1e-3 on the probes).
float32 results are held to the table's float32-vs-float64 bound (1e-4). ``floor`` keeps an all-but-zero
expected array from being judged on rounding noise alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numeric.gradcheck.tolerances import tolerance
from numeric.checking.sandbox import Handle, Other


def tolerance_for(dtype) -> float:
    """The bound for a result of ``dtype`` (anything not float32/float16 is held to the float64 bound)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return tolerance(np.float32, "float64").rtol
    return tolerance(np.float64, "central").rtol


FLOOR = 1e-12


@dataclass(frozen=True)
class Axes:
    """How to localise an array: which axis is time (1-based t in messages), which holds gate blocks,
    and which is a weight's stacked input [a_prev; xt] (columns split after the first shape[0] ones:
    deeplearning.ai's W (n_a, n_a + n_x) acting on concat = [a_prev; xt])."""

    time: int | None = None
    gates: tuple[int, tuple[str, ...]] | None = None
    stacked: tuple[int, tuple[str, str]] | None = None


def describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Handle):
        return "an opaque object"
    if isinstance(value, Other):
        return f"a {value.type}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)[:12]}"
    return f"a {type(value).__name__}"


def validate(name: str, got, expected: np.ndarray, contract: str = "") -> tuple[np.ndarray | None, str]:
    """Check type, dtype, shape and finiteness; returns (array as float64, or None) and a failure message."""
    exp_shape = expected.shape
    what = f"{name}{' (' + contract + ')' if contract else ''}"
    if isinstance(got, (int, float)) and not isinstance(got, bool) and exp_shape == ():
        got = np.asarray(got, dtype=np.float64)
    if isinstance(got, np.generic):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        return None, f"{what}: expected an array of shape {exp_shape}, got {describe(got)}"
    if got.dtype.kind == "c":
        return None, (f"{what}: expected real values, got complex {got.dtype} (max |imag| "
                      f"{np.max(np.abs(got.imag)) if got.size else 0:.3g}); return the real part only if it is exact")
    if got.dtype.kind not in "fiu":
        return None, f"{what}: expected a float array, got dtype {got.dtype}"
    if got.shape != exp_shape:
        if got.size == expected.size and got.ndim != len(exp_shape) and got.squeeze().shape == expected.squeeze().shape:
            got = got.reshape(exp_shape)  # (H,) vs (H, 1) and similar: same numbers, harmless
        else:
            return None, f"{what}: expected shape {exp_shape}, got {got.shape}{_shape_hint(got.shape, exp_shape)}"
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(got[idx]) else "inf"
        return None, f"{what}: contains {int(bad.sum())} non-finite values ({kind} first at index {idx})"
    return got, ""


def _shape_hint(got: tuple, exp: tuple) -> str:
    if len(got) == 2 and got == exp[::-1]:
        return " — the transpose of the expected shape"
    if len(got) == len(exp) and sum(g != e for g, e in zip(got, exp)) == 1:
        axis = next(i for i, (g, e) in enumerate(zip(got, exp)) if g != e)
        if got[axis] == exp[axis] + 1:
            return f" — one entry too many along axis {axis} (h_0 included?)"
        if got[axis] == exp[axis] - 1:
            return f" — one entry too few along axis {axis}"
    return ""


def close(got: np.ndarray | None, exp: np.ndarray | None, tol: float) -> bool:
    """Same shape and norm-wise relative error within ``tol``."""
    if got is None or exp is None or np.shape(got) != np.shape(exp):
        return False
    return rel(got, exp) <= tol


def rel(got: np.ndarray, exp: np.ndarray) -> float:
    """Norm-wise relative error ‖a − b‖ / max(‖a‖ + ‖b‖, floor): the definition of
    numeric.gradcheck.compare.relative_error, inlined because the diagnosis evaluates it thousands of times."""
    a = np.asarray(got, dtype=np.float64).ravel()
    b = np.asarray(exp, dtype=np.float64).ravel()
    # Scaled by the largest entry so that no square overflows: unscaled, 1e308 everywhere gives inf/inf =
    # NaN, which a caller's "err > tol" would let through. Not finite anywhere: never within tolerance.
    s = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    if not np.isfinite(s):
        return float("inf")
    s = s or 1.0
    a, b = a / s, b / s
    d = a - b
    with np.errstate(over="ignore"):  # a subnormal s: the floor is then inf, and the error 0 as before
        floor = max(FLOOR * np.sqrt(max(b.size, 1)), 1e-300) / s
    scale = max(np.sqrt(np.dot(a, a)) + np.sqrt(np.dot(b, b)), floor)
    return float(np.sqrt(np.dot(d, d)) / scale)


def max_entry_error(got: np.ndarray, exp: np.ndarray) -> float:
    """cs231n's rel_error: max |x − y| / max(1e-8, |x| + |y|)."""
    got, exp = np.asarray(got, np.float64), np.asarray(exp, np.float64)
    if got.shape != exp.shape or not got.size:
        return float("nan")
    return float(np.max(np.abs(got - exp) / np.maximum(1e-8, np.abs(got) + np.abs(exp))))


def localise(got: np.ndarray, exp: np.ndarray, axes: Axes, tol: float) -> list[str]:
    """Where the error is: per time step and per gate block, naming the exact parts."""
    lines = []
    diff = np.abs(got - exp)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape)) if diff.size else ()
    if worst:
        g, e = float(got[worst]), float(exp[worst])
        ratio = f", ratio {g / e:.4g}" if e != 0 else ""
        lines.append(f"worst entry {worst}: got {g:.6g}, expected {e:.6g}{ratio}")
    if axes.time is not None and got.ndim > axes.time and got.shape[axes.time] > 1:
        errs = [rel(np.take(got, t, axes.time), np.take(exp, t, axes.time)) for t in range(got.shape[axes.time])]
        lines.append("per time step: " + _split(errs, tol, "t"))
    if axes.gates is not None:
        axis, names = axes.gates
        if got.ndim > axis and got.shape[axis] % len(names) == 0:
            parts_g = np.split(got, len(names), axis=axis)
            parts_e = np.split(exp, len(names), axis=axis)
            errs = [rel(a, b) for a, b in zip(parts_g, parts_e)]
            lines.append("per gate block: " + ", ".join(
                f"{n} {'exact' if err <= tol else f'{err:.1e}'}" for n, err in zip(names, errs)))
    if axes.stacked is not None:
        axis, names = axes.stacked
        n = got.shape[0]
        if got.ndim > axis and 0 < n < got.shape[axis]:
            errs = [rel(a, b) for a, b in zip(np.split(got, [n], axis=axis), np.split(exp, [n], axis=axis))]
            lines.append("per input block: " + ", ".join(
                f"{name} {'exact' if err <= tol else f'{err:.1e}'}" for name, err in zip(names, errs)))
    return lines


def _split(errs: list[float], tol: float, label: str) -> str:
    """'exact at t=4..5; wrong at t=1..3 (worst 3.2e-01 at t=1)' (1-based steps, as in the maths)."""
    exact = [i + 1 for i, e in enumerate(errs) if e <= tol]
    wrong = [i + 1 for i, e in enumerate(errs) if e > tol]
    parts = []
    if wrong:
        worst = int(np.argmax(errs)) + 1
        parts.append(f"wrong at {label}={_ranges(wrong)} (worst {max(errs):.1e} at {label}={worst})")
    if exact:
        parts.append(f"exact at {label}={_ranges(exact)}")
    return "; ".join(parts)


def _ranges(steps: list[int]) -> str:
    out, start = [], steps[0]
    for a, b in zip(steps, steps[1:] + [None]):
        if b != a + 1:
            out.append(f"{start}" if start == a else f"{start}..{a}")
            start = b
    return ",".join(out)
