"""Optimizers and gradient clipping, on dicts of arrays (updated in place).

- ``sgd``: θ ← θ − η g.
- ``momentum``: v ← μ v + g; θ ← θ − η v (classical momentum, μ = 0.9).
- ``rmsprop`` (Tieleman & Hinton 2012): r ← ρ r + (1 − ρ) g²; θ ← θ − η g / (√r + ε), ρ = 0.9.
- ``adam`` (Kingma & Ba 2015): m, v moving averages of g and g² (β₁ = 0.9, β₂ = 0.999), bias-corrected.

Clipping (Pascanu, Mikolov & Bengio 2013): ``clip_norm`` rescales the whole gradient to norm ≤ C (its
direction is kept); ``clip_value`` clamps every entry to [−C, C] (the direction changes).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")

#: learning rates that work for each optimizer on the default corpus (per-character mean loss)
DEFAULT_LR = {"sgd": 0.5, "momentum": 0.05, "rmsprop": 2e-3, "adam": 5e-3}


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """‖g‖₂ over every entry of every gradient."""
    return float(np.sqrt(sum(float(np.vdot(g, g).real) for g in grads.values())))


def clip_norm(grads: dict[str, np.ndarray], C: float) -> bool:
    """g ← g · C/‖g‖ when ‖g‖ > C (in place); returns whether it clipped."""
    norm = global_norm(grads)
    if norm > C:
        for g in grads.values():
            g *= C / norm
        return True
    return False


def clip_value(grads: dict[str, np.ndarray], C: float) -> bool:
    """Every entry clamped to [−C, C] (in place); returns whether any entry was clipped."""
    clipped = False
    for g in grads.values():
        clipped |= bool((np.abs(g) > C).any())
        np.clip(g, -C, C, out=g)
    return clipped


class Optimizer:
    """One of :data:`OPTIMIZERS` with learning rate ``lr``; :meth:`step` updates the parameters in place."""

    def __init__(self, name: str, lr: float, momentum: float = 0.9, decay: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if name not in OPTIMIZERS:
            raise ValueError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}, got {name!r}")
        if not lr > 0:
            raise ValueError(f"--lr: expected a positive learning rate, got {lr}")
        self.name, self.lr, self.mu, self.rho, self.betas, self.eps = name, lr, momentum, decay, betas, eps
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        for name, theta in params.items():
            g = grads[name]
            s = self.state.setdefault(name, {})
            if self.name == "sgd":
                theta -= self.lr * g
            elif self.name == "momentum":
                v = s.setdefault("v", np.zeros_like(theta))
                v *= self.mu
                v += g
                theta -= self.lr * v
            elif self.name == "rmsprop":
                r = s.setdefault("r", np.zeros_like(theta))
                r *= self.rho
                r += (1 - self.rho) * g * g
                theta -= self.lr * g / (np.sqrt(r) + self.eps)
            else:
                b1, b2 = self.betas
                m = s.setdefault("m", np.zeros_like(theta))
                v = s.setdefault("v", np.zeros_like(theta))
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                m_hat = m / (1 - b1 ** self.t)
                v_hat = v / (1 - b2 ** self.t)
                theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
