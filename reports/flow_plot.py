"""The `bptt flow` plot: log-norm against lag, one line per cell and scale, the Elman bound dashed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FLOOR = 1e-300  # norms that underflow to 0 are drawn at the floor instead of vanishing from a log axis


def _label(run) -> str:
    return f"{run.model} ({run.init}, {'ρ(V)=' if run.scale_kind == 'radius' else '×'}{run.scale:g})"


def save_plot(runs, path: str | Path) -> Path:
    """Two panels — ‖∂h_T/∂h_k‖₂ with the bound (γ‖V‖₂)^{T−k} dashed, and ‖∂E_T/∂h_k‖₂ with the forget-gate
    product dotted — written to ``path`` (.png or .svg, by suffix)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    top = 1.0
    for i, run in enumerate(runs):
        f, color = run.flow, f"C{i % 10}"
        left.semilogy(f.lags, np.maximum(f.spectral, FLOOR), color=color, label=_label(run))
        right.semilogy(f.lags, np.maximum(f.dE_dh, FLOOR), color=color, label=_label(run))
        top = max(top, f.spectral.max(), f.dE_dh.max())
        if f.bound is not None:
            left.semilogy(f.lags, np.maximum(f.bound, FLOOR), color=color, linestyle="--", linewidth=1,
                          label=f"bound (γ‖V‖₂)^lag, γ‖V‖₂={f.gamma * f.norm_V:.2f}")
        if f.carry is not None:
            gate = "u" if run.model.startswith("gru") else "f"
            right.semilogy(f.lags, np.maximum(f.carry, FLOOR), color=color, linestyle=":", linewidth=1.2,
                           label=f"{run.model}: max over units of Π {gate}_j")
    lowest = min(max(min(r.flow.spectral.min(), r.flow.dE_dh.min()), 1e-40) for r in runs)
    for ax, title in ((left, "‖∂h_T/∂h_k‖₂ (spectral norm of the Jacobian product)"),
                      (right, "‖∂E_T/∂h_k‖₂ (gradient of the last step's loss)")):
        ax.set_xlabel("lag T − k")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        # the bound can reach 1e+30 where the measurement saturates: keep the measurements readable
        ax.set_ylim(lowest / 10, min(top * 1e4, 1e12))
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    fig.suptitle("Gradient flow through time", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
