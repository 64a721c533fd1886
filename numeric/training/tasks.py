"""Synthetic tasks whose answer depends on an input L steps back, with every other target masked (−1).

- ``copy``: three symbols, then L blanks and a go marker; the targets are the three symbols, in order.
- ``adding`` (as classification): digits 0–9 with two of them marked, both at least L steps before the end;
  the target of the last step is their sum (19 classes).
- ``temporal-order`` (a variant of Hochreiter & Schmidhuber 1997, task 6a, without the start and end
  symbols and with both relevant symbols in the first 5 steps): distractors a–d with X or Y at two early
  positions; the last step's target is the order XX, XY, YX or YY (4 classes).

Each generator returns one-hot inputs (T, D, B), targets (T, B) and the chance accuracy of guessing the
most likely class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("copy", "adding", "temporal-order")
COPY_LENGTH = 3  # symbols to remember in ``copy``
EARLY = 5  # the relevant inputs sit in the first EARLY steps (adding, temporal-order)


@dataclass
class TaskBatch:
    xs: np.ndarray  # (T, D, B)
    targets: np.ndarray  # (T, B), −1 where no loss term
    chance: float  # accuracy of always answering the most frequent class


def sizes(task: str) -> tuple[int, int]:
    """(D, K) of a task: input width and number of classes."""
    return {"copy": (10, 8), "adding": (11, 19), "temporal-order": (6, 4)}[_checked(task)]


def _checked(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"--task: expected one of {', '.join(TASKS)}, got {task!r}")
    return task


def make_batch(task: str, lag: int, batch: int, rng: np.random.Generator) -> TaskBatch:
    """One batch of ``task`` with relevant inputs at least ``lag`` steps before the step that needs them."""
    _checked(task)
    if lag < 1:
        raise ValueError(f"--lag: expected a positive integer, got {lag}")
    D, K = sizes(task)
    if task == "copy":
        n = COPY_LENGTH
        T = n + lag + n
        ids = np.full((T, batch), 8)  # 8: blank
        symbols = rng.integers(0, 8, (n, batch))
        ids[:n] = symbols
        ids[n + lag - 1] = 9  # 9: go marker, one step before the answers
        targets = np.full((T, batch), -1)
        targets[-n:] = symbols
        return TaskBatch(_one_hot(ids, D), targets, 1 / 8)
    T = EARLY + lag
    if task == "adding":
        digits = rng.integers(0, 10, (T, batch))
        x = _one_hot(digits, D)
        first = rng.integers(0, EARLY - 1, batch)
        second = rng.integers(first + 1, EARLY)
        cols = np.arange(batch)
        x[first, 10, cols] = x[second, 10, cols] = 1  # the marker input
        targets = np.full((T, batch), -1)
        targets[-1] = digits[first, cols] + digits[second, cols]
        return TaskBatch(x, targets, 0.1)  # P(sum = 9) = 10/100, the most likely sum
    ids = rng.integers(0, 4, (T, batch))  # distractors a–d (0–3)
    first = rng.integers(0, EARLY - 1, batch)
    second = rng.integers(first + 1, EARLY)
    which = rng.integers(0, 2, (2, batch))  # 0: X (id 4), 1: Y (id 5)
    cols = np.arange(batch)
    ids[first, cols] = 4 + which[0]
    ids[second, cols] = 4 + which[1]
    targets = np.full((T, batch), -1)
    targets[-1] = 2 * which[0] + which[1]
    return TaskBatch(_one_hot(ids, D), targets, 0.25)


def _one_hot(ids: np.ndarray, D: int) -> np.ndarray:
    x = np.zeros((ids.shape[0], D, ids.shape[1]))
    np.put_along_axis(x, ids[:, None, :], 1, axis=1)
    return x


def accuracy(ohats: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of unmasked targets whose class has the highest predicted probability; ohats (T, K, B)."""
    kept = targets >= 0
    return float((ohats.argmax(axis=1)[kept] == targets[kept]).mean())
