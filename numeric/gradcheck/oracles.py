"""Numerical oracles for ∂E/∂(one argument), and the directional (dot-product) test."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from numeric.gradcheck.tolerances import step as default_step

ORACLES = ("complex-step", "central", "richardson")


def numerical_gradient(objective, name: str, oracle: str, h: float | None = None) -> np.ndarray:
    """Estimate ∂E/∂``name`` entry by entry with one of :data:`ORACLES`.

    - ``central``: (E(θ + ε e_k) − E(θ − ε e_k)) / 2ε, error O(ε²) + rounding O(u/ε).
    - ``richardson``: (4 D(ε/2) − D(ε)) / 3 with D the central difference: the O(ε²) term cancels.
    - ``complex-step``: Im E(θ + i h e_k) / h: no subtraction, so no cancellation (needs an analytic E).

    Args:
        objective: a :class:`StackedObjective` or :class:`LoopObjective`.
        name: the argument ("V", "xs", "h0", …).
        oracle: one of :data:`ORACLES`.
        h: the step; default from the dtype-keyed table.

    Returns:
        The estimate, shaped like the argument, in float64.
    """
    return numerical_gradients(objective, [name], oracle, h)[name]


def numerical_gradients(objective, names, oracle: str, h: float | None = None) -> dict[str, np.ndarray]:
    """:func:`numerical_gradient` for several arguments, evaluated together (one pool of workers)."""
    if oracle not in ORACLES:
        raise ValueError(f"oracle: expected one of {ORACLES}, got {oracle!r}")
    h = default_step(objective.dtype, oracle) if h is None else h
    stencil = {"complex-step": [1j * h], "central": [h, -h], "richardson": [h, -h, h / 2, -h / 2]}[oracle]
    requests = []
    for name in names:
        k = np.arange(objective.args[name].size)
        requests.append((name, np.tile(k, len(stencil)), np.concatenate([np.full(k.size, s) for s in stencil])))
    estimates = {}
    for name, values in zip(names, objective.values_many(requests)):
        shape = objective.args[name].shape
        values = values.reshape(len(stencil), -1)
        if oracle == "complex-step":
            g = values[0].imag / h
        elif oracle == "central":
            g = (values[0].real - values[1].real) / (2 * h)
        else:
            coarse = (values[0].real - values[1].real) / (2 * h)
            fine = (values[2].real - values[3].real) / h
            g = (4 * fine - coarse) / 3
        estimates[name] = np.asarray(g, np.float64).reshape(shape)
    return estimates


def random_directions(args: Mapping[str, np.ndarray], count: int, rng: np.random.Generator) -> list[dict]:
    """``count`` random unit directions over all arguments (Gaussian, normalised jointly)."""
    directions = []
    for _ in range(count):
        u = {k: rng.standard_normal(v.shape) for k, v in args.items()}
        norm = np.sqrt(sum(float((x * x).sum()) for x in u.values()))
        directions.append({k: (x / norm).astype(args[k].dtype) for k, x in u.items()})
    return directions


def directional_derivatives(objective, grads: Mapping[str, np.ndarray], count: int = 3,
                            rng: np.random.Generator | None = None) -> list[tuple[float, float]]:
    """The directional test: ⟨∇E, u⟩ against the complex-step derivative of E along u.

    One forward pass per direction checks every parameter at once (cheap at any size), though a wrong
    entry can hide when its error happens to be orthogonal to u — hence several random directions.

    Returns:
        (analytic, numeric) per direction.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    h = default_step(objective.dtype, "complex-step")
    pairs = []
    for u in random_directions({k: objective.args[k] for k in grads}, count, rng):
        analytic = sum(float(np.vdot(u[k].astype(np.float64), np.asarray(g, np.float64))) for k, g in grads.items())
        numeric = float(np.imag(objective.along(u, 1j * h)) / h)
        pairs.append((analytic, numeric))
    return pairs
