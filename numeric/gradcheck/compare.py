"""One relative-error definition and a structured report of a gradient against an oracle."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from numeric.gradcheck.tolerances import tolerance

TINY = np.finfo(np.float64).tiny


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 0.0) -> float:
    """Norm-wise relative error ‖a − b‖ / max(‖a‖ + ‖b‖ + floor, tiny) (Frobenius norms).

    ``floor`` is the oracle's noise scale (numeric.gradcheck.tolerances); 0 gives the plain definition.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.linalg.norm(a) + np.linalg.norm(b)) + floor, TINY)
    return float(np.linalg.norm(a - b) / scale)


def entry_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entry-wise |a − b| / max(|a| + |b|, tiny): the same definition, one entry at a time."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), TINY)


@dataclass(frozen=True)
class Comparison:
    """A gradient against one oracle.

    Attributes:
        name: what was compared ("V_f", "xs", "h0").
        oracle: which oracle ("complex-step", "central", …).
        error: norm-wise relative error (the pass criterion).
        tolerance: the table's rtol for this dtype and oracle.
        passed: error ≤ tolerance.
        worst_index: the entry with the largest absolute difference.
        analytic, numeric: the two values there; ratio = analytic / numeric.
        worst_entry_error: the entry-wise relative error there.
    """

    name: str
    oracle: str
    error: float
    tolerance: float
    passed: bool
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    ratio: float
    worst_entry_error: float

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        return (f"{self.name} vs {self.oracle}: relative error {self.error:.2e} (tolerance {self.tolerance:.0e}) "
                f"{verdict}; worst entry {self.worst_index}: analytic {self.analytic:.10g}, "
                f"numeric {self.numeric:.10g}, ratio {self.ratio:.6g}")


def compare(name: str, analytic: np.ndarray, numeric: np.ndarray, oracle: str, dtype,
            loss_scale: float = 1.0) -> Comparison:
    """Compare ``analytic`` with an oracle's ``numeric`` estimate of the same gradient.

    Args:
        name: the gradient's name, for the report.
        analytic, numeric: same shape.
        oracle: a row of the tolerance table ("complex-step", "central", "richardson", "exact", …).
        dtype: the computation's dtype (float32/float64): picks the tolerance.
        loss_scale: |E| at the point; scales the noise floor (see numeric.gradcheck.tolerances).
    """
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    if analytic.shape != numeric.shape:
        raise ValueError(f"{name}: analytic gradient has shape {analytic.shape}, oracle {numeric.shape}")
    tol = tolerance(dtype, oracle)
    floor = tol.atol * max(abs(loss_scale), 1.0) * np.sqrt(max(analytic.size, 1))
    error = relative_error(analytic, numeric, floor)
    a64, n64 = analytic.astype(np.float64), numeric.astype(np.float64)
    if analytic.size:
        flat = int(np.argmax(np.abs(a64 - n64)))
        index = tuple(int(i) for i in np.unravel_index(flat, analytic.shape))
        a_val, n_val = float(a64[index]), float(n64[index])
    else:
        index, a_val, n_val = (), 0.0, 0.0
    ratio = a_val / n_val if n_val != 0 else (1.0 if a_val == 0 else float("inf"))
    return Comparison(name, oracle, error, tol.rtol, bool(error <= tol.rtol), index, a_val, n_val, ratio,
                      float(entry_errors(a_val, n_val)))
