"""The fixed part of every generated module: activations, the loss, input checks, sums over time.

This is plumbing, not gradient mathematics: the gradients are printed from the derivation
(:mod:`derive.codegen.emit`). Kept as source text because the generated module must stand alone;
:func:`runtime_source` writes only the helpers a module calls (and ``kink_margin``, which the
verification and the module contract call from outside).
Every function accepts complex arrays (the complex-step oracle differentiates the generated
``loss``): no abs, max or comparisons on values; the softmax shift uses the real part.
"""

import re

RUNTIME = '''
_KINK_MARGINS = None  # a list while kink_margin() runs: the smallest |argument| of every relu call


def kink_margin(params, xs, h0=None, **state0):
    """The smallest distance of any non-analytic function's argument from a kink (relu: 0) over
    every step and batch column at this point; inf when the cell has none (KINKS is empty). A
    finite-difference step that moves no such argument by more than this margin never crosses a
    kink: the verification picks points by it."""
    global _KINK_MARGINS
    sizes, dtype, state0 = _checked(params, xs, None, {"h0": h0, **state0}, need_targets=False)
    o = np.zeros((xs.shape[0], sizes[CLASS_DIM], xs.shape[2]), dtype)
    _KINK_MARGINS = []
    try:
        _forward(params, xs, o, state0, sizes, dtype)
        return min(_KINK_MARGINS, default=float("inf"))
    finally:
        _KINK_MARGINS = None


def _log_softmax(z):
    """log softmax over the class axis (−2): z (…, K, B); the shift by the real max is exact for
    complex z."""
    shifted = z - np.max(z.real, axis=-2, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-2, keepdims=True))


def _softmax(z):
    """ô = softmax(z) over the class axis (−2)."""
    return np.exp(_log_softmax(z))


def _one_hot(targets, K, dtype):
    """o_t as one-hot columns: targets (T, B) class ids → (T, K, B); a target of −1 (masked) is a
    zero column, so its E_t = −o_t · log ô_t is 0."""
    o = np.zeros((targets.shape[0], K, targets.shape[1]), dtype)
    np.put_along_axis(o, np.maximum(targets, 0)[:, None, :], 1, axis=1)
    if (targets < 0).any():
        o *= (targets >= 0)[:, None, :]
    return o


def _targets(targets, K, dtype):
    """The targets as the forward pass reads them: one-hot o_t (cross-entropy) or the real y_t (mse,
    NaN entries kept: the loss skips them)."""
    return targets.astype(dtype) if LOSS != "cross_entropy" else _one_hot(targets, K, dtype)


def _masked_for_backward(o, ohats, targets):
    """o with masked entries (class id −1; NaN for mse) replaced by ô_t, so that ô_t − o_t is 0
    there.

    The derivation's ô_t − o_t assumes Σ_k o_tk = 1; a masked step has no loss term and sends no
    gradient.
    """
    masked = np.isnan(targets) if LOSS == "mse" else (targets < 0)[:, None, :]
    return np.where(masked, ohats, o) if masked.any() else o


def _each_step(A, y):
    """A y_t for every step as one 2-d matrix product: A (m, n), y (T, n, B) → (T, m, B).

    NumPy's A @ y would run T small products; one (m, n) @ (n, T·B) product is faster. The result is
    a (T, m, B) view of an (m, T, B) array: _accumulate then reads it without a copy.
    """
    T, n, B = y.shape
    return (A @ y.transpose(1, 0, 2).reshape(n, T * B)).reshape(-1, T, B).transpose(1, 0, 2)


def _accumulate(e, y):
    """Σ_t Σ_batch e_t y_tᵀ as one product over all steps: e (T, m, B), y (T, n, B) → (m, n)."""
    m, n = e.shape[1], y.shape[1]
    return e.transpose(1, 0, 2).reshape(m, -1) @ y.transpose(1, 0, 2).reshape(n, -1).T


def _sum_steps(e):
    """Σ_t Σ_batch e_t, as a column: e (T, m, B) → (m, 1)."""
    return e.sum(axis=(0, 2))[:, None]


def _check_array(name, value, shape=None):
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: expected a NumPy array, got {type(value).__name__}")
    if value.dtype.kind not in "fc":
        raise ValueError(f"{name}: expected a floating-point array (float32/float64, or complex "
                         f"for the complex step), got dtype {value.dtype}")
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {value.shape}")
    if not np.isfinite(value).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(f"{name}: expected finite values, got {value[index]} at index {index}")
    return value


def _sizes(params, xs):
    """The sizes the parameters declare, checked against each other and against xs (T, D, B)."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    missing = [k for k in PARAM_SHAPES if k not in params]
    extra = [k for k in params if k not in PARAM_SHAPES]
    if missing or extra:
        raise ValueError(f"params for {CELL}: missing {missing}, unexpected {extra}; expected "
                         f"exactly {list(PARAM_SHAPES)}")
    sizes = {}
    for name, dims in PARAM_SHAPES.items():
        value = _check_array(name, params[name])
        if value.ndim != 2:
            raise ValueError(f"{name}: expected a 2-d array of shape ({', '.join(dims)}), got "
                             f"{value.shape}")
        for dim, n in zip(dims, value.shape):
            if dim != "1" and sizes.setdefault(dim, n) != n:
                raise ValueError(f"{name}: expected shape ({', '.join(dims)}) with "
                                 f"{dim}={sizes[dim]} as in "
                                 f"the other parameters, got {value.shape}")
            if dim == "1" and n != 1:
                raise ValueError(f"{name}: expected a column of shape ({dims[0]}, 1), got "
                                 f"{value.shape}")
    if len({np.finfo(v.dtype).bits for v in params.values()}) > 1:
        raise ValueError(f"params for {CELL}: expected one precision for all parameters, got "
                         f"{ {k: str(v.dtype) for k, v in params.items()} }")
    _check_array("xs", xs)
    if xs.ndim != 3 or xs.shape[1] != sizes[INPUT_DIM] or xs.shape[0] < 1 or xs.shape[2] < 1:
        raise ValueError(f"xs: expected shape (T, {INPUT_DIM}={sizes[INPUT_DIM]}, B) with T, B >= "
                         f"1, got {xs.shape}")
    return sizes


def _checked(params, xs, targets, state0, need_targets=True):
    """Validate every input; returns (sizes, dtype, initial states with zeros filled in)."""
    sizes = _sizes(params, xs)
    T, _, B = xs.shape
    if need_targets and LOSS != "cross_entropy":
        _check_mse_targets(targets, (T, sizes[CLASS_DIM], B))
    elif need_targets:
        if not isinstance(targets, np.ndarray) or targets.dtype.kind not in "iu":
            raise ValueError(f"targets: expected a NumPy integer array of class ids, shape ({T}, "
                             f"{B}), got {getattr(targets, 'dtype', type(targets).__name__)}")
        if targets.shape != (T, B):
            raise ValueError(f"targets: expected shape (T={T}, B={B}), got {targets.shape}")
        K = sizes[CLASS_DIM]
        bad = (targets < -1) | (targets >= K)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"targets: expected class ids in [0, {CLASS_DIM}={K}) or -1 (no loss "
                             f"term), got {targets[index]} at {index}")
    unknown = [k for k, v in state0.items() if k not in STATE_ROWS and v is not None]
    if unknown:
        raise ValueError(f"{CELL} has initial states {list(STATE_ROWS)}, got unexpected {unknown}")
    dtype = np.result_type(xs, *params.values())
    full = {}
    for name, dim in STATE_ROWS.items():
        value = state0.get(name)
        shape = (sizes[dim], B)
        full[name] = np.zeros(shape, dtype) if value is None else _check_array(name, value, shape)
    dtype = np.result_type(dtype, *full.values())
    return sizes, dtype, full


def _check_mse_targets(targets, shape):
    if not isinstance(targets, np.ndarray) or targets.dtype.kind != "f":
        raise ValueError(f"targets: expected a NumPy float array of real targets, shape {shape}, "
                         f"got {getattr(targets, 'dtype', type(targets).__name__)}")
    if targets.shape != shape:
        raise ValueError(f"targets: expected shape (T, {CLASS_DIM}, B) = {shape}, got "
                         f"{targets.shape}")
    if np.isinf(targets).any():
        index = tuple(int(i) for i in np.argwhere(np.isinf(targets))[0])
        raise ValueError(f"targets: expected finite values or NaN (no loss term), got "
                         f"{targets[index]} at {index}")


def _check_truncate(truncate):
    if truncate is None:
        return None
    if isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer)) or truncate < 1:
        raise ValueError(f"truncate: expected None or an integer >= 1, got {truncate!r}")
    return int(truncate)
'''


#: called from outside the module (the verification picks points by it), so always written
PUBLIC = ("kink_margin",)


def _definitions(source: str) -> list[tuple[str, str]]:
    """(name, text) of every top-level definition in ``source``, in order (a def or an assignment)."""
    starts = [(m.start(), m.group(1) or m.group(2))
              for m in re.finditer(r"^(?:def (\w+)|(\w+) =)", source, flags=re.MULTILINE)]
    return [(name, source[at:end].strip("\n"))
            for (at, name), (end, _) in zip(starts, starts[1:] + [(len(source), "")])]


def runtime_source(module_text: str) -> str:
    """The runtime helpers that ``module_text`` (the rest of the generated module) calls, directly or
    through one another, plus :data:`PUBLIC`; in :data:`RUNTIME`'s order, with the blank lines around
    each that PEP 8 asks for.

    >>> "def _softmax" in runtime_source("ohats = _softmax(zs)")
    True
    >>> "def _softmax" in runtime_source("log_ohats = _log_softmax(zs)")
    False
    """
    definitions = _definitions(RUNTIME)
    used = set(PUBLIC)
    reads = module_text
    while True:
        found = {name for name, _ in definitions if re.search(rf"\b{name}\b", reads)} | used
        if found == used:
            break
        used = found
        reads = module_text + "".join(text for name, text in definitions if name in used)
    return "".join("\n\n\n" + text for name, text in definitions if name in used) + "\n"
