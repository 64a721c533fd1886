"""Verify a model's BPTT gradients against every oracle at a random point: the data behind `bptt verify`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from numeric import models
from numeric.gradcheck.compare import Comparison, compare, relative_error
from numeric.gradcheck.objective import StackedObjective
from numeric.gradcheck.oracles import ORACLES, directional_derivatives, numerical_gradients
from numeric.gradcheck.tolerances import tolerance


@dataclass
class Point:
    """A random point at which to check gradients: parameters, inputs, targets, initial states."""

    params: dict[str, np.ndarray]
    xs: np.ndarray
    targets: np.ndarray
    state0: dict[str, np.ndarray]

    def astype(self, dtype) -> "Point":
        return Point({k: v.astype(dtype) for k, v in self.params.items()}, self.xs.astype(dtype),
                     self.targets, {k: v.astype(dtype) for k, v in self.state0.items()})


def model_dims(model) -> tuple[str, ...]:
    """The dimension names a model's ``init_params`` takes, in order: ("D", "H", "K") for the built-in
    models, ("D", "H", "S", "K") for a generated cell declaring ``dims D H S K``."""
    return tuple(n for n in inspect.signature(model.init_params).parameters if n not in ("rng", "dtype"))


def point_sizes(model, D: int, H: int, K: int, extra: Mapping[str, int] | None = None) -> dict[str, int]:
    """The size of every dimension of ``model``: D, H, K where it has them, ``extra`` by name, and any
    other dimension H + 1 (different from H, so that a transposed block cannot pass unnoticed)."""
    given = {"D": D, "H": H, "K": K, **(extra or {})}
    return {d: given.get(d, H + 1) for d in model_dims(model)}


def random_point(model, D: int, H: int, K: int, T: int, B: int, dtype=np.float64, seed: int = 0,
                 dims: Mapping[str, int] | None = None) -> Point:
    """Parameters from ``model.init_params``, xs ~ N(0, 1), uniform class targets (real targets ~ N(0, 1)
    for a model whose ``LOSS`` is "mse"), initial states ~ N(0, 0.5²).

    Initial states are random rather than zero so that their gradients are exercised too. A model whose
    dimensions are not exactly D H K (a generated cell with ``dims D H S K``, or ``dims D K``) gets its
    sizes from :func:`point_sizes` (``dims`` names the others); its input and class dimensions are the
    module's ``INPUT_DIM`` and ``CLASS_DIM``.
    """
    rng = np.random.default_rng(seed)
    sizes = point_sizes(model, D, H, K, dims)
    params = model.init_params(**sizes, rng=rng, dtype=dtype)
    n_in, n_classes = sizes[getattr(model, "INPUT_DIM", "D")], sizes[getattr(model, "CLASS_DIM", "K")]
    xs = rng.standard_normal((T, n_in, B)).astype(dtype)
    if getattr(model, "LOSS", "cross_entropy") != "cross_entropy":  # a generated mse/linear-loss module
        targets = rng.standard_normal((T, n_classes, B)).astype(dtype)
    else:
        targets = rng.integers(0, n_classes, size=(T, B))
    wanted = inspect.signature(model.initial_state_shapes).parameters
    shapes = model.initial_state_shapes(**{k: v for k, v in {**sizes, "B": B}.items() if k in wanted})
    state0 = {k: (0.5 * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}
    return Point(params, xs, targets, state0)


@dataclass
class Verification:
    """Every comparison made for one model at one point.

    Attributes:
        model, dtype, sizes (D, H, K, T, B), seed, truncate, bias: what was checked.
        loss: E at the point.
        comparisons: one per (gradient, oracle); the directional test appears under the name "(all)".
    """

    model: str
    dtype: str
    sizes: dict[str, int]
    seed: int
    truncate: int | None
    bias: bool
    loss: float
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def oracles(self) -> list[str]:
        return list(dict.fromkeys(c.oracle for c in self.comparisons))

    def as_dict(self) -> dict:
        return {
            "model": self.model, "dtype": self.dtype, "sizes": self.sizes, "seed": self.seed,
            "truncate": self.truncate, "bias": self.bias, "loss": self.loss, "passed": self.passed,
            "records": [{"parameter": c.name, **{k: v for k, v in c.as_dict().items() if k != "name"}}
                        for c in self.comparisons],
        }


def verify(model_name: str, *, D: int = 3, H: int = 4, K: int = 3, T: int = 4, B: int = 2,
           dtype: str = "float64", seed: int = 0, truncate: int | None = None, bias: bool = True,
           oracles: tuple[str, ...] = ORACLES, directions: int = 3,
           references: Mapping[str, Callable] | None = None) -> Verification:
    """Check a built-in model's hand-written BPTT against the numerical oracles at a random point.

    Args:
        model_name: a ``numeric.models`` name.
        D, H, K, T, B: sizes; dtype: "float32" or "float64"; seed: for the random point.
        truncate: None or k ≥ 1 (the numerical oracles then differentiate the truncated objective).
        bias: include biases.
        oracles: which per-entry oracles to run (all entries of every gradient).
        directions: number of random directions for the directional test (0 to skip).
        references: other implementations to compare with exactly, label → ``loss_and_grads``-like
            callable ``(params, xs, targets, h0=..., truncate=..., **state0) -> (E, grads)``.

    Returns:
        A :class:`Verification`.
    """
    model = models.get(model_name, bias=bias)
    dtype = np.dtype(dtype).name
    point = random_point(model, D, H, K, T, B, dtype, seed)
    E, grads = model.loss_and_grads(point.params, point.xs, point.targets, truncate=truncate, **point.state0)
    result = Verification(model_name, dtype, {"D": D, "H": H, "K": K, "T": T, "B": B}, seed, truncate, bias,
                          float(E))
    objective = StackedObjective(model, point.params, point.xs, point.targets, point.state0, truncate)
    estimates = {oracle: numerical_gradients(objective, list(grads), oracle) for oracle in oracles}
    if dtype == "float32":  # the same model in float64 is the tighter reference for float32 code
        p64 = point.astype(np.float64)
        estimates["float64"] = model.loss_and_grads(p64.params, p64.xs, p64.targets, truncate=truncate,
                                                    **p64.state0)[1]
    result.comparisons += compare_to_estimates(grads, estimates, dtype, float(E))
    for label, reference in (references or {}).items():
        _, g_ref = reference(point.params, point.xs, point.targets, truncate=truncate, **point.state0)
        result.comparisons += compare_to_implementation(grads, g_ref, label, dtype, float(E))
    if directions:
        result.comparisons.append(directional_comparison(objective, grads, directions, dtype, seed))
    return result


def compare_to_estimates(grads: Mapping[str, np.ndarray], estimates: Mapping[str, Mapping[str, np.ndarray]],
                         dtype, loss: float) -> list[Comparison]:
    """Every gradient against every estimate of it, by oracle name ("complex-step", "float64", …) — in
    the order gradient by gradient, oracle by oracle."""
    return [compare(name, g, estimates[oracle][name], oracle, dtype, loss)
            for name, g in grads.items() for oracle in estimates]


def compare_to_implementation(grads: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray], label: str,
                              dtype, loss: float) -> list[Comparison]:
    """Every gradient against another implementation's (the "exact" tolerance row), reported under
    ``label`` ("generated", "hand-written")."""
    out = []
    for name, g in grads.items():
        c = compare(name, other[name], g, "exact", dtype, loss)
        out.append(Comparison(**{**c.as_dict(), "oracle": label}))
    return out


def directional_comparison(objective, grads: Mapping[str, np.ndarray], count: int, dtype, seed: int) -> Comparison:
    """The directional test along ``count`` random directions as one record, named "(all)"."""
    pairs = directional_derivatives(objective, grads, count, np.random.default_rng(seed + 1))
    analytic, numeric = np.array(pairs).T
    err = relative_error(analytic, numeric)
    worst = int(np.argmax(np.abs(analytic - numeric)))
    tol = tolerance(dtype, "directional").rtol
    a, n = float(analytic[worst]), float(numeric[worst])
    return Comparison("(all)", "directional", err, tol, err <= tol, (worst,), a, n,
                      a / n if n else float("inf"), abs(a - n) / max(abs(a) + abs(n), 1e-300))
