"""Initialisation schemes: Xavier/Glorot, orthogonal recurrent weights, plain small Gaussian.

Which parameters are recurrent, biases or forget-gate biases is the caller's knowledge (it comes from the
cell declaration); this module only draws numbers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

SCHEMES = ("xavier", "orthogonal", "normal")

#: the standard deviation of ``normal``: min-char-rnn's 0.01·N(0, 1), the plain Gaussian of older practice
NORMAL_STD = 0.01


def xavier(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio (2010) uniform: U(±√(6 / (fan_in + fan_out))), fan_in = columns, fan_out = rows."""
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (Saxe et al. 2014): Q of the QR of a Gaussian, signs fixed by diag(R)."""
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diag(r))


def initialise(shapes: Mapping[str, tuple[int, int]], scheme: str, rng: np.random.Generator, *,
               recurrent: Collection[str], biases: Collection[str], forget_biases: Collection[str] = (),
               forget_bias: float = 1.0, dtype=np.float64) -> dict[str, np.ndarray]:
    """Parameters drawn by ``scheme``.

    - xavier: every weight matrix Glorot-uniform.
    - orthogonal: recurrent matrices orthogonal, the other weights Glorot-uniform.
    - normal: every weight 0.01·N(0, 1) (:data:`NORMAL_STD`).

    Biases are 0, except the forget-gate biases, set to ``forget_bias`` (+1: Gers et al. 2000; Jozefowicz
    et al. 2015) so that the memory is kept by default. Column parameters that are not biases (peepholes)
    start at 0; a recurrent column (IndRNN's v) at 1 (identity recurrence).

    Args:
        shapes: name → (rows, cols), in the parameters' order.
        scheme: one of :data:`SCHEMES`.
        recurrent: names of the recurrent (state → state) matrices.
        biases: names of the biases; forget_biases: the subset set to ``forget_bias``.

    Returns:
        name → array of ``dtype``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init: expected one of {', '.join(SCHEMES)}, got {scheme!r}")
    params = {}
    for name, shape in shapes.items():
        if name in biases:
            value = np.full(shape, forget_bias if name in forget_biases else 0.0)
        elif shape[1] == 1:  # a recurrent column (IndRNN's v ⊙ h_{t−1}) starts as the identity, others 0
            value = np.full(shape, 1.0 if name in recurrent else 0.0)
        elif scheme == "normal":
            value = NORMAL_STD * rng.standard_normal(shape)
        elif scheme == "orthogonal" and name in recurrent and shape[0] == shape[1]:
            value = orthogonal(shape, rng)
        else:
            value = xavier(shape, rng)
        params[name] = value.astype(dtype)
    return params


def scale_recurrent(params: Mapping[str, np.ndarray], recurrent: Collection[str], *, factor: float | None = None,
                    radius: float | None = None) -> dict[str, np.ndarray]:
    """Recurrent matrices multiplied by ``factor``, or rescaled to spectral radius ``radius``; others as given."""
    out = dict(params)
    for name in recurrent:
        V = params[name]
        if radius is not None:  # a column (IndRNN's elementwise recurrence) acts as diag(v)
            rho = np.max(np.abs(V if V.shape[1] == 1 else np.linalg.eigvals(V)))
            out[name] = V * (radius / rho) if rho > 0 else V
        elif factor is not None:
            out[name] = V * factor
    return out
