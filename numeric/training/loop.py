"""The training loop: any ``loss_and_grads`` callable, minibatches from any source, clipping, an optimizer.

``loss_and_grads(params, xs, targets, state0) -> (E, grads, final_state)`` is the contract (the generated
module seen through ``reports.recurrence.Recurrence``; a hand-written model fits with a small wrapper).
E is summed over steps and batch; the loop divides by the number of loss terms so that the loss is per
token (nats) and learning rates do not depend on the batch size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from numeric.training.optim import Optimizer, clip_norm, clip_value, global_norm


@dataclass
class History:
    """Per step: loss per token (nats), gradient norm before clipping, whether clipping acted."""

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    diverged_at: int | None = None  # the first step whose loss or gradient was not finite

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")

    def tail_loss(self, fraction: float = 0.1) -> float:
        """Mean loss over the last ``fraction`` of the steps (a less noisy "final loss")."""
        n = max(1, int(len(self.loss) * fraction))
        return float(np.mean(self.loss[-n:])) if self.loss else float("nan")

    def as_dict(self) -> dict:
        return {"loss": self.loss, "grad_norm": self.grad_norm, "clipped": self.clipped, "tokens": self.tokens,
                "seconds": self.seconds, "tokens_per_second": self.tokens_per_second,
                "diverged_at": self.diverged_at}


def train(loss_and_grads: Callable, params: dict[str, np.ndarray], next_batch: Callable, optimizer: Optimizer,
          steps: int, *, clip_norm_at: float | None = None, clip_value_at: float | None = None,
          on_step: Callable[[int, History], None] | None = None, explode_factor: float = 10.0) -> History:
    """Run ``steps`` updates of ``params`` (in place).

    Args:
        loss_and_grads: see the module docstring.
        params: parameters by name, updated in place; gradients of other arguments are ignored.
        next_batch: ``next_batch(final_state) -> (xs, targets, state0)``: the next minibatch and its initial
            state (the previous chunk's ``final_state`` for truncated BPTT, or zeros for a reset).
        optimizer: an :class:`~numeric.training.optim.Optimizer`.
        clip_norm_at, clip_value_at: clip the gradient norm / every entry (None: no clipping).
        on_step: called after every step with (step, history), for progress reports.
        explode_factor: the run has diverged when the loss exceeds this multiple of the first step's loss
            (a tanh network's loss can grow into the hundreds without ever overflowing to inf).

    Returns:
        :class:`History`. A non-finite loss, gradient or weight, or an exploded loss, stops the run
        (``diverged_at``: the step).
    """
    history = History()
    final = None
    start = time.perf_counter()
    for step in range(steps):
        xs, targets, state0 = next_batch(final)
        with np.errstate(all="ignore"):
            E, grads, final = loss_and_grads(params, xs, targets, state0)
        count = max(int((targets >= 0).sum()), 1)
        grads = {name: grads[name] / count for name in params}
        norm = global_norm(grads)
        loss = float(E) / count
        history.tokens += xs.shape[0] * xs.shape[2]  # steps processed (every input, masked or not)
        exploded = bool(history.loss) and loss > explode_factor * history.loss[0]
        if not (np.isfinite(loss) and np.isfinite(norm)) or exploded:
            history.loss.append(loss)
            history.grad_norm.append(norm)
            history.clipped.append(False)
            history.diverged_at = step
            break
        clipped = False
        if clip_norm_at is not None:
            clipped |= clip_norm(grads, clip_norm_at)
        if clip_value_at is not None:
            clipped |= clip_value(grads, clip_value_at)
        with np.errstate(over="ignore", invalid="ignore"):
            optimizer.step(params, grads)
        history.loss.append(loss)
        history.grad_norm.append(norm)
        history.clipped.append(clipped)
        if not all(np.isfinite(p).all() for p in params.values()):  # the step overflowed the weights
            history.diverged_at = step + 1
            break
        if on_step is not None:
            on_step(step, history)
    history.seconds = time.perf_counter() - start
    return history
