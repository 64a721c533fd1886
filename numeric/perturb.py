"""Many one-entry perturbations of one parameter, evaluated in a single forward pass.

The per-entry gradient check needs E(θ + s·e_k) for thousands of entries k. Instead of one forward
pass per entry, the perturbed copies are stacked through the batch axis: copy p owns columns
p·B … (p+1)·B − 1 of every activation, and sees the parameter with entry (row_p, col_p) moved by s_p.

A :class:`Perturbed` parameter stands in for the array inside the models' forward pass. A matrix
product with it costs one ordinary product plus a rank-one correction per copy,
    (A + s_p e_i e_jᵀ) v_p = A v_p + s_p e_i (v_p)_j,
so the whole check is a few large matrix products rather than thousands of small ones. Elementwise
use (biases, peepholes: column vectors) materialises the (m, P·B) array, which is cheap.

The inputs are the same in every copy (unless xs itself is perturbed): :class:`Tiled` stands for xs
repeated P times without repeating it, so the input projections U x_t are computed for B columns once
and broadcast into each copy's block when added to the recurrent term.
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

    def __array_function__(self, func, types, args, kwargs):
        """The models stack gate blocks with plain ``np.vstack``; NumPy hands that call here (NEP 18),
        so the reference models need no import from the oracles."""
        if func is np.vstack:
            return stack_rows(*args, **kwargs)
        return NotImplemented

    @property
    def shape(self) -> tuple[int, ...]:
        return self.base.shape

    @property
    def copies(self) -> int:
        return len(self.steps)

    def __matmul__(self, v) -> np.ndarray:
        """(A + s_p e_i e_jᵀ) @ v for every copy p; v (..., n, P·B) or Tiled → (..., m, P·B)."""
        P, B = self.copies, self.B
        copy = np.arange(P)
        if isinstance(v, Tiled):  # every copy sees the same v: correct copy p with v's column j_p
            out = np.tile(self.base @ v.base, (1,) * (v.base.ndim - 1) + (P,))
            v_picked = v.base[..., self.cols, :]  # (..., P, B)
        else:
            out = self.base @ v
            v_picked = v.reshape(*v.shape[:-1], P, B)[..., self.cols, copy, :]
        out = out.astype(np.result_type(out, self.steps), copy=False)
        out_blocks = out.reshape(*out.shape[:-1], P, B)  # a view: updates land in `out`
        out_blocks[..., self.rows, copy, :] += self.steps[:, None] * v_picked
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


@dataclass(frozen=True)
class Tiled:
    """``base`` (..., B) repeated ``copies`` times along the last axis, never materialised unless needed.

    Supports what the models do with xs: ``A @ xs`` (A an array or a :class:`Perturbed`), adding column
    vectors, indexing the leading axes (``xs[t]``, ``a_in[t, :H]``, ``xs[s:t]``), and adding a full
    (…, P·B) array, which broadcasts ``base`` into every copy's block.
    """

    base: np.ndarray
    copies: int

    __array_ufunc__ = None

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.base.shape[:-1], self.base.shape[-1] * self.copies)

    def __getitem__(self, index) -> "Tiled":
        index = index if isinstance(index, tuple) else (index,)
        if len(index) >= self.base.ndim:
            raise IndexError("Tiled arrays index only their leading axes")
        return Tiled(self.base[index], self.copies)

    def __rmatmul__(self, A: np.ndarray) -> "Tiled":
        return Tiled(A @ self.base, self.copies)

    def dense(self) -> np.ndarray:
        return np.tile(self.base, (1,) * (self.base.ndim - 1) + (self.copies,))

    def __add__(self, other):
        if isinstance(other, Perturbed):
            other = other.dense()
        B = self.base.shape[-1]
        if other.shape[-1] == 1 and self.copies * B != 1:  # a column vector: the same in every copy
            return Tiled(self.base + other, self.copies)
        blocks = other.reshape(*other.shape[:-1], self.copies, B) + self.base[..., None, :]
        return blocks.reshape(*blocks.shape[:-2], self.copies * B)

    __radd__ = __add__


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
