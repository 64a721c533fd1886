"""Elementwise functions and the softmax–cross-entropy output, written to stay analytic.

Everything here accepts complex arrays, so that the complex-step oracle can run a forward pass through
it: no ``abs``, ``max`` or comparisons on values; the stabilising softmax shift uses the real part only
(a shift common to all classes cancels in softmax, so a real shift is exact for complex inputs too).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{−x}).

    Real x: e^{−x} may overflow to inf for x < −709, and 1/(1 + inf) = 0 is then the right limit, so the
    warning is silenced. Complex x (complex step): ½(1 + tanh(x/2)), which stays finite where e^{−x}
    would overflow into inf + nan·i. The real form is the faster one (one exp instead of one tanh).
    """
    if np.iscomplexobj(x):
        return 0.5 * (1.0 + np.tanh(0.5 * x))
    e = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)  # in place: this runs inside every gradient check's inner loop
    e += 1.0
    return np.reciprocal(e, out=e)


def log_softmax(z: np.ndarray, axis: int = -2) -> np.ndarray:
    """log softmax over the class axis (``-2``: z is (..., K, B)).

    Args:
        z: logits, (..., K, B), real or complex.
        axis: the class axis.

    Returns:
        log ô, same shape as ``z``.
    """
    shift = np.max(z.real, axis=axis, keepdims=True)  # real shift: exact for complex z as well
    shifted = z - shift
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -2) -> np.ndarray:
    """ô = softmax(z) over the class axis; z (..., K, B)."""
    return np.exp(log_softmax(z, axis=axis))


def cross_entropy_columns(z: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-column losses Σ_t −log ô_t[o_t] of logits ``z`` (T, K, N) against ``targets`` (T, N).

    A target of −1 is masked: that (t, column) contributes no loss term.

    Returns:
        (N,) array: each column's loss summed over time (the oracles need columns apart).
    """
    log_ohat = log_softmax(z, axis=1)
    picked = np.take_along_axis(log_ohat, np.maximum(targets, 0)[:, None, :], axis=1)[:, 0, :]
    return -(picked * (targets >= 0)).sum(axis=0)


def cross_entropy_and_delta(z: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E = Σ_t Σ_b −log ô_t[o_t] and its gradient ∂E/∂z_t = ô_t − o_t (o_t one-hot).

    A target of −1 is masked: no loss term, so ∂E/∂z_t = 0 in that column.

    Args:
        z: logits (T, K, B).
        targets: class ids (T, B), or −1 for no loss term.

    Returns:
        (E, dz): E a 0-d array of z's dtype, dz (T, K, B).
    """
    log_ohat = log_softmax(z, axis=1)
    kept = (targets >= 0)[:, None, :]
    index = np.maximum(targets, 0)[:, None, :]
    picked = np.take_along_axis(log_ohat, index, axis=1)
    E = -(picked * kept).sum()
    dz = np.exp(log_ohat)  # ô_t
    np.put_along_axis(dz, index, np.take_along_axis(dz, index, axis=1) - 1, axis=1)
    if not kept.all():
        dz *= kept
    return E, dz
