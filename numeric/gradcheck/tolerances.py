"""The one dtype-keyed tolerance table (DESIGN.md §5). Every comparison in the toolkit reads it.

A gradient g passes against an oracle's estimate ĝ when its norm-wise relative error
    ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖ + floor),   floor = atol · max(|E|, 1) · √n,
is at most ``rtol``. Two choices keep correct code from ever failing on an ill-conditioned point:
- Norm-wise, not worst-entry: an entry of a correct gradient that is tiny (a saturated tanh, an almost
  unused input) has a large *relative* error against any finite-difference estimate, because the
  estimate's absolute noise does not shrink with the entry. The worst entry is still reported.
- The floor: a difference quotient carries rounding noise ≈ u·|E|/ε per entry (u the unit roundoff, ε the
  step) whatever the size of the gradient, so a small gradient of a large loss is judged against that
  noise. ``atol`` is set so that rtol·floor is ten times the expected noise norm, √n·u·|E|/ε.
  In float64 the floor is far below any gradient of the built-in models; in float32 it matters.

Why the rtol values (float64, measured on the built-in models):
- complex step: no subtractive cancellation, agreement ~1e-16; 1e-11 is the issue's bar.
- central differences (ε = 6e-6): truncation O(ε²) plus rounding O(u/ε) give ~1e-10; bar 1e-6.
- Richardson (ε = 1e-4 and ε/2, error O(ε⁴)): ~1e-11.
- another exact implementation of the same gradient: rounding only, ~1e-15; 1e-12.
float32 (u ≈ 6e-8): larger steps (truncation is still ≲1e-4 there) and the float64 run of the same model
as the tight reference (the issue's bar: 1e-4).
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
        "central": Tolerance(1e-6, 2e-4),  # 10·u/ε/rtol = 10·1.1e-16/6e-6/1e-6
        "richardson": Tolerance(1e-8, 3e-3),  # noise of the ε/2 quotient, ×4/3
        "directional": Tolerance(1e-10, 1e-15),  # complex step along a random direction
        "float64": Tolerance(1e-12, 1e-15),
    },
    "float32": {
        "exact": Tolerance(1e-5, 1e-7),
        "complex-step": Tolerance(1e-4, 1e-6),
        "central": Tolerance(1e-2, 2e-3),  # 10·6e-8/3e-2/1e-2
        "richardson": Tolerance(1e-2, 2e-3),
        "directional": Tolerance(1e-4, 1e-6),
        "float64": Tolerance(1e-4, 1e-6),  # the same model run in float64: the float32 bar
    },
}

# Finite-difference steps by dtype: ε ≈ u^(1/3) balances truncation against rounding for central
# differences; Richardson halves it once; the complex step can be tiny since nothing cancels.
STEPS = {
    "float64": {"central": 6e-6, "richardson": 1e-4, "complex-step": 1e-30},
    "float32": {"central": 3e-2, "richardson": 1e-1, "complex-step": 1e-20},
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
