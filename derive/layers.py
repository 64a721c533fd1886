"""Stacked layers: N copies of a cell's recurrence, each reading the one below, one output layer on top.

A stacked cell is an ordinary cell (docs/cells.md, "Stacked layers"): layer ℓ's input is layer ℓ−1's
output state at the same step (x for ℓ = 1), and only the top layer feeds the output layer. So the
derivation, the certificate, the generated code and `bptt verify` need nothing new: within one time
step the adjoint of h_{ℓ−1,t} collects U_ℓᵀ δ_{ℓ,t} from the layer above *and* what flows back from
step t + 1 — δ passes down a layer as well as back in time.

Naming: a parameter, state or equation of layer ℓ gets the suffix ``_ℓ`` (``U_1``, ``h_2``, ``a_1``), or
just ``ℓ`` when its name already has a subscript (``U_f1``, ``b_gh2``, ``a_f1``), so the display keeps one
subscript group: U₁, h_{2,t}, U_{f1}. Initial states are ``h0_1``, ``c0_2``, … . The output layer's
parameters (W, c) and the prediction keep their names: there is one output layer.

>>> from derive import load_cell
>>> cell = load_cell("rnn", layers=2)
>>> cell.param_names, cell.state_names
(('U_1', 'V_1', 'b_1', 'U_2', 'V_2', 'b_2', 'W', 'c'), ('h_1', 'h_2'))
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.cellfile import Bin, Call, Name, Neg, Num, names_in, to_text
from derive.naming import current, is_previous, previous
from derive.errors import CellError


def layer_name(name: str, layer: int) -> str:
    """The name of ``name`` in layer ``layer`` (1-based): U → U_1, U_f → U_f1, b_g2 → b_g2_1."""
    if "_" in name and not name[-1].isdigit():
        return f"{name}{layer}"
    return f"{name}_{layer}"


def _rename(e, f):
    if isinstance(e, Name):
        return Name(f(e.id), e.col)
    if isinstance(e, Num):
        return e
    if isinstance(e, Neg):
        return Neg(_rename(e.x, f))
    if isinstance(e, Call):
        return Call(e.fn, _rename(e.arg, f), e.col)
    return Bin(e.op, _rename(e.left, f), _rename(e.right, f))


@dataclass(frozen=True)
class Split:
    """A cell file cut into its recurrence and its output layer (what stacking and bidirectional need)."""

    inp: object  # the input's Decl
    target: object  # the target's Decl
    states: list  # state names
    recurrent: list  # (name, expr, line) of every equation a state's new value needs
    head: list  # the other equations: the output layer
    out: str  # the one state the output layer reads
    rec_params: set
    head_params: set
    need: set  # names of the recurrent equations


def split(source, what: str = "stack {}") -> Split:
    """Cut the cell read by ``source`` (a ``_CellBuilder`` after ``read()``) into recurrence and output layer.

    Raises:
        CellError: when the cell has no single state for the next layer to read (the output layer
            reads several states, the input, or the recurrence reads the prediction, as Jordan's does).
    """
    where = source.layers_line

    def refuse(message, expected):
        raise CellError(source.path, where, f"cannot {what.format(source.name)}: {message}", expected)

    if source.loss is None:
        refuse("no 'loss' line", "a complete cell file")
    decls = source.decls
    states = [d.name for d in decls.values() if d.kind == "state"]
    params = {d.name for d in decls.values() if d.kind == "param"}
    inp = next((d for d in decls.values() if d.kind == "input"), None)
    tgt = next((d for d in decls.values() if d.kind == "target"), None)
    if inp is None or tgt is None or not states:
        refuse("no input, target or state", "an input, a target and at least one state")
    eq_names = [name for name, _, _ in source.equations]
    reads = {name: names_in(expr) for name, expr, _ in source.equations}
    # the recurrence: every equation a state's new value needs (transitively)
    need = set(states)
    for name in reversed(eq_names):
        if name in need:
            need |= reads[name] & set(eq_names)
    recurrent = [e for e in source.equations if e[0] in need]
    head = [e for e in source.equations if e[0] not in need]
    pred = source.loss[0]
    if pred in need:
        refuse(f"the prediction {pred!r} feeds back into the recurrence",
               "a cell whose output layer is computed from its states (not Jordan's)")
    head_reads = set().union(*(reads[n] for n, _, _ in head)) - {n for n, _, _ in head}
    outside = head_reads - params
    if len(outside) != 1 or next(iter(outside)) not in states:
        refuse(f"the output layer reads {', '.join(sorted(outside)) or 'no state'}",
               "an output layer that reads exactly one state (h), which the next layer then reads")
    out = next(iter(outside))
    rec_params = set().union(*(names_in(expr) for _, expr, _ in recurrent)) & params
    head_params = head_reads & params
    if rec_params & head_params:
        refuse(f"{', '.join(sorted(rec_params & head_params))} is used by the recurrence and the output layer",
               "separate parameters for the recurrence and the output layer")
    return Split(inp, tgt, states, recurrent, head, out, rec_params, head_params, need)


def stacked_text(source, layers: int) -> str:
    """The cell file of ``layers`` stacked copies of the cell read by ``source`` (a ``_CellBuilder`` after
    ``read()``).

    Raises:
        CellError: see :func:`split`.
    """
    parts = split(source)
    decls, states, inp, out, need = source.decls, parts.states, parts.inp, parts.out, parts.need
    recurrent, head, rec_params, pred = parts.recurrent, parts.head, parts.rec_params, source.loss[0]
    own = rec_params | set(states) | need  # what every layer has its own copy of
    d_in, d_out = inp.shape[0], decls[out].shape[0]

    def in_layer(layer):
        def f(name):
            if name == inp.name and layer > 1:
                return layer_name(out, layer - 1)  # the layer below, this step
            if is_previous(name) and current(name) in states:
                return previous(layer_name(current(name), layer))
            return layer_name(name, layer) if name in own else name
        return f

    def shape(d, layer):
        rows, cols = d.shape
        if layer > 1:  # layers above the first read an out-sized input instead of x
            rows, cols = (d_out if r == d_in else r for r in (rows, cols))
        return rows if cols == "1" else f"{rows} x {cols}"

    lines = [f"# {source.description}" if source.description else f"# {source.name}",
             f"# {layers} stacked layers (generated from the one-layer cell; docs/cells.md, 'Stacked layers')",
             f"cell {source.name}-{layers}layers", f"dims {' '.join(source.dims)}",
             f"input {inp.name} : {inp.shape[0]}"]
    tgt = parts.target
    lines.append(f"target {tgt.name} : {tgt.shape[0]}")
    for layer in range(1, layers + 1):
        for d in decls.values():
            if d.kind == "param" and d.name in rec_params:
                lines.append(f"param {layer_name(d.name, layer)} : {shape(d, layer)}" + (" bias" if d.bias else ""))
    for d in decls.values():
        if d.kind == "param" and d.name not in rec_params:
            lines.append(f"param {d.name} : {shape(d, 1)}" + (" bias" if d.bias else ""))
    for layer in range(1, layers + 1):
        for name in states:
            d = decls[name]
            lines.append(f"state {layer_name(name, layer)} : {shape(d, layer)} init {d.init}_{layer}")
    for layer in range(1, layers + 1):
        f = in_layer(layer)
        lines += [f"{f(name)} = {to_text(_rename(expr, f))}" for name, expr, _ in recurrent]
    top = in_layer(layers)
    lines += [f"{name} = {to_text(_rename(expr, top))}" for name, expr, _ in head]
    lines.append(f"loss {source.loss[3]}({pred}, {tgt.name})")
    return "\n".join(lines) + "\n"
