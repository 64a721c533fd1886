"""`bptt train` curves: loss per token and gradient norm against the step (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_curves(result, path: str | Path) -> Path:
    """Loss (with the unigram entropy or chance loss as a reference line) and gradient norm (log scale,
    clipped steps marked) against the step; written to ``path`` (.png or .svg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = result.history
    steps = np.arange(1, len(h.loss) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    loss = np.array(h.loss, float)
    left.plot(steps, loss, linewidth=0.8, alpha=0.5, label="loss per token")
    if len(loss) >= 20:
        k = max(len(loss) // 50, 2)
        left.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), linewidth=1.6,
                  label=f"mean of {k} steps")
    if "unigram_entropy" in result.numbers:
        left.axhline(result.numbers["unigram_entropy"], color="gray", linestyle="--",
                     label=f"unigram entropy {result.numbers['unigram_entropy']:.3f}")
    left.set_xlabel("step")
    left.set_ylabel("nats per token")
    left.set_title(f"{result.model}: loss ({result.settings['optimizer']}, lr {result.settings['lr']:g})", fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    norms = np.maximum(np.array(h.grad_norm, float), 1e-300)
    right.semilogy(steps, norms, linewidth=0.8, label="‖g‖₂ before clipping")
    clipped = np.array(h.clipped, bool)
    if clipped.any():
        right.semilogy(steps[clipped], norms[clipped], "x", markersize=3, color="C3", label="clipped")
    if result.settings.get("clip_norm"):
        right.axhline(result.settings["clip_norm"], color="gray", linestyle="--",
                      label=f"--clip-norm {result.settings['clip_norm']:g}")
    right.set_xlabel("step")
    right.set_title("gradient norm", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
