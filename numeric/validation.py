"""Input checks for the models: every message names the argument, what was expected and what came.

Bad input gets a ``ValueError`` before any arithmetic, so a wrong shape never turns into a silent
broadcast and a NaN never turns into a wrong gradient.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_FLOAT_KINDS = "fc"  # real or complex floating point (complex for the complex-step oracle)


def _where(array: np.ndarray, mask: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    return f"{array[index]} at index {index}"


def check_array(name: str, value, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Check one floating-point array: type, dtype, shape, finiteness.

    Args:
        name: the argument's name, for the message ("U_f", "xs", "h0").
        value: the user's value.
        shape: the expected shape, or None to skip the shape check.

    Returns:
        ``value`` itself (no copy).
    """
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected a NumPy array, got {type(value).__name__}")
    if value.dtype.kind not in _FLOAT_KINDS:
        raise ValueError(
            f"{name}: expected a floating-point array (float32/float64, or complex for the complex step), "
            f"got dtype {value.dtype}"
        )
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {value.shape}")
    finite = np.isfinite(value)
    if not finite.all():
        raise ValueError(f"{name}: expected finite values, got {_where(value, ~finite)}")
    return value


def check_params(params: Mapping, expected: Mapping[str, tuple[int, ...]], model: str) -> None:
    """Check that ``params`` has exactly the expected keys, shapes and finite floating values."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    missing = [k for k in expected if k not in params]
    extra = [k for k in params if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ValueError(f"params for {model}: {', '.join(parts)}; expected exactly {list(expected)}")
    for name, shape in expected.items():
        check_array(name, params[name], shape)
    precisions = {np.finfo(params[k].dtype).bits for k in expected}
    if len(precisions) > 1:
        dtypes = {k: str(params[k].dtype) for k in expected}
        raise ValueError(f"params for {model}: expected one precision for all parameters, got {dtypes}")


def check_xs(xs, D: int) -> np.ndarray:
    """xs: (T, D, B) floating, T ≥ 1, B ≥ 1."""
    if isinstance(xs, np.ndarray) and xs.ndim != 3:
        raise ValueError(f"xs: expected shape (T, D={D}, B), got {xs.shape}")
    check_array("xs", xs)
    if xs.shape[1] != D:
        raise ValueError(f"xs: expected shape (T, D={D}, B), got {xs.shape}")
    if xs.shape[0] < 1 or xs.shape[2] < 1:
        raise ValueError(f"xs: expected at least one time step and one batch column, got {xs.shape}")
    return xs


def check_targets(targets, T: int, B: int, K: int) -> np.ndarray:
    """targets: (T, B) integer class ids in [0, K), or −1 where a step has no loss term (masked)."""
    if not isinstance(targets, np.ndarray):
        raise ValueError(f"targets: expected a NumPy integer array of shape ({T}, {B}), got {type(targets).__name__}")
    if targets.dtype.kind not in "iu":
        raise ValueError(f"targets: expected integer class ids (o_t as indices), got dtype {targets.dtype}")
    if targets.shape != (T, B):
        raise ValueError(f"targets: expected shape (T={T}, B={B}), got {targets.shape}")
    bad = (targets < -1) | (targets >= K)
    if bad.any():
        raise ValueError(f"targets: expected class ids in [0, K={K}) or −1 (no loss term), got "
                         f"{_where(targets, bad)}")
    return targets


def check_truncate(truncate) -> int | None:
    """truncate: None (full BPTT) or an integer k ≥ 1."""
    if truncate is None:
        return None
    if isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer)) or truncate < 1:
        raise ValueError(f"truncate: expected None or an integer ≥ 1, got {truncate!r}")
    return int(truncate)


def check_same_precision(name: str, value: np.ndarray, params: Mapping) -> None:
    """``value`` must have the parameters' precision (float32 with float32 — or complex64 — and so on):
    a float64 input would silently turn a float32 model into a float64 computation."""
    want = np.finfo(next(iter(params.values())).dtype).bits
    if np.finfo(value.dtype).bits != want:
        raise ValueError(f"{name}: expected the parameters' precision (float{want}), got dtype {value.dtype}")
