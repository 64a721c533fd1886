"""Many one-entry perturbations of one parameter, evaluated in a single forward pass.

The per-entry gradient check needs E(θ + s·e_k) for thousands of entries k. Instead of one forward
pass per entry, the perturbed copies are stacked through the batch axis: copy p owns columns
p·B … (p+1)·B − 1 of every activation, and sees the parameter with entry (row_p, col_p) moved by s_p.

A :class:`Perturbed` parameter stands in for the array inside the models' forward pass. A matrix
product with it costs one ordinary product plus a rank-one correction per copy,
    (A + s_p e_i e_jᵀ) v_p = A v_p + s_p e_i (v_p)_j,
so the whole check is a few large matrix products rather than thousands of small ones. Elementwise
use (biases, peepholes: column vectors) materialises the (m, P·B) array, which is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Perturbed:
    """P copies of ``base``, copy p with ``base[rows[p], cols[p]] += steps[p]``, laid out P·B columns wide.

    Attributes:
        base: the unperturbed parameter, (m, n).
        rows, cols: (P,) integer indices of the perturbed entry of each copy.
        steps: (P,) the step of each copy (real, or imaginary for the complex step).
        B: columns per copy (the batch size).
    """

    base: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    steps: np.ndarray
    B: int

    __array_ufunc__ = None  # make NumPy hand `array + Perturbed` back to our __radd__

    @property
    def shape(self) -> tuple[int, ...]:
        return self.base.shape

    @property
    def copies(self) -> int:
        return len(self.steps)

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        """(A + s_p e_i e_jᵀ) @ v for every copy p; v (..., n, P·B) → (..., m, P·B)."""
        out = self.base @ v
        out = out.astype(np.result_type(out, self.steps), copy=False)
        P, B = self.copies, self.B
        v_blocks = v.reshape(*v.shape[:-1], P, B)
        out_blocks = out.reshape(*out.shape[:-1], P, B)  # a view: updates land in `out`
        copy = np.arange(P)
        out_blocks[..., self.rows, copy, :] += self.steps[:, None] * v_blocks[..., self.cols, copy, :]
        return out

    def dense(self) -> np.ndarray:
        """The (m, P·B) array of a column-vector parameter (n = 1), each copy's column block perturbed."""
        if self.base.shape[1] != 1:
            raise TypeError("only column-vector parameters are used elementwise")
        m, P, B = self.base.shape[0], self.copies, self.B
        dtype = np.result_type(self.base, self.steps)
        blocks = np.broadcast_to(self.base.astype(dtype)[:, :, None], (m, P, B)).copy()
        blocks[self.rows, np.arange(P), :] += self.steps[:, None]
        return blocks.reshape(m, P * B)

    def __add__(self, other):
        return self.dense() + other

    __radd__ = __add__

    def __mul__(self, other):
        return self.dense() * other

    __rmul__ = __mul__

    def __sub__(self, other):
        return self.dense() - other

    def __rsub__(self, other):
        return other - self.dense()


def stack_rows(blocks: list) -> np.ndarray | Perturbed:
    """``np.vstack`` of gate blocks (U_f, U_i, …), keeping a :class:`Perturbed` block perturbed.

    At most one block is perturbed at a time (the oracles perturb one parameter per pass).
    """
    perturbed = [k for k, block in enumerate(blocks) if isinstance(block, Perturbed)]
    if not perturbed:
        return np.vstack(blocks)
    (k,) = perturbed
    p = blocks[k]
    bases = [block.base if j == k else block for j, block in enumerate(blocks)]
    offset = sum(block.shape[0] for block in bases[:k])
    return Perturbed(np.vstack(bases), p.rows + offset, p.cols, p.steps, p.B)
