"""What every built-in model shares: parameters, validation, the output layer, and the BPTT driver.

A model subclass supplies the recurrence — ``_cell_param_shapes``, ``_forward`` (the whole sequence,
so that input projections can be hoisted out of the time loop), ``_step_backward`` (one step of the δ
recursion) and ``_param_grads`` (weight gradients as one product over all steps). The driver here runs
the δ recursion backwards through time, full or truncated (docs/models.md, "Truncated BPTT").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from numeric import validation
from numeric.activations import cross_entropy_and_delta, cross_entropy_columns

Params = Mapping[str, np.ndarray]


@dataclass
class Tape:
    """What the forward pass keeps for the backward pass.

    Attributes:
        xs: inputs (T, D, B).
        state0: initial states by name ("h0", "c0", "ohat0"), each (·, B).
        steps: per-step arrays stacked over time, e.g. "h" (T, H, B), "f" (T, H, B).
    """

    xs: np.ndarray
    state0: dict[str, np.ndarray]
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # gate-stacked U, V reused by backward

    @property
    def hs(self) -> np.ndarray:
        """Hidden states h_1 … h_T, (T, H, B)."""
        return self.steps["h"]

    @property
    def cs(self) -> np.ndarray:
        """Cell states c_1 … c_T, (T, H, B) (LSTMs only)."""
        return self.steps["c"]

    def previous(self, name: str) -> np.ndarray:
        """The state one step back at every t: (s_0, s_1, …, s_{T−1}), (T, ·, B)."""
        return np.concatenate([self.state0[name + "0"][None], self.steps[name][:-1]], axis=0)


class StepStore:
    """Per-step values written into preallocated (T, ·, B) arrays, allocated at the first write.

    Args:
        T: number of steps.
        keep: the names to keep; others are dropped (the loss alone needs only "h").
    """

    def __init__(self, T: int, keep: set[str] | None):
        self.T, self.keep, self.arrays = T, keep, {}

    def put(self, t: int, **values: np.ndarray) -> None:
        for name, value in values.items():
            if self.keep is not None and name not in self.keep:
                continue
            array = self.arrays.get(name)
            if array is None:
                array = self.arrays[name] = np.empty((self.T, *value.shape), value.dtype)
            elif array.dtype != np.result_type(array, value):
                # a perturbation can turn a state complex only at a later step (Jordan's W: from ô_1 on)
                array = self.arrays[name] = array.astype(np.result_type(array, value))
            array[t] = value


def accumulate(da: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_t Σ_b da_t v_tᵀ: a weight gradient as one product over all steps; da (T, m, B), v (T, n, B) → (m, n)."""
    m, n = da.shape[1], v.shape[1]
    return da.transpose(1, 0, 2).reshape(m, -1) @ v.transpose(1, 0, 2).reshape(n, -1).T


def bias_grad(da: np.ndarray) -> np.ndarray:
    """Σ_t Σ_b da_t, as a column (m, 1)."""
    return da.sum(axis=(0, 2))[:, None]


class RecurrentModel:
    """Base class of the built-in models. Subclasses set ``name``, ``states`` and the cell methods."""

    name: str = ""
    states: tuple[str, ...] = ("h",)  # carried states; initial values are named state + "0"
    separable_output = True  # the output layer reads h_t only (all but Jordan)

    def __init__(self, bias: bool = True):
        self.bias = bool(bias)

    def __repr__(self) -> str:
        return f"models.get({self.name!r}, bias={self.bias})"

    # ---- parameters ---------------------------------------------------------------------------------

    def _cell_param_shapes(self, D: int, H: int, K: int) -> dict[str, tuple[int, int]]:
        raise NotImplementedError

    def param_shapes(self, D: int, H: int, K: int) -> dict[str, tuple[int, int]]:
        """Every parameter's shape, in the documented order (docs/models.md).

        Args:
            D: input size, H: hidden size, K: number of classes.
        """
        for label, size in (("D", D), ("H", H), ("K", K)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                raise ValueError(f"{label}: expected a positive integer, got {size!r}")
        shapes = self._cell_param_shapes(D, H, K)
        shapes["W"] = (K, H)
        shapes["c"] = (K, 1)
        if not self.bias:
            shapes = {k: v for k, v in shapes.items() if not self.is_bias(k)}
        return shapes

    @staticmethod
    def is_bias(name: str) -> bool:
        """b, b_f, b_gh … and the output bias c are biases; peepholes p_f … are weights."""
        return name == "c" or name == "b" or name.startswith("b_")

    def initial_state_shapes(self, H: int, K: int, B: int) -> dict[str, tuple[int, int]]:
        """Shapes of the initial states ("h0", "c0" or "ohat0"), each defaulting to zeros."""
        return {s + "0": ((K if s == "ohat" else H), B) for s in self.states}

    def init_params(self, D: int, H: int, K: int, rng: np.random.Generator | None = None,
                    dtype=np.float64) -> dict[str, np.ndarray]:
        """Random parameters, every entry uniform in ±1/√H (the PyTorch default for recurrent layers).

        Biases are random too (not zero) so that gradient checks exercise them.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        rng = np.random.default_rng(0) if rng is None else rng
        scale = 1.0 / np.sqrt(H)
        return {name: rng.uniform(-scale, scale, size=shape).astype(dtype)
                for name, shape in self.param_shapes(D, H, K).items()}

    # ---- validation ---------------------------------------------------------------------------------

    def _sizes(self, params: Params, xs) -> tuple[int, int, int]:
        """D, H, K as the parameters declare them (U… is (H, D), W is (K, H)); xs is checked against them."""
        if not isinstance(params, Mapping):
            raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
        first = next(iter(self._cell_param_shapes(1, 1, 1)))  # "U", "U_f" or "U_r": (H, D)
        for key, meaning in (("W", "(K, H)"), (first, "(H, D)")):
            shape = getattr(params.get(key), "shape", None)
            if shape is None or len(shape) != 2:
                got = "it is missing" if key not in params else (
                    f"shape {shape}" if shape is not None else type(params[key]).__name__)
                raise ValueError(f"{key}: expected a NumPy array of shape {meaning} in the {self.name} "
                                 f"params, got {got}")
        K, H = params["W"].shape
        D = params[first].shape[1]
        if not isinstance(xs, np.ndarray) or xs.ndim != 3:
            raise ValueError(f"xs: expected a NumPy array of shape (T, D={D}, B), got "
                             f"{getattr(xs, 'shape', type(xs).__name__)}")
        return D, H, K

    def _checked(self, params: Params, xs, targets, state0: dict, need_targets: bool = True):
        D, H, K = self._sizes(params, xs)
        validation.check_params(params, self.param_shapes(D, H, K), self.name)
        validation.check_xs(xs, D)
        validation.check_same_precision("xs", xs, params)
        T, _, B = xs.shape
        if need_targets:
            validation.check_targets(targets, T, B, K)
        expected = self.initial_state_shapes(H, K, B)
        unknown = [k for k, v in state0.items() if k not in expected and v is not None]
        if unknown:
            raise ValueError(f"{self.name} has initial states {list(expected)}, got unexpected {unknown}")
        dtype = np.result_type(xs, *params.values())
        full = {}
        for name, shape in expected.items():
            value = state0.get(name)
            full[name] = (np.zeros(shape, dtype) if value is None
                          else validation.check_array(name, value, shape))
            if value is not None:
                validation.check_same_precision(name, value, params)
        return full

    # ---- the public contract ------------------------------------------------------------------------

    def loss(self, params: Params, xs: np.ndarray, targets: np.ndarray, h0=None, **state0) -> np.ndarray:
        """E = Σ_t Σ_b −log ô_t[o_t].

        Args:
            params: every parameter of :meth:`param_shapes`.
            xs: inputs (T, D, B), float32/float64 (complex allowed: complex-step oracle).
            targets: class ids (T, B), integers in [0, K).
            h0: initial hidden state (H, B), zeros if None; c0 (LSTMs) / ohat0 (Jordan) as keywords.

        Returns:
            E as a 0-d array of the computation's dtype.
        """
        state0 = self._checked(params, xs, targets, {"h0": h0, **state0})
        return self._column_losses(params, xs, targets, state0).sum()

    def loss_and_grads(self, params: Params, xs: np.ndarray, targets: np.ndarray, h0=None,
                       truncate: int | None = None, **state0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """E and ∂E/∂(every parameter, xs, initial states) by BPTT.

        Args:
            params, xs, targets, h0, state0: as :meth:`loss`.
            truncate: None for full BPTT, or k ≥ 1: each E_t sends its gradient back at most k steps.

        Returns:
            (E, grads): grads has every parameter's key and shape, plus "xs" (T, D, B) and each initial
            state ("h0", "c0" / "ohat0").
        """
        state0 = self._checked(params, xs, targets, {"h0": h0, **state0})
        truncate = validation.check_truncate(truncate)
        tape = self._forward(params, xs, state0)
        zs = self._logits(params, tape)
        E, dzs = cross_entropy_and_delta(zs, targets)
        if self.separable_output:
            W = params["W"]
            grads = {"W": accumulate(dzs, tape.hs)}
            if self.bias:
                grads["c"] = bias_grad(dzs)
            cell = self._backward(params, tape, {"h": W.T @ dzs}, {}, truncate)
            grads.update(cell)
        else:
            grads = self._backward(params, tape, {"z": dzs}, {}, truncate)
        return E, {k: grads[k] for k in [*params, "xs", *state0]}

    def forward(self, params: Params, xs: np.ndarray, h0=None, **state0) -> Tape:
        """Run the recurrence alone (no output layer): ``tape.hs`` (T, H, B), ``tape.cs`` for LSTMs.

        ``params`` may include or omit W and c; they are not used.
        """
        self._require_separable()
        params = self._with_output_placeholder(params, xs)
        state0 = self._checked(params, xs, None, {"h0": h0, **state0}, need_targets=False)
        return self._forward(params, xs, state0)

    def backward(self, params: Params, tape: Tape, dhs: np.ndarray, dc_last: np.ndarray | None = None,
                 truncate: int | None = None) -> dict[str, np.ndarray]:
        """Backpropagate upstream gradients ∂L/∂h_t (T, H, B) (and ∂L/∂c_T) through the recurrence.

        Returns:
            Gradients of the cell's parameters (not W, c), plus "xs" and the initial states.
        """
        self._require_separable()
        T, H, B = tape.hs.shape
        validation.check_array("dhs", dhs, (T, H, B))
        carried = {}
        if dc_last is not None:
            if "c" not in self.states:
                raise ValueError(f"dc_last: {self.name} has no cell state")
            carried["c"] = validation.check_array("dc_last", dc_last, (H, B))
        truncate = validation.check_truncate(truncate)
        return self._backward(params, tape, {"h": dhs}, carried, truncate)

    # ---- internals ----------------------------------------------------------------------------------

    def _require_separable(self):
        if not self.separable_output:
            raise ValueError(f"{self.name}: the recurrence reads the output ô, so it has no separate cell; "
                             "use loss_and_grads")

    def _with_output_placeholder(self, params: Params, xs) -> dict:
        """forward() needs no W: add a dummy one so the shared validation can infer H."""
        params = dict(params)
        if "W" not in params:
            some = next(iter(params.values()), None)
            H = some.shape[0] if hasattr(some, "shape") else 1
            params["W"] = np.zeros((1, H), getattr(some, "dtype", np.float64))
        if self.bias and "c" not in params:
            params["c"] = np.zeros((params["W"].shape[0], 1), params["W"].dtype)
        return params

    def _logits(self, params: Params, tape: Tape) -> np.ndarray:
        """z_t = W h_t + c for all t: (T, K, B)."""
        zs = params["W"] @ tape.hs
        return zs + params["c"] if self.bias else zs

    def _column_losses(self, params: Params, xs, targets, state0) -> np.ndarray:
        """Each batch column's loss (N,), from already-validated inputs (the oracles call this)."""
        tape = self._forward(params, xs, state0, keep={"h"})
        return cross_entropy_columns(self._logits(params, tape), targets)

    def _backward(self, params: Params, tape: Tape, upstream: dict, carried_last: dict,
                  truncate: int | None) -> dict[str, np.ndarray]:
        """The δ recursion backwards through time, then all weight gradients at once.

        Args:
            upstream: gradients entering at each step from outside the recurrence, by the name the step
                consumes them under ("h" for ∂L/∂h_t, "z" for Jordan's ∂E_t/∂z_t), each (T, ·, B).
            carried_last: gradients into the final states (e.g. {"c": ∂L/∂c_T}).
            truncate: None, or the number of steps every upstream gradient travels back.
        """
        T = tape.xs.shape[0]
        zero_state = {s: np.zeros_like(tape.state0[s + "0"]) for s in self.states}
        per_step: dict[str, np.ndarray] = {}

        def record(t: int, local: dict):
            for name, value in local.items():
                if name not in per_step:
                    per_step[name] = np.zeros((T, *value.shape), value.dtype)
                per_step[name][t] += value

        if truncate is None or truncate >= T:
            carried = {**zero_state, **carried_last}
            for t in reversed(range(T)):
                carried, local = self._step_backward(params, tape, t, carried,
                                                     {k: v[t] for k, v in upstream.items()})
                record(t, local)
            dstate0 = carried
        else:
            dstate0 = dict(zero_state)
            no_input = {k: np.zeros_like(v[0]) for k, v in upstream.items()}
            for t_in in range(T):  # the gradient entering at t_in travels back over t_in … t_in − k + 1
                carried = {**zero_state, **(carried_last if t_in == T - 1 else {})}
                for t in range(t_in, max(t_in - truncate, -1), -1):
                    entering = {k: v[t_in] for k, v in upstream.items()} if t == t_in else no_input
                    carried, local = self._step_backward(params, tape, t, carried, entering)
                    record(t, local)
                if t_in < truncate:  # reached step 0: the carried gradient belongs to the initial state
                    dstate0 = {s: dstate0[s] + carried[s] for s in self.states}
        grads = self._param_grads(params, tape, per_step)
        grads.update({s + "0": dstate0[s] for s in self.states})
        return grads

    def _forward(self, params: Params, xs: np.ndarray, state0: dict, keep: set[str] | None = None) -> Tape:
        """The recurrence over the whole sequence; ``keep`` limits what the tape stores (None: all)."""
        raise NotImplementedError

    def _step_backward(self, params: Params, tape: Tape, t: int, carried: dict, entering: dict):
        """One step of the δ recursion: gradients into step t's states → into step t−1's states.

        Returns:
            (carried_prev, local): gradients into the states at t−1, and step t's pre-activation
            gradients by name (each (·, B)), from which ``_param_grads`` forms the weight gradients.
        """
        raise NotImplementedError

    def _param_grads(self, params: Params, tape: Tape, per_step: dict) -> dict[str, np.ndarray]:
        raise NotImplementedError
