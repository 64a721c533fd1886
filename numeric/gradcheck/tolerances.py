"""The one dtype-keyed tolerance table (DESIGN.md §5). Every comparison in the toolkit reads it.

A gradient passes against an oracle when its norm-wise relative error
    ‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, floor)
is at most ``rtol``. Norm-wise, not worst-entry: an entry of a correct gradient that is tiny (a saturated
tanh, an almost-unused input) has a large *relative* error against any finite-difference estimate, because
the estimate's absolute noise does not shrink with the entry; the norm-wise error is immune to that. The
worst entry is still reported, for localisation. ``floor`` (= ``atol`` × max(|E|, 1) × √n) stops an
all-but-zero gradient from being judged on the oracle's rounding noise alone: that noise scales with the
loss |E| divided by the step.

Why these numbers (float64, measured on the built-in models, well inside every entry):
- complex step: no subtractive cancellation, so agreement is ~1e-15; 1e-11 is the issue's bar.
- central differences: truncation O(ε²) with ε ≈ 6e-6 and rounding O(u/ε) give ~1e-9..1e-10; bar 1e-6.
- Richardson (two steps, O(ε⁴)): ~1e-10; 1e-8 leaves room for curvature.
- generated or hand-written code vs another exact implementation: rounding only, ~1e-15; 1e-12.
float32 rows: rounding u ≈ 6e-8 and the larger steps it forces (ε ≈ 5e-3 for central differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """rtol: bound on the norm-wise relative error; atol: noise floor per unit of loss (see module doc)."""

    rtol: float
    atol: float


_TABLE: dict[str, dict[str, Tolerance]] = {
    "float64": {
        "exact": Tolerance(1e-12, 1e-15),  # another implementation of the same gradient
        "complex-step": Tolerance(1e-11, 1e-15),
        "central": Tolerance(1e-6, 1e-9),
        "richardson": Tolerance(1e-8, 1e-10),
        "directional": Tolerance(1e-10, 1e-14),  # complex step along a random direction
        "float64": Tolerance(1e-12, 1e-15),
    },
    "float32": {
        "exact": Tolerance(1e-5, 1e-7),
        "complex-step": Tolerance(1e-4, 1e-6),
        "central": Tolerance(2e-2, 1e-4),
        "richardson": Tolerance(2e-2, 1e-4),
        "directional": Tolerance(1e-4, 1e-6),
        "float64": Tolerance(1e-4, 1e-6),  # the same model run in float64: the float32 bar
    },
}

# Finite-difference steps by dtype: ε ≈ u^(1/3) balances truncation against rounding for central
# differences; Richardson halves it once; the complex step can be tiny since nothing cancels.
STEPS = {
    "float64": {"central": 6e-6, "richardson": 1e-4, "complex-step": 1e-30},
    "float32": {"central": 5e-3, "richardson": 2e-2, "complex-step": 1e-20},
}


def _key(dtype) -> str:
    dtype = np.dtype(dtype)
    key = {"f": dtype.name, "c": f"float{dtype.itemsize * 4}"}.get(dtype.kind)
    if key not in _TABLE:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    return key


def tolerance(dtype, oracle: str) -> Tolerance:
    """The tolerance for comparing a ``dtype`` gradient with ``oracle`` (a row of the table above)."""
    row = _TABLE[_key(dtype)]
    if oracle not in row:
        raise ValueError(f"oracle: expected one of {sorted(row)}, got {oracle!r}")
    return row[oracle]


def step(dtype, oracle: str) -> float:
    """The perturbation step of a numerical ``oracle`` for ``dtype``."""
    return STEPS[_key(dtype)][oracle]
