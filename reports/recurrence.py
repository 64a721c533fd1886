"""A built-in cell or a cell file, ready for `bptt flow` and `bptt train`: what its declaration says about
its parameters, and its generated module seen as plain callables (``numeric`` takes callables only).

- :func:`load_recurrence`: parse the cell, generate its module, read the roles of its parameters
  (recurrent matrices, biases, the gate that carries each state) and whether it has the Elman form
  h_t = φ(U x_t + V h_{t−1} + b) for which the bound (γ‖V‖₂)^{t−k} holds.
- :class:`Recurrence`: ``run`` (states over time), ``loss_and_grads`` (also keeps the final states, for
  truncated BPTT with the state carried across chunks) and ``predict`` (ô for sampling), all from the
  generated module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.cellfile import PREV, Bin, Call, Cell, Name, load, names_in
from derive.codegen import generate
from derive.codegen.lower import plural
from numeric import models
from numeric.flow import GAMMA


@dataclass
class Recurrence:
    """One cell with its generated module.

    Attributes:
        name: the cell's name; cell: the parsed cell; module: the generated module.
        recurrent: names of the recurrent (state → state) matrices; biases: names of the biases.
        carry: state name ("h", "C") → the gate node that multiplies its previous value (LSTM f, GRU u).
        forget_biases: biases of those gates.
        elman: (V, γ) if h_t = φ(U x_t + V h_{t−1} + b) with φ ∈ tanh, sigmoid, else None.
        hand_written: the built-in hand-written model of the same name, or None (cell files).
    """

    name: str
    cell: Cell
    module: object
    recurrent: tuple[str, ...]
    biases: tuple[str, ...]
    carry: dict[str, str]
    forget_biases: tuple[str, ...]
    elman: tuple[str, float] | None
    hand_written: object | None = None

    @property
    def state_names(self) -> tuple[str, ...]:
        """The initial states' names ("h0", "c0"), hidden state first."""
        return tuple(s.init for s in self.cell.states)

    def sizes(self, D: int, H: int, K: int) -> dict[str, int]:
        return {"D": D, "H": H, "K": K}

    def param_shapes(self, D: int, H: int, K: int) -> dict[str, tuple[int, int]]:
        return self.module.param_shapes(**{d: v for d, v in self.sizes(D, H, K).items() if d in self.cell.dims})

    def zero_states(self, D: int, H: int, K: int, B: int) -> dict[str, np.ndarray]:
        """Every initial state at zero, (rows, B)."""
        sizes = {d: v for d, v in self.sizes(D, H, K).items() if d in self.cell.dims and d != self.module.INPUT_DIM}
        return {name: np.zeros(shape) for name, shape in self.module.initial_state_shapes(**sizes, B=B).items()}

    def _forward(self, params, xs, state0):
        module = self.module
        sizes, dtype, full = module._checked(params, xs, None, dict(state0), need_targets=False)
        K = sizes[module.CLASS_DIM]
        o = np.zeros((xs.shape[0], K, xs.shape[2]), dtype)
        _, tape = module._forward(params, xs, o, full, sizes, dtype)
        return dict(zip(module.TAPE, tape))

    def run(self, params, xs, state0) -> dict[str, np.ndarray]:
        """States s_1 … s_T by initial-state name, each (T, rows, B) (complex inputs allowed)."""
        tape = self._forward(params, xs, state0)
        return {init: tape[self.module.STATES[init]] for init in state0}

    def predict(self, params, xs, state0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """ô_1 … ô_T (T, K, B) and the final states (each (rows, B))."""
        tape = self._forward(params, xs, state0)
        final = {init: tape[arr][-1].copy() for init, arr in self.module.STATES.items()}
        return tape[plural(self.cell.softmax)], final

    def loss_and_grads(self, params, xs, targets, state0):
        """E, gradients and the final states: the generated ``loss_and_grads`` plus one state read-back.

        The generated module returns no final state; it is read from the forward pass that
        ``loss_and_grads`` runs, by wrapping the module's ``_forward`` for the duration of the call.
        """
        module, kept = self.module, {}
        original = module._forward

        def recording(*args):
            E, tape = original(*args)
            kept.update(zip(module.TAPE, tape))
            return E, tape

        module._forward = recording
        try:
            E, grads = module.loss_and_grads(params, xs, targets, **state0)
        finally:
            module._forward = original
        final = {init: kept[arr][-1].copy() for init, arr in module.STATES.items()}
        return E, grads, final


def _prev_dependent(cell: Cell) -> set[str]:
    """Node names whose value depends on a previous state (transitively), plus the ``*_prev`` names."""
    out = {s.name + PREV for s in cell.states}
    after = set(cell.state_names)  # the new states and what is computed from them (the output layer)
    for node in cell.nodes:
        used = names_in(node.expr)
        if node.name in after or used & after:
            after.add(node.name)
        elif used & out:
            out.add(node.name)
    return out


def _walk(expr):
    yield expr
    if isinstance(expr, Bin):
        yield from _walk(expr.left)
        yield from _walk(expr.right)
    elif isinstance(expr, Call):
        yield from _walk(expr.arg)
    elif hasattr(expr, "x"):
        yield from _walk(expr.x)


def recurrent_params(cell: Cell) -> tuple[str, ...]:
    """Parameters P in P @ (…) or P ⊙ (…) (IndRNN's vector) whose other side depends on a previous state."""
    dependent = _prev_dependent(cell)
    params = set(cell.param_names)
    found = []
    for node in cell.nodes:
        for e in _walk(node.expr):
            if not (isinstance(e, Bin) and e.op in "@*"):
                continue
            for p, other in ((e.left, e.right), (e.right, e.left)) if e.op == "*" else ((e.left, e.right),):
                if (isinstance(p, Name) and p.id in params and names_in(other) & dependent
                        and p.id not in found):
                    found.append(p.id)
    return tuple(found)


def carry_gates(cell: Cell) -> dict[str, str]:
    """State → the σ gate g in its update s = g ⊙ s_prev + … (LSTM: C → f; GRU: h → u)."""
    out = {}
    for state in cell.states:
        try:
            update = cell.node(state.name)
        except StopIteration:
            continue
        for e in _walk(update.expr):
            if isinstance(e, Bin) and e.op == "*":
                sides = {getattr(e.left, "id", None), getattr(e.right, "id", None)}
                if state.name + PREV in sides:
                    gate = (sides - {state.name + PREV}).pop()
                    if gate and any(n.name == gate and n.fn == "sigmoid" for n in cell.nodes):
                        out[state.name] = gate
    return out


def elman_form(cell: Cell, recurrent: tuple[str, ...]) -> tuple[str, float] | None:
    """(V, γ) when the cell is h_t = φ(a_t) with a_t the only node reading h_{t−1}, through one matrix V."""
    if len(cell.states) != 1 or len(recurrent) != 1:
        return None
    state = cell.states[0].name
    try:
        update = cell.node(state)
    except StopIteration:
        return None
    if update.fn not in GAMMA or not isinstance(update.expr.arg, Name):
        return None
    readers = [n.name for n in cell.nodes if state + PREV in names_in(n.expr)]
    if readers != [update.expr.arg.id]:
        return None
    return recurrent[0], GAMMA[update.fn]


def load_recurrence(spec: str, bias: bool = True) -> Recurrence:
    """The cell ``spec`` (built-in name or .cell path) with its generated module and parameter roles.

    Raises:
        derive.errors.CellError: unusable cell file.
    """
    cell = load(spec, bias=bias)
    gen = generate(cell)
    recurrent = recurrent_params(cell)
    biases = tuple(p.name for p in cell.params if p.bias)
    carry = carry_gates(cell)
    gate_inputs = {}
    for gate in carry.values():
        arg = cell.node(gate).expr.arg
        gate_inputs[gate] = names_in(cell.node(arg.id).expr) if isinstance(arg, Name) else names_in(arg)
    forget = tuple(b for b in biases if any(b in names for names in gate_inputs.values()))
    hand = models.get(spec, bias=bias) if spec in models.names() else None
    return Recurrence(cell.name, cell, gen.module, recurrent, biases, carry, forget,
                      elman_form(cell, recurrent), hand)
